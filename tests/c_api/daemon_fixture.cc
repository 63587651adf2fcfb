#include "tests/c_api/daemon_fixture.h"

#include <cstdio>
#include <memory>

#include "tests/control/daemon_process.h"

namespace {

std::unique_ptr<shmport::testing::DaemonProcess>& Daemon() {
  static auto* daemon = new std::unique_ptr<shmport::testing::DaemonProcess>;
  return *daemon;
}

}  // namespace

extern "C" const char* shmport_test_daemon_start(void) {
  auto daemon = shmport::testing::DaemonProcess::Start();
  if (!daemon.ok()) {
    std::fprintf(stderr, "shmportd did not start: %s\n",
                 daemon.status().ToString().c_str());
    return nullptr;
  }
  Daemon() = std::move(*daemon);
  return Daemon()->address().c_str();
}

extern "C" void shmport_test_daemon_stop(void) { Daemon().reset(); }

#include "server/metrics_endpoint.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

namespace shmport::server {
namespace {

class SnapshotCollectable : public prometheus::Collectable {
 public:
  SnapshotCollectable(size_t max_port_series,
                      std::function<MetricsSnapshot()> snapshot)
      : max_port_series_(max_port_series), snapshot_(std::move(snapshot)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    return BuildMetricFamilies(snapshot_(), max_port_series_,
                               absl::ToUnixMillis(absl::Now()));
  }

 private:
  const size_t max_port_series_;
  const std::function<MetricsSnapshot()> snapshot_;
};

// "127.0.0.1:0" with bound port 9464 -> "127.0.0.1:9464".
std::string WithPort(const std::string& bind_address, int port) {
  return absl::StrCat(bind_address.substr(0, bind_address.rfind(':') + 1),
                      port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& bind_address, size_t max_port_series,
    std::function<MetricsSnapshot()> snapshot) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  endpoint->collectable_ = std::make_shared<SnapshotCollectable>(
      max_port_series, std::move(snapshot));
  try {
    // Two threads: a scrape never waits behind another scraper.
    endpoint->exposer_ =
        std::make_unique<prometheus::Exposer>(bind_address, /*threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", bind_address, ": ", e.what(),
                     " (port in use? choose another with --metrics_listen)"));
  }
  endpoint->exposer_->RegisterCollectable(endpoint->collectable_);
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  endpoint->address_ =
      ports.empty() ? bind_address : WithPort(bind_address, ports[0]);
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() { exposer_.reset(); }

}  // namespace shmport::server

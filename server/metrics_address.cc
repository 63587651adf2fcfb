#include "server/metrics_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shmport::server {
namespace {

struct HostPort {
  std::string host;  // without brackets
  bool ipv6 = false;
  int port = 0;
};

absl::Status Invalid(absl::string_view address, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("metrics listen address \"", address,
                   "\" (--metrics_listen, config metrics.listen): ", why));
}

// A malformed address: say what the form is.
absl::Status Malformed(absl::string_view address, absl::string_view why) {
  return Invalid(address, absl::StrCat(why,
                                       "; use HOST:PORT, e.g. "
                                       "127.0.0.1:9464 or [::1]:9464"));
}

absl::StatusOr<HostPort> Split(absl::string_view address) {
  HostPort hp;
  absl::string_view port;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find("]:");
    if (close == absl::string_view::npos) {
      return Malformed(address, "an IPv6 host needs the form [ADDR]:PORT");
    }
    hp.host = std::string(address.substr(1, close - 1));
    hp.ipv6 = true;
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Malformed(address, "no HOST:PORT");
    }
    hp.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
  }
  if (!absl::SimpleAtoi(port, &hp.port) || hp.port < 0 || hp.port > 65535) {
    return Malformed(address, absl::StrCat("port \"", port,
                                           "\" is not a number in [0, 65535]"));
  }
  return hp;
}

// True for 127.0.0.0/8 and ::1. Sets *parsed when the host is an address.
bool IsLoopback(const HostPort& hp, bool* parsed) {
  if (hp.ipv6) {
    in6_addr a6;
    *parsed = ::inet_pton(AF_INET6, hp.host.c_str(), &a6) == 1;
    return *parsed && std::memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
  }
  in_addr a4;
  *parsed = ::inet_pton(AF_INET, hp.host.c_str(), &a4) == 1;
  return *parsed && (ntohl(a4.s_addr) >> 24) == 127;
}

}  // namespace

absl::StatusOr<std::string> ValidateMetricsListen(absl::string_view address,
                                                  bool allow_remote) {
  absl::StatusOr<HostPort> hp = Split(address);
  if (!hp.ok()) return hp.status();
  const std::string port = absl::StrCat(hp->port);
  if (!hp->ipv6 && hp->host == "localhost") {
    return absl::StrCat("127.0.0.1:", port);
  }
  bool parsed = false;
  const bool loopback = IsLoopback(*hp, &parsed);
  if (!parsed) {
    return Malformed(
        address, absl::StrCat("host \"", hp->host, "\" is not an IP address"));
  }
  if (!loopback && !allow_remote) {
    return Invalid(
        address,
        absl::StrCat("host ", hp->host,
                     " is not a loopback address; the metrics name processes "
                     "and ports, so serving them beyond this host needs "
                     "--metrics_allow_remote (config metrics.allow_remote)"));
  }
  return hp->ipv6 ? absl::StrCat("[", hp->host, "]:", port)
                  : absl::StrCat(hp->host, ":", port);
}

}  // namespace shmport::server

// MetricsEndpoint: shmportd's Prometheus endpoint. An HTTP server
// (prometheus-cpp's Exposer, civetweb inside) answers GET /metrics in the
// text exposition format; each scrape reads one snapshot from the daemon,
// so nothing on the data or control path updates a metric.
#ifndef SHMPORT_SERVER_METRICS_ENDPOINT_H_
#define SHMPORT_SERVER_METRICS_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/metrics_families.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace shmport::server {

// Thread-safety: Start and the destructor on one thread; `snapshot` is
// called on the HTTP server's threads, concurrently with everything else.
class MetricsEndpoint {
 public:
  // Serves on `bind_address` (as ValidateMetricsListen returns it; port 0
  // picks a free one). `snapshot` must stay callable until the endpoint is
  // destroyed. Errors: UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& bind_address, size_t max_port_series,
      std::function<MetricsSnapshot()> snapshot);

  // Stops the HTTP server; a scrape in progress finishes first.
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // "127.0.0.1:9464": the address with the port actually bound.
  const std::string& address() const { return address_; }

 private:
  MetricsEndpoint() = default;

  std::shared_ptr<prometheus::Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // uses collectable_
  std::string address_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_ENDPOINT_H_

#include "bench/transport_catalog.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/grpc_transport.h"
#include "bench/handoff_transport.h"
#include "bench/pipe_transport.h"
#include "bench/shmport_transport.h"
#include "bench/unix_transport.h"

namespace shmport::bench {

std::vector<std::string> AllTransportNames() {
  return {"shmport", "shmport-spin", "shmport-c", "unix",
          "pipe",    "grpc",         "handoff"};
}

absl::StatusOr<std::shared_ptr<const Transport>> MakeTransport(
    absl::string_view name, const BaselineTuning& tuning) {
  if (name == "shmport") return std::make_shared<ShmportTransport>(false);
  if (name == "shmport-spin") {
    return std::make_shared<ShmportTransport>(true);
  }
  if (name == "shmport-c") {
    return std::make_shared<ShmportTransport>(false, ShmportTransport::Api::kC);
  }
  if (name == "unix")
    return std::make_shared<UnixTransport>(tuning.unix_socket_buffer_bytes);
  if (name == "pipe") return std::make_shared<PipeTransport>(tuning.pipe_bytes);
  if (name == "grpc") return std::make_shared<GrpcTransport>();
  if (name == "handoff") return std::make_shared<HandoffTransport>();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown transport \"", name,
                   "\"; known: ", absl::StrJoin(AllTransportNames(), ", ")));
}

}  // namespace shmport::bench

#include "bench/workload.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/payload.h"

namespace shmport::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A ping-pong cell keeps at most this many round-trip samples (32 MiB).
constexpr size_t kMaxSamples = size_t{4} << 20;

Clock::duration ToClock(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(
      absl::ToChronoNanoseconds(d));
}

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Reading the clock costs ~20 ns; for small messages the sender looks at it
// only every few messages so that it does not dominate their cost.
uint64_t ClockStride(size_t payload_bytes) {
  return payload_bytes < 4096 ? 16 : 1;
}

// Sends one message: the sender writes every byte in place (only the
// header under Touch::kNone), then sends.
absl::Status SendOne(Endpoint& endpoint, const WorkloadConfig& config,
                     PayloadKind kind, uint64_t seq,
                     uint64_t declared_count = 0, uint64_t declared_sum = 0) {
  absl::StatusOr<absl::Span<uint8_t>> buffer = endpoint.PrepareSend();
  if (!buffer.ok()) return buffer.status();
  if (buffer->size() != config.payload_bytes) {
    return absl::InternalError(absl::StrCat("transport gave a buffer of ",
                                            buffer->size(), " bytes, not ",
                                            config.payload_bytes));
  }
  Fill(buffer->first(TouchedBytes(config.payload_bytes, config.touch)), kind,
       seq, declared_count, declared_sum);
  return endpoint.Send();
}

// Receives one message, reads every byte once (only the header under
// Touch::kNone), and releases it.
absl::StatusOr<ReadPayload> ReceiveOne(Endpoint& endpoint,
                                       const WorkloadConfig& config) {
  absl::StatusOr<absl::Span<const uint8_t>> bytes = endpoint.Receive();
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != config.payload_bytes) {
    return absl::DataLossError(absl::StrCat("message of ", bytes->size(),
                                            " bytes, expected ",
                                            config.payload_bytes));
  }
  const size_t touched = TouchedBytes(config.payload_bytes, config.touch);
  ReadPayload read = Read(bytes->first(touched));
  endpoint.Release();
  if (absl::Status status = Verify(read, touched); !status.ok()) {
    return status;
  }
  return read;
}

absl::Status CheckSequence(const ReadPayload& read, uint64_t expected_seq) {
  if (HeaderSeq(read.header) != expected_seq) {
    return absl::DataLossError(
        absl::StrCat("message seq ", HeaderSeq(read.header),
                     " arrived where seq ", expected_seq, " was due"));
  }
  return absl::OkStatus();
}

// The receiver's check of the sender's kEnd declaration.
absl::Status CheckDeclaration(const ReadPayload& end, uint64_t count,
                              uint64_t sum) {
  if (end.word1 != count || end.word2 != sum) {
    return absl::DataLossError(absl::StrCat(
        "sender declared ", end.word1, " messages with checksum ", end.word2,
        "; receiver got ", count, " with checksum ", sum));
  }
  return absl::OkStatus();
}

// Nearest-rank percentile of sorted samples.
double Percentile(const std::vector<int64_t>& sorted_ns, double q) {
  const size_t n = sorted_ns.size();
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  return static_cast<double>(sorted_ns[rank - 1]) / 1e3;
}

}  // namespace

void SetOutcome(const absl::Status& status, RoleReport& report) {
  report.ok = status.ok() ? 1 : 0;
  std::memset(report.error, 0, sizeof(report.error));
  if (!status.ok()) {
    const std::string text = status.ToString();
    std::memcpy(report.error, text.data(),
                std::min(text.size(), sizeof(report.error) - 1));
  }
}

absl::Status RunProducer(Endpoint& endpoint, const WorkloadConfig& config,
                         RoleReport& report) {
  const size_t touched = TouchedBytes(config.payload_bytes, config.touch);
  const uint64_t stride = ClockStride(config.payload_bytes);
  uint64_t seq = 0;
  uint64_t sum = 0;
  auto send_batch = [&](PayloadKind kind) -> absl::Status {
    for (uint64_t i = 0; i < stride; ++i, ++seq) {
      absl::Status status = SendOne(endpoint, config, kind, seq);
      if (!status.ok()) return status;
      sum += ExpectedSum(MakeHeader(kind, seq), touched);
    }
    return absl::OkStatus();
  };
  const Clock::time_point warm_end = Clock::now() + ToClock(config.warmup);
  do {
    if (absl::Status s = send_batch(PayloadKind::kWarmup); !s.ok()) return s;
  } while (Clock::now() < warm_end);
  const Clock::time_point end = Clock::now() + ToClock(config.duration);
  do {
    if (absl::Status s = send_batch(PayloadKind::kMeasured); !s.ok()) return s;
  } while (Clock::now() < end);
  report.messages = seq;
  return SendOne(endpoint, config, PayloadKind::kEnd, seq, seq, sum);
}

absl::Status RunConsumer(Endpoint& endpoint, const WorkloadConfig& config,
                         RoleReport& report) {
  uint64_t seq = 0;
  uint64_t sum = 0;
  uint64_t measured = 0;
  Clock::time_point first_measured;
  for (;; ++seq) {
    absl::StatusOr<ReadPayload> read = ReceiveOne(endpoint, config);
    if (!read.ok()) return read.status();
    if (absl::Status s = CheckSequence(*read, seq); !s.ok()) return s;
    switch (HeaderKind(read->header)) {
      case PayloadKind::kWarmup:
        if (measured > 0) {
          return absl::DataLossError(
              absl::StrCat("warm-up message seq ", seq, " after the window"));
        }
        break;
      case PayloadKind::kMeasured:
        if (measured++ == 0) first_measured = Clock::now();
        break;
      case PayloadKind::kEnd: {
        const Clock::time_point last = Clock::now();
        if (absl::Status s = CheckDeclaration(*read, seq, sum); !s.ok()) {
          return s;
        }
        if (measured == 0) {
          return absl::InternalError("no measured message arrived");
        }
        // The window holds the measured messages after the first, plus kEnd.
        report.messages = measured;
        report.seconds = Seconds(last - first_measured);
        return absl::OkStatus();
      }
      default:
        return absl::DataLossError(
            absl::StrCat("message seq ", seq, " has unknown kind ",
                         static_cast<int>(HeaderKind(read->header))));
    }
    sum += read->sum;
  }
}

absl::Status RunPinger(Endpoint& endpoint, const WorkloadConfig& config,
                       RoleReport& report) {
  const size_t touched = TouchedBytes(config.payload_bytes, config.touch);
  uint64_t seq = 0;
  uint64_t sum = 0;
  auto round_trip = [&](PayloadKind kind) -> absl::Status {
    if (absl::Status s = SendOne(endpoint, config, kind, seq); !s.ok()) {
      return s;
    }
    sum += ExpectedSum(MakeHeader(kind, seq), touched);
    absl::StatusOr<ReadPayload> pong = ReceiveOne(endpoint, config);
    if (!pong.ok()) return pong.status();
    if (pong->header != MakeHeader(PayloadKind::kPong, seq)) {
      return absl::DataLossError(absl::StrCat(
          "reply to ping seq ", seq, " has seq ", HeaderSeq(pong->header),
          " kind ", static_cast<int>(HeaderKind(pong->header))));
    }
    ++seq;
    return absl::OkStatus();
  };

  const Clock::time_point warm_end = Clock::now() + ToClock(config.warmup);
  do {
    if (absl::Status s = round_trip(PayloadKind::kWarmup); !s.ok()) return s;
  } while (Clock::now() < warm_end);

  std::vector<int64_t> samples_ns;
  samples_ns.reserve(1 << 16);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + ToClock(config.duration);
  const Clock::time_point hard_end = start + ToClock(config.max_duration);
  Clock::time_point t = start;
  for (;;) {
    // One clock read per round trip: each sample starts where the last
    // one ended.
    const Clock::time_point before = t;
    if (absl::Status s = round_trip(PayloadKind::kMeasured); !s.ok()) return s;
    t = Clock::now();
    samples_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t - before)
            .count());
    const bool enough = t >= end && samples_ns.size() >= config.min_round_trips;
    if (enough || t >= hard_end || samples_ns.size() >= kMaxSamples) break;
  }
  report.messages = samples_ns.size();
  report.seconds = Seconds(t - start);
  std::sort(samples_ns.begin(), samples_ns.end());
  report.p50_us = Percentile(samples_ns, 0.50);
  report.p99_us = Percentile(samples_ns, 0.99);
  report.p999_us = Percentile(samples_ns, 0.999);
  report.max_us = static_cast<double>(samples_ns.back()) / 1e3;
  return SendOne(endpoint, config, PayloadKind::kEnd, seq, seq, sum);
}

absl::Status RunEchoer(Endpoint& endpoint, const WorkloadConfig& config,
                       RoleReport& report) {
  uint64_t sum = 0;
  for (uint64_t seq = 0;; ++seq) {
    absl::StatusOr<ReadPayload> ping = ReceiveOne(endpoint, config);
    if (!ping.ok()) return ping.status();
    if (absl::Status s = CheckSequence(*ping, seq); !s.ok()) return s;
    const PayloadKind kind = HeaderKind(ping->header);
    if (kind == PayloadKind::kEnd) {
      report.messages = seq;
      return CheckDeclaration(*ping, seq, sum);
    }
    if (kind != PayloadKind::kWarmup && kind != PayloadKind::kMeasured) {
      return absl::DataLossError(
          absl::StrCat("ping seq ", seq, " has kind ", static_cast<int>(kind)));
    }
    sum += ping->sum;
    if (absl::Status s = SendOne(endpoint, config, PayloadKind::kPong, seq);
        !s.ok()) {
      return s;
    }
  }
}

absl::Status RunRole(Mode mode, Side side, Endpoint& endpoint,
                     const WorkloadConfig& config, RoleReport& report) {
  if (mode == Mode::kThroughput) {
    return side == Side::kSender ? RunProducer(endpoint, config, report)
                                 : RunConsumer(endpoint, config, report);
  }
  return side == Side::kSender ? RunPinger(endpoint, config, report)
                               : RunEchoer(endpoint, config, report);
}

}  // namespace shmport::bench

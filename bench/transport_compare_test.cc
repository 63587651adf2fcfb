// Specifications of //bench:transport_compare's plumbing. Nothing here
// asserts a speed: the full comparison runs a tiny configuration and the
// tests check that every cell is there, well-formed and verified.
#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/comparison.h"
#include "bench/handoff_transport.h"
#include "bench/payload.h"
#include "bench/pipe_transport.h"
#include "bench/report.h"
#include "bench/svg_plot.h"
#include "bench/transport_catalog.h"
#include "bench/workload.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace shmport::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr size_t kSmall = 64;          // SEQPACKET for unix, inline for shmport
constexpr size_t kLarge = 256 * 1024;  // STREAM for unix, chunks for shmport

std::vector<uint8_t> Make(PayloadKind kind, uint64_t seq, size_t bytes,
                          uint64_t count = 0, uint64_t sum = 0) {
  std::vector<uint8_t> out(bytes);
  Fill(absl::MakeSpan(out), kind, seq, count, sum);
  return out;
}

TEST(Payload, EveryFlippedByteFailsVerification) {
  const size_t bytes = 1024;
  for (size_t at : {size_t{0}, size_t{9}, size_t{512}, bytes - 1}) {
    std::vector<uint8_t> p = Make(PayloadKind::kMeasured, 77, bytes);
    ASSERT_TRUE(Verify(Read(p), bytes).ok());
    p[at] ^= 0x10;
    absl::Status s = Verify(Read(p), bytes);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "byte " << at;
  }
}

TEST(Payload, SameSeqOfAnotherKindHasAnotherPattern) {
  std::vector<uint8_t> ping = Make(PayloadKind::kMeasured, 5, 256);
  std::vector<uint8_t> pong = Make(PayloadKind::kPong, 5, 256);
  EXPECT_NE(ping, pong);
  EXPECT_NE(Read(ping).sum, Read(pong).sum);
}

TEST(Payload, EndMarkerCarriesTheDeclarationAndVerifies) {
  std::vector<uint8_t> end = Make(PayloadKind::kEnd, 9, 64, 9, 123456789);
  const ReadPayload r = Read(end);
  EXPECT_EQ(r.word1, 9u);
  EXPECT_EQ(r.word2, 123456789u);
  EXPECT_TRUE(Verify(r, 64).ok());
}

TEST(Payload, SizesThatAreNotWholeWordsAreRefused) {
  EXPECT_FALSE(ValidatePayloadSize(65).ok());
  EXPECT_FALSE(ValidatePayloadSize(16).ok());
  EXPECT_TRUE(ValidatePayloadSize(kSmall).ok());
}

TEST(Payload, TouchNoneCoversTheHeaderWordsOnly) {
  EXPECT_EQ(TouchedBytes(size_t{1} << 20, Touch::kNone), kMinPayloadBytes);
  EXPECT_EQ(TouchedBytes(size_t{1} << 20, Touch::kAll), size_t{1} << 20);
  EXPECT_EQ(TouchedBytes(kMinPayloadBytes, Touch::kNone), kMinPayloadBytes);
}

TEST(Handoff, SlotsFillTheBudgetBetweenTwoAndTheCap) {
  EXPECT_EQ(HandoffSlots(64), kMaxHandoffSlots);
  EXPECT_EQ(HandoffSlots(size_t{1} << 20), 16u);
  EXPECT_EQ(HandoffSlots(size_t{8} << 20), 2u);
  EXPECT_EQ(HandoffSlots(size_t{16} << 20), 2u);
}

// An in-process endpoint that hands out scripted messages.
class ScriptedEndpoint : public Endpoint {
 public:
  explicit ScriptedEndpoint(std::deque<std::vector<uint8_t>> script)
      : script_(std::move(script)) {}
  absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override {
    return absl::MakeSpan(out_);
  }
  absl::Status Send() override { return absl::OkStatus(); }
  absl::StatusOr<absl::Span<const uint8_t>> Receive() override {
    if (script_.empty()) return absl::UnavailableError("script ended");
    current_ = std::move(script_.front());
    script_.pop_front();
    return absl::MakeConstSpan(current_);
  }
  void Release() override {}

 private:
  std::deque<std::vector<uint8_t>> script_;
  std::vector<uint8_t> current_;
  std::vector<uint8_t> out_;
};

// A well-formed throughput stream: warm-up, measured, end; its declared
// checksum covers what `touch` reads.
std::deque<std::vector<uint8_t>> Stream(size_t bytes, int warmup, int measured,
                                        Touch touch = Touch::kAll) {
  std::deque<std::vector<uint8_t>> script;
  uint64_t seq = 0;
  uint64_t sum = 0;
  for (int i = 0; i < warmup + measured; ++i, ++seq) {
    const PayloadKind kind =
        i < warmup ? PayloadKind::kWarmup : PayloadKind::kMeasured;
    script.push_back(Make(kind, seq, bytes));
    sum += ExpectedSum(MakeHeader(kind, seq), TouchedBytes(bytes, touch));
  }
  script.push_back(Make(PayloadKind::kEnd, seq, bytes, seq, sum));
  return script;
}

TEST(Consumer, CountsTheMeasuredMessagesOfAWellFormedStream) {
  ScriptedEndpoint endpoint(Stream(kSmall, 3, 10));
  RoleReport report;
  ASSERT_TRUE(RunConsumer(endpoint, {.payload_bytes = kSmall}, report).ok());
  EXPECT_EQ(report.messages, 10u);
}

TEST(Consumer, FailsOnACorruptedByte) {
  auto script = Stream(kSmall, 3, 10);
  script[7][40] ^= 1;
  ScriptedEndpoint endpoint(std::move(script));
  RoleReport report;
  absl::Status s = RunConsumer(endpoint, {.payload_bytes = kSmall}, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("checksum mismatch in message seq 7"));
}

TEST(Consumer, FailsOnALostMessage) {
  auto script = Stream(kSmall, 3, 10);
  script.erase(script.begin() + 5);
  ScriptedEndpoint endpoint(std::move(script));
  RoleReport report;
  absl::Status s = RunConsumer(endpoint, {.payload_bytes = kSmall}, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("seq 6 arrived where seq 5 was due"));
}

TEST(Consumer, FailsWhenTheDeclaredChecksumDiffers) {
  auto script = Stream(kSmall, 0, 4);
  script.back() = Make(PayloadKind::kEnd, 4, kSmall, 4, 42);
  ScriptedEndpoint endpoint(std::move(script));
  RoleReport report;
  absl::Status s = RunConsumer(endpoint, {.payload_bytes = kSmall}, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("declared 4 messages with checksum 42"));
}

TEST(Consumer, UnderTouchNoneReadsOnlyTheHeader) {
  const WorkloadConfig none = {.payload_bytes = kSmall, .touch = Touch::kNone};
  auto script = Stream(kSmall, 3, 10, Touch::kNone);
  script[7][40] ^= 1;  // in the body: not read
  ScriptedEndpoint endpoint(script);
  RoleReport report;
  ASSERT_TRUE(RunConsumer(endpoint, none, report).ok());
  EXPECT_EQ(report.messages, 10u);
  // The same stream read whole fails: its body and declaration differ.
  ScriptedEndpoint whole(script);
  EXPECT_EQ(RunConsumer(whole, {.payload_bytes = kSmall}, report).code(),
            absl::StatusCode::kDataLoss);
}

TEST(Consumer, UnderTouchNoneStillChecksTheHeaderWords) {
  auto script = Stream(kSmall, 3, 10, Touch::kNone);
  script[7][9] ^= 1;  // word 1, inside the header
  ScriptedEndpoint endpoint(std::move(script));
  RoleReport report;
  absl::Status s = RunConsumer(
      endpoint, {.payload_bytes = kSmall, .touch = Touch::kNone}, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("checksum mismatch in message seq 7"));
}

TEST(Spread, MedianOfRepsIgnoresOneOutlierAndKeepsTheExtremes) {
  const Spread s = SpreadOf({10, 1000, 12});
  EXPECT_EQ(s.median, 12);
  EXPECT_EQ(s.min, 10);
  EXPECT_EQ(s.max, 1000);
  EXPECT_EQ(SpreadOf({1, 2, 3, 4}).median, 2.5);
}

// A pipe whose sender flips one byte of message 20 after the workload
// filled it: what a transport that corrupts data looks like.
class CorruptingTransport : public Transport {
 public:
  std::string name() const override { return "corrupting-pipe"; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override {
    auto inner = PipeTransport().Connect(payload_bytes);
    if (!inner.ok()) return inner.status();
    return std::make_unique<Wrapped>(std::move(*inner));
  }

 private:
  class Corrupting : public Endpoint {
   public:
    explicit Corrupting(std::unique_ptr<Endpoint> inner)
        : inner_(std::move(inner)) {}
    absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override {
      auto span = inner_->PrepareSend();
      if (span.ok()) last_ = *span;
      return span;
    }
    absl::Status Send() override {
      if (++sent_ == 20) last_[last_.size() / 2] ^= 0x80;
      return inner_->Send();
    }
    absl::StatusOr<absl::Span<const uint8_t>> Receive() override {
      return inner_->Receive();
    }
    void Release() override { inner_->Release(); }

   private:
    std::unique_ptr<Endpoint> inner_;
    absl::Span<uint8_t> last_;
    int sent_ = 0;
  };
  class Wrapped : public Connection {
   public:
    explicit Wrapped(std::unique_ptr<Connection> inner)
        : inner_(std::move(inner)) {}
    absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                   pid_t peer) override {
      auto endpoint = inner_->Open(side, peer);
      if (!endpoint.ok() || side == Side::kReceiver) return endpoint;
      return std::make_unique<Corrupting>(std::move(*endpoint));
    }

   private:
    std::unique_ptr<Connection> inner_;
  };
};

WorkloadConfig TinyTiming() {
  return {.warmup = absl::Milliseconds(5),
          .duration = absl::Milliseconds(20),
          .min_round_trips = 5,
          .max_duration = absl::Milliseconds(200)};
}

TEST(Comparison, ACorruptedByteFailsTheWholeRun) {
  ComparisonPlan plan;
  plan.transports = {std::make_shared<CorruptingTransport>()};
  plan.payloads = {kSmall};
  plan.reps = 1;
  plan.memcpy = false;
  plan.timing = TinyTiming();
  absl::StatusOr<std::vector<CellSummary>> cells = RunComparison(plan);
  ASSERT_FALSE(cells.ok());
  EXPECT_THAT(std::string(cells.status().message()),
              HasSubstr("checksum mismatch"));
  EXPECT_THAT(std::string(cells.status().message()), HasSubstr("receiver"));
}

// A pipe whose children refuse to open unless this process may run on
// exactly the CPU the plan placed its side on.
class PlacementCheckingTransport : public Transport {
 public:
  explicit PlacementCheckingTransport(std::array<int, 2> cpus) : cpus_(cpus) {}
  std::string name() const override { return "placement-checking-pipe"; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override {
    auto inner = PipeTransport().Connect(payload_bytes);
    if (!inner.ok()) return inner.status();
    return std::make_unique<Checked>(std::move(*inner), cpus_);
  }

 private:
  class Checked : public Connection {
   public:
    Checked(std::unique_ptr<Connection> inner, std::array<int, 2> cpus)
        : inner_(std::move(inner)), cpus_(cpus) {}
    absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                   pid_t peer) override {
      const int want = cpus_[static_cast<int>(side)];
      cpu_set_t set;
      CPU_ZERO(&set);
      if (sched_getaffinity(0, sizeof(set), &set) != 0 ||
          CPU_COUNT(&set) != 1 || !CPU_ISSET(want, &set)) {
        return absl::FailedPreconditionError(
            absl::StrCat("not placed on CPU ", want, " alone"));
      }
      return inner_->Open(side, peer);
    }

   private:
    std::unique_ptr<Connection> inner_;
    std::array<int, 2> cpus_;
  };
  std::array<int, 2> cpus_;
};

// The first and the last CPU this process may run on.
std::array<int, 2> TwoAllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::array<int, 2> cpus = {-1, -1};
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    if (cpus[0] < 0) cpus[0] = cpu;
    cpus[1] = cpu;
  }
  return cpus;
}

TEST(Comparison, CpusPlaceTheSenderAndTheReceiver) {
  ComparisonPlan plan;
  plan.timing = TinyTiming();
  plan.timing.cpus = TwoAllowedCpus();
  ASSERT_GE(plan.timing.cpus[0], 0);
  plan.transports = {
      std::make_shared<PlacementCheckingTransport>(plan.timing.cpus)};
  plan.payloads = {kSmall};
  plan.reps = 1;
  plan.memcpy = false;
  absl::StatusOr<std::vector<CellSummary>> cells = RunComparison(plan);
  EXPECT_TRUE(cells.ok()) << cells.status();
}

TEST(Comparison, ACpuThatCannotBeUsedFailsTheRunNamingIt) {
  ComparisonPlan plan;
  plan.timing = TinyTiming();
  plan.timing.cpus = {0, CPU_SETSIZE - 1};
  plan.transports = {std::make_shared<PipeTransport>()};
  plan.payloads = {kSmall};
  plan.reps = 1;
  plan.memcpy = false;
  absl::StatusOr<std::vector<CellSummary>> cells = RunComparison(plan);
  ASSERT_FALSE(cells.ok());
  EXPECT_THAT(std::string(cells.status().message()),
              HasSubstr(absl::StrCat("cannot run on CPU ", CPU_SETSIZE - 1)));
}

// One tiny run of every transport, shared by the tests below.
class FullComparison : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ComparisonPlan plan;
    for (const std::string& name : AllTransportNames()) {
      plan.transports.push_back(*MakeTransport(name));
    }
    plan.payloads = {kSmall, kLarge};
    plan.reps = 3;
    plan.timing = TinyTiming();
    // In the log, so that a slow or failing cell can be found.
    plan.progress = [](absl::string_view line) {
      static const absl::Time start = absl::Now();
      std::fprintf(stderr, "%6.2fs %s\n",
                   absl::ToDoubleSeconds(absl::Now() - start),
                   std::string(line).c_str());
    };
    auto cells = RunComparison(plan);
    status_ = new absl::Status(cells.status());
    cells_ = new std::vector<CellSummary>(
        cells.ok() ? std::move(*cells) : std::vector<CellSummary>());
  }
  static void TearDownTestSuite() {
    delete status_;
    delete cells_;
  }
  static absl::Status* status_;
  static std::vector<CellSummary>* cells_;
};
absl::Status* FullComparison::status_ = nullptr;
std::vector<CellSummary>* FullComparison::cells_ = nullptr;

double Number(const google::protobuf::Struct& record, const std::string& key) {
  auto it = record.fields().find(key);
  if (it == record.fields().end() ||
      it->second.kind_case() != google::protobuf::Value::kNumberValue) {
    ADD_FAILURE() << "field " << key << " missing or not a number";
    return -1;
  }
  return it->second.number_value();
}

bool IsNull(const google::protobuf::Struct& record, const std::string& key) {
  auto it = record.fields().find(key);
  return it != record.fields().end() &&
         it->second.kind_case() == google::protobuf::Value::kNullValue;
}

TEST_F(FullComparison, JsonHasEveryTransportPayloadModeCellWithSaneFields) {
  ASSERT_TRUE(status_->ok()) << *status_;
  google::protobuf::ListValue records;
  const std::string json = FormatJson(*cells_);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &records).ok())
      << json;

  std::map<std::tuple<std::string, std::string, size_t>, int> seen;
  for (const google::protobuf::Value& value : records.values()) {
    ASSERT_EQ(value.kind_case(), google::protobuf::Value::kStructValue);
    const google::protobuf::Struct& r = value.struct_value();
    const std::string transport = r.fields().at("transport").string_value();
    const std::string mode = r.fields().at("mode").string_value();
    const size_t payload = static_cast<size_t>(Number(r, "payload_bytes"));
    SCOPED_TRACE(transport + " " + mode + " " + std::to_string(payload));
    ++seen[{transport, mode, payload}];
    EXPECT_EQ(r.fields().at("touch").string_value(), "all");

    EXPECT_EQ(Number(r, "reps"), 3);
    EXPECT_GT(Number(r, "samples"), 0);
    const double msgs = Number(r, "msgs_per_s");
    EXPECT_GT(msgs, 0);
    EXPECT_LE(Number(r, "msgs_per_s_min"), msgs);
    EXPECT_GE(Number(r, "msgs_per_s_max"), msgs);
    const double bytes_per_msg =
        static_cast<double>(payload) * (mode == "pingpong" ? 2 : 1);
    EXPECT_NEAR(Number(r, "gbytes_per_s"), msgs * bytes_per_msg / 1e9,
                1e-3 + 0.01 * msgs * bytes_per_msg / 1e9);
    if (mode == "pingpong") {
      const double p50 = Number(r, "p50_us");
      EXPECT_GT(p50, 0);
      EXPECT_LE(p50, Number(r, "p99_us"));
      EXPECT_LE(Number(r, "p99_us"), Number(r, "p999_us"));
      EXPECT_LE(Number(r, "p50_us_min"), p50);
      EXPECT_GE(Number(r, "p50_us_max"), p50);
    } else {
      EXPECT_TRUE(IsNull(r, "p50_us"));
      EXPECT_TRUE(IsNull(r, "p99_us"));
    }
  }

  std::vector<std::string> throughput_rows = AllTransportNames();
  throughput_rows.erase(std::find(throughput_rows.begin(),
                                  throughput_rows.end(), "shmport-spin"));
  throughput_rows.push_back("memcpy");
  for (size_t payload : {kSmall, kLarge}) {
    for (const std::string& t : throughput_rows) {
      EXPECT_EQ((seen[{t, "throughput", payload}]), 1) << t << " " << payload;
    }
    for (const std::string& t : AllTransportNames()) {
      EXPECT_EQ((seen[{t, "pingpong", payload}]), 1) << t << " " << payload;
    }
  }
  EXPECT_EQ(records.values_size(),
            static_cast<int>(
                2 * (throughput_rows.size() + AllTransportNames().size())));
}

TEST_F(FullComparison, TablesCompareShmportWithEveryOtherTransport) {
  ASSERT_TRUE(status_->ok()) << *status_;
  const std::string tables = FormatTables(*cells_);
  for (const char* column :
       {"| shmport/unix |", "| shmport/pipe |", "| shmport/grpc |",
        "| shmport/memcpy |", "| shmport/handoff |", "shmport/handoff p50",
        "shmport-spin/unix p50", "| 256 KiB |"}) {
    EXPECT_THAT(tables, HasSubstr(column));
  }
}

TEST_F(FullComparison, PlotHasOneLinePerTransportInEachPanel) {
  ASSERT_TRUE(status_->ok()) << *status_;
  const std::string svg = RenderSvg(*cells_, "test <machine>");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("</svg>\n"));
  EXPECT_THAT(svg, HasSubstr("test &lt;machine&gt;"));
  auto lines_of = [&](const std::string& transport) {
    const std::string tag = "data-transport=\"" + transport + "\"";
    int n = 0;
    for (size_t at = svg.find(tag); at != std::string::npos;
         at = svg.find(tag, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(lines_of("shmport"), 2);  // throughput and ping-pong
  EXPECT_EQ(lines_of("unix"), 2);
  EXPECT_EQ(lines_of("grpc"), 2);
  EXPECT_EQ(lines_of("handoff"), 2);
  EXPECT_EQ(lines_of("shmport-spin"), 1);  // ping-pong only
  EXPECT_EQ(lines_of("memcpy"), 1);        // throughput only
  EXPECT_THAT(svg, HasSubstr("handoff: the same workload"));
  EXPECT_THAT(svg, Not(HasSubstr("touch=none")));
}

// shmport and the handoff reference at both touch levels.
TEST(Comparison, TouchNoneCellsAreLabelledInEveryOutput) {
  ComparisonPlan plan;
  plan.transports = {*MakeTransport("shmport"), *MakeTransport("handoff")};
  plan.payloads = {kLarge};
  plan.touches = {Touch::kAll, Touch::kNone};
  plan.reps = 1;
  plan.timing = TinyTiming();
  absl::StatusOr<std::vector<CellSummary>> cells = RunComparison(plan);
  ASSERT_TRUE(cells.ok()) << cells.status();

  google::protobuf::ListValue records;
  const std::string json = FormatJson(*cells);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &records).ok())
      << json;
  std::map<std::tuple<std::string, std::string, std::string>, int> seen;
  for (const google::protobuf::Value& value : records.values()) {
    const google::protobuf::Struct& r = value.struct_value();
    EXPECT_GT(Number(r, "msgs_per_s"), 0);
    ++seen[{r.fields().at("transport").string_value(),
            r.fields().at("mode").string_value(),
            r.fields().at("touch").string_value()}];
  }
  for (const char* t : {"shmport", "handoff"}) {
    for (const char* mode : {"throughput", "pingpong"}) {
      for (const char* touch : {"all", "none"}) {
        EXPECT_EQ((seen[{t, mode, touch}]), 1)
            << t << " " << mode << " " << touch;
      }
    }
  }
  // memcpy copies whole payloads: measured only where the payload is.
  EXPECT_EQ((seen[{"memcpy", "throughput", "all"}]), 1);
  EXPECT_EQ((seen[{"memcpy", "throughput", "none"}]), 0);
  EXPECT_EQ(records.values_size(), 9);

  const std::string tables = FormatTables(*cells);
  EXPECT_THAT(tables, HasSubstr("One-way throughput: GB/s (messages/s), median "
                                "of 1 reps — touch=none: payload NOT touched"));
  EXPECT_THAT(tables, HasSubstr("Ping-pong round trip: p50 / p99 µs, median of "
                                "1 reps — touch=none"));
  EXPECT_THAT(tables, HasSubstr("| shmport | throughput | none | 256 KiB |"));
  const std::string svg = RenderSvg(*cells, "");
  EXPECT_THAT(svg, HasSubstr("data-transport=\"shmport (touch=none)\""));
  EXPECT_THAT(svg, HasSubstr("data-transport=\"handoff (touch=none)\""));
  EXPECT_THAT(svg, HasSubstr("dotted (touch=none): only the 24-byte header"));
}

}  // namespace
}  // namespace shmport::bench

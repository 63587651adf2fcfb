// docs/protocol.md agrees with the code (issue 5, acceptance 4): every
// offset, size and constant its tables list equals the static_asserted value
// in common/wire.h, common/segment_layout.h and common/ring_layout.h, and
// every field, constant and message type of those headers is listed.
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/topic_wire.h"
#include "common/ring_layout.h"
#include "common/segment_layout.h"
#include "common/wire.h"
#include "gtest/gtest.h"
#include "tests/docs/doc_source.h"
#include "tests/docs/markdown_tables.h"

namespace shmport::testing {
namespace {

constexpr char kDoc[] = "docs/protocol.md";

struct Field {
  std::string name;
  size_t offset;
  size_t size;
};

#define SHMPORT_FIELD(Struct, member) \
  Field { #member, offsetof(Struct, member), sizeof(Struct::member) }

// The structs the document must describe, field by field, from the code.
const std::map<std::string, std::vector<Field>>& CodeStructs() {
  using layout::SegmentHeader;
  using layout::SegmentInfo;
  using ring_layout::RingHeader;
  using ring_layout::RingInfo;
  using topic_wire::CutOff;
  using topic_wire::SampleRef;
  using topic_wire::TopicHello;
  using topic_wire::TopicNewSegment;
  using wire::Descriptor;
  using wire::Hello;
  using wire::MessageHeader;
  using wire::NewRing;
  using wire::NewSegment;
  using wire::ReleaseSegment;
  using wire::TrackingRef;
  static const auto* structs = new std::map<std::string, std::vector<Field>>{
      {"topic_wire::Header",
       {SHMPORT_FIELD(topic_wire::Header, type),
        SHMPORT_FIELD(topic_wire::Header, flags),
        SHMPORT_FIELD(topic_wire::Header, reserved),
        SHMPORT_FIELD(topic_wire::Header, length)}},
      {"topic_wire::TopicHello",
       {SHMPORT_FIELD(TopicHello, protocol_version),
        SHMPORT_FIELD(TopicHello, role), SHMPORT_FIELD(TopicHello, chunk_size),
        SHMPORT_FIELD(TopicHello, chunk_count),
        SHMPORT_FIELD(TopicHello, max_segments),
        SHMPORT_FIELD(TopicHello, inline_threshold),
        SHMPORT_FIELD(TopicHello, window),
        SHMPORT_FIELD(TopicHello, subscription_id),
        SHMPORT_FIELD(TopicHello, history),
        SHMPORT_FIELD(TopicHello, features)}},
      {"topic_wire::TopicNewSegment",
       {SHMPORT_FIELD(TopicNewSegment, segment_id),
        SHMPORT_FIELD(TopicNewSegment, reserved),
        SHMPORT_FIELD(TopicNewSegment, size)}},
      {"topic_wire::SampleRef",
       {SHMPORT_FIELD(SampleRef, sequence),
        SHMPORT_FIELD(SampleRef, segment_id),
        SHMPORT_FIELD(SampleRef, first_chunk), SHMPORT_FIELD(SampleRef, size)}},
      {"topic_wire::CutOff",
       {SHMPORT_FIELD(CutOff, code), SHMPORT_FIELD(CutOff, reserved)}},
      {"wire::MessageHeader",
       {SHMPORT_FIELD(MessageHeader, stream),
        SHMPORT_FIELD(MessageHeader, type), SHMPORT_FIELD(MessageHeader, flags),
        SHMPORT_FIELD(MessageHeader, count),
        SHMPORT_FIELD(MessageHeader, length)}},
      {"wire::Hello",
       {SHMPORT_FIELD(Hello, protocol_version), SHMPORT_FIELD(Hello, features),
        SHMPORT_FIELD(Hello, pid), SHMPORT_FIELD(Hello, uid),
        SHMPORT_FIELD(Hello, chunk_size), SHMPORT_FIELD(Hello, chunk_count),
        SHMPORT_FIELD(Hello, max_segments),
        SHMPORT_FIELD(Hello, inline_threshold), SHMPORT_FIELD(Hello, reserved),
        SHMPORT_FIELD(Hello, port_id)}},
      {"wire::Descriptor",
       {SHMPORT_FIELD(Descriptor, segment_id),
        SHMPORT_FIELD(Descriptor, chunk_id), SHMPORT_FIELD(Descriptor, size)}},
      {"wire::TrackingRef",
       {SHMPORT_FIELD(TrackingRef, segment_id),
        SHMPORT_FIELD(TrackingRef, slot),
        SHMPORT_FIELD(TrackingRef, generation)}},
      {"wire::NewSegment",
       {SHMPORT_FIELD(NewSegment, segment_id),
        SHMPORT_FIELD(NewSegment, reserved), SHMPORT_FIELD(NewSegment, size),
        SHMPORT_FIELD(NewSegment, token)}},
      {"wire::ReleaseSegment", {SHMPORT_FIELD(ReleaseSegment, segment_id)}},
      {"wire::NewRing",
       {SHMPORT_FIELD(NewRing, size), SHMPORT_FIELD(NewRing, token)}},
      {"layout::SegmentInfo",
       {SHMPORT_FIELD(SegmentInfo, magic), SHMPORT_FIELD(SegmentInfo, version),
        SHMPORT_FIELD(SegmentInfo, header_size),
        SHMPORT_FIELD(SegmentInfo, chunk_size),
        SHMPORT_FIELD(SegmentInfo, chunk_count),
        SHMPORT_FIELD(SegmentInfo, segment_id),
        SHMPORT_FIELD(SegmentInfo, tracking_slots),
        SHMPORT_FIELD(SegmentInfo, creator_pid),
        SHMPORT_FIELD(SegmentInfo, peer_pid), SHMPORT_FIELD(SegmentInfo, token),
        SHMPORT_FIELD(SegmentInfo, reserved)}},
      {"layout::SegmentHeader",
       {SHMPORT_FIELD(SegmentHeader, info), SHMPORT_FIELD(SegmentHeader, oosm),
        SHMPORT_FIELD(SegmentHeader, reserved1),
        SHMPORT_FIELD(SegmentHeader, free_map),
        SHMPORT_FIELD(SegmentHeader, tracking_free_map),
        SHMPORT_FIELD(SegmentHeader, tracking)}},
      {"ring_layout::RingInfo",
       {SHMPORT_FIELD(RingInfo, magic), SHMPORT_FIELD(RingInfo, version),
        SHMPORT_FIELD(RingInfo, header_size), SHMPORT_FIELD(RingInfo, capacity),
        SHMPORT_FIELD(RingInfo, reserved0), SHMPORT_FIELD(RingInfo, token),
        SHMPORT_FIELD(RingInfo, reserved1)}},
      {"ring_layout::RingHeader",
       {SHMPORT_FIELD(RingHeader, info), SHMPORT_FIELD(RingHeader, tail),
        SHMPORT_FIELD(RingHeader, head),
        SHMPORT_FIELD(RingHeader, consumer_sleeping),
        SHMPORT_FIELD(RingHeader, consumer_closed)}},
  };
  return *structs;
}

#define SHMPORT_CONSTANT(name) \
  { #name, static_cast < uint64_t>(name) }

// The constants the document must list, with the code's values.
const std::map<std::string, uint64_t>& CodeConstants() {
  static const auto* constants = new std::map<std::string, uint64_t>{
      SHMPORT_CONSTANT(layout::kMagic),
      SHMPORT_CONSTANT(layout::kVersion),
      SHMPORT_CONSTANT(layout::kPageSize),
      SHMPORT_CONSTANT(layout::kHeaderSize),
      SHMPORT_CONSTANT(layout::kMinChunkSize),
      SHMPORT_CONSTANT(layout::kMaxChunkSize),
      SHMPORT_CONSTANT(layout::kMaxChunks),
      SHMPORT_CONSTANT(layout::kMaxSegmentDataBytes),
      SHMPORT_CONSTANT(layout::kFreeMapWords),
      SHMPORT_CONSTANT(layout::kTrackingSlots),
      SHMPORT_CONSTANT(layout::kTrackingMapWords),
      SHMPORT_CONSTANT(sizeof(layout::SegmentInfo)),
      SHMPORT_CONSTANT(sizeof(layout::SegmentHeader)),
      SHMPORT_CONSTANT(wire::kProtocolVersion),
      SHMPORT_CONSTANT(wire::kFlagLast),
      SHMPORT_CONSTANT(wire::kFlagTracked),
      SHMPORT_CONSTANT(wire::kFeatureRing),
      SHMPORT_CONSTANT(wire::kHeaderBytes),
      SHMPORT_CONSTANT(wire::kMaxDescriptors),
      SHMPORT_CONSTANT(wire::kMaxInlinePayload),
      SHMPORT_CONSTANT(wire::kMaxFdsPerMessage),
      SHMPORT_CONSTANT(wire::kMaxMessageBytes),
      SHMPORT_CONSTANT(sizeof(wire::MessageHeader)),
      SHMPORT_CONSTANT(sizeof(wire::Descriptor)),
      SHMPORT_CONSTANT(sizeof(wire::TrackingRef)),
      SHMPORT_CONSTANT(sizeof(wire::Hello)),
      SHMPORT_CONSTANT(sizeof(wire::NewSegment)),
      SHMPORT_CONSTANT(sizeof(wire::ReleaseSegment)),
      SHMPORT_CONSTANT(sizeof(wire::NewRing)),
      SHMPORT_CONSTANT(ring_layout::kMagic),
      SHMPORT_CONSTANT(ring_layout::kVersion),
      SHMPORT_CONSTANT(ring_layout::kRingHeaderSize),
      SHMPORT_CONSTANT(ring_layout::kMinCapacity),
      SHMPORT_CONSTANT(ring_layout::kMaxCapacity),
      SHMPORT_CONSTANT(ring_layout::kEntryHeaderBytes),
      SHMPORT_CONSTANT(ring_layout::kEntryAlign),
      SHMPORT_CONSTANT(ring_layout::kKindMessage),
      SHMPORT_CONSTANT(ring_layout::kKindSocketMarker),
      SHMPORT_CONSTANT(ring_layout::kKindPad),
      SHMPORT_CONSTANT(ring_layout::kMarkerReserve),
      SHMPORT_CONSTANT(sizeof(ring_layout::RingInfo)),
      SHMPORT_CONSTANT(sizeof(ring_layout::RingHeader)),
      SHMPORT_CONSTANT(topic_wire::kProtocolVersion),
      SHMPORT_CONSTANT(topic_wire::kHeaderBytes),
      SHMPORT_CONSTANT(topic_wire::kMaxInlinePayload),
      SHMPORT_CONSTANT(topic_wire::kMaxReleases),
      SHMPORT_CONSTANT(topic_wire::kMaxReasonBytes),
      SHMPORT_CONSTANT(topic_wire::kMaxMessageBytes),
      SHMPORT_CONSTANT(topic_wire::kFeatureBatch),
      SHMPORT_CONSTANT(topic_wire::kFeatureWaiting),
  };
  return *constants;
}

// Every message type the code knows: values from 1 until the name is
// UNKNOWN.
std::map<std::string, uint64_t> CodeMessageTypes() {
  std::map<std::string, uint64_t> types;
  for (int v = 1; v < 256; ++v) {
    const auto name = wire::MessageTypeName(static_cast<wire::MessageType>(v));
    if (name == "UNKNOWN") break;
    types[std::string(name)] = v;
  }
  return types;
}

// "4096", "0x01", "0x0154524F504D4853".
std::optional<uint64_t> ParseNumber(absl::string_view text) {
  uint64_t value = 0;
  if (absl::ConsumePrefix(&text, "0x") || absl::ConsumePrefix(&text, "0X")) {
    if (absl::SimpleHexAtoi(text, &value)) return value;
    return std::nullopt;
  }
  if (absl::SimpleAtoi(text, &value)) return value;
  return std::nullopt;
}

// The struct a layout table describes: the last `ns::Name` in its heading.
std::string StructOf(const MarkdownTable& table) {
  std::string found;
  size_t pos = 0;
  while ((pos = table.heading.find('`', pos)) != std::string::npos) {
    const size_t end = table.heading.find('`', pos + 1);
    if (end == std::string::npos) break;
    const std::string code = table.heading.substr(pos + 1, end - pos - 1);
    if (code.find("::") != std::string::npos) found = code;
    pos = end + 1;
  }
  return found;
}

class ProtocolDocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> text =
        ReadRepositoryFile(kDoc, "tests/docs/protocol_doc_test.cc");
    ASSERT_TRUE(text.ok()) << text.status();
    tables_ = ParseMarkdownTables(*text);
  }

  std::string Where(const MarkdownRow& row) const {
    return absl::StrCat(kDoc, ":", row.line, ": ");
  }

  // Tables whose header has every one of `columns`.
  std::vector<const MarkdownTable*> TablesWith(
      std::initializer_list<absl::string_view> columns) const {
    std::vector<const MarkdownTable*> found;
    for (const MarkdownTable& t : tables_) {
      bool all = true;
      for (absl::string_view c : columns) all = all && t.Column(c) >= 0;
      if (all) found.push_back(&t);
    }
    return found;
  }

  std::vector<MarkdownTable> tables_;
};

TEST_F(ProtocolDocTest, EveryDocumentedOffsetAndSizeMatchesTheCode) {
  const auto layouts = TablesWith({"offset", "size", "field"});
  ASSERT_GE(layouts.size(), CodeStructs().size());
  for (const MarkdownTable* t : layouts) {
    const std::string name = StructOf(*t);
    auto code = CodeStructs().find(name);
    ASSERT_NE(code, CodeStructs().end())
        << "a layout table under \"" << t->heading
        << "\" names no struct the test knows (`ns::Struct` in the heading)";
    for (const MarkdownRow& row : t->rows) {
      std::string field = StripCode(row.cells[t->Column("field")]);
      field = field.substr(0, field.find('['));  // "free_map[65]"
      auto it = std::find_if(code->second.begin(), code->second.end(),
                             [&](const Field& f) { return f.name == field; });
      if (it == code->second.end()) {
        ADD_FAILURE() << Where(row) << name << " has no field `" << field
                      << "`";
        continue;
      }
      EXPECT_EQ(ParseNumber(row.cells[t->Column("offset")]), it->offset)
          << Where(row) << name << "::" << field << " offset";
      EXPECT_EQ(ParseNumber(row.cells[t->Column("size")]), it->size)
          << Where(row) << name << "::" << field << " size";
    }
  }
}

TEST_F(ProtocolDocTest, EveryFieldOfEveryLayoutStructIsDocumented) {
  std::map<std::string, std::set<std::string>> documented;
  for (const MarkdownTable* t : TablesWith({"offset", "size", "field"})) {
    for (const MarkdownRow& row : t->rows) {
      std::string field = StripCode(row.cells[t->Column("field")]);
      documented[StructOf(*t)].insert(field.substr(0, field.find('[')));
    }
  }
  for (const auto& [name, fields] : CodeStructs()) {
    for (const Field& f : fields) {
      EXPECT_TRUE(documented[name].count(f.name))
          << kDoc << " does not list " << name << "::" << f.name << " (offset "
          << f.offset << ", size " << f.size << ")";
    }
  }
}

TEST_F(ProtocolDocTest, EveryDocumentedConstantMatchesTheCode) {
  const auto tables = TablesWith({"constant", "value"});
  ASSERT_FALSE(tables.empty()) << "no | constant | value | table";
  std::set<std::string> documented;
  for (const MarkdownTable* t : tables) {
    for (const MarkdownRow& row : t->rows) {
      const std::string name = StripCode(row.cells[t->Column("constant")]);
      documented.insert(name);
      auto code = CodeConstants().find(name);
      if (code == CodeConstants().end()) {
        ADD_FAILURE() << Where(row) << "`" << name
                      << "` is not a constant the test checks; add it to "
                         "CodeConstants() or remove the row";
        continue;
      }
      EXPECT_EQ(ParseNumber(row.cells[t->Column("value")]), code->second)
          << Where(row) << name;
    }
  }
  for (const auto& [name, value] : CodeConstants()) {
    EXPECT_TRUE(documented.count(name))
        << kDoc << " does not list " << name << " = " << value;
  }
}

TEST_F(ProtocolDocTest, MessageTypeTableListsEveryTypeWithItsValue) {
  const auto tables = TablesWith({"type", "value", "body"});
  ASSERT_EQ(tables.size(), 1u) << "one | type | value | body | table";
  const std::map<std::string, uint64_t> code = CodeMessageTypes();
  ASSERT_GE(code.size(), 8u);
  std::set<std::string> documented;
  for (const MarkdownRow& row : tables[0]->rows) {
    const std::string name = StripCode(row.cells[tables[0]->Column("type")]);
    documented.insert(name);
    auto it = code.find(name);
    if (it == code.end()) {
      ADD_FAILURE() << Where(row) << "no message type " << name;
      continue;
    }
    EXPECT_EQ(ParseNumber(row.cells[tables[0]->Column("value")]), it->second)
        << Where(row) << name;
  }
  for (const auto& [name, value] : code) {
    EXPECT_TRUE(documented.count(name))
        << kDoc << " does not list message type " << name << " = " << value;
  }
}

TEST_F(ProtocolDocTest, TopicMessageTableListsEveryTopicTypeWithItsValue) {
  const auto tables = TablesWith({"message", "value", "body"});
  ASSERT_EQ(tables.size(), 1u) << "one | message | value | body | table";
  std::map<std::string, uint64_t> code;
  for (int v = 1; v < 256; ++v) {
    const auto name = topic_wire::TypeName(static_cast<topic_wire::Type>(v));
    if (name == "UNKNOWN") break;
    code[std::string(name)] = v;
  }
  ASSERT_GE(code.size(), 8u);
  std::set<std::string> documented;
  for (const MarkdownRow& row : tables[0]->rows) {
    const std::string name = StripCode(row.cells[tables[0]->Column("message")]);
    documented.insert(name);
    auto it = code.find(name);
    if (it == code.end()) {
      ADD_FAILURE() << Where(row) << "no topic message " << name;
      continue;
    }
    EXPECT_EQ(ParseNumber(row.cells[tables[0]->Column("value")]), it->second)
        << Where(row) << name;
  }
  for (const auto& [name, value] : code) {
    EXPECT_TRUE(documented.count(name))
        << kDoc << " does not list topic message " << name << " = " << value;
  }
}

TEST(MarkdownTablesTest, ParsesHeadingsEscapedPipesAndSkipsCodeFences) {
  const auto tables = ParseMarkdownTables(
      "# Title\n"
      "## Part (`ns::Thing`)\n"
      "| Offset | Field |\n"
      "|---:|---|\n"
      "| 0 | `a \\| b` |\n"
      "```\n"
      "| not | a table |\n"
      "```\n"
      "text\n"
      "| x |\n"
      "|---|\n");
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0].heading, "Part (`ns::Thing`)");
  EXPECT_EQ(StructOf(tables[0]), "ns::Thing");
  ASSERT_EQ(tables[0].rows.size(), 1u);
  EXPECT_EQ(tables[0].rows[0].line, 5);
  EXPECT_EQ(tables[0].Column("field"), 1);
  EXPECT_EQ(StripCode(tables[0].rows[0].cells[1]), "a | b");
  EXPECT_TRUE(tables[1].rows.empty());
}

TEST(ParseNumberTest, ReadsDecimalAndHex) {
  EXPECT_EQ(ParseNumber("4096"), 4096u);
  EXPECT_EQ(ParseNumber("0x01"), 1u);
  EXPECT_EQ(ParseNumber("0x0154524F504D4853"), layout::kMagic);
  EXPECT_EQ(ParseNumber("4 KiB"), std::nullopt);
}

}  // namespace
}  // namespace shmport::testing

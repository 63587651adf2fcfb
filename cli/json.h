// Json: a small JSON value for shmportctl's --json output. The schema is
// documented in docs/operations.md; keys print in the order they were set,
// so output is stable and diffable.
#ifndef SHMPORT_CLI_JSON_H_
#define SHMPORT_CLI_JSON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"

namespace shmport::cli {

// A JSON value: null, bool, integer (signed or unsigned 64-bit, printed
// exactly), double, string, array or object. Objects keep insertion order;
// setting an existing key replaces its value in place.
class Json {
 public:
  Json() = default;  // null
  Json(bool b) : value_(b) {}
  Json(int v) : value_(static_cast<int64_t>(v)) {}
  Json(long v) : value_(static_cast<int64_t>(v)) {}
  Json(long long v) : value_(static_cast<int64_t>(v)) {}
  Json(unsigned v) : value_(static_cast<uint64_t>(v)) {}
  Json(unsigned long v) : value_(static_cast<uint64_t>(v)) {}
  Json(unsigned long long v) : value_(static_cast<uint64_t>(v)) {}
  Json(double v) : value_(v) {}
  Json(const char* s) : value_(std::string(s)) {}
  Json(std::string s) : value_(std::move(s)) {}
  Json(absl::string_view s) : value_(std::string(s)) {}

  static Json Object();
  static Json Array();

  // Object only: sets `key` and returns *this, for chaining.
  Json& Set(absl::string_view key, Json value);
  // Array only: appends and returns *this.
  Json& Append(Json value);

  bool is_object() const;
  bool is_array() const;

  // Compact, one line: {"a":1,"b":[true,null]}. Non-finite doubles print
  // as null (JSON has no NaN).
  std::string Serialize() const;
  // Indented by two spaces per level, for people.
  std::string SerializePretty() const;

 private:
  using Members = std::vector<std::pair<std::string, Json>>;
  using Elements = std::vector<Json>;
  // Containers sit behind a pointer so that Json can hold Json.
  struct ObjectBox {
    Members members;
  };
  struct ArrayBox {
    Elements elements;
  };

  void Write(std::string& out, int indent, int depth) const;

  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string,
               std::shared_ptr<ObjectBox>, std::shared_ptr<ArrayBox>>
      value_;
};

// `s` as a JSON string literal, quotes included; control characters,
// quotes and backslashes escaped, other bytes (UTF-8) passed through.
std::string JsonQuote(absl::string_view s);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_JSON_H_

#include "cli/json.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shmport::cli {

Json Json::Object() {
  Json j;
  j.value_ = std::make_shared<ObjectBox>();
  return j;
}

Json Json::Array() {
  Json j;
  j.value_ = std::make_shared<ArrayBox>();
  return j;
}

bool Json::is_object() const {
  return std::holds_alternative<std::shared_ptr<ObjectBox>>(value_);
}

bool Json::is_array() const {
  return std::holds_alternative<std::shared_ptr<ArrayBox>>(value_);
}

Json& Json::Set(absl::string_view key, Json value) {
  // Copy-on-write: values built from one another never share mutations.
  auto& box = std::get<std::shared_ptr<ObjectBox>>(value_);
  if (box.use_count() > 1) box = std::make_shared<ObjectBox>(*box);
  for (auto& [k, v] : box->members) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  box->members.emplace_back(std::string(key), std::move(value));
  return *this;
}

Json& Json::Append(Json value) {
  auto& box = std::get<std::shared_ptr<ArrayBox>>(value_);
  if (box.use_count() > 1) box = std::make_shared<ArrayBox>(*box);
  box->elements.push_back(std::move(value));
  return *this;
}

std::string Json::Serialize() const {
  std::string out;
  Write(out, /*indent=*/0, /*depth=*/0);
  return out;
}

std::string Json::SerializePretty() const {
  std::string out;
  Write(out, /*indent=*/2, /*depth=*/0);
  return out;
}

void Json::Write(std::string& out, int indent, int depth) const {
  auto newline = [&](int level) {
    if (indent == 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * level), ' ');
  };
  const char* colon = indent == 0 ? ":" : ": ";
  if (std::holds_alternative<std::monostate>(value_)) {
    out += "null";
  } else if (const bool* b = std::get_if<bool>(&value_)) {
    out += *b ? "true" : "false";
  } else if (const int64_t* i = std::get_if<int64_t>(&value_)) {
    absl::StrAppend(&out, *i);
  } else if (const uint64_t* u = std::get_if<uint64_t>(&value_)) {
    absl::StrAppend(&out, *u);
  } else if (const double* d = std::get_if<double>(&value_)) {
    if (!std::isfinite(*d)) {
      out += "null";
    } else if (*d == std::floor(*d) && std::fabs(*d) < 1e15) {
      absl::StrAppendFormat(&out, "%.1f", *d);
    } else {
      // The shortest text that reads back as the same double.
      char text[32];
      const auto result = std::to_chars(text, text + sizeof(text), *d);
      out.append(text, result.ptr);
    }
  } else if (const std::string* s = std::get_if<std::string>(&value_)) {
    out += JsonQuote(*s);
  } else if (const auto* o = std::get_if<std::shared_ptr<ObjectBox>>(&value_)) {
    const Members& members = (*o)->members;
    out += '{';
    for (size_t k = 0; k < members.size(); ++k) {
      if (k > 0) out += ',';
      newline(depth + 1);
      out += JsonQuote(members[k].first);
      out += colon;
      members[k].second.Write(out, indent, depth + 1);
    }
    if (!members.empty()) newline(depth);
    out += '}';
  } else {
    const Elements& elements =
        std::get<std::shared_ptr<ArrayBox>>(value_)->elements;
    out += '[';
    for (size_t k = 0; k < elements.size(); ++k) {
      if (k > 0) out += ',';
      newline(depth + 1);
      elements[k].Write(out, indent, depth + 1);
    }
    if (!elements.empty()) newline(depth);
    out += ']';
  }
}

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace shmport::cli

#include "server/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace shmport::server {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

bool IsPrintable(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string Quote(absl::string_view text, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out.push_back(absl::ascii_isprint(c) && c != '"' ? text[i] : '?');
  }
  if (text.size() > max) absl::StrAppend(&out, "...");
  out.push_back('"');
  return out;
}

namespace {

// A name of 1..`max` characters from [A-Za-z0-9._-] (and '/' when
// `slash`), starting with a letter or digit.
absl::Status ValidateIdentifier(absl::string_view field, absl::string_view name,
                                size_t max, bool slash) {
  const absl::string_view chars = slash ? "[A-Za-z0-9._/-]" : "[A-Za-z0-9._-]";
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is empty; a name has 1..", max, " characters from ", chars));
  }
  if (name.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quote(name), " is ", name.size(),
                     " characters; at most ", max));
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " ", Quote(name), " must start with a letter or digit"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i]) && !(slash && name[i] == '/')) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " ", Quote(name), " has a character outside ",
                       chars, " at offset ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(absl::string_view field, absl::string_view name) {
  return ValidateIdentifier(field, name, kMaxNameLength, /*slash=*/false);
}

absl::Status ValidateTopicName(absl::string_view field,
                               absl::string_view topic) {
  return ValidateIdentifier(field, topic, kMaxTopicNameLength, /*slash=*/true);
}

absl::Status ValidateLabels(
    const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "labels has ", labels.size(), " entries; at most ", kMaxLabels));
  }
  for (const auto& [key, value] : labels) {
    if (key.empty() || key.size() > kMaxLabelKeyLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("label key ", Quote(key), " is ", key.size(),
                       " characters; keys have 1..", kMaxLabelKeyLength));
    }
    for (char c : key) {
      if (!IsNameChar(c) && c != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("label key ", Quote(key),
                         " has a character outside [A-Za-z0-9._/-]"));
      }
    }
    if (value.size() > kMaxLabelValueLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", key, " has a value of ", value.size(),
                       " characters; at most ", kMaxLabelValueLength));
    }
    if (!IsPrintable(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", key,
                       " has a value with non-printable "
                       "characters: ",
                       Quote(value)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateVersion(absl::string_view version) {
  if (version.size() > kMaxVersionLength || !IsPrintable(version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("version ", Quote(version), " must be 0..",
                     kMaxVersionLength, " printable ASCII characters"));
  }
  return absl::OkStatus();
}

}  // namespace shmport::server

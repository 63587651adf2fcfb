#include "server/list_page.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shmport::server {

absl::StatusOr<ListPage> ListPage::Start(uint32_t page_size,
                                         absl::string_view page_token,
                                         uint64_t max_bytes) {
  uint64_t after = 0;
  if (!page_token.empty() && !absl::SimpleAtoi(page_token, &after)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token '", page_token.substr(0, 64),
        "' is not one this daemon gave: pass a response's next_page_token "
        "back unchanged (or none for the first page)"));
  }
  return ListPage(page_size, after, max_bytes);
}

std::string ListPage::NextToken() const {
  return more_ ? absl::StrCat(after_) : std::string();
}

bool ListPage::Admit(size_t bytes) {
  // A repeated message field: its tag, its length, its bytes.
  const uint64_t encoded =
      1 + google::protobuf::io::CodedOutputStream::VarintSize64(bytes) + bytes;
  if (entries_ > 0 && ((page_size_ != 0 && entries_ >= page_size_) ||
                       bytes_ + encoded > max_bytes_)) {
    return false;
  }
  ++entries_;
  bytes_ += encoded;
  return true;
}

}  // namespace shmport::server

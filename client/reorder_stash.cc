#include "client/reorder_stash.h"

#include "absl/strings/str_format.h"

namespace shmport::internal {

absl::Status ReorderStash::Push(absl::Span<const uint8_t> bytes,
                                std::vector<UniqueFd>& fds) {
  const size_t new_fds = fds.size();
  const char* bound = nullptr;
  size_t limit = 0;
  if (entries_.size() + 1 > limits_.max_messages) {
    bound = "max_stash_messages";
    limit = limits_.max_messages;
  } else if (bytes_ + bytes.size() > limits_.max_bytes) {
    bound = "max_stash_bytes";
    limit = limits_.max_bytes;
  } else if (fds_ + new_fds > limits_.max_fds) {
    bound = "max_stash_fds";
    limit = limits_.max_fds;
  }
  if (bound != nullptr) {
    fds.clear();
    return absl::FailedPreconditionError(absl::StrFormat(
        "%u ordered messages (%u bytes, %u fds) sent on the socket ahead of "
        "the ring's marker, and one more (%u bytes, %u fds) would pass the "
        "reorder stash's bound PortOptions.%s = %u",
        entries_.size(), bytes_, fds_, bytes.size(), new_fds, bound, limit));
  }
  bytes_ += bytes.size();
  fds_ += new_fds;
  entries_.push_back(
      {std::vector<uint8_t>(bytes.begin(), bytes.end()), std::move(fds)});
  fds.clear();
  return absl::OkStatus();
}

ReorderStash::Entry ReorderStash::Pop() {
  Entry e = std::move(entries_.front());
  entries_.pop_front();
  bytes_ -= e.bytes.size();
  fds_ -= e.fds.size();
  return e;
}

void ReorderStash::Clear() {
  entries_.clear();
  bytes_ = 0;
  fds_ = 0;
}

}  // namespace shmport::internal

// ListPage: one page of a paged whole-registry answer (ListProcesses,
// ListPorts, GetStats; docs/control-plane.md, "Paging"). It knows where
// the page starts (the id its page_token names), how much it may hold
// (page_size entries, list_page_bytes of encoded answer) and the token of
// the page after it. Entries are copied a batch at a time, so the caller
// can let other calls take the registry's lock between batches.
#ifndef SHMPORT_SERVER_LIST_PAGE_H_
#define SHMPORT_SERVER_LIST_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace shmport::server {

class ListPage {
 public:
  // Entries one batch copies at most (one hold of the registry's lock:
  // ~0.25 µs each).
  static constexpr int kBatch = 256;
  // Bytes of a page's answer kept for what is not an entry (the token,
  // GetStats' daemon counters).
  static constexpr size_t kReservedBytes = 1024;

  // The page `page_token` names (empty: the first), holding at most
  // `page_size` entries (0: no count bound) and `max_bytes` of encoded
  // answer. INVALID_ARGUMENT naming the token when this daemon did not
  // make it.
  static absl::StatusOr<ListPage> Start(uint32_t page_size,
                                        absl::string_view page_token,
                                        uint64_t max_bytes);
  // One page that holds every entry (the daemon's own readers).
  static ListPage Everything() { return ListPage(0, 0, UINT64_MAX); }

  // Entries with ids above this come next.
  uint64_t after() const { return after_; }
  // What next_page_token says: empty when the list ended on this page.
  std::string NextToken() const;

  // Copies entries from [it, end) (in id order, all above after()) into
  // `out`, `info_of(it)` giving each one's message (nullptr: skip it), for
  // at most kBatch entries. True when the page wants another batch (the
  // range is not exhausted and the page not full); the caller then calls
  // again with a range that starts above after().
  template <typename It, typename InfoOf, typename Info>
  bool CopyBatch(It it, It end, InfoOf info_of,
                 google::protobuf::RepeatedPtrField<Info>* out) {
    for (int n = 0; it != end; ++it) {
      if (n++ == kBatch) return true;
      const Info* info = info_of(it);
      if (info == nullptr) continue;
      if (!Admit(info->ByteSizeLong())) {
        more_ = true;
        return false;
      }
      *out->Add() = *info;
      after_ = info->id();
    }
    return false;
  }

 private:
  ListPage(uint32_t page_size, uint64_t after, uint64_t max_bytes)
      : page_size_(page_size), max_bytes_(max_bytes), after_(after) {}
  // Counts an entry of `bytes` when the page has room for it. The first
  // entry always fits, so every page moves the cursor.
  bool Admit(size_t bytes);

  uint32_t page_size_;
  uint64_t max_bytes_;
  uint64_t after_;
  uint32_t entries_ = 0;
  uint64_t bytes_ = kReservedBytes;
  bool more_ = false;  // an entry did not fit: the list goes on
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_LIST_PAGE_H_

// PortCore: opening, the port state and closing, the reader role and the
// inbox. Sending is port_core_send.cc, giving memory back
// port_core_reclaim.cc.
#include "client/port_core.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/port_hello.h"
#include "common/errors.h"
#include "common/log.h"

namespace shmport::internal {
namespace {

// Beyond this many queued messages a blocked sender stops draining the
// socket into the inbox on the application's behalf.
constexpr size_t kMaxInboxWhileSending = 4096;

// Waits on `cv` until notified or `deadline`; false once the deadline has
// passed. Uses the steady clock (wait_for), immune to wall-clock jumps.
bool CvWait(CondVar& cv, MutexLock& lock, const Deadline& deadline) {
  if (deadline.infinite()) {
    cv.Wait(&lock);
    return true;
  }
  const absl::Duration left = deadline.left();
  if (left <= absl::ZeroDuration()) return false;
  cv.WaitFor(&lock, absl::ToChronoNanoseconds(left));
  return true;
}

// poll() on `fd` for `events` until `deadline`, retrying EINTR: the events
// that came (0 on timeout or error).
short PollFor(int fd, short events, const Deadline& deadline) {
  pollfd p{fd, events, 0};
  int r;
  while ((r = ::poll(&p, 1, PollTimeoutMs(deadline))) < 0 && errno == EINTR) {
  }
  return r > 0 ? p.revents : 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Opening and the HELLO exchange.

absl::Status PortCore::SendHello(int socket, const PortOptions& options) {
  if (absl::Status s = ValidatePortOptions(options); !s.ok()) return s;
  wire::Encoder e(wire::MessageType::kHello, 0);
  e.SetHello(MakeHello(options, ::getpid(), ::geteuid()));
  // Borrow the fd for one send without taking ownership.
  UnixChannel channel{UniqueFd(socket)};
  absl::Status s = channel.Send(e.bytes(), {}, /*with_credentials=*/true);
  channel.TakeFd().Release();
  return s;
}

absl::StatusOr<std::shared_ptr<PortCore>> PortCore::Open(
    UniqueFd socket, const PeerIdentity& peer, const PortOptions& options) {
  if (absl::Status s = ValidatePortOptions(options); !s.ok()) return s;
  UnixChannel channel(std::move(socket));
  if (absl::Status s = channel.SetPassCredentials(true); !s.ok()) return s;
  if (!options.hello_already_sent) {
    if (absl::Status s = SendHello(channel.fd(), options); !s.ok()) return s;
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return ErrnoToStatus(errno, "eventfd for a port");
  std::shared_ptr<PortCore> core(
      new PortCore(std::move(channel), std::move(wake), peer, options));
  if (absl::Status s = core->Handshake(); !s.ok()) return s;
  return core;
}

PortCore::PortCore(UnixChannel channel, UniqueFd wake_fd,
                   const PeerIdentity& peer, const PortOptions& options)
    : peer_(peer),
      options_(options),
      channel_(std::move(channel)),
      wake_fd_(std::move(wake_fd)),
      counters_(std::make_shared<PortCounters>()),
      pool_(
          {options.geometry, options.max_segments, options.idle_segment_timeout,
           options.reclaim_free_run_bytes, peer.pid},
          *counters_),
      peer_segments_(*counters_),
      sender_(*this, channel_, *counters_),
      reader_(*this, channel_, wake_fd_.get(), peer_segments_, *counters_,
              options_) {}

PortCore::~PortCore() = default;

absl::Status PortCore::Handshake() {
  const Deadline deadline(options_.hello_timeout);
  pollfd p{channel_.fd(), POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, PollTimeoutMs(deadline))) < 0 && errno == EINTR) {
  }
  if (r < 0) return ErrnoToStatus(errno, "waiting for the peer's HELLO");
  if (r == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("no HELLO from the peer within ",
                     absl::FormatDuration(options_.hello_timeout)));
  }
  const absl::Span<uint8_t> buffer = reader_.receive_buffer();
  auto got = channel_.Receive(buffer, true);
  if (!got.ok()) return got.status();
  if (!got->has_value()) {
    return absl::UnavailableError("the peer closed before sending HELLO");
  }
  ReceivedMessage& m = **got;
  auto terms = AcceptHello(absl::MakeConstSpan(buffer.data(), m.size),
                           m.fds.size(), m.credentials, peer_, options_);
  if (!terms.ok()) return terms.status();
  peer_geometry_ = terms->geometry;
  peer_segments_.Open(terms->max_segments, terms->geometry);
  // Credentials matter only on HELLO; stop paying for them per message.
  if (absl::Status s = channel_.SetPassCredentials(false); !s.ok()) return s;
  if (options_.ring_capacity > 0 && terms->has_ring) {
    if (absl::Status s = sender_.StartRing(options_.ring_capacity,
                                           Deadline(options_.hello_timeout));
        !s.ok()) {
      return s;
    }
  }
  PortState handshaking = PortState::kHandshaking;
  state_.compare_exchange_strong(handshaking, PortState::kOpen,
                                 std::memory_order_acq_rel);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Closing.

absl::Status PortCore::closed_reason() const {
  MutexLock lock(&in_mu_);
  return closed_reason_;
}

void PortCore::Close(absl::Status reason, bool send_bye, bool tell_peer) {
  {
    MutexLock lock(&in_mu_);
    if (closed()) return;
    closed_reason_ = std::move(reason);
    // Seq_cst: before the token is tried below, against a holder that gives
    // it back and then looks at the state (GiveBackReaderRole).
    state_.store(PortState::kClosed, std::memory_order_seq_cst);
    // The peer's segments: no more are mapped.
    peer_segments_.MarkClosed();
  }
  // The stash and the peer's segments are the reader's: with the role free,
  // nobody else touches them and we drop them now; a holder drops them when
  // it gives the role back (Messages still out keep their mappings).
  if (TryTakeReaderRole()) GiveBackReaderRole();
  pool_.Close();  // Buffers and Trackings keep the segments they use
  counters_->closed.store(true);
  // The peer's senders stop at their next call (PeerGone), not when
  // memory runs out.
  if (tell_peer) reader_.MarkRingClosed();
  // BYE is ordered (it follows the data already sent), so it goes where
  // the data goes.
  if (send_bye && tell_peer) sender_.TrySendBye();
  // Wakes a reader blocked in poll and shows the peer an EOF. The fd itself
  // stays open until the last Buffer/Message lets go of this core, so no
  // thread can ever poll a reused descriptor number.
  if (tell_peer) ::shutdown(channel_.fd(), SHUT_RDWR);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
  MutexLock lock(&in_mu_);
  in_cv_.SignalAll();
}

bool PortCore::PeerGone() {
  if (peer_gone_.load(std::memory_order_acquire)) return true;
  bool gone = sender_.PeerClosedRing();
  if (!gone) {
    // No word through a ring (none, or the peer died without a BYE): a
    // system call, so only every kPeerProbeEvery calls. Racy decrements
    // only move the probe by a call.
    const uint32_t left = probe_countdown_.load(std::memory_order_relaxed);
    if (left > 0) {
      probe_countdown_.store(left - 1, std::memory_order_relaxed);
      return false;
    }
    probe_countdown_.store(kPeerProbeEvery, std::memory_order_relaxed);
    gone = PeerHungUp();
  }
  if (gone) peer_gone_.store(true, std::memory_order_release);
  return gone;
}

bool PortCore::PeerHungUp() const {
  pollfd p{channel_.fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)) != 0;
}

void PortCore::DropInbox() {
  MessageQueue unread;  // destroyed after the lock is released
  {
    MutexLock lock(&in_mu_);
    unread.swap(inbox_);
    NoteInboxSize();
  }
}

void PortCore::ProtocolError(const absl::Status& error) {
  counters_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
  Log(LogLevel::kWarning, "port_protocol_error",
      {{"port", options_.port_id},
       {"peer_pid", static_cast<int64_t>(peer_.pid)},
       {"peer", peer_.name},
       {"reason", error.message()}});
  Close(absl::UnavailableError(
            absl::StrCat("protocol error from the peer: ", error.message())),
        /*send_bye=*/false);
}

PortStats PortCore::stats() const {
  PortStats s;
  ReadCounters(*counters_, s);
  pool_.AddStats(s);
  return s;
}

// ---------------------------------------------------------------------------
// The reader role and the inbox.

void PortCore::GiveBackReaderRole() {
  reader_taken_.store(false, std::memory_order_seq_cst);
  if (state_.load(std::memory_order_seq_cst) == PortState::kClosed &&
      TryTakeReaderRole()) {
    reader_.ClearStash();
    peer_segments_.Drop();
    reader_taken_.store(false, std::memory_order_seq_cst);
  }
}

void PortCore::EndTurnLocked() {
  reader_.HandOver(inbox_);
  NoteInboxSize();
  GiveBackReaderRole();
  in_cv_.SignalAll();
}

void PortCore::EndTurn() {
  if (!reader_.batch_empty()) {
    // The turn brought more than its holder took: the rest is for whoever
    // asks next, through the inbox.
    MutexLock lock(&in_mu_);
    EndTurnLocked();
    return;
  }
  GiveBackReaderRole();
  if (role_waiters_.load(std::memory_order_seq_cst) > 0) {
    MutexLock lock(&in_mu_);
    in_cv_.SignalAll();
  }
}

PortCore::ReaderRole::~ReaderRole() { core_.EndTurnLocked(); }

template <typename Ready>
bool PortCore::WaitFor(MutexLock& lock, const Deadline& deadline, PumpMode mode,
                       Ready ready) {
  while (!ready()) {
    if (closed()) return true;
    if (!TryTakeReaderRole()) {
      // Counted before the token is looked at again, so that a holder
      // giving it back without in_mu_ sees us and wakes us (D33).
      role_waiters_.fetch_add(1, std::memory_order_seq_cst);
      bool in_time = true;
      if (reader_taken_.load(std::memory_order_seq_cst)) {
        in_time = CvWait(in_cv_, lock, deadline);
      }
      role_waiters_.fetch_sub(1, std::memory_order_relaxed);
      if (!in_time) return ready();
      continue;
    }
    ReaderRole role(*this);
    if (deadline.expired()) return false;
    role.Pump(deadline, mode);
  }
  return true;
}

bool PortCore::ReadAlone(const Deadline& deadline) {
  // Only a role holder adds to the inbox: 0 now stays 0 until we give the
  // role back, and our batch holds the next messages.
  if (inbox_size_.load(std::memory_order_acquire) != 0) return false;
  while (reader_.batch_empty()) {
    if (closed() || deadline.expired()) return false;
    reader_.PumpOnce(deadline, PumpMode::kReceive);
  }
  return true;
}

absl::StatusOr<Message> PortCore::TakeFromBatch() {
  absl::StatusOr<Message> next(reader_.TakeFromBatch());  // one move
  EndTurn();
  return next;
}

absl::StatusOr<Message> PortCore::Receive(const Deadline& deadline) {
  sender_.FlushPendingAck();
  // With a thread waiting, the role goes through in_mu_ (ReceiveShared), so
  // that a lone reader coming back does not keep it from the waiters.
  if (role_waiters_.load(std::memory_order_relaxed) == 0 &&
      TryTakeReaderRole()) {
    if (ReadAlone(deadline)) return TakeFromBatch();
    EndTurn();
  }
  return ReceiveShared(deadline);
}

absl::StatusOr<Message> PortCore::ReceiveShared(const Deadline& deadline) {
  MutexLock lock(&in_mu_);
  while (inbox_.empty()) {
    if (closed()) return closed_reason_;
    if (!WaitFor(lock, deadline, PumpMode::kReceive, [&] {
          in_mu_.AssertHeld();  // WaitFor calls it under in_mu_
          return !inbox_.empty();
        })) {
      return absl::DeadlineExceededError("no message before the deadline");
    }
  }
  absl::StatusOr<Message> next(inbox_.TakeFront());  // one move
  NoteInboxSize();
  return next;
}

absl::StatusOr<std::optional<Message>> PortCore::TryReceive() {
  sender_.FlushPendingAck();
  MutexLock lock(&in_mu_);
  while (true) {
    if (!inbox_.empty()) {
      std::optional<Message> next(inbox_.TakeFront());
      NoteInboxSize();
      return next;
    }
    if (closed()) return closed_reason_;
    if (!TryTakeReaderRole()) return std::optional<Message>();
    PortReader::PumpResult r;
    {
      ReaderRole role(*this);
      r = role.Pump(Deadline::Passed(), PumpMode::kNoWait);
    }
    if (r == PortReader::PumpResult::kTimeout && inbox_.empty()) {
      return std::optional<Message>();
    }
  }
}

void PortCore::WaitForRoom(const Deadline& deadline) {
  MutexLock lock(&in_mu_);
  if (inbox_.size() >= kMaxInboxWhileSending || !TryTakeReaderRole()) {
    lock.Unlock();
    PollFor(channel_.fd(), POLLOUT, deadline);
    return;
  }
  ReaderRole role(*this);
  role.Unlocked([&](PortReader& reader) {
    if (PollFor(channel_.fd(), POLLOUT | POLLIN, deadline) & POLLIN) {
      reader.PumpOnce(Deadline::Passed(), PumpMode::kNoWait);
    }
    return 0;
  });
}

bool PortCore::WaitForMemory(uint64_t seen, const Deadline& deadline) {
  MutexLock lock(&in_mu_);
  return WaitFor(lock, deadline, PumpMode::kWait,
                 [&] { return pool_.epoch() != seen; });
}

void PortCore::OnShmAck() {
  pool_.NoteFreed();
  MutexLock lock(&in_mu_);
  in_cv_.SignalAll();
}

}  // namespace shmport::internal

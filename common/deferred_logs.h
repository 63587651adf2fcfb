// DeferredLogs: holds back this thread's log lines (common/log.h) while it
// lives, so that a caller holding a hot lock logs without a system call.
#ifndef SHMPORT_COMMON_DEFERRED_LOGS_H_
#define SHMPORT_COMMON_DEFERRED_LOGS_H_

namespace shmport {

// While one is alive on a thread, that thread's log lines (those not sent
// to a LogSink) are kept, and written together when the outermost one
// ends, in writes of at most PIPE_BUF (so they never interleave with other
// writers' lines). A caller that logs while holding a hot lock declares
// one before taking the lock: the lines are still formatted in order, but
// the write waits until the lock is released. (Implemented in log.cc,
// beside Log, which consults it.)
class DeferredLogs {
 public:
  DeferredLogs();
  ~DeferredLogs();
  DeferredLogs(const DeferredLogs&) = delete;
  DeferredLogs& operator=(const DeferredLogs&) = delete;
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_DEFERRED_LOGS_H_

#include "common/log.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/deferred_logs.h"
#include "common/mutex.h"

namespace shmport {
namespace {

LogLevel InitialLevel() {
  LogLevel level = LogLevel::kInfo;
  if (const char* env = ::getenv("SHMPORT_LOG_LEVEL")) {
    ParseLogLevel(env, &level);
  }
  return level;
}

std::atomic<LogLevel>& Level() {
  static std::atomic<LogLevel> level{InitialLevel()};
  return level;
}

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(absl::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void AppendValue(std::string* out, const LogValue& v) {
  if (!v.quote() || !NeedsQuotes(v.text())) {
    out->append(v.text());
    return;
  }
  out->push_back('"');
  for (char c : v.text()) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out->push_back('?');
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// The sink, if any: copied out under the lock, called outside it.
struct SinkSlot {
  Mutex mu;
  std::shared_ptr<const LogSink> sink ABSL_GUARDED_BY(mu);
};

SinkSlot& Sink() {
  static SinkSlot* slot = new SinkSlot();  // never destroyed: logs at exit
  return *slot;
}

std::shared_ptr<const LogSink> CurrentSink() {
  SinkSlot& slot = Sink();
  MutexLock lock(&slot.mu);
  return slot.sink;
}

// A single write(2); a short write to a pipe is not retried (logging must
// never block the data plane for long or fail the caller).
void WriteLines(absl::string_view lines) {
  [[maybe_unused]] ssize_t n =
      ::write(STDERR_FILENO, lines.data(), lines.size());
}

// This thread's DeferredLogs scopes and the lines they keep.
struct Deferred {
  int depth = 0;
  std::string lines;
};
// Lines written together stay within one atomic pipe write (PIPE_BUF), so
// they never interleave with other writers' lines.
constexpr size_t kMaxDeferredBytes = PIPE_BUF;

Deferred& ThisThreadDeferred() {
  thread_local Deferred deferred;
  return deferred;
}

}  // namespace

DeferredLogs::DeferredLogs() { ++ThisThreadDeferred().depth; }

DeferredLogs::~DeferredLogs() {
  Deferred& d = ThisThreadDeferred();
  if (--d.depth > 0 || d.lines.empty()) return;
  WriteLines(d.lines);
  d.lines.clear();
}

void SetLogSink(LogSink sink) {
  auto next = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
  SinkSlot& slot = Sink();
  MutexLock lock(&slot.mu);
  slot.sink = std::move(next);
}

void SetLogLevel(LogLevel level) { Level().store(level); }
LogLevel GetLogLevel() { return Level().load(); }

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "debug") {
    *level = LogLevel::kDebug;
  } else if (t == "info") {
    *level = LogLevel::kInfo;
  } else if (t == "warning" || t == "warn") {
    *level = LogLevel::kWarning;
  } else if (t == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

std::string FormatLogLine(LogLevel level, absl::string_view event,
                          std::initializer_list<LogField> fields) {
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                                      absl::UTCTimeZone());
  absl::StrAppend(&line, " level=", LevelName(level), " event=", event);
  for (const LogField& f : fields) {
    absl::StrAppend(&line, " ", f.first, "=");
    AppendValue(&line, f.second);
  }
  return line;
}

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields) {
  if (level < GetLogLevel()) return;
  std::string line = FormatLogLine(level, event, fields);
  if (std::shared_ptr<const LogSink> sink = CurrentSink()) {
    (*sink)(level, line);
    return;
  }
  line.push_back('\n');
  Deferred& d = ThisThreadDeferred();
  if (d.depth == 0) {
    WriteLines(line);
    return;
  }
  if (d.lines.size() + line.size() > kMaxDeferredBytes && !d.lines.empty()) {
    WriteLines(d.lines);
    d.lines.clear();
  }
  d.lines += line;
}

}  // namespace shmport

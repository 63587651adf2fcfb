// Structured logging: one line per event, logfmt (key=value), on stderr.
//
//   2026-11-25T17:40:01.123456Z level=info event=port_opened port=3 from=7
//
// Each line is written with a single write(2), so lines from several threads
// or processes sharing stderr never interleave.
#ifndef SHMPORT_COMMON_LOG_H_
#define SHMPORT_COMMON_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace shmport {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default: kInfo, or SHMPORT_LOG_LEVEL
// (debug|info|warning|error) from the environment.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// A field value rendered as text; strings with spaces or quotes are quoted.
class LogValue {
 public:
  LogValue(absl::string_view s) : text_(s), quote_(true) {}
  LogValue(const std::string& s) : text_(s), quote_(true) {}
  LogValue(const char* s) : text_(s), quote_(true) {}
  LogValue(bool b) : text_(b ? "true" : "false") {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  LogValue(T v) : text_(absl::StrCat(v)) {}
  LogValue(double v) : text_(absl::StrCat(v)) {}

  const std::string& text() const { return text_; }
  bool quote() const { return quote_; }

 private:
  std::string text_;
  bool quote_ = false;
};

using LogField = std::pair<absl::string_view, LogValue>;

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields = {});

// Where lines go. By default each is written to stderr; a sink takes every
// line that passes the level instead (without its newline), on the thread
// that logged, so it must be quick and must not log itself. An empty sink
// restores stderr. Process-wide; safe to change while others log (a line
// already past the check may still go to the previous sink).
using LogSink = std::function<void(LogLevel level, absl::string_view line)>;
void SetLogSink(LogSink sink);

// Renders one line (without the trailing newline); exposed for tests.
std::string FormatLogLine(LogLevel level, absl::string_view event,
                          std::initializer_list<LogField> fields);

}  // namespace shmport

#endif  // SHMPORT_COMMON_LOG_H_

// HostileSockets: what a hostile process of another uid does to the
// daemon's sockets without ever behaving like a client: it holds
// connections that never speak, and floods the broker with Attach frames
// that carry no valid token. foreign_client runs these commands:
//
//   hold broker|control PATH N   connect N sockets to PATH (SOCK_SEQPACKET
//                                for broker, SOCK_STREAM for control) and
//                                hold them: ok <connected> <failed>
//   closed EXPECTED TIMEOUT_MS   wait until EXPECTED held sockets have been
//                                closed by the daemon (EOF or reset), or the
//                                timeout: ok <closed> [<CODE>=<n>]... where
//                                CODE counts the AttachResults read first
//   release                      close every held socket: ok
//   flood_attach BROKER MAX_ID MS
//                                for MS milliseconds, in rounds: connect
//                                and send Attach{id, wrong token} for every
//                                process id 1 .. MAX_ID, then read every
//                                answer: ok <attempts> [<CODE>=<n>]...
#ifndef SHMPORT_TESTS_SECURITY_HOSTILE_SOCKETS_H_
#define SHMPORT_TESTS_SECURITY_HOSTILE_SOCKETS_H_

#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shmport/unique_fd.h"

namespace shmport::testing {

// Thread-safety: none; foreign_client's one thread drives it.
class HostileSockets {
 public:
  // The answer line to `command` (its arguments still in `in`), or nullopt
  // when the command is not one of these.
  std::optional<std::string> Run(const std::string& command, std::istream& in);

 private:
  struct Held {
    UniqueFd fd;
    bool closed = false;
    bool seqpacket = false;
  };

  std::string Hold(const std::string& kind, const std::string& path, int n);
  std::string WaitClosed(int expected, int timeout_ms);
  std::string FloodAttach(const std::string& broker, int max_id, int ms);
  // Reads what is waiting on `held`; marks it closed at EOF or an error.
  void Drain(Held& held);

  std::vector<Held> held_;
  std::map<std::string, int> codes_;  // AttachResult codes read while held
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_SECURITY_HOSTILE_SOCKETS_H_

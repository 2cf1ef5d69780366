// Commands through sudo with the password on stdin or typed at a PTY's prompt (see runner.hpp
// for the whole story). Used by task steps and by herd::Group::sudo.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "herd/flow.hpp"
#include "herd/session.hpp"

namespace herd::tasks {

/// How a sudo command went: the command's result, and what sudo itself said.
struct SudoOutcome {
  ExecResult exec;
  bool refused = false;         ///< the password was wrong (sudo asked again)
  bool needs_password = false;  ///< no password was given and sudo wanted one
  bool on_tty = false;          ///< it ran on a PTY, because sudo required one
  /// A one-line reason when sudo itself failed ("sudo refused the password"), else empty.
  std::string why() const;
};

/// Run the shell command `inner` as `user` through sudo on `session`. Output goes to `sink`;
/// sudo's own prompt never does, nor a "must have a tty" refusal that a PTY run replaced.
Flow<Result<SudoOutcome>> run_sudo(Session& session, std::string user, std::string inner,
                                   std::optional<std::string> password,
                                   std::optional<std::chrono::milliseconds> timeout, ExecSink sink);

/// The sudo command line for `user` around `inner` (a shell command): with a password on stdin
/// (`with_password`), on a PTY (`tty`), or non-interactive (`sudo -n`).
std::string sudo_command(const std::string& user, const std::string& inner, bool with_password,
                         bool tty);

/// The prompt herd gives sudo with -p, found and removed from the output.
extern const char* const kSudoPrompt;

}  // namespace herd::tasks

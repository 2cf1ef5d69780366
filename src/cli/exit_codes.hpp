// The one place that maps outcomes to herd's process exit codes (documented in README.md).
#pragma once

#include <vector>

#include "herd/engine.hpp"
#include "herd/error.hpp"

namespace herd::cli {

/// herd's exit codes. `herd shell` instead exits with the remote shell's own status.
enum class ExitCode : int {
  ok = 0,             ///< everything succeeded
  remote_failed = 1,  ///< a remote command exited non-zero or was killed by a signal
  usage = 2,          ///< bad command line or configuration
  unreachable = 3,    ///< connection refused / unreachable / DNS / connect timeout
  host_key = 4,       ///< host key unknown (strict), changed or revoked
  auth = 5,           ///< authentication failed
  timeout = 6,        ///< a phase or the command timed out
  protocol = 7,       ///< SSH protocol or channel failure
  local = 8,          ///< local I/O error
  interrupted = 130,  ///< stopped by Ctrl-C / SIGINT
};

/// The exit code for a failure of this kind.
ExitCode exit_code_for(const Error& error);

/// A fleet run's exit code: interrupted if cancelled, else unreachable (3) when some host was
/// not reached (refused, auth, host key, or a failure/timeout before its command ran), else
/// remote_failed (1) when some command failed or timed out, else ok.
ExitCode fleet_exit_code(const std::vector<HostResult>& results, bool cancelled);

/// As an int for returning from main().
inline int as_int(ExitCode c) {
  return static_cast<int>(c);
}

}  // namespace herd::cli

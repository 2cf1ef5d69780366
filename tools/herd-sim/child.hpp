// A command run for an exec request: `/bin/sh -c CMD` in its own process group, with
// non-blocking pipes for stdin, stdout and stderr, and a pidfd that becomes readable on exit.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

namespace herd::sim {

struct ChildProcess {
  pid_t pid = -1;     ///< also the process group id
  int pidfd = -1;     ///< readable once the child exited; -1 if pidfd_open is unavailable
  int stdin_fd = -1;  ///< our ends, all non-blocking and close-on-exec
  int stdout_fd = -1;
  int stderr_fd = -1;
};

/// Start `/bin/sh -c command` as the current user in $HOME, with the sim's environment plus
/// `env`. Signals are reset to their defaults and unblocked in the child. nullopt on failure
/// (errno set).
std::optional<ChildProcess> spawn_child(const std::string& command,
                                        const std::map<std::string, std::string>& env);

/// Reap `pid` if it exited: nullopt while it runs, else the wait status.
std::optional<int> try_reap(pid_t pid);

/// Signal name as SSH spells it ("TERM") -> number; 0 if unknown.
int signal_from_ssh_name(const std::string& name);
/// Signal number -> SSH name ("TERM"); "" if unknown.
std::string ssh_name_of_signal(int sig);

}  // namespace herd::sim

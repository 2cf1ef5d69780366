// `local:` steps: a command on the controlling machine, run without blocking the event loop.
//
// The command runs as `/bin/sh -c COMMAND` in a child process whose stdout and stderr are
// pipes; the flow waits on them (IoWait's fd and extra_fd) like it waits on an SSH socket,
// hands output over as it arrives, and reaps the child once both pipes are closed. At the
// deadline, or when the run is cancelled, the child's process group gets TERM, then KILL.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "herd/engine.hpp"
#include "herd/flow.hpp"
#include "herd/session.hpp"

namespace herd::tasks {

/// Run `command` locally; output goes to `output`. The result is an ExecResult like a remote
/// command's (exit status, signal, timed_out, cancelled). An Error only when it cannot start.
Flow<Result<ExecResult>> run_local(std::string command, std::map<std::string, std::string> env,
                                   std::optional<std::chrono::milliseconds> timeout,
                                   HostOutput output);

}  // namespace herd::tasks

// Running a task's steps on one host: the per-host state machine under the engine.
//
// Theory of operation: the engine connects a host and then calls the task's HostWork, which is
// run_task_on_host(): a flow that walks the steps in order on that one session. Each step's
// templates are expanded just before it runs, from the task's parameters, the host's facts
// (host.name, inventory vars) and the results registered by earlier steps on that same host.
// Context (cd, env, prefix, timeout, on_failure) is a value passed down the walk: a block
// wraps it for its own steps only, as Fabric's context managers do. A remote command is
// `export NAME=VALUE && cd -- DIR && PREFIX && { COMMAND }` in one exec request, so a failed cd
// or prefix fails the step instead of running the command elsewhere. A failing step ends the
// host (skip-host), is noted and passed over (continue / warn_only), or ends the host and asks
// the run to stop (abort). A failure is a result in HostResult (status, exit code, message,
// the step), never an exception.
//
// sudo: the password is fed on stdin and never appears in a command line. Without a PTY the
// command is `IFS= read -r p; printf '%s\n' "$p" | sudo -S -p PROMPT -u USER -- sh -c CMD`:
// the shell reads the password line first, so a sudo that needs none never hands it to the
// command. A remote that requires a TTY (sudo says so, before running anything) gets the step
// again on a PTY, where the password is typed when sudo's prompt appears. Either way a second
// prompt means the password was refused, and the host fails with that status at once.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "herd/engine.hpp"
#include "herd/session.hpp"
#include "tasks/taskfile.hpp"

namespace herd::tasks {

/// What a host is known by in templates: `host.name` and its inventory vars (`host.VAR`).
struct HostFacts {
  std::string name;
  std::map<std::string, std::string> vars;
};

/// Settings shared by every host of a run.
struct RunSettings {
  const TaskFile* file = nullptr;
  std::optional<std::string> sudo_password;  ///< secret: never logged or recorded
  /// Called (from a worker thread) when a step with on_failure: abort fails.
  std::function<void()> abort;
};

/// Where a rerun picks a host up: the task and the step id it failed in.
struct ResumePoint {
  std::string task;
  std::string step;
};

/// Run `task` with `params` on one host, on `session` (null for a task that runs on the
/// controller: then only local steps can run). Steps before `resume` (in `resume->task`) are
/// passed over, except those that register a result, which run again so later steps see it.
/// Fills `result`: ok, or failed with the exit code, a message and `step`. An Error only for
/// a failure that ends the connection (the engine maps it to a status).
Flow<Result<void>> run_task_on_host(const RunSettings& settings, const Task& task,
                                    const std::map<std::string, Value>& params,
                                    const HostFacts& facts, Session* session, HostResult& result,
                                    const HostOutput& output, std::optional<ResumePoint> resume);

/// `host.name` or `host.VAR` of `facts` (`field` is what follows "host."); nullopt if unknown.
std::optional<Value> host_field(const HostFacts& facts, const std::string& field);

/// `expanded` (a command already expanded) with `ctx` applied, the context's templates
/// expanded through `lookup` (see wrap_command).
std::string command_in_context(
    const std::string& expanded, const Context& ctx,
    const std::function<std::optional<Value>(const std::string&)>& lookup);

/// The step's text as `--dry-run` shows it and the history names it: "TASK/ID NAME".
std::string step_label(const Task& task, const Step& step);

/// The shell command a run/sudo step sends, with the context applied (also for --dry-run).
/// `expanded` is the step's command already expanded; `cd`, `env` and `prefix` too.
std::string wrap_command(const std::string& expanded, const std::optional<std::string>& cd,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::vector<std::string>& prefix);

}  // namespace herd::tasks

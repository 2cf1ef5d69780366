// `herd task`: running a planned invocation (tasks in order, rolling batches) through the
// engine with the same output, summary, history and exit codes as `herd run`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "herd/inventory.hpp"
#include "tasks/runner.hpp"

namespace herd::cli {

/// One task of an invocation, ready to run.
struct PlannedTask {
  const tasks::Task* task = nullptr;
  std::map<std::string, tasks::Value> params;
  std::vector<std::string> hosts;  ///< empty with `controller`
  bool controller = false;         ///< no hosts: its (local) steps run once, here
};

/// Run `plan` in order. Each task runs on its hosts, in batches when it has `serial:`; a host
/// that failed leaves the later tasks; `max_fail` beyond its budget, or a step with
/// `on_failure: abort`, stops the run before the next batch (hosts not reached end as not
/// run). `resume` maps a host to where a rerun picks it up. Returns the exit code.
int execute_tasks(const RunOptions& o, const tasks::TaskFile& file,
                  const std::vector<PlannedTask>& plan, const Inventory* inventory,
                  const std::map<std::string, tasks::ResumePoint>& resume,
                  const std::optional<std::string>& sudo_password, const std::string& command);

}  // namespace herd::cli

// `herd task --dry-run`: what each host would run, printed without connecting.
#pragma once

#include <map>
#include <string>

#include "tasks/runner.hpp"

namespace herd::tasks {

/// The steps of `task` for one host as text: one line per step (`TASK/ID NAME`), then the exact
/// command sent (`$ ...`), script, transfer or local command, each indented. A `when:` is shown
/// as a condition, since registered results are known only when the steps run; a template that
/// uses one shows it as `<NAME.FIELD>`. The sudo password never appears.
std::string dry_run(const TaskFile& file, const Task& task,
                    const std::map<std::string, Value>& params, const HostFacts& facts);

}  // namespace herd::tasks

// What every fleet command shares with `herd run`: its options, and running a FleetJob with
// live / gathered / JSON output, the progress line, the summary, job history and exit code.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "herd/engine.hpp"
#include "herd/inventory.hpp"

namespace herd::cli {

/// Add the shared fleet options to `cmd`: -f, -x, -b, --json, --no-summary, --progress,
/// --no-progress, --max-output, --host-timeout, --store, --no-record, --record-output.
/// Host excludes are `-x,--exclude`, or only `-x` when `long_exclude` is false (file commands
/// use --exclude for file globs).
void add_fleet_options(CLI::App& cmd, RunOptions& o, bool long_exclude = true);

/// Run `job` on `names` (o.host is the pattern they came from) the way `herd run` does.
/// `command` is what the job history records. When `bytes` is given, the progress line also
/// shows that many bytes moved and the rate. Returns the process exit code.
int execute_fleet(const RunOptions& o, const std::vector<std::string>& names, FleetJob job,
                  const std::string& command, const Inventory* inventory,
                  const std::atomic<std::uint64_t>* bytes = nullptr);

}  // namespace herd::cli

// What every fleet command shares with `herd run`: its options, and running a FleetJob with
// live / gathered / JSON output, the progress line, the summary, job history and exit code.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"
#include "herd/engine.hpp"
#include "herd/inventory.hpp"

namespace herd::cli {

/// Add the shared fleet options to `cmd`: -f, -x, -b, --json, --no-summary, --progress,
/// --no-progress, --max-output, --host-timeout, --store, --no-record, --record-output.
/// Host excludes are `-x,--exclude`, or only `-x` when `long_exclude` is false (file commands
/// use --exclude for file globs). Fan-out is `-f,--fanout`, or only `--fanout` when
/// `short_fanout` is false (herd task's -f names the task file).
void add_fleet_options(CLI::App& cmd, RunOptions& o, bool long_exclude = true,
                       bool short_fanout = true);

/// What a fleet run shows and keeps: the live, gathered or JSON printer, the progress line and
/// the job recording, set up before the engine starts and closed after it. For commands that
/// run the engine more than once over one list of hosts (herd task's batches).
class FleetReport {
 public:
  /// Set up for `names`; the SSH warnings of `targets` are routed around the progress line. An
  /// error when --store was given and cannot be used (nothing has run then).
  static Result<std::unique_ptr<FleetReport>> start(const RunOptions& o,
                                                    const std::vector<std::string>& names,
                                                    std::vector<HostTarget>& targets,
                                                    const std::string& command,
                                                    const std::atomic<std::uint64_t>* bytes);
  ~FleetReport();
  FleetReport(const FleetReport&) = delete;
  FleetReport& operator=(const FleetReport&) = delete;

  /// Where the engine's events go (indexes into `names`).
  EngineObserver& observer();
  /// Print a one-line notice (Ctrl-C) clear of the progress line.
  void notice(std::string_view line);
  /// Print `text` on stderr, clear of the progress line.
  void say(std::string_view text);
  /// Print what comes after the run (gathered output, summary or JSON summary), close the
  /// recording, and return the exit code.
  int finish(const std::vector<HostResult>& results, std::chrono::milliseconds elapsed,
             bool cancelled);

  struct Parts;

 private:
  explicit FleetReport(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

/// Set `job`'s fan-out and per-host timeout from the options.
void apply_fleet_limits(const RunOptions& o, FleetJob& job);

/// Run `job` on `names` (o.host is the pattern they came from) the way `herd run` does.
/// `command` is what the job history records. When `bytes` is given, the progress line also
/// shows that many bytes moved and the rate. Returns the process exit code.
int execute_fleet(const RunOptions& o, const std::vector<std::string>& names, FleetJob job,
                  const std::string& command, const Inventory* inventory,
                  const std::atomic<std::uint64_t>* bytes = nullptr);

}  // namespace herd::cli

// Running a FleetJob the way `herd run` does (see fleet_run.hpp).
#include "cli/fleet_run.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "cli/exit_codes.hpp"
#include "cli/fleet_output.hpp"
#include "cli/interrupts.hpp"
#include "cli/recording.hpp"
#include "cli/targets.hpp"

namespace herd::cli {
namespace {

/// Whether to draw the progress line: forced by --progress / --no-progress, else only for
/// people: stderr is a terminal (not a "dumb" one) and the output is not --json.
bool want_progress(const RunOptions& o, bool tty_err) {
  if (o.progress || o.no_progress) return o.progress;
  const char* term = std::getenv("TERM");
  return tty_err && !o.json && (term == nullptr || std::strcmp(term, "dumb") != 0);
}

}  // namespace

void add_fleet_options(CLI::App& cmd, RunOptions& o, bool long_exclude) {
  cmd.add_option("--host-timeout", o.host_timeout_s,
                  "Total seconds per host, connecting included; then the host is timed_out")
      ->check(CLI::PositiveNumber);
  cmd.add_option("-f,--fanout", o.fanout, "Hosts in flight at once (default 256)")
      ->check(CLI::Range(1, 100000));
  cmd.add_option(long_exclude ? "-x,--exclude" : "-x", o.excludes, "Leave out hosts matching this pattern (repeatable)")
      ->allow_extra_args(false);
  cmd.add_flag("-b,--gather", o.gather, "Gather output; print identical outputs once per group");
  cmd.add_flag("--json", o.json, "One JSON object per event on stdout (docs/json.md)");
  cmd.add_flag("--no-summary", o.no_summary, "Do not print the end-of-run summary");
  auto* progress = cmd.add_flag(
      "--progress", o.progress,
      "Progress line on stderr ([done/total] N failed, R hosts/s) even when it is not a terminal "
      "(default: on a terminal without --json, after 1 s)");
  cmd.add_flag("--no-progress", o.no_progress, "Never draw the progress line")->excludes(progress);
  cmd.add_option("--max-output", o.max_output, "Bytes of output kept per host with -b");
  cmd.add_option("--store", o.store,
                  "Job store to record in (default $XDG_DATA_HOME/herd/herd.db)");
  cmd.add_flag("--no-record", o.no_record, "Do not record this run in the job store");
  cmd.add_option("--record-output", o.record_output,
                  "Bytes of output recorded per host (default 65536)");
}

int execute_fleet(const RunOptions& o, const std::vector<std::string>& names, FleetJob job,
                  const std::string& command, const Inventory* inventory,
                  const std::atomic<std::uint64_t>* bytes) {
  auto targets = build_targets(names, o.common, inventory);
  if (!targets) return report(targets.error());

  job.fanout = o.fanout;
  if (o.host_timeout_s > 0) {
    job.host_timeout = std::chrono::milliseconds(static_cast<long>(o.host_timeout_s * 1000));
  }
  const bool tty_out = ::isatty(STDOUT_FILENO) != 0;
  const bool tty_err = ::isatty(STDERR_FILENO) != 0;
  ProgressLine progress(names.size(), want_progress(o, tty_err), bytes);
  // Warnings of the SSH layer (e.g. a key recorded by auto-add) keep clear of the line too.
  for (auto& t : *targets) {
    if (!t.options.on_warning) continue;
    t.options.on_warning = [&progress](std::string_view w) {
      progress.write(STDERR_FILENO, fmt::format("herd: {}\n", w));
    };
  }
  LivePrinter live(names, tty_out, tty_err, progress.writer());
  Gatherer gather(names, o.max_output, fold_hosts);
  JsonPrinter json(names, progress.writer());
  EngineObserver* observer = o.json     ? static_cast<EngineObserver*>(&json)
                             : o.gather ? static_cast<EngineObserver*>(&gather)
                                        : static_cast<EngineObserver*>(&live);
  auto recording = start_recording(o, command, names.size());
  if (!recording) return report(recording.error());
  std::vector<EngineObserver*> observers{observer, &progress};
  if (*recording) observers.push_back(&(*recording)->observer());
  Tee tee(std::move(observers));

  Engine engine(std::move(job), std::move(*targets));
  const auto started = FlowClock::now();
  std::vector<HostResult> results;
  {
    InterruptGuard interrupts([&engine] { engine.cancel(); },
                              [&progress](std::string_view line) { progress.notice(line); });
    results = engine.run(tee);
  }
  progress.stop();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(FlowClock::now() - started);
  if (o.gather) gather.print();
  if (o.json) {
    json.summary(results, elapsed);
  } else if (!o.no_summary) {
    print_summary(results, elapsed, fold_hosts, tty_err);
  }
  const ExitCode code = fleet_exit_code(results, engine.cancelled());
  if (*recording) (*recording)->finish(code, engine.cancelled());
  return as_int(code);
}

}  // namespace herd::cli

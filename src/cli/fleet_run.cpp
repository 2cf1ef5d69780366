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

void add_fleet_options(CLI::App& cmd, RunOptions& o, bool long_exclude, bool short_fanout) {
  cmd.add_option("--host-timeout", o.host_timeout_s,
                 "Total seconds per host, connecting included; then the host is timed_out")
      ->check(CLI::PositiveNumber);
  cmd.add_option(short_fanout ? "-f,--fanout" : "--fanout", o.fanout,
                 "Hosts in flight at once (default 256)")
      ->check(CLI::Range(1, 100000));
  cmd.add_option(long_exclude ? "-x,--exclude" : "-x", o.excludes,
                 "Leave out hosts matching this pattern (repeatable)")
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

struct FleetReport::Parts {
  Parts(const RunOptions& opts, const std::vector<std::string>& names,
        const std::atomic<std::uint64_t>* bytes)
      : o(opts),
        progress(names.size(), want_progress(opts, ::isatty(STDERR_FILENO) != 0), bytes),
        live(names, ::isatty(STDOUT_FILENO) != 0, ::isatty(STDERR_FILENO) != 0, progress.writer()),
        gather(names, opts.max_output, fold_hosts),
        json(names, progress.writer()) {}

  const RunOptions& o;
  ProgressLine progress;
  LivePrinter live;
  Gatherer gather;
  JsonPrinter json;
  std::unique_ptr<Recording> recording;
  std::unique_ptr<Tee> tee;
};

Result<std::unique_ptr<FleetReport>> FleetReport::start(const RunOptions& o,
                                                        const std::vector<std::string>& names,
                                                        std::vector<HostTarget>& targets,
                                                        const std::string& command,
                                                        const std::atomic<std::uint64_t>* bytes) {
  auto parts = std::make_unique<Parts>(o, names, bytes);
  // Warnings of the SSH layer (e.g. a key recorded by auto-add) keep clear of the line too.
  ProgressLine* progress = &parts->progress;
  for (auto& t : targets) {
    if (!t.options.on_warning) continue;
    t.options.on_warning = [progress](std::string_view w) {
      progress->write(STDERR_FILENO, fmt::format("herd: {}\n", w));
    };
  }
  EngineObserver* observer = o.json     ? static_cast<EngineObserver*>(&parts->json)
                             : o.gather ? static_cast<EngineObserver*>(&parts->gather)
                                        : static_cast<EngineObserver*>(&parts->live);
  auto recording = start_recording(o, command, names.size());
  if (!recording) return std::unexpected(recording.error());
  parts->recording = std::move(*recording);
  std::vector<EngineObserver*> observers{observer, &parts->progress};
  if (parts->recording) observers.push_back(&parts->recording->observer());
  parts->tee = std::make_unique<Tee>(std::move(observers));
  return std::unique_ptr<FleetReport>(new FleetReport(std::move(parts)));
}

FleetReport::FleetReport(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
FleetReport::~FleetReport() = default;

EngineObserver& FleetReport::observer() {
  return *parts_->tee;
}

void FleetReport::notice(std::string_view line) {
  parts_->progress.notice(line);
}

void FleetReport::say(std::string_view text) {
  parts_->progress.write(STDERR_FILENO, text);
}

int FleetReport::finish(const std::vector<HostResult>& results, std::chrono::milliseconds elapsed,
                        bool cancelled) {
  Parts& p = *parts_;
  p.progress.stop();
  if (p.o.gather) p.gather.print();
  if (p.o.json) {
    p.json.summary(results, elapsed);
  } else if (!p.o.no_summary) {
    print_summary(results, elapsed, fold_hosts, ::isatty(STDERR_FILENO) != 0);
  }
  const ExitCode code = fleet_exit_code(results, cancelled);
  if (p.recording) p.recording->finish(code, cancelled);
  return as_int(code);
}

void apply_fleet_limits(const RunOptions& o, FleetJob& job) {
  job.fanout = o.fanout;
  if (o.host_timeout_s > 0) {
    job.host_timeout = std::chrono::milliseconds(static_cast<long>(o.host_timeout_s * 1000));
  }
}

int execute_fleet(const RunOptions& o, const std::vector<std::string>& names, FleetJob job,
                  const std::string& command, const Inventory* inventory,
                  const std::atomic<std::uint64_t>* bytes) {
  auto targets = build_targets(names, o.common, inventory);
  if (!targets) return report(targets.error());
  apply_fleet_limits(o, job);
  auto fleet = FleetReport::start(o, names, *targets, command, bytes);
  if (!fleet) return report(fleet.error());
  FleetReport& out = **fleet;

  Engine engine(std::move(job), std::move(*targets));
  const auto started = FlowClock::now();
  std::vector<HostResult> results;
  {
    InterruptGuard interrupts([&engine] { engine.cancel(); },
                              [&out](std::string_view line) { out.notice(line); });
    results = engine.run(out.observer());
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(FlowClock::now() - started);
  return out.finish(results, elapsed, engine.cancelled());
}

}  // namespace herd::cli

#include "cli/task_run.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "cli/fleet_output.hpp"
#include "cli/fleet_run.hpp"
#include "cli/interrupts.hpp"
#include "cli/targets.hpp"

namespace herd::cli {
namespace {

/// One engine run (a batch) seen as part of the whole invocation: indexes are mapped to the
/// invocation's host positions, a host is started once, and its end is passed on only when it
/// has no task left to run (or has failed), with the bytes and time of all its tasks.
class BatchObserver : public EngineObserver {
 public:
  struct Host {
    bool started = false;
    bool done = false;
    bool failed = false;
    std::size_t tasks_left = 0;
    std::optional<HostResult> so_far;  ///< the ok result of its earlier tasks
  };

  BatchObserver(EngineObserver& to, std::vector<Host>& hosts, std::vector<HostResult>& finals,
                std::vector<std::size_t> positions)
      : to_(to), hosts_(hosts), finals_(finals), positions_(std::move(positions)) {}

  void on_host_started(std::size_t index, const std::string& host) override {
    Host& h = hosts_[positions_[index]];
    if (h.started) return;
    h.started = true;
    to_.on_host_started(positions_[index], host);
  }
  void on_output(std::size_t index, Stream stream, std::string_view data) override {
    to_.on_output(positions_[index], stream, data);
  }
  void on_host_finished(std::size_t index, const HostResult& result) override {
    const std::size_t pos = positions_[index];
    Host& h = hosts_[pos];
    HostResult r = result;
    if (h.so_far) {
      r.connect_time = h.so_far->connect_time;
      r.total_time += h.so_far->total_time;
      r.stdout_bytes += h.so_far->stdout_bytes;
      r.stderr_bytes += h.so_far->stderr_bytes;
    }
    if (h.tasks_left > 0) --h.tasks_left;
    if (r.status != HostStatus::ok) {
      h.failed = true;
      ++failed_;
    }
    if (r.status != HostStatus::ok || h.tasks_left == 0) {
      h.done = true;
      finals_[pos] = r;
      to_.on_host_finished(pos, r);
    } else {
      h.so_far = r;
    }
  }

  std::size_t failed() const { return failed_; }

 private:
  EngineObserver& to_;
  std::vector<Host>& hosts_;
  std::vector<HostResult>& finals_;
  std::vector<std::size_t> positions_;
  std::size_t failed_ = 0;
};

/// The batches of `n` hosts for `serial` (one batch without it).
std::vector<std::pair<std::size_t, std::size_t>> batches(
    std::size_t n, const std::optional<tasks::Amount>& serial) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  const std::size_t size =
      serial ? std::max<std::size_t>(serial->of(n), 1) : std::max<std::size_t>(n, 1);
  for (std::size_t start = 0; start < n; start += size)
    out.emplace_back(start, std::min(n, start + size));
  return out;
}

/// A controller task: its steps run here, once, their output prefixed with "local: ".
bool run_on_controller(const tasks::RunSettings& settings, const PlannedTask& p) {
  HostResult result;
  result.host = "local";
  result.status = HostStatus::ok;
  tasks::HostFacts facts{"local", {}};
  HostOutput out = [](Stream s, std::string_view d) {
    write_all(s == Stream::out ? STDOUT_FILENO : STDERR_FILENO, d);
  };
  auto r = run_blocking(tasks::run_task_on_host(settings, *p.task, p.params, facts, nullptr, result,
                                                out, std::nullopt));
  if (!r || result.status != HostStatus::ok) {
    fmt::print(stderr, "herd: task {} failed on this machine: {}\n", p.task->name,
               r ? result.message : r.error().message);
    return false;
  }
  return true;
}

}  // namespace

int execute_tasks(const RunOptions& o, const tasks::TaskFile& file,
                  const std::vector<PlannedTask>& plan, const Inventory* inventory,
                  const std::map<std::string, tasks::ResumePoint>& resume,
                  const std::optional<std::string>& sudo_password, const std::string& command) {
  // Every host of the invocation, in order of first appearance.
  std::vector<std::string> names;
  std::map<std::string, std::size_t> position;
  for (const auto& p : plan) {
    for (const auto& h : p.hosts) {
      if (position.emplace(h, names.size()).second) names.push_back(h);
    }
  }
  auto targets = build_targets(names, o.common, inventory);
  if (!targets) return report(targets.error());
  std::vector<tasks::HostFacts> facts;
  for (const auto& n : names) {
    tasks::HostFacts f{n, {}};
    if (inventory != nullptr) {
      if (const HostSpec* spec = inventory->host(n)) f.vars = spec->vars;
    }
    facts.push_back(std::move(f));
  }
  std::vector<BatchObserver::Host> hosts(names.size());
  for (const auto& p : plan) {
    for (const auto& h : p.hosts) ++hosts[position[h]].tasks_left;
  }
  std::vector<HostResult> finals(names.size());

  auto fleet = FleetReport::start(o, names, *targets, command, nullptr);
  if (!fleet) return report(fleet.error());
  FleetReport& out = **fleet;

  tasks::RunSettings settings;
  settings.file = &file;
  settings.sudo_password = sudo_password;
  std::atomic<bool> aborted{false};
  bool interrupted = false;
  std::string stop_reason;
  const auto started = FlowClock::now();

  for (const auto& p : plan) {
    if (!stop_reason.empty()) break;
    if (p.controller) {
      if (!run_on_controller(settings, p))
        stop_reason = fmt::format("task {} failed", p.task->name);
      continue;
    }
    std::vector<std::size_t> todo;
    for (const auto& h : p.hosts) {
      const std::size_t pos = position[h];
      if (hosts[pos].failed) continue;
      // A rerun host whose resume point lies in a later task passes this one over.
      auto r = resume.find(h);
      if (r != resume.end() && r->second.task != p.task->name) {
        bool resumed_earlier = false;  // its resume task comes before this one: run this one
        for (const auto& q : plan) {
          if (&q == &p) break;
          if (q.task->name == r->second.task) resumed_earlier = true;
        }
        if (!resumed_earlier) {
          if (hosts[pos].tasks_left > 0) --hosts[pos].tasks_left;
          continue;
        }
      }
      todo.push_back(pos);
    }
    std::size_t failed_here = 0;
    const auto chunks = batches(todo.size(), p.task->serial);
    for (std::size_t b = 0; b < chunks.size() && stop_reason.empty(); ++b) {
      std::vector<std::size_t> batch(todo.begin() + static_cast<std::ptrdiff_t>(chunks[b].first),
                                     todo.begin() + static_cast<std::ptrdiff_t>(chunks[b].second));
      std::vector<HostTarget> batch_targets;
      for (auto pos : batch) batch_targets.push_back((*targets)[pos]);
      std::vector<std::optional<tasks::ResumePoint>> resume_at;
      for (auto pos : batch) {
        auto r = resume.find(names[pos]);
        if (r != resume.end() && r->second.task == p.task->name) {
          resume_at.emplace_back(r->second);
        } else {
          resume_at.emplace_back(std::nullopt);
        }
      }
      FleetJob job;
      apply_fleet_limits(o, job);
      const tasks::Task* task = p.task;
      const auto* params = &p.params;
      job.work = [&settings, task, params, &facts, batch, resume_at](
                     std::size_t index, Session& session, HostResult& result,
                     const HostOutput& output) {
        return tasks::run_task_on_host(settings, *task, *params, facts[batch[index]], &session,
                                       result, output, resume_at[index]);
      };
      Engine engine(std::move(job), std::move(batch_targets));
      settings.abort = [&engine, &aborted] {
        aborted = true;
        engine.cancel();
      };
      BatchObserver observer(out.observer(), hosts, finals, batch);
      {
        InterruptGuard interrupts(
            [&engine, &interrupted] {
              interrupted = true;
              engine.cancel();
            },
            [&out](std::string_view line) { out.notice(line); });
        (void)engine.run(observer);
      }
      settings.abort = nullptr;
      failed_here += observer.failed();
      if (interrupted) {
        stop_reason = "interrupted";
      } else if (aborted) {
        stop_reason = fmt::format("a step of task {} failed with on_failure: abort", p.task->name);
      } else if (p.task->max_fail && b + 1 < chunks.size() &&
                 failed_here > p.task->max_fail->of(todo.size())) {
        stop_reason = fmt::format(
            "task {}: {} of {} hosts failed, over max_fail {}{}; stopped "
            "before batch {} of {}",
            p.task->name, failed_here, todo.size(), p.task->max_fail->count,
            p.task->max_fail->percent ? "%" : "", b + 2, chunks.size());
      }
    }
  }
  // Hosts the run never reached.
  std::size_t not_run = 0;
  for (std::size_t pos = 0; pos < names.size(); ++pos) {
    if (hosts[pos].done) continue;
    HostResult r = hosts[pos].so_far.value_or(HostResult{});
    r.host = names[pos];
    if (r.status == HostStatus::ok && hosts[pos].so_far && stop_reason.empty()) {
      finals[pos] = r;  // its remaining tasks were passed over (a rerun)
    } else {
      r.status = HostStatus::cancelled;
      r.phase = Phase::command;
      r.message = fmt::format("not run: {}", stop_reason.empty() ? "stopped" : stop_reason);
      finals[pos] = r;
      ++not_run;
    }
    if (!hosts[pos].started) out.observer().on_host_started(pos, names[pos]);
    out.observer().on_host_finished(pos, finals[pos]);
  }
  if (!stop_reason.empty() && !interrupted) {
    out.say(fmt::format("herd: {}{}\n", stop_reason,
                        not_run > 0 ? fmt::format("; {} hosts not run", not_run) : ""));
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(FlowClock::now() - started);
  return out.finish(finals, elapsed, interrupted);
}

}  // namespace herd::cli

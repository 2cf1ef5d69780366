// `herd jobs`: the recorded runs, newest first; `herd jobs show ID`: one run and its hosts.
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/fleet_output.hpp"
#include "cli/recording.hpp"

namespace herd::cli {
namespace {

constexpr std::size_t kCommandColumnChars = 60;  // chars of the command shown in the list

constexpr HostStatus kStatusOrder[] = {
    HostStatus::ok,       HostStatus::failed,    HostStatus::unreachable, HostStatus::auth,
    HostStatus::host_key, HostStatus::timed_out, HostStatus::error,       HostStatus::cancelled};

std::int64_t epoch_ms(StoreClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// "2024-11-22 18:55:01" in local time.
std::string local_time(StoreClock::time_point t) {
  std::time_t tt = StoreClock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

/// "2024-11-22T17:55:01.123Z".
std::string iso_utc(StoreClock::time_point t) {
  std::time_t tt = StoreClock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, epoch_ms(t) % 1000);
}

std::optional<std::int64_t> elapsed_ms(const JobSummary& j) {
  if (!j.ended_at) return std::nullopt;
  return epoch_ms(*j.ended_at) - epoch_ms(j.started_at);
}

std::string duration_text(const JobSummary& j) {
  auto ms = elapsed_ms(j);
  if (!ms) return "-";
  if (*ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(*ms) / 1000.0);
  const auto s = *ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string counts_text(const JobSummary& j) {
  std::string out;
  for (auto s : kStatusOrder) {
    auto it = j.counts.find(s);
    if (it == j.counts.end()) continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", it->second, to_string(s));
  }
  if (!j.ended_at) out += out.empty() ? "unfinished" : ", unfinished";
  return out;
}

std::string one_line(std::string s, std::size_t max_chars) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > max_chars) s = s.substr(0, max_chars - 3) + "...";
  return s;
}

nlohmann::json job_json(const JobSummary& j) {
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [status, n] : j.counts) counts[std::string(to_string(status))] = n;
  auto options = nlohmann::json::parse(j.options_json, nullptr, false);
  if (options.is_discarded()) options = nlohmann::json::object();
  nlohmann::json out = {{"id", j.id},
                        {"started_at", iso_utc(j.started_at)},
                        {"ended_at", nullptr},
                        {"elapsed_ms", nullptr},
                        {"command", j.command},
                        {"pattern", j.pattern},
                        {"argv", j.argv},
                        {"options", options},
                        {"host_count", j.host_count},
                        {"counts", counts},
                        {"exit_code", nullptr},
                        {"cancelled", j.cancelled}};
  if (j.ended_at) out["ended_at"] = iso_utc(*j.ended_at);
  if (auto ms = elapsed_ms(j)) out["elapsed_ms"] = *ms;
  if (j.exit_code) out["exit_code"] = *j.exit_code;
  return out;
}

nlohmann::json host_json(const JobHost& h, bool with_output) {
  const auto& r = h.result;
  nlohmann::json j = {{"host", r.host},
                      {"status", to_string(r.status)},
                      {"exit_code", nullptr},
                      {"signal", nullptr},
                      {"phase", nullptr},
                      {"message", r.message},
                      {"connect_ms", r.connect_time.count()},
                      {"total_ms", r.total_time.count()},
                      {"stdout_bytes", r.stdout_bytes},
                      {"stderr_bytes", r.stderr_bytes},
                      {"output_truncated", h.output_truncated}};
  if (!r.step.empty()) j["step"] = r.step;
  if (r.exit_code) j["exit_code"] = *r.exit_code;
  if (r.signal) j["signal"] = *r.signal;
  if (r.phase) j["phase"] = to_string(*r.phase);
  if (with_output) j["output"] = h.output;
  return j;
}

std::string dump(const nlohmann::json& j) {
  // Recorded output need not be UTF-8; invalid sequences become U+FFFD (docs/json.md).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

int list_jobs(JobStore& store, const JobsOptions& o) {
  auto jobs = store.list_jobs(o.limit);
  if (!jobs) return report(jobs.error());
  std::string out;
  if (o.json) {
    for (const auto& j : *jobs) out += dump(job_json(j));
  } else if (!jobs->empty()) {
    out += fmt::format("{:>5}  {:19}  {:>8}  {:>5}  {:28}  {}\n", "ID", "STARTED", "DURATION",
                       "HOSTS", "RESULT", "COMMAND");
    for (const auto& j : *jobs) {
      out += fmt::format("{:>5}  {:19}  {:>8}  {:>5}  {:28}  {}\n", j.id, local_time(j.started_at),
                         duration_text(j), j.host_count, counts_text(j),
                         one_line(j.command, kCommandColumnChars));
    }
  }
  write_all(STDOUT_FILENO, out);
  return as_int(ExitCode::ok);
}

int show_job(JobStore& store, const JobsOptions& o) {
  auto found = store.get_job(o.show_id);
  if (!found) return report(found.error());
  if (!*found) {
    fmt::print(stderr, "herd: job {}: no such job in {}\n", o.show_id, store.path().string());
    return as_int(ExitCode::usage);
  }
  const auto& d = **found;
  const auto& j = d.job;
  if (o.json) {
    auto out = job_json(j);
    auto hosts = nlohmann::json::array();
    for (const auto& h : d.hosts) hosts.push_back(host_json(h, o.output));
    out["hosts"] = std::move(hosts);
    write_all(STDOUT_FILENO, dump(out));
    return as_int(ExitCode::ok);
  }

  std::string out = fmt::format("job {}: {} on {}\n", j.id, one_line(j.command, 1000), j.pattern);
  out += fmt::format("started  {}  duration {}  exit {}{}\n", local_time(j.started_at),
                     duration_text(j), j.exit_code ? std::to_string(*j.exit_code) : "-",
                     j.cancelled ? "  (cancelled)" : "");
  out += fmt::format("hosts    {}: {}\n", j.host_count, counts_text(j));
  std::string argv;
  for (const auto& a : j.argv) argv += (argv.empty() ? "" : " ") + a;
  out += fmt::format("argv     {}\n\n", argv);

  std::size_t w_host = 4, w_status = 6, w_phase = 5, w_step = 0;
  for (const auto& h : d.hosts) {
    w_host = std::max(w_host, h.result.host.size());
    w_status = std::max(w_status, to_string(h.result.status).size());
    if (h.result.phase) w_phase = std::max(w_phase, to_string(*h.result.phase).size());
    w_step = std::max(w_step, std::min<std::size_t>(one_line(h.result.step, 60).size(), 60));
  }
  // Task runs name the step each host ended in on its line.
  const std::string step_head =
      w_step > 0 ? fmt::format("{:{}}  ", "STEP", std::max<std::size_t>(w_step, 4)) : "";
  out += fmt::format("{:{}}  {:{}}  {:>4}  {:{}}  {:>7}  {}{}\n", "HOST", w_host, "STATUS",
                     w_status, "EXIT", "PHASE", w_phase, "MS", step_head, "MESSAGE");
  for (const auto& h : d.hosts) {
    const auto& r = h.result;
    std::string exit = r.exit_code ? std::to_string(*r.exit_code) : r.signal ? *r.signal : "-";
    std::string phase =
        r.phase && r.status != HostStatus::ok ? std::string(to_string(*r.phase)) : "-";
    const std::string step =
        w_step > 0 ? fmt::format("{:{}}  ", r.step.empty() ? "-" : one_line(r.step, 60),
                                 std::max<std::size_t>(w_step, 4))
                   : "";
    out += fmt::format("{:{}}  {:{}}  {:>4}  {:{}}  {:>7}  {}{}\n", r.host, w_host,
                       to_string(r.status), w_status, exit, phase, w_phase, r.total_time.count(),
                       step, one_line(r.message, 200));
  }
  if (o.output) {
    for (const auto& h : d.hosts) {
      if (h.output.empty()) continue;
      out += fmt::format("\n---------------- {} ----------------\n", h.result.host);
      out += h.output;
      if (!h.output.empty() && h.output.back() != '\n') out += '\n';
      if (h.output_truncated) out += "[herd: output truncated]\n";
    }
  }
  write_all(STDOUT_FILENO, out);
  return as_int(ExitCode::ok);
}

}  // namespace

CLI::App* setup_jobs(CLI::App& app, JobsOptions& o) {
  auto* cmd = app.add_subcommand("jobs", "List recorded runs, newest first (or show one)");
  cmd->add_option("--store", o.store, "Job store (default $XDG_DATA_HOME/herd/herd.db)");
  cmd->add_option("-n,--limit", o.limit, "Show at most this many jobs (default 20)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  cmd->add_flag("--json", o.json, "One JSON object per job (or the shown job) on stdout");
  auto* show = cmd->add_subcommand("show", "Show one recorded run with its per-host results");
  show->add_option("id", o.show_id, "Job ID (from herd jobs)")
      ->required()
      ->check(CLI::PositiveNumber);
  show->add_flag("--output", o.output, "Also print each host's recorded output");
  show->fallthrough();  // --store and --json may follow the ID
  cmd->footer(
      "Examples:\n"
      "  herd jobs -n 5\n"
      "  herd jobs show 12 --output\n"
      "  herd run --rerun 12 --only failed");
  return cmd;
}

int run_jobs(const JobsOptions& o) {
  auto store = open_job_store(o.store);
  if (!store) return report(store.error());
  return o.show_id != 0 ? show_job(*store, o) : list_jobs(*store, o);
}

}  // namespace herd::cli

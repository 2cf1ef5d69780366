#include "cli/recording.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/targets.hpp"

namespace herd::cli {
namespace {

/// The options that shaped a run, as a JSON object. Secrets never appear: -e gives only names,
/// --password-env and --passphrase-env are names of variables already.
std::string options_json(const RunOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  j["fanout"] = o.fanout;
  j["output"] = o.json ? "json" : o.gather ? "gather" : "live";
  if (o.command_timeout_s > 0) j["command_timeout_s"] = o.command_timeout_s;
  if (o.host_timeout_s > 0) j["host_timeout_s"] = o.host_timeout_s;
  if (!o.env.empty()) {
    auto names = nlohmann::json::array();
    for (const auto& kv : o.env) names.push_back(kv.substr(0, kv.find('=')));
    j["env_names"] = names;
  }
  if (!o.script_file.empty()) j["script"] = o.script_file;
  if (!o.stdin_file.empty()) j["stdin"] = o.stdin_file;
  if (o.pty) j["pty"] = true;
  if (!o.excludes.empty()) j["excludes"] = o.excludes;
  const auto& c = o.common;
  if (!c.ssh_config.empty()) j["ssh_config"] = c.ssh_config;
  if (!c.user.empty()) j["user"] = c.user;
  if (c.port != 0) j["port"] = c.port;
  if (!c.identities.empty()) j["identities"] = c.identities;
  if (!c.known_hosts.empty()) j["known_hosts"] = c.known_hosts;
  if (!c.host_key_policy.empty()) j["host_key_policy"] = c.host_key_policy;
  if (!c.password_env.empty()) j["password_env"] = c.password_env;
  if (!c.passphrase_env.empty()) j["passphrase_env"] = c.passphrase_env;
  j["record_output"] = o.record_output;
  if (!o.task_json.empty()) j["task"] = nlohmann::json::parse(o.task_json, nullptr, false);
  if (o.rerun != 0) {
    j["rerun_of"] = o.rerun;
    j["only"] = o.only.empty() ? "failed" : o.only;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<JobStore> open_job_store(const std::string& explicit_path) {
  return JobStore::open(explicit_path.empty() ? JobStore::default_path()
                                              : std::filesystem::path(explicit_path));
}

Recording::Recording(JobStore store, JobId id, std::size_t host_count, std::size_t output_cap)
    : store_(std::move(store)), recorder_(store_, id, host_count, output_cap, [](const Error& e) {
        fmt::print(stderr, "herd: {}; recording of this run stopped\n", e.message);
      }) {}

void Recording::finish(ExitCode code, bool cancelled) {
  recorder_.finish(
      JobEnd{.ended_at = StoreClock::now(), .exit_code = as_int(code), .cancelled = cancelled});
}

std::vector<std::string> redacted_argv(const RunOptions& o) {
  std::vector<std::string> out = o.argv;
  // Each -e value is NAME=VALUE and appears in argv as a whole word or as the end of one
  // (--env=NAME=VALUE, -eNAME=VALUE): keep the name, drop the value.
  for (auto& word : out) {
    for (const auto& kv : o.env) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || !word.ends_with(kv)) continue;
      word = word.substr(0, word.size() - kv.size()) + kv.substr(0, eq) + "=<redacted>";
      break;
    }
  }
  return out;
}

Result<std::unique_ptr<Recording>> start_recording(const RunOptions& o, const std::string& command,
                                                   std::size_t host_count) {
  if (o.no_record) return nullptr;
  auto store = open_job_store(o.store);
  if (!store) {
    if (!o.store.empty()) return std::unexpected(store.error());
    fmt::print(stderr, "herd: {}; this run is not recorded\n", store.error().message);
    return nullptr;
  }
  NewJob job{.command = command,
             .pattern = o.host,
             .argv = redacted_argv(o),
             .options_json = options_json(o),
             .host_count = host_count,
             .started_at = StoreClock::now()};
  auto id = store->begin_job(job);
  if (!id) {
    if (!o.store.empty()) return std::unexpected(id.error());
    fmt::print(stderr, "herd: {}; this run is not recorded\n", id.error().message);
    return nullptr;
  }
  return std::make_unique<Recording>(std::move(*store), *id, host_count, o.record_output);
}

Result<std::vector<std::string>> prepare_rerun(RunOptions& o) {
  auto store = open_job_store(o.store);
  if (!store) return std::unexpected(store.error());
  auto found = store->get_job(o.rerun);
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    return fail(Errc::bad_config, Phase::command, "",
                fmt::format("--rerun {}: no such job in {}", o.rerun, store->path().string()));
  }
  const auto& job = **found;
  const bool all = o.only == "all";

  std::vector<std::string> names;
  for (const auto& h : job.hosts) {
    if (all || h.result.status != HostStatus::ok) names.push_back(h.result.host);
  }

  // With --rerun there is no pattern: every positional word belongs to the command.
  if (!o.host.empty()) o.command.insert(o.command.begin(), o.host);
  auto opts = nlohmann::json::parse(job.job.options_json, nullptr, false);
  if (!opts.is_object()) opts = nlohmann::json::object();
  if (o.command.empty() && o.script_file.empty()) {
    if (opts.contains("script") && opts["script"].is_string()) {
      o.script_file = opts["script"].get<std::string>();
    } else {
      o.command = {job.job.command};
    }
    if (o.stdin_file.empty() && opts.contains("stdin") && opts["stdin"].is_string()) {
      o.stdin_file = opts["stdin"].get<std::string>();
    }
  }
  if (o.env.empty() && opts.contains("env_names") && opts["env_names"].is_array() &&
      !opts["env_names"].empty()) {
    std::string list;
    for (const auto& n : opts["env_names"]) {
      if (n.is_string()) list += (list.empty() ? "" : ", ") + n.get<std::string>();
    }
    fmt::print(stderr,
               "herd: job {} set {} with -e; values are not recorded, give them again with -e\n",
               o.rerun, list);
  }
  o.host = names.empty() ? std::string() : fold_hosts(names);
  return names;
}

}  // namespace herd::cli

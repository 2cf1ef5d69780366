// `herd run PATTERN -- COMMAND`: one command on one host (ssh-like) or on a fleet.
//
// A single host named literally runs the ssh way: its stdout and stderr pass through unchanged
// and the exit code says how it went (exit_codes.hpp). Anything else is a fleet run through the
// engine: live prefixed lines (or -b gathered, or --json events), then a summary on stderr.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/fleet_output.hpp"
#include "cli/fleet_run.hpp"
#include "cli/recording.hpp"
#include "cli/targets.hpp"

namespace herd::cli {
namespace {

constexpr std::size_t kMaxStdinBytes = 64 << 20;  // bytes of --stdin / --script kept in memory

Result<std::string> read_small_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::bad_config, Phase::command, "",
                fmt::format("{} {}: cannot read it", what, path));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > kMaxStdinBytes) {
    return fail(Errc::bad_config, Phase::command, "",
                fmt::format("{} {}: larger than {} MiB", what, path, kMaxStdinBytes >> 20));
  }
  return data;
}

/// The request shared by every host (command, env, timeout, stdin, script).
Result<ExecRequest> build_request(const RunOptions& o, bool stream_stdin) {
  ExecRequest req;
  for (const auto& word : o.command) req.command += (req.command.empty() ? "" : " ") + word;
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(Errc::bad_config, Phase::command, o.host,
                  fmt::format("--env '{}': expected NAME=VALUE", kv.substr(0, kv.find('='))));
    }
    req.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!o.script_file.empty()) {
    if (!o.command.empty() || !o.stdin_file.empty()) {
      return fail(Errc::bad_config, Phase::command, "",
                  "--script replaces the command and stdin: give neither with it");
    }
    auto script = read_small_file(o.script_file, "--script");
    if (!script) return std::unexpected(script.error());
    // One shell reads the whole script, so cd and variables carry from line to line.
    req.command = "sh -s";
    req.stdin_data = std::move(*script);
  } else if (o.command.empty()) {
    return fail(Errc::bad_config, Phase::command, "",
                "a command (after --) or --script is required");
  }
  if (!o.stdin_file.empty()) {
    if (stream_stdin) {
      req.stdin_file = o.stdin_file;
    } else {
      auto data = read_small_file(o.stdin_file, "--stdin");
      if (!data) return std::unexpected(data.error());
      req.stdin_data = std::move(*data);
    }
  }
  if (o.pty) req.pty = PtyOptions{};
  if (o.command_timeout_s > 0) {
    req.timeout = std::chrono::milliseconds(static_cast<long>(o.command_timeout_s * 1000));
  }
  return req;
}

int run_single(const RunOptions& o, const Inventory* inventory) {
  auto options = host_options(o.common, o.host, inventory);
  if (!options) return report(options.error());
  if (o.host_timeout_s > 0) {
    options->deadline =
        FlowClock::now() + std::chrono::milliseconds(static_cast<long>(o.host_timeout_s * 1000));
  }
  auto req = build_request(o, true);
  if (!req) return report(req.error());

  auto session = Session::connect(*options);
  if (!session) return report(session.error());
  ExecSink sink{[](std::string_view d) { write_all(STDOUT_FILENO, d); },
                [](std::string_view d) { write_all(STDERR_FILENO, d); }};
  auto result = session->exec(*req, sink);
  if (!result) return report(result.error());
  const std::string who = session->target().display();
  if (result->timed_out) {
    return report(Error{Errc::timeout, Phase::command, who,
                        fmt::format("{}: command timed out after {:.1f} s and was ended", who,
                                    static_cast<double>(result->duration.count()) / 1000.0)});
  }
  if (result->exit_signal) {
    fmt::print(stderr, "herd: {}: command killed by signal {}{}\n", who, *result->exit_signal,
               result->core_dumped ? " (core dumped)" : "");
    return as_int(ExitCode::remote_failed);
  }
  if (result->exit_status.value_or(-1) != 0) {
    if (result->exit_status) {
      fmt::print(stderr, "herd: {}: command exited with status {}\n", who, *result->exit_status);
    } else {
      fmt::print(stderr, "herd: {}: command ended without an exit status\n", who);
    }
    return as_int(ExitCode::remote_failed);
  }
  return as_int(ExitCode::ok);
}

/// A host pattern that names exactly one host literally (no ranges, lists, groups).
bool is_single_host(const std::string& pattern) {
  return pattern.find_first_of("[],@!&^") == std::string::npos;
}

int run_fleet(const RunOptions& o, std::vector<std::string> names, const Inventory* inventory) {
  auto req = build_request(o, false);
  if (!req) return report(req.error());
  FleetJob job;
  std::string command = req->command;
  job.request = std::move(*req);
  return execute_fleet(o, names, std::move(job), command, inventory);
}

/// `herd run --rerun ID [--only failed|all] [-- COMMAND]`: a fleet run on hosts of a recorded job.
int run_rerun(const RunOptions& options, const Inventory* inventory) {
  RunOptions o = options;
  auto names = prepare_rerun(o);
  if (!names) return report(names.error());
  if (names->empty()) {
    fmt::print(stderr, "herd: job {}: no host to run on again (--only {})\n", o.rerun,
               o.only.empty() ? "failed" : o.only);
    return as_int(ExitCode::ok);
  }
  return run_fleet(o, std::move(*names), inventory);
}

/// `user@PATTERN` (as ssh takes `user@host`): the user applies to every host unless -l is given.
void split_user(RunOptions& o) {
  auto at = o.host.find('@');
  if (at == std::string::npos || at == 0) return;  // none, or a leading @group
  const std::string user = o.host.substr(0, at);
  if (user.find_first_of("[],!&^ ") != std::string::npos) return;
  if (o.common.user.empty()) o.common.user = user;
  o.host.erase(0, at + 1);
}

}  // namespace

CLI::App* setup_run(CLI::App& app, RunOptions& o) {
  auto* cmd = app.add_subcommand("run", "Run a command on a host or on a fleet of hosts");
  add_common_options(*cmd, o.common);
  cmd->add_option("--command-timeout", o.command_timeout_s,
                  "End the remote command after this many seconds (TERM, then KILL)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-e,--env", o.env, "Set NAME=VALUE in the remote environment (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--stdin", o.stdin_file, "Feed this file to every command's stdin");
  cmd->add_option("--script", o.script_file,
                  "Run this local script on every host in one shell (sh -s)");
  cmd->add_flag("-t,--tty", o.pty, "Allocate a PTY (stdout and stderr then merge)");
  add_fleet_options(*cmd, o);
  auto* host =
      cmd->add_option("host", o.host, "Host or host pattern (web[01-20], a,b, @group)")->required();
  cmd->add_option("--rerun", o.rerun,
                  "Run recorded job ID again (its hosts and, unless given, its command)")
      ->check(CLI::PositiveNumber)
      ->each([host](const std::string&) { host->required(false); });
  cmd->add_option("--only", o.only, "With --rerun: failed (default: hosts not ok) or all")
      ->check(CLI::IsMember({"failed", "all"}))
      ->needs("--rerun");
  cmd->add_option("command", o.command, "Command and arguments (after --)");
  cmd->footer(
      "Examples:\n"
      "  herd run -F lab/ssh_config web01 -- uname -a\n"
      "  herd run -F lab/ssh_config 'web[01-04]' -- uptime\n"
      "  herd run -b -F lab/ssh_config 'web[01-04]' -- cat /etc/os-release\n"
      "  herd run --rerun 12 --only failed      # job 12's failed hosts, same command");
  return cmd;
}

int run_run(const RunOptions& options) {
  RunOptions o = options;
  auto inventory = load_inventory(o.common);
  if (!inventory) return report(inventory.error());
  const Inventory* inv = *inventory ? &**inventory : nullptr;
  if (o.rerun != 0) return run_rerun(o, inv);
  split_user(o);
  std::vector<std::string> names;
  try {
    names = expand_hosts(o.host, o.excludes, inv);
  } catch (const PatternError& e) {
    fmt::print(stderr, "herd: {}\n", e.what());
    return as_int(ExitCode::usage);
  }
  if (names.size() == 1 && is_single_host(o.host) && !o.gather && !o.json) {
    return run_single(o, inv);
  }
  return run_fleet(o, std::move(names), inv);
}

}  // namespace herd::cli

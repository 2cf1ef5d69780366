// `herd run HOST -- COMMAND`: run one command, stream its stdout/stderr, report how it ended.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"

namespace herd::cli {
namespace {

/// Write everything (stdout may be a pipe that takes partial writes).
void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // a closed pipe: nothing sensible to do with the rest
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

CLI::App* setup_run(CLI::App& app, RunOptions& o) {
  auto* cmd = app.add_subcommand("run", "Run a command on a host");
  add_common_options(*cmd, o.common);
  cmd->add_option("--command-timeout", o.command_timeout_s,
                  "End the remote command after this many seconds (TERM, then KILL)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-e,--env", o.env, "Set NAME=VALUE in the remote environment (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--stdin", o.stdin_file, "Feed this file (or FIFO) to the command's stdin");
  cmd->add_flag("-t,--tty", o.pty, "Allocate a PTY (stdout and stderr then merge)");
  cmd->add_option("host", o.host, "Host (alias, address or user@host)")->required();
  cmd->add_option("command", o.command, "Command and arguments (after --)")->required();
  cmd->footer("Example: herd run -F lab/ssh_config web01 -- uname -a");
  return cmd;
}

int run_run(const RunOptions& o) {
  auto options = session_options(o.common, o.host);
  if (!options) return report(options.error());

  ExecRequest req;
  for (const auto& word : o.command) req.command += (req.command.empty() ? "" : " ") + word;
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return report(Error{Errc::bad_config, Phase::command, o.host,
                          fmt::format("--env '{}': expected NAME=VALUE", kv.substr(0, kv.find('=')))});
    }
    req.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!o.stdin_file.empty()) req.stdin_file = o.stdin_file;
  if (o.pty) req.pty = PtyOptions{};
  if (o.command_timeout_s > 0) {
    req.timeout = std::chrono::milliseconds(static_cast<long>(o.command_timeout_s * 1000));
  }

  auto session = Session::connect(*options);
  if (!session) return report(session.error());
  ExecSink sink{[](std::string_view d) { write_all(STDOUT_FILENO, d); },
                [](std::string_view d) { write_all(STDERR_FILENO, d); }};
  auto result = session->exec(req, sink);
  if (!result) return report(result.error());
  const std::string who = session->target().display();
  if (result->timed_out) {
    return report(Error{Errc::timeout, Phase::command, who,
                        fmt::format("{}: command timed out after {:.1f} s and was ended", who,
                                    o.command_timeout_s)});
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

}  // namespace herd::cli

// herd's command line: subcommand registry and the one error reporter.
#include <fmt/format.h>

#include <csignal>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"

namespace herd::cli {

int report(const Error& error) {
  fmt::print(stderr, "herd: {}\n", error.message);
  return as_int(exit_code_for(error));
}

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"herd: operate fleets of servers over SSH"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "herd 0.1.0");

  RunOptions run;
  ShellOptions shell;
  NodesOptions nodes;
  JobsOptions jobs;
  TransferCliOptions put;
  TransferCliOptions get;
  SyncCliOptions sync;
  TaskCliOptions task;
  run.argv.assign(argv, argv + argc);
  task.fleet.argv = run.argv;
  put.fleet.argv = run.argv;
  get.fleet.argv = run.argv;
  sync.transfer.fleet.argv = run.argv;
  auto* run_cmd = setup_run(app, run);
  auto* shell_cmd = setup_shell(app, shell);
  auto* nodes_cmd = setup_nodes(app, nodes);
  auto* jobs_cmd = setup_jobs(app, jobs);
  auto* put_cmd = setup_put(app, put);
  auto* get_cmd = setup_get(app, get);
  auto* sync_cmd = setup_sync(app, sync);
  auto* task_cmd = setup_task(app, task);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "herd: {}\n", e.what());
    return as_int(ExitCode::usage);
  }
  if (run_cmd->parsed()) {
    configure_logging(run.common.verbosity);
    return run_run(run);
  }
  if (shell_cmd->parsed()) {
    configure_logging(shell.common.verbosity);
    return run_shell(shell);
  }
  if (put_cmd->parsed()) {
    configure_logging(put.fleet.common.verbosity);
    return run_put(put);
  }
  if (get_cmd->parsed()) {
    configure_logging(get.fleet.common.verbosity);
    return run_get(get);
  }
  if (sync_cmd->parsed()) {
    configure_logging(sync.transfer.fleet.common.verbosity);
    return run_sync(sync);
  }
  if (task_cmd->parsed()) {
    configure_logging(task.fleet.common.verbosity);
    return run_task(task);
  }
  if (nodes_cmd->parsed()) return run_nodes(nodes);
  if (jobs_cmd->parsed()) return run_jobs(jobs);
  return as_int(ExitCode::usage);
}

}  // namespace herd::cli

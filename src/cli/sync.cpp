// `herd sync PATTERN LOCALDIR REMOTEDIR` and `herd sync --pull`: the command line; what runs on
// each host is files::sync_host / files::pull_host (files/file_commands.hpp).
#include <fmt/format.h>

#include <atomic>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/fleet_run.hpp"
#include "cli/targets.hpp"
#include "cli/transfer_common.hpp"

namespace herd::cli {

using namespace xfer;  // NOLINT: the shared command-line helpers

CLI::App* setup_sync(CLI::App& app, SyncCliOptions& o) {
  auto* cmd = app.add_subcommand(
      "sync", "Make REMOTEDIR on every host match LOCALDIR (only what changed is sent)");
  add_transfer_options(*cmd, o.transfer);
  cmd->add_flag("--delete", o.remove_extra, "Delete remote files that LOCALDIR does not have");
  cmd->add_flag("-n,--dry-run", o.dry_run, "List what would be sent (+) and deleted (-), per host");
  cmd->add_flag("-c,--compare-checksum", o.transfer.checksum_compare,
                "Compare contents (checksums), not sizes and times, to find changed files");
  auto* pull = cmd->add_flag("--pull", o.pull,
                             "Pull instead: fetch what changed in REMOTEDIR's manifest into "
                             "LOCALDIR/HOST (or a {host} template) since the last pull");
  cmd->add_option("--manifest", o.manifest,
                  "With --pull: the manifest's name in REMOTEDIR (format: docs/manifest.md)")
      ->needs(pull);
  cmd->footer(
      "Examples:\n"
      "  herd sync -F lab/ssh_config 'web[01-04]' ./site /srv/www\n"
      "  herd sync --delete --dry-run -F lab/ssh_config @web ./site /srv/www\n"
      "  herd sync --pull --manifest MANIFEST -F lab/ssh_config client01 ./release /srv/dist");
  return cmd;
}

int run_sync(const SyncCliOptions& options) {
  SyncCliOptions s = options;
  TransferCliOptions& o = s.transfer;
  if (o.paths.size() != 2) {
    fmt::print(stderr, "herd: sync takes one LOCALDIR and one REMOTEDIR\n");
    return as_int(ExitCode::usage);
  }
  auto targets = fleet_targets(o, 2, "sync takes one LOCALDIR and one REMOTEDIR");
  if (!targets) return report(targets.error());
  const Inventory* inv = targets->inv();
  const auto* names = &targets->names;
  const std::string local = o.paths[0];
  const std::string dest = o.paths[1];
  std::atomic<std::uint64_t> bytes{0};
  files::FileOptions f = file_options_of(o);
  f.dry_run = s.dry_run;
  f.remove_extra = s.remove_extra;
  if (s.pull) {
    if (s.manifest.empty()) {
      fmt::print(stderr, "herd: sync --pull needs --manifest NAME\n");
      return as_int(ExitCode::usage);
    }
    const TransferSettings settings = settings_for(o, bytes);
    auto hosts = std::make_shared<std::vector<std::string>>(*names);
    FleetJob job;
    job.work = [f, hosts, local, dest, settings, m = s.manifest](
                   std::size_t index, Session& session, HostResult& result,
                   const HostOutput& output) {
      return files::pull_host(f, m, local, dest, (*hosts)[index], settings, session, result,
                              output);
    };
    return execute_fleet(o.fleet, *names, std::move(job), describe("sync --pull", o.paths), inv,
                         &bytes);
  }
  if (!std::filesystem::is_directory(local)) {
    fmt::print(stderr, "herd: {}: not a directory\n", local);
    return as_int(ExitCode::usage);
  }
  auto plan = std::make_shared<files::PutPlan>();
  if (auto r = files::add_local_tree(f, local, "", checksum_of(o), *plan); !r) {
    return report(r.error());
  }
  const TransferSettings settings = settings_for(o, bytes);
  FleetJob job;
  job.work = [f, plan, dest, settings](std::size_t, Session& session, HostResult& result,
                                       const HostOutput& output) {
    return files::sync_host(f, *plan, dest, settings, session, result, output);
  };
  return execute_fleet(o.fleet, *names, std::move(job), describe("sync", o.paths), inv, &bytes);
}

}  // namespace herd::cli

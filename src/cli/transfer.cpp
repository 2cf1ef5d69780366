// `herd put` and `herd get`: files to and from a fleet, verified and atomic (transfer.hpp).
//
// The command line only: options, the hosts, and one engine run whose per-host work is
// files::put_host / files::get_host (files/file_commands.hpp, where the theory is). They go
// through execute_fleet: the same output, summary, --json, job history and exit codes as
// `herd run`, with bytes and MiB/s on the progress line.
#include <fmt/format.h>

#include <atomic>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/fleet_run.hpp"
#include "cli/targets.hpp"
#include "cli/transfer_common.hpp"
#include "herd/transfer.hpp"

namespace herd::cli {
namespace {

namespace fs = std::filesystem;
using namespace xfer;  // NOLINT: this file is the shared helpers' main user

// ---- put -----------------------------------------------------------------------------------

}  // namespace

CLI::App* setup_put(CLI::App& app, TransferCliOptions& o) {
  auto* cmd = app.add_subcommand("put", "Copy local files to a host or a fleet (verified, atomic)");
  add_transfer_options(*cmd, o);
  cmd->add_flag("--archive", o.archive,
                "Send everything as one compressed tar into tar -x on the host (for many small "
                "files); each file's checksum is checked after extraction");
  cmd->add_option("--compress", o.compress, "Archive compression: gzip (default), zstd, none")
      ->check(CLI::IsMember({"gzip", "zstd", "none"}))
      ->needs("--archive");
  cmd->footer(
      "Each file goes to a temporary name and is renamed into place after its SHA-256 matched.\n"
      "Examples:\n"
      "  herd put -F lab/ssh_config 'web[01-04]' app.tar.gz /tmp/\n"
      "  herd put -r -p -F lab/ssh_config @web ./site /srv/www\n"
      "  herd put --resume -F lab/ssh_config web01 big.iso /data/big.iso");
  return cmd;
}

CLI::App* setup_get(CLI::App& app, TransferCliOptions& o) {
  auto* cmd = app.add_subcommand(
      "get", "Copy files from a host or a fleet into LOCALDIR/HOST/ (or a {host} template)");
  add_transfer_options(*cmd, o);
  cmd->footer(
      "Examples:\n"
      "  herd get -F lab/ssh_config 'web[01-04]' /etc/os-release collected/\n"
      "  herd get -F lab/ssh_config 'web[01-04]' /etc/hostname 'names/{host}.txt'\n"
      "  herd get -r -F lab/ssh_config web01 /var/log/app logs/");
  return cmd;
}

int run_put(const TransferCliOptions& options) {
  TransferCliOptions o = options;
  auto targets = fleet_targets(o, 2, "put needs at least one local path and a remote destination");
  if (!targets) return report(targets.error());
  const Inventory* inv = targets->inv();
  const auto* names = &targets->names;
  const std::string dest = o.paths.back();
  std::vector<std::string> sources(o.paths.begin(), o.paths.end() - 1);
  auto plan = files::plan_put(file_options_of(o), checksum_of(o), sources, dest);
  if (!plan) return report(plan.error());
  auto shared = std::make_shared<files::PutPlan>(std::move(*plan));
  std::shared_ptr<LocalArchive> archive;
  if (o.archive) {
    const ArchiveCompression c = o.compress == "zstd"   ? ArchiveCompression::zstd
                                 : o.compress == "none" ? ArchiveCompression::none
                                                        : ArchiveCompression::gzip;
    auto built = files::build_archive(*shared, c, checksum_of(o), o.preserve);
    if (!built) return report(built.error());
    archive = std::move(*built);
  }
  std::atomic<std::uint64_t> bytes{0};
  const TransferSettings settings = settings_for(o, bytes);
  FleetJob job;
  job.work = [shared, archive, dest, settings](std::size_t, Session& session, HostResult& result,
                                               const HostOutput& output) {
    return files::put_host(*shared, archive, dest, settings, session, result, output);
  };
  return execute_fleet(o.fleet, *names, std::move(job), describe("put", o.paths), inv, &bytes);
}

int run_get(const TransferCliOptions& options) {
  TransferCliOptions o = options;
  auto targets = fleet_targets(o, 2, "get needs at least one remote path and a local destination");
  if (!targets) return report(targets.error());
  const Inventory* inv = targets->inv();
  const auto* names = &targets->names;
  const std::string dest = o.paths.back();
  std::vector<std::string> sources(o.paths.begin(), o.paths.end() - 1);
  std::atomic<std::uint64_t> bytes{0};
  const TransferSettings settings = settings_for(o, bytes);
  auto hosts = std::make_shared<std::vector<std::string>>(*names);
  FleetJob job;
  job.work = [f = file_options_of(o), sources, dest, settings, hosts](
                 std::size_t index, Session& session, HostResult& result,
                 const HostOutput& output) {
    return files::get_host(f, sources, dest, (*hosts)[index], settings, session, result, output);
  };
  return execute_fleet(o.fleet, *names, std::move(job), describe("get", o.paths), inv, &bytes);
}

}  // namespace herd::cli

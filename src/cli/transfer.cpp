// `herd put` and `herd get`: files to and from a fleet, verified and atomic (transfer.hpp).
//
// put plans once, locally: the files (each a LocalSource shared by every host, so it is read
// and hashed once), the directories to create and the symlinks to recreate. Each host then
// runs the plan over its own SFTP channel. get plans per host, from that host's listing; every
// name a server sends must be one safe path component (is_safe_name) before it becomes part of
// a local path, and nothing is written through a symlink, so a hostile server cannot write
// outside the destination. Both go through execute_fleet: the same output, summary, --json,
// job history and exit codes as `herd run`, with bytes and MiB/s on the progress line.
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

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

Result<PutPlan> plan_put(const TransferCliOptions& o, const std::vector<std::string>& sources,
                         const std::string& dest) {
  PutPlan plan;
  const Checksum checksum = checksum_of(o);
  plan.dest_is_dir = sources.size() > 1 || dest.ends_with('/');
  for (const auto& s : sources) {
    std::error_code ec;
    auto st = fs::status(s, ec);
    if (ec || !fs::exists(st)) {
      return fail(Errc::bad_config, Phase::transfer, "", fmt::format("{}: no such file", s));
    }
    if (fs::is_directory(st)) {
      if (!o.recursive) {
        return fail(Errc::bad_config, Phase::transfer, "",
                    fmt::format("{}: is a directory (use -r)", s));
      }
      plan.dest_is_dir = true;
      if (auto r = add_local_tree(o, s, base_name(s), checksum, plan); !r) {
        return std::unexpected(r.error());
      }
      continue;
    }
    auto src = LocalSource::open(s, checksum);
    if (!src) return std::unexpected(src.error());
    plan.bytes += (*src)->size();
    plan.files.push_back({std::move(*src), sources.size() > 1 || plan.dest_is_dir
                                               ? base_name(s)
                                               : std::string()});
  }
  return plan;
}

Flow<Result<void>> put_host(const PutPlan& plan, std::shared_ptr<LocalArchive> archive,
                            std::string dest, TransferSettings settings, Session& session,
                            HostResult& result, const HostOutput& output) {
  auto sftp = co_await SftpClient::open_async(session);
  if (!sftp) co_return std::unexpected(sftp.error());
  auto absolute = co_await absolute_remote(*sftp, dest);
  if (!absolute) co_return std::unexpected(absolute.error());
  dest = *absolute;
  // One file to a path that is a directory there: into it, as cp and scp do.
  bool into_dir = plan.dest_is_dir;
  if (!into_dir) {
    auto st = co_await sftp->stat_async(dest);
    if (st && st->is_dir()) into_dir = true;
  }
  if (archive) {
    const Checksum checksum = settings.checksum;
    auto rep = co_await upload_archive(session, *sftp, archive, dest, std::move(settings));
    co_return finish_host(rep, result, output, checksum, "put (archive)");
  }
  std::vector<std::string> dirs;
  if (plan.dest_is_dir) dirs.push_back(dest);
  for (const auto& d : plan.dirs) dirs.push_back(join(dest, d));
  if (!dirs.empty()) {
    auto made = co_await make_remote_dirs(*sftp, dirs, std::nullopt);
    if (!made) co_return std::unexpected(made.error());
  }
  std::vector<UploadItem> items;
  items.reserve(plan.files.size());
  for (const auto& f : plan.files) {
    std::string rel = f.rel.empty() && into_dir ? base_name(f.source->path().string()) : f.rel;
    items.push_back({f.source, join(dest, rel)});
  }
  const Checksum checksum = settings.checksum;
  auto rep = co_await upload(session, *sftp, std::move(items), std::move(settings));
  if (!rep.fatal) (void)co_await place_links(*sftp, plan.links, dest, rep);
  co_return finish_host(rep, result, output, checksum, "put");
}

/// --archive: the plan as one compressed tar, built once for every host.
Result<std::shared_ptr<LocalArchive>> build_archive(const TransferCliOptions& o,
                                                    const PutPlan& plan) {
  std::vector<ArchiveMember> members;
  for (const auto& d : plan.dirs) {
    if (!d.empty()) members.push_back({ArchiveMember::Kind::dir, d, {}, {}});
  }
  for (const auto& f : plan.files) {
    std::string rel = f.rel.empty() ? base_name(f.source->path().string()) : f.rel;
    members.push_back({ArchiveMember::Kind::file, rel, f.source->path(), {}});
  }
  for (const auto& l : plan.links) {
    members.push_back({ArchiveMember::Kind::symlink, l.rel, {}, l.target});
  }
  const ArchiveCompression c = o.compress == "zstd"   ? ArchiveCompression::zstd
                               : o.compress == "none" ? ArchiveCompression::none
                                                      : ArchiveCompression::gzip;
  return LocalArchive::build(members, c, checksum_of(o), o.preserve);
}

// ---- get ----------------------------------------------------------------------------------

struct GetWalk {
  std::vector<DownloadItem> items;
  std::vector<fs::path> dirs;
  std::vector<std::string> refused;  ///< messages for names the server should not have sent
};

Flow<Result<void>> walk_remote(SftpClient& sftp, const TransferCliOptions& o,
                               const std::string& remote_root, const fs::path& local_root_dir,
                               const std::string& rel_root, GetWalk& walk) {
  std::vector<std::pair<std::string, std::string>> pending{{remote_root, rel_root}};
  while (!pending.empty()) {
    // Not a structured binding: GCC 12 miscompiles those in coroutines.
    const std::string remote = pending.back().first;
    const std::string rel = pending.back().second;
    pending.pop_back();
    walk.dirs.push_back(local_root_dir / rel);
    auto entries = co_await sftp.listdir_attr_async(remote);
    if (!entries) co_return std::unexpected(entries.error());
    for (auto& e : *entries) {
      if (!is_safe_name(e.name)) {
        walk.refused.push_back(refused_name(sftp.host(), e.name, remote));
        continue;
      }
      const std::string child_remote = join(remote, e.name);
      const std::string child_rel = join(rel, e.name);
      if (excluded(o, child_rel)) continue;
      FileAttributes a = e.attrs;
      if (a.is_symlink()) {
        if (!o.follow_links) continue;  // not followed out of the tree unless asked
        auto st = co_await sftp.stat_async(child_remote);
        if (!st || !st->is_regular()) continue;  // links to directories are never followed
        a = *st;
      }
      if (a.is_dir()) {
        pending.emplace_back(child_remote, child_rel);
      } else if (a.is_regular()) {
        walk.items.push_back({child_remote, local_root_dir / child_rel, a});
      }
    }
  }
  co_return Result<void>{};
}

Flow<Result<void>> get_host(const TransferCliOptions& o, std::vector<std::string> sources,
                            std::string dest, std::string host, TransferSettings settings,
                            Session& session, HostResult& result, const HostOutput& output) {
  auto sftp = co_await SftpClient::open_async(session);
  if (!sftp) co_return std::unexpected(sftp.error());
  const std::string root = local_root(dest, host);
  // One file to a templated name that is not a directory: that name is the file.
  const bool single_named = sources.size() == 1 && !o.recursive &&
                            dest.find("{host}") != std::string::npos && !dest.ends_with('/') &&
                            !fs::is_directory(root);
  GetWalk walk;
  for (const auto& given : sources) {
    auto absolute = co_await absolute_remote(*sftp, given);
    if (!absolute) co_return std::unexpected(absolute.error());
    const std::string src = *absolute;
    auto st = co_await sftp->lstat_async(src);
    if (!st) co_return std::unexpected(st.error());
    if (st->is_symlink()) {
      auto target = co_await sftp->stat_async(src);  // named on the command line: followed
      if (!target) co_return std::unexpected(target.error());
      st = *target;
    }
    const std::string name = base_name(src);
    if (st->is_dir()) {
      if (!o.recursive) {
        co_return fail(Errc::bad_config, Phase::transfer, sftp->host(),
                       fmt::format("{}: {}: is a directory (use -r)", sftp->host(), src));
      }
      if (!is_safe_name(name) && name != "/") {
        co_return fail(Errc::bad_config, Phase::transfer, sftp->host(),
                       fmt::format("{}: {}: cannot name a local directory after it", sftp->host(),
                                   src));
      }
      // Named first: GCC 12 mishandles temporaries made inside a co_await expression.
      const std::string top = name == "/" ? std::string("root") : name;
      auto walked = co_await walk_remote(*sftp, o, src, root, top, walk);
      if (!walked) co_return std::unexpected(walked.error());
    } else if (single_named) {
      walk.dirs.push_back(fs::path(root).parent_path());
      walk.items.push_back({src, root, *st});
    } else {
      walk.dirs.push_back(root);
      walk.items.push_back({src, fs::path(root) / name, *st});
    }
  }
  for (const auto& d : walk.dirs) {
    if (d.empty()) continue;
    if (auto made = make_local_dirs(d); !made) {
      Error e = made.error();
      e.host = sftp->host();
      co_return std::unexpected(e);
    }
  }
  const Checksum checksum = settings.checksum;
  auto rep = co_await download(session, *sftp, std::move(walk.items), std::move(settings));
  for (const auto& msg : walk.refused) {
    FileOutcome bad;
    bad.path = msg;
    bad.error = Error{Errc::file_error, Phase::transfer, sftp->host(), msg};
    rep.files.push_back(bad);
    ++rep.failed;
  }
  co_return finish_host(rep, result, output, checksum, "got");
}

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
  auto plan = plan_put(o, sources, dest);
  if (!plan) return report(plan.error());
  auto shared = std::make_shared<PutPlan>(std::move(*plan));
  std::shared_ptr<LocalArchive> archive;
  if (o.archive) {
    auto built = build_archive(o, *shared);
    if (!built) return report(built.error());
    archive = std::move(*built);
  }
  std::atomic<std::uint64_t> bytes{0};
  const TransferSettings settings = settings_for(o, bytes);
  FleetJob job;
  job.work = [shared, archive, dest, settings](std::size_t, Session& session, HostResult& result,
                                               const HostOutput& output) {
    return put_host(*shared, archive, dest, settings, session, result, output);
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
  job.work = [o, sources, dest, settings, hosts](std::size_t index, Session& session,
                                                 HostResult& result, const HostOutput& output) {
    return get_host(o, sources, dest, (*hosts)[index], settings, session, result, output);
  };
  return execute_fleet(o.fleet, *names, std::move(job), describe("get", o.paths), inv, &bytes);
}

}  // namespace herd::cli

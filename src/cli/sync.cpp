// `herd sync PATTERN LOCALDIR REMOTEDIR`: make REMOTEDIR on every host match LOCALDIR.
//
// The local tree is planned once (as for put -r, the *contents* of LOCALDIR going into
// REMOTEDIR, like rsync's trailing slash). Per host, the remote tree is listed over SFTP; a file
// is sent when it is missing there, is not a regular file, or differs in size or modification
// time (with --checksum: in size or content, the remote's digests asked for in one command).
// Sent files keep their modes and times, so the next sync finds them unchanged. --delete removes
// what the remote has and LOCALDIR does not (files first, then directories, deepest first);
// names the server sends that are not plain file names are refused, never deleted. --dry-run
// prints, per host, what would be sent (+) and deleted (-), and changes nothing.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/fleet_run.hpp"
#include "cli/pull.hpp"
#include "cli/targets.hpp"
#include "cli/transfer_common.hpp"

namespace herd::cli {
namespace {

using namespace xfer;  // NOLINT: the shared transfer helpers

/// The remote tree under a root: relative path -> attributes (lstat: links are links).
struct RemoteTree {
  std::map<std::string, FileAttributes> entries;
  std::vector<std::string> refused;
  bool root_exists = false;
};

Flow<Result<void>> list_remote(SftpClient& sftp, std::string root, RemoteTree& tree) {
  auto top = co_await sftp.stat_async(root);
  if (!top) {
    if (top.error().sftp_status == static_cast<std::uint32_t>(SftpStatus::no_such_file)) {
      co_return Result<void>{};  // nothing there yet
    }
    co_return std::unexpected(top.error());
  }
  if (!top->is_dir()) {
    co_return fail(Errc::file_error, Phase::transfer, sftp.host(),
                   fmt::format("{}: {}: not a directory", sftp.host(), root));
  }
  tree.root_exists = true;
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    const std::string rel = pending.back();
    pending.pop_back();
    const std::string dir = join(root, rel);
    auto entries = co_await sftp.listdir_attr_async(dir);
    if (!entries) co_return std::unexpected(entries.error());
    for (auto& e : *entries) {
      if (!is_safe_name(e.name)) {
        tree.refused.push_back(refused_name(sftp.host(), e.name, dir));
        continue;
      }
      const std::string child = join(rel, e.name);
      if (e.attrs.is_dir()) pending.push_back(child);
      tree.entries.emplace(child, e.attrs);
    }
  }
  co_return Result<void>{};
}

std::size_t depth(const std::string& rel) {
  return static_cast<std::size_t>(std::count(rel.begin(), rel.end(), '/'));
}

Flow<Result<void>> sync_host(const TransferCliOptions& o, const PutPlan& plan, std::string dest,
                             TransferSettings settings, bool dry_run, bool remove_extra,
                             Session& session, HostResult& result, const HostOutput& output) {
  auto sftp = co_await SftpClient::open_async(session);
  if (!sftp) co_return std::unexpected(sftp.error());
  auto absolute = co_await absolute_remote(*sftp, dest);
  if (!absolute) co_return std::unexpected(absolute.error());
  dest = *absolute;
  RemoteTree tree;
  if (auto listed = co_await list_remote(*sftp, dest, tree); !listed) {
    co_return std::unexpected(listed.error());
  }

  // What to send.
  std::vector<const PutPlan::File*> send;
  std::vector<const PutPlan::File*> same_size;  // --checksum: decided by content
  std::size_t unchanged = 0;
  for (const auto& f : plan.files) {
    auto it = tree.entries.find(f.rel);
    const bool differs = it == tree.entries.end() || !it->second.is_regular() ||
                         it->second.size != f.source->size();
    if (differs) {
      send.push_back(&f);
    } else if (o.checksum_compare) {
      same_size.push_back(&f);
    } else if (it->second.mtime != f.source->mtime()) {
      send.push_back(&f);
    } else {
      ++unchanged;
    }
  }
  if (!same_size.empty()) {
    const Checksum c = settings.checksum == Checksum::none ? Checksum::sha256 : settings.checksum;
    std::vector<std::string> paths;
    for (auto* f : same_size) paths.push_back(join(dest, f->rel));
    auto theirs = co_await remote_digests(session, c, paths);
    if (!theirs) co_return std::unexpected(theirs.error());
    for (std::size_t i = 0; i < same_size.size(); ++i) {
      auto mine = same_size[i]->source->full_digest(c);
      if (!mine) co_return std::unexpected(mine.error());
      if (*theirs && (**theirs)[i] == *mine) {
        ++unchanged;
      } else {
        send.push_back(same_size[i]);
      }
    }
  }
  std::vector<std::string> make_dirs;
  for (const auto& d : plan.dirs) {
    auto it = tree.entries.find(d);
    if (d.empty() ? !tree.root_exists : (it == tree.entries.end() || !it->second.is_dir())) {
      make_dirs.push_back(join(dest, d));
    }
  }
  std::vector<const PutPlan::Link*> links;
  for (const auto& l : plan.links) {
    auto it = tree.entries.find(l.rel);
    if (it == tree.entries.end() || !it->second.is_symlink()) links.push_back(&l);
  }
  // What to delete: remote entries LOCALDIR does not have (excluded ones are left alone).
  std::vector<std::string> extra;
  if (remove_extra) {
    std::set<std::string> local;
    for (const auto& d : plan.dirs) local.insert(d);
    for (const auto& f : plan.files) local.insert(f.rel);
    for (const auto& l : plan.links) local.insert(l.rel);
    for (const auto& [rel, attrs] : tree.entries) {
      if (local.count(rel) == 0 && !excluded(o, rel)) extra.push_back(rel);
    }
    // Deepest first, so a directory is empty when its turn comes.
    std::stable_sort(extra.begin(), extra.end(),
                     [](const std::string& a, const std::string& b) { return depth(a) > depth(b); });
  }
  std::uint64_t send_bytes = 0;
  for (auto* f : send) send_bytes += f->source->size();

  if (dry_run) {
    std::string lines;
    for (auto* f : send) lines += fmt::format("+ {}\n", join(dest, f->rel));
    for (auto* l : links) lines += fmt::format("+ {} -> {}\n", join(dest, l->rel), l->target);
    for (const auto& rel : extra) lines += fmt::format("- {}\n", join(dest, rel));
    lines += fmt::format("would send {} file{} ({}), delete {}, {} unchanged\n", send.size(),
                         send.size() == 1 ? "" : "s", human_bytes(send_bytes), extra.size(),
                         unchanged);
    output(Stream::out, lines);
    co_return Result<void>{};
  }

  if (!make_dirs.empty()) {
    auto made = co_await make_remote_dirs(*sftp, make_dirs, std::nullopt);
    if (!made) co_return std::unexpected(made.error());
  }
  std::vector<UploadItem> items;
  for (auto* f : send) items.push_back({f->source, join(dest, f->rel)});
  const Checksum checksum = settings.checksum;
  settings.preserve = true;  // times must match for the next comparison
  auto rep = co_await upload(session, *sftp, std::move(items), std::move(settings));
  if (rep.fatal) co_return std::unexpected(*rep.fatal);
  std::vector<PutPlan::Link> to_link;
  for (auto* l : links) to_link.push_back(*l);
  (void)co_await place_links(*sftp, std::move(to_link), dest, rep);
  std::size_t deleted = 0;
  for (const auto& rel : extra) {
    const std::string at = join(dest, rel);
    Result<void> gone;
    if (tree.entries[rel].is_dir()) {
      gone = co_await sftp->rmdir_async(at);
    } else {
      gone = co_await sftp->remove_async(at);
    }
    if (gone) {
      ++deleted;
    } else {
      FileOutcome out;
      out.path = at;
      out.error = gone.error();
      rep.files.push_back(std::move(out));
      ++rep.failed;
    }
  }
  for (const auto& msg : tree.refused) {
    FileOutcome bad;
    bad.path = msg;
    bad.error = Error{Errc::file_error, Phase::transfer, sftp->host(), msg};
    rep.files.push_back(bad);
    ++rep.failed;
  }
  if (rep.failed > 0) co_return finish_host(rep, result, output, checksum, "synced");
  result.stdout_bytes = rep.bytes;
  output(Stream::out,
         fmt::format("synced: {} sent ({}), {} deleted, {} unchanged{}\n", send.size(),
                     human_bytes(rep.bytes), deleted, unchanged,
                     checksum == Checksum::none ? std::string(", not verified")
                                                : fmt::format(", {} verified", to_string(checksum))));
  co_return Result<void>{};
}

}  // namespace

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
  if (s.pull) {
    if (s.manifest.empty()) {
      fmt::print(stderr, "herd: sync --pull needs --manifest NAME\n");
      return as_int(ExitCode::usage);
    }
    const TransferSettings settings = settings_for(o, bytes);
    auto hosts = std::make_shared<std::vector<std::string>>(*names);
    FleetJob job;
    job.work = [o, hosts, local, dest, settings, m = s.manifest, dry = s.dry_run,
                del = s.remove_extra](std::size_t index, Session& session, HostResult& result,
                                      const HostOutput& output) {
      return pull_host(o, m, local, dest, (*hosts)[index], settings, dry, del, session, result,
                       output);
    };
    return execute_fleet(o.fleet, *names, std::move(job), describe("sync --pull", o.paths), inv,
                         &bytes);
  }
  if (!std::filesystem::is_directory(local)) {
    fmt::print(stderr, "herd: {}: not a directory\n", local);
    return as_int(ExitCode::usage);
  }
  auto plan = std::make_shared<PutPlan>();
  if (auto r = add_local_tree(o, local, "", checksum_of(o), *plan); !r) return report(r.error());
  const TransferSettings settings = settings_for(o, bytes);
  FleetJob job;
  job.work = [o, plan, dest, settings, dry = s.dry_run, del = s.remove_extra](
                 std::size_t, Session& session, HostResult& result, const HostOutput& output) {
    return sync_host(o, *plan, dest, settings, dry, del, session, result, output);
  };
  return execute_fleet(o.fleet, *names, std::move(job), describe("sync", o.paths), inv, &bytes);
}

}  // namespace herd::cli

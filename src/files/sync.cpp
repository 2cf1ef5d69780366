// sync: make a remote directory match a local one, sending only what changed
// (file_commands.hpp).
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
#include <map>
#include <set>

#include "files/file_commands.hpp"

namespace herd::files {
namespace {

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
  auto visit = [&tree](const RemoteEntry& e) {
    tree.entries.emplace(e.rel, e.attrs);
    return true;
  };
  // Named, not a temporary in the co_await (GCC 12).
  auto flow = walk_remote(sftp, std::move(root), std::string(), false, visit, tree.refused);
  co_return co_await std::move(flow);
}

std::size_t depth(const std::string& rel) {
  return static_cast<std::size_t>(std::count(rel.begin(), rel.end(), '/'));
}

}  // namespace

Flow<Result<void>> sync_host(const FileOptions& o, const PutPlan& plan, std::string dest,
                             TransferSettings settings, Session& session, HostResult& result,
                             const HostOutput& output) {
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
    } else if (o.compare_checksum) {
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
  if (o.remove_extra) {
    std::set<std::string> local;
    for (const auto& d : plan.dirs) local.insert(d);
    for (const auto& f : plan.files) local.insert(f.rel);
    for (const auto& l : plan.links) local.insert(l.rel);
    for (const auto& [rel, attrs] : tree.entries) {
      if (local.count(rel) == 0 && !excluded(o.exclude, rel)) extra.push_back(rel);
    }
    // Deepest first, so a directory is empty when its turn comes.
    std::stable_sort(extra.begin(), extra.end(),
                     [](const std::string& a, const std::string& b) { return depth(a) > depth(b); });
  }
  std::uint64_t send_bytes = 0;
  for (auto* f : send) send_bytes += f->source->size();

  if (o.dry_run) {
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

}  // namespace herd::files

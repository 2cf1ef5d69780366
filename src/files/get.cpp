// get: each host's files, listed there, into a local directory of its own (file_commands.hpp).
#include <fmt/format.h>

#include <filesystem>

#include "files/file_commands.hpp"

namespace herd::files {
namespace {

namespace fs = std::filesystem;

struct GetWalk {
  std::vector<DownloadItem> items;
  std::vector<fs::path> dirs;
  std::vector<std::string> refused;  ///< messages for names the server should not have sent
};

/// The files under the remote directory `remote_root` as download items under `local_root_dir`
/// (as `rel_root`/...), with the local directories to make. Symlinks are left out unless
/// followed; excluded names are not descended into.
Flow<Result<void>> walk_get(SftpClient& sftp, const FileOptions& o, std::string remote_root,
                            fs::path local_root_dir, std::string rel_root, GetWalk& walk) {
  walk.dirs.push_back(local_root_dir / rel_root);
  auto visit = [&o, &walk, &local_root_dir](const RemoteEntry& e) {
    if (excluded(o.exclude, e.rel)) return false;
    if (e.attrs.is_dir()) {
      walk.dirs.push_back(local_root_dir / e.rel);
      return true;
    }
    if (e.attrs.is_regular()) walk.items.push_back({e.path, local_root_dir / e.rel, e.attrs});
    return false;
  };
  // Named, not a temporary in the co_await (GCC 12).
  auto flow = walk_remote(sftp, std::move(remote_root), std::move(rel_root), o.follow_links,
                          visit, walk.refused);
  co_return co_await std::move(flow);
}

}  // namespace

Flow<Result<void>> get_host(const FileOptions& o, std::vector<std::string> sources,
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
      auto walked = co_await walk_get(*sftp, o, src, root, top, walk);
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

}  // namespace herd::files

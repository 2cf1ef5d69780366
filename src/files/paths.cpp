// Paths, local trees and per-host reporting shared by the file commands (file_commands.hpp).
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "files/file_commands.hpp"

namespace herd::files {

namespace fs = std::filesystem;

std::string join(const std::string& dir, const std::string& rel) {
  if (rel.empty()) return dir;
  if (dir.empty()) return rel;
  return dir.back() == '/' ? dir + rel : dir + "/" + rel;
}

std::string base_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool excluded(const std::vector<std::string>& globs, const std::string& rel) {
  const std::string name = base_name(rel);
  for (const auto& g : globs) {
    if (::fnmatch(g.c_str(), rel.c_str(), FNM_PATHNAME) == 0) return true;
    if (::fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

std::string human_bytes(std::uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024.0);
  if (n < 1024ull * 1024 * 1024) {
    return fmt::format("{:.1f} MiB", static_cast<double>(n) / 1048576.0);
  }
  return fmt::format("{:.2f} GiB", static_cast<double>(n) / 1073741824.0);
}

/// A host's per-file failures as its stderr lines and a one-line result.
Result<void> finish_host(const TransferReport& rep, HostResult& result, const HostOutput& output,
                         Checksum checksum, std::string_view verb) {
  result.stdout_bytes = rep.bytes;
  std::size_t ok = 0, resumed = 0;
  const FileOutcome* first = nullptr;
  for (const auto& f : rep.files) {
    if (f.resumed_from > 0) ++resumed;
    if (f.ok) {
      ++ok;
      continue;
    }
    if (!first) first = &f;
    if (f.error && !rep.fatal) output(Stream::err, f.error->message + "\n");
  }
  if (rep.fatal) return std::unexpected(*rep.fatal);
  if (first) {
    result.status = HostStatus::failed;
    result.phase = first->error ? first->error->phase : Phase::transfer;
    result.message = fmt::format("{} of {} files failed: {}", rep.files.size() - ok,
                                 rep.files.size(),
                                 first->error ? first->error->message : std::string("error"));
    return {};
  }
  output(Stream::out,
         fmt::format("{} {} file{}, {}{}{}\n", verb, ok, ok == 1 ? "" : "s",
                     human_bytes(rep.bytes),
                     checksum == Checksum::none
                         ? std::string(", not verified")
                         : fmt::format(", {} verified", to_string(checksum)),
                     resumed > 0 ? fmt::format(" ({} resumed)", resumed) : std::string()));
  return {};
}

Result<void> add_local_tree(const FileOptions& o, const fs::path& root,
                            const std::string& rel_root, Checksum checksum, PutPlan& plan) {
  plan.dirs.push_back(rel_root);
  std::error_code ec;
  fs::recursive_directory_iterator it(
      root, o.follow_links ? fs::directory_options::follow_directory_symlink
                           : fs::directory_options::none,
      ec);
  if (ec) {
    return fail(Errc::local_io, Phase::transfer, "",
                fmt::format("{}: {}", root.string(), ec.message()));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: {}", root.string(), ec.message()));
    }
    // Lexically: fs::relative() would resolve a symlink to what it points to.
    const fs::path rel_path = it->path().lexically_relative(root);
    const std::string rel = join(rel_root, rel_path.generic_string());
    if (excluded(o.exclude, rel)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    auto st = o.follow_links ? it->status(ec) : it->symlink_status(ec);
    if (fs::is_symlink(st)) {
      plan.links.push_back({rel, fs::read_symlink(it->path(), ec).string()});
    } else if (fs::is_directory(st)) {
      plan.dirs.push_back(rel);
    } else if (fs::is_regular_file(st)) {
      auto src = LocalSource::open(it->path(), checksum);
      if (!src) return std::unexpected(src.error());
      plan.bytes += (*src)->size();
      plan.files.push_back({std::move(*src), rel});
    }  // sockets, devices, FIFOs: not files to copy
  }
  return {};
}

Flow<Result<void>> walk_remote(SftpClient& sftp, std::string root, std::string rel_root,
                               bool follow_links, std::function<bool(const RemoteEntry&)> visit,
                               std::vector<std::string>& refused) {
  std::vector<std::pair<std::string, std::string>> pending{{root, rel_root}};
  while (!pending.empty()) {
    // Not a structured binding: GCC 12 miscompiles those in coroutines.
    const std::string dir = pending.back().first;
    const std::string rel = pending.back().second;
    pending.pop_back();
    auto entries = co_await sftp.listdir_attr_async(dir);
    if (!entries) co_return std::unexpected(entries.error());
    for (auto& e : *entries) {
      if (!is_safe_name(e.name)) {
        refused.push_back(refused_name(sftp.host(), e.name, dir));
        continue;
      }
      RemoteEntry entry{join(dir, e.name), join(rel, e.name), e.attrs};
      if (follow_links && entry.attrs.is_symlink()) {
        auto target = co_await sftp.stat_async(entry.path);
        if (!target || !target->is_regular()) continue;
        entry.attrs = *target;
      }
      if (visit(entry) && entry.attrs.is_dir()) pending.emplace_back(entry.path, entry.rel);
    }
  }
  co_return Result<void>{};
}

Flow<Result<std::string>> absolute_remote(SftpClient& sftp, std::string path) {
  if (!path.empty() && path[0] == '/') co_return path;
  auto home = co_await sftp.normalize_async(".");
  if (!home) co_return std::unexpected(home.error());
  if (path.empty() || path == ".") co_return *home;
  co_return join(*home, path.starts_with("./") ? path.substr(2) : path);
}

Flow<std::size_t> place_links(SftpClient& sftp, std::vector<PutPlan::Link> links,
                               std::string dest, TransferReport& rep) {
  std::size_t placed = 0;
  for (const auto& l : links) {
    FileOutcome out;
    out.path = join(dest, l.rel);
    (void)co_await sftp.remove_async(out.path);
    auto made = co_await sftp.symlink_async(l.target, out.path);
    if (made) {
      out.ok = true;
      ++placed;
    } else {
      out.error = made.error();
      ++rep.failed;
    }
    rep.files.push_back(std::move(out));
  }
  co_return placed;
}

std::string refused_name(const std::string& host, const std::string& name, const std::string& dir) {
  return fmt::format("{}: refused a name from the server that is not a plain file name: '{}' in {}",
                     host, name.substr(0, 200), dir);
}

/// Where `host`'s files go: the destination with {host} replaced, else DEST/host.
std::string local_root(const std::string& dest, const std::string& host) {
  std::string out = dest;
  bool templated = false;
  for (auto at = out.find("{host}"); at != std::string::npos; at = out.find("{host}", at)) {
    out.replace(at, 6, host);
    at += host.size();
    templated = true;
  }
  return templated ? out : join(dest, host);
}

/// mkdir -p; a part that exists must be a directory (or a link to one the user made).
Result<void> make_local_dirs(const fs::path& dir) {
  fs::path p;
  for (const auto& part : dir) {
    p /= part;
    struct stat st{};
    if (::stat(p.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: exists and is not a directory", p.string()));
    }
    if (::mkdir(p.c_str(), 0777) != 0 && errno != EEXIST) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: cannot create: {}", p.string(), std::strerror(errno)));
    }
  }
  return {};
}

}  // namespace herd::files

// `herd sync --pull --manifest NAME PATTERN LOCALDIR REMOTEDIR`: fetch a published release.
//
// Per host: read REMOTEDIR/NAME (a manifest, herd/manifest.hpp) over SFTP, compare it with the
// state file of the last pull in the host's local directory (LOCALDIR/HOST/.herd-pull-state,
// or the {host} template), and download only the entries whose seq or checksum changed or whose
// local copy is missing, with the usual verification and atomic renames. An entry with a
// sha256 token must also match that checksum. The state file is rewritten (temporary name,
// then rename) with every entry that is now in place, so an interrupted or partly failed pull
// is finished by the next one. --delete removes local files the manifest no longer lists;
// --dry-run lists what would be fetched (+) and removed (-).
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "files/file_commands.hpp"
#include "herd/manifest.hpp"

namespace herd::files {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxManifestBytes = 64ull << 20;  // bytes
constexpr std::string_view kStateName = ".herd-pull-state";

Flow<Result<std::string>> read_remote_file(SftpClient& sftp, std::string path) {
  auto st = co_await sftp.stat_async(path);
  if (!st) co_return std::unexpected(st.error());
  if (st->size.value_or(0) > kMaxManifestBytes) {
    co_return fail(Errc::file_error, Phase::transfer, sftp.host(),
                   fmt::format("{}: {}: larger than {} MiB; not a manifest", sftp.host(), path,
                               kMaxManifestBytes >> 20));
  }
  auto f = co_await sftp.open_async(path, *OpenMode::parse("r"));
  if (!f) co_return std::unexpected(f.error());
  auto data = co_await f->read_async(static_cast<std::size_t>(kMaxManifestBytes));
  if (!data) co_return std::unexpected(data.error());
  auto closed = co_await f->close_async();
  if (!closed) co_return std::unexpected(closed.error());
  co_return std::move(*data);
}

/// Write `text` to `path` through a temporary file and a rename.
Result<void> write_atomically(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: cannot write: {}", tmp.string(), std::strerror(errno)));
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(Errc::local_io, Phase::transfer, "",
                fmt::format("{}: cannot rename into place: {}", path.string(),
                            std::strerror(errno)));
  }
  return {};
}

}  // namespace

Flow<Result<void>> pull_host(const FileOptions& o, std::string manifest_name, std::string local,
                             std::string remote_dir, std::string host, TransferSettings settings,
                             Session& session, HostResult& result, const HostOutput& output) {
  auto sftp = co_await SftpClient::open_async(session);
  if (!sftp) co_return std::unexpected(sftp.error());
  auto absolute = co_await absolute_remote(*sftp, remote_dir);
  if (!absolute) co_return std::unexpected(absolute.error());
  remote_dir = *absolute;
  const std::string manifest_path =
      manifest_name.starts_with('/') ? manifest_name : join(remote_dir, manifest_name);
  auto text = co_await read_remote_file(*sftp, manifest_path);
  if (!text) co_return std::unexpected(text.error());
  auto manifest = parse_manifest(*text, kManifestMagic, sftp->host() + ":" + manifest_path);
  if (!manifest) {
    Error e = manifest.error();
    e.host = sftp->host();
    co_return std::unexpected(e);
  }

  const fs::path root = local_root(local, host);
  const fs::path state_path = root / std::string(kStateName);
  Manifest state;
  if (fs::exists(state_path)) {
    std::ifstream in(state_path, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    auto parsed = parse_manifest(buf.str(), kPullStateMagic, state_path.string());
    if (!parsed) co_return std::unexpected(parsed.error());
    state = std::move(*parsed);
  }

  std::vector<DownloadItem> items;
  std::vector<std::string> wanted;  // manifest paths being fetched, in item order
  std::size_t unchanged = 0;
  for (const auto& [path, token] : manifest->entries) {
    if (excluded(o.exclude, path)) continue;
    auto was = state.entries.find(path);
    const bool have = fs::exists(root / path);
    if (was != state.entries.end() && was->second == token && have) {
      ++unchanged;
      continue;
    }
    items.push_back({join(remote_dir, path), root / path, std::nullopt});
    wanted.push_back(path);
  }
  std::vector<std::string> gone;
  if (o.remove_extra) {
    for (const auto& [path, token] : state.entries) {
      if (manifest->entries.count(path) == 0) gone.push_back(path);
    }
  }
  if (o.dry_run) {
    std::string lines;
    for (const auto& p : wanted) lines += fmt::format("+ {}\n", (root / p).string());
    for (const auto& p : gone) lines += fmt::format("- {}\n", (root / p).string());
    lines += fmt::format("would fetch {} of {} entries (seq {} -> {}), remove {}\n",
                         wanted.size(), manifest->entries.size(), state.seq, manifest->seq,
                         gone.size());
    output(Stream::out, lines);
    co_return Result<void>{};
  }

  if (auto made = make_local_dirs(root); !made) co_return std::unexpected(made.error());
  for (const auto& item : items) {
    if (auto made = make_local_dirs(item.local.parent_path()); !made) {
      co_return std::unexpected(made.error());
    }
  }
  const Checksum checksum = settings.checksum;
  auto rep = co_await download(session, *sftp, std::move(items), std::move(settings));

  // The new state: what was already in place, and every entry fetched and checked now.
  Manifest next;
  next.seq = manifest->seq;
  for (const auto& [path, token] : manifest->entries) {
    auto was = state.entries.find(path);
    if (was != state.entries.end() && was->second == token && fs::exists(root / path)) {
      next.entries.emplace(path, token);
    }
  }
  for (std::size_t i = 0; i < rep.files.size() && i < wanted.size(); ++i) {
    auto& f = rep.files[i];
    const std::string& token = manifest->entries.at(wanted[i]);
    if (f.ok) {
      auto expected = token_sha256(token);
      if (expected && checksum == Checksum::sha256 && f.digest != *expected) {
        // The file arrived intact but is not the one the manifest promised.
        ::unlink((root / wanted[i]).c_str());
        f.ok = false;
        ++rep.failed;
        f.error = Error{Errc::verify_failed, Phase::verify, sftp->host(),
                        fmt::format("{}: {}: its sha256 is not the manifest's; removed",
                                    sftp->host(), wanted[i])};
        continue;
      }
      next.entries.emplace(wanted[i], token);
    }
  }
  std::size_t removed = 0;
  for (const auto& p : gone) {
    if (::unlink((root / p).c_str()) == 0 || errno == ENOENT) ++removed;
  }
  if (rep.failed > 0) next.seq = state.seq;  // not all there: the next pull tries again
  if (auto w = write_atomically(state_path, format_manifest(next, kPullStateMagic)); !w) {
    co_return std::unexpected(w.error());
  }
  if (rep.failed > 0 || rep.fatal) {
    co_return finish_host(rep, result, output, checksum, "pulled");
  }
  result.stdout_bytes = rep.bytes;
  output(Stream::out, fmt::format("pulled seq {}: {} fetched ({}), {} unchanged, {} removed\n",
                                  manifest->seq, wanted.size(), human_bytes(rep.bytes), unchanged,
                                  removed));
  co_return Result<void>{};
}

}  // namespace herd::files

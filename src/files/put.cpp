// put: a local plan, made once, sent to each host (file_commands.hpp).
#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "files/file_commands.hpp"

namespace herd::files {

namespace fs = std::filesystem;

Result<PutPlan> plan_put(const FileOptions& o, Checksum checksum,
                         const std::vector<std::string>& sources, const std::string& dest) {
  PutPlan plan;
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

Result<std::shared_ptr<LocalArchive>> build_archive(const PutPlan& plan,
                                                    ArchiveCompression compression,
                                                    Checksum checksum, bool preserve) {
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
  return LocalArchive::build(members, compression, checksum, preserve);
}

}  // namespace herd::files

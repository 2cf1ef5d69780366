// --archive: a compressed tar built once (libarchive), extracted on each host by `tar -x`,
// verified file by file there, then moved into place over SFTP.
//
// Theory of operation: LocalArchive::build writes the members to a temporary pax tar through
// libarchive's gzip or zstd filter, hashing each file as it is copied in. upload_archive then,
// per host: (1) one exec makes a fresh temporary directory `.herd-TAG.extract` in the
// destination and feeds the archive file to `DECOMPRESS | tar -x` inside it (the same bytes for
// every host, read from the page cache); (2) one checksum command covers every extracted file;
// (3) the directories are made and the verified files and links are renamed into place with
// pipelined posix-rename requests; (4) one exec removes the temporary directory, with whatever
// failed verification still in it. Nothing reaches its final name unverified.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "herd/shell_quote.hpp"
#include "herd/transfer.hpp"
#include "sftp/client_impl.hpp"
#include "sftp/transfer_common.hpp"

namespace herd {
namespace {

using sftp::Reply;
using sftp::Type;

constexpr std::size_t kCopyBytes = 256 * 1024;  // bytes per read while building

std::string join(const std::string& dir, const std::string& rel) {
  if (rel.empty()) return dir;
  return dir.ends_with('/') ? dir + rel : dir + "/" + rel;
}

Result<void> archive_error(struct archive* a, std::string_view what) {
  return fail(Errc::local_io, Phase::transfer, "",
              fmt::format("building the archive: {}: {}", what,
                          archive_error_string(a) != nullptr ? archive_error_string(a) : "error"));
}

std::string_view decompressor(ArchiveCompression c) {
  switch (c) {
    case ArchiveCompression::gzip: return "gzip -dc";
    case ArchiveCompression::zstd: return "zstd -dcq";
    case ArchiveCompression::none: return "cat";
  }
  return "cat";
}

}  // namespace

Result<std::shared_ptr<LocalArchive>> LocalArchive::build(const std::vector<ArchiveMember>& members,
                                                          ArchiveCompression compression,
                                                          Checksum checksum, bool preserve) {
  std::shared_ptr<LocalArchive> out(new LocalArchive());
  out->compression_ = compression;
  out->checksum_ = checksum;
  out->preserve_ = preserve;
  std::string tmpl = (std::filesystem::temp_directory_path() / "herd-archive-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    return fail(Errc::local_io, Phase::transfer, "",
                fmt::format("cannot create a temporary archive: {}", std::strerror(errno)));
  }
  out->path_ = tmpl;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (compression == ArchiveCompression::gzip) {
    archive_write_add_filter_gzip(a);
    archive_write_set_filter_option(a, "gzip", "compression-level", "1");
  } else if (compression == ArchiveCompression::zstd) {
    archive_write_add_filter_zstd(a);
    archive_write_set_filter_option(a, "zstd", "compression-level", "3");
  }
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    auto e = archive_error(a, "open");
    archive_write_free(a);
    ::close(fd);
    return std::unexpected(e.error());
  }
  std::string buf(kCopyBytes, '\0');
  Result<void> status;  // the first error, if any
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.rel.c_str());
    struct stat st{};
    if (m.kind == ArchiveMember::Kind::symlink) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_perm(e, 0777);
      archive_entry_set_symlink(e, m.link_target.c_str());
      out->links_.push_back(m.rel);
    } else if (m.kind == ArchiveMember::Kind::dir) {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
      out->dirs_.push_back(m.rel);
    } else {
      int in = ::open(m.local.c_str(), O_RDONLY | O_CLOEXEC);
      if (in < 0 || ::fstat(in, &st) != 0) {
        status = fail(Errc::local_io, Phase::transfer, "",
                      fmt::format("{}: cannot open: {}", m.local.string(), std::strerror(errno)));
        if (in >= 0) ::close(in);
        archive_entry_free(e);
        break;
      }
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, st.st_mode & 07777);
      archive_entry_set_size(e, st.st_size);
      archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
      if (archive_write_header(a, e) != ARCHIVE_OK) {
        status = archive_error(a, m.rel);
        ::close(in);
        archive_entry_free(e);
        break;
      }
      sftp::Hasher h(checksum);
      std::uint64_t left = static_cast<std::uint64_t>(st.st_size);
      while (left > 0) {
        ssize_t n = ::read(in, buf.data(), std::min<std::uint64_t>(buf.size(), left));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          status = fail(Errc::local_io, Phase::transfer, "",
                        fmt::format("{}: changed while being archived", m.local.string()));
          break;
        }
        h.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        if (archive_write_data(a, buf.data(), static_cast<std::size_t>(n)) != n) {
          status = archive_error(a, m.rel);
          break;
        }
        left -= static_cast<std::uint64_t>(n);
      }
      ::close(in);
      archive_entry_free(e);
      if (!status) break;
      out->files_.push_back({m.rel, static_cast<std::uint64_t>(st.st_size), h.hex()});
      out->content_ += static_cast<std::uint64_t>(st.st_size);
      continue;
    }
    if (archive_write_header(a, e) != ARCHIVE_OK) status = archive_error(a, m.rel);
    archive_entry_free(e);
    if (!status) break;
  }
  if (archive_write_close(a) != ARCHIVE_OK && status) status = archive_error(a, "close");
  archive_write_free(a);
  struct stat st{};
  if (::fstat(fd, &st) == 0) out->bytes_ = static_cast<std::uint64_t>(st.st_size);
  ::close(fd);
  if (!status) return std::unexpected(status.error());
  return out;
}

LocalArchive::~LocalArchive() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Flow<TransferReport> upload_archive(Session& session, SftpClient& sftp,
                                    std::shared_ptr<LocalArchive> archive, std::string dest,
                                    TransferSettings settings) {
  auto& c = sftp.impl();
  TransferReport rep;
  const std::string tag = hex_digest(Checksum::sha256, c.host).substr(0, 8);
  const std::string temp = join(dest, ".herd-" + tag + ".extract");
  auto fatal = [&](Error e) {
    rep.fatal = e;
    for (const auto& f : archive->files()) {
      FileOutcome o;
      o.path = join(dest, f.rel);
      o.error = e;
      rep.files.push_back(std::move(o));
      ++rep.failed;
    }
    return rep;
  };
  auto run = [&](std::string command, std::optional<std::filesystem::path> input)
      -> Flow<Result<std::pair<int, std::string>>> {
    ExecRequest request;
    request.command = std::move(command);
    if (input) request.stdin_file = *input;
    std::string err;
    ExecSink sink{{}, [&err](std::string_view d) {
                    if (err.size() < 4096) err.append(d);
                  }};
    auto flow = session.exec_async(std::move(request), std::move(sink));
    auto r = co_await std::move(flow);
    if (!r) co_return std::unexpected(r.error());
    co_return std::pair(r->exit_status.value_or(-1), std::move(err));
  };

  // (1) Extract into a fresh temporary directory.
  const std::string q_dest = shell_quote(dest);
  const std::string q_temp = shell_quote(temp);
  std::string extract = fmt::format(
      "set -e; mkdir -p -- {0}; rm -rf -- {1}; mkdir -m 700 -- {1}; cd -- {1}; {2} | tar -x{3}f -",
      q_dest, q_temp, decompressor(archive->compression()), archive->preserve() ? "p" : "m");
  auto extracted = co_await run(extract, archive->path());
  if (!extracted) co_return fatal(extracted.error());
  if (extracted->first != 0) {
    std::string why = extracted->second;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (auto nl = why.rfind('\n'); nl != std::string::npos) why = why.substr(nl + 1);
    Error e{Errc::remote_failed, Phase::transfer, c.host,
            fmt::format("{}: extracting the archive in {} failed (exit {}): {}", c.host, dest,
                        extracted->first, why.empty() ? "no message" : why)};
    (void)co_await run("rm -rf -- " + q_temp, std::nullopt);
    co_return fatal(e);
  }
  if (settings.on_bytes) settings.on_bytes(archive->bytes());
  rep.bytes = archive->bytes();

  // (2) Check every extracted file.
  std::vector<bool> good(archive->files().size(), true);
  if (archive->checksum() != Checksum::none) {
    std::vector<std::string> paths;
    for (const auto& f : archive->files()) paths.push_back(join(temp, f.rel));
    auto digests = co_await sftp::remote_checksums(session, archive->checksum(), paths);
    if (!digests) co_return fatal(digests.error());
    if (!*digests) {
      Error e{Errc::unsupported, Phase::verify, c.host,
              fmt::format("{}: no checksum tool (openssl, sha256sum) to verify the archive's "
                          "files; use put without --archive",
                          c.host)};
      (void)co_await run("rm -rf -- " + q_temp, std::nullopt);
      co_return fatal(e);
    }
    for (std::size_t i = 0; i < good.size(); ++i) {
      good[i] = (**digests)[i] == archive->files()[i].digest;
    }
  }

  // (3) Directories, then the verified files and the links, into place.
  std::vector<std::string> dirs;
  for (const auto& d : archive->dirs()) dirs.push_back(join(dest, d));
  if (!dirs.empty()) {
    auto made = co_await make_remote_dirs(sftp, dirs, std::nullopt);
    if (!made) co_return fatal(made.error());
  }
  std::vector<FileOutcome> outcomes(archive->files().size() + archive->links().size());
  auto rename_into_place = [&](std::size_t slot, const std::string& rel) {
    outcomes[slot].path = join(dest, rel);
    std::uint32_t id = 0;
    auto w = c.request(Type::extended, id, 2 * (temp.size() + rel.size()) + 40);
    w.str("posix-rename@openssh.com").str(join(temp, rel)).str(join(dest, rel));
    c.send(std::move(w).finish(), id, [&c, &outcomes, slot](Result<Reply> r) {
      if (!r) {
        outcomes[slot].error = r.error();
        return;
      }
      auto ok = c.expect_ok(*r, outcomes[slot].path, "rename");
      if (!ok) {
        outcomes[slot].error = ok.error();
      } else {
        outcomes[slot].ok = true;
      }
    });
  };
  for (std::size_t i = 0; i < archive->files().size(); ++i) {
    const auto& f = archive->files()[i];
    if (!good[i]) {
      outcomes[i].path = join(dest, f.rel);
      Error e{Errc::verify_failed, Phase::verify, c.host,
              fmt::format("{}: {}: {} mismatch after extraction; nothing was put in place",
                          c.host, join(dest, f.rel), to_string(archive->checksum()))};
      e.path = outcomes[i].path;
      outcomes[i].error = e;
      continue;
    }
    outcomes[i].bytes = f.size;
    outcomes[i].digest = f.digest;
    rename_into_place(i, f.rel);
  }
  for (std::size_t i = 0; i < archive->links().size(); ++i) {
    rename_into_place(archive->files().size() + i, archive->links()[i]);
  }
  if (auto d = co_await c.drain(); !d) co_return fatal(d.error());

  // (4) Remove the temporary directory with whatever was left in it.
  (void)co_await run("rm -rf -- " + q_temp, std::nullopt);
  for (auto& o : outcomes) {
    if (!o.ok) ++rep.failed;
    rep.files.push_back(std::move(o));
  }
  co_return rep;
}

}  // namespace herd

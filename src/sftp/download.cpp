// download(): many files from one host, each into a local temporary file that is renamed into
// place after its checksum matched the remote's.
//
// The same shape as upload.cpp: one loop, a state machine per file, up to max_open_files open
// at once and a window of READs across them. Data is written where it belongs (pwrite) as soon
// as it arrives; hashing needs order, so a block that arrives ahead of its predecessor waits in
// `early` (bounded by the window) until the gap is filled. The remote's digests are computed
// by a command on a second channel while the data travels (the remote files are complete
// already), so verifying costs the slower of the two, not their sum.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "herd/transfer.hpp"
#include "sftp/client_impl.hpp"
#include "sftp/transfer_common.hpp"

namespace herd {
namespace {

using sftp::PacketReader;
using sftp::Reply;
using sftp::Type;

enum class Stage { waiting, opening, reading, closing, sent, done, failed };

/// The remote's digest of each file asked about, or nullopt when it has no checksum command.
using RemoteDigests = Result<std::optional<std::vector<std::string>>>;

mode_t process_umask() {
  static const mode_t mask = [] {
    mode_t m = ::umask(022);
    ::umask(m);
    return m;
  }();
  return mask;
}

/// A READ reply's buffer and where its data lies in it.
struct Block {
  std::string buf;
  std::size_t offset = 0;
  std::size_t length = 0;
};

struct DownFile {
  DownloadItem item;
  std::filesystem::path temp;
  Stage stage = Stage::waiting;
  std::string handle;
  bool handle_open = false;
  int fd = -1;
  std::uint64_t size = 0;
  std::uint64_t start = 0;     ///< resume offset
  std::uint64_t next = 0;      ///< next offset to request
  std::uint64_t received = 0;  ///< bytes received in this run
  std::uint64_t hashed_to = 0;
  int reads_out = 0;
  std::map<std::uint64_t, Block> early;  ///< received ahead of hashed_to, by offset
  std::optional<sftp::Hasher> hasher;
  std::string digest;
  FileOutcome outcome;
};

class Downloader {
 public:
  Downloader(Session& session, SftpClient& sftp, std::vector<DownloadItem> items,
             TransferSettings settings)
      : session_(session), c_(sftp.impl()), settings_(std::move(settings)) {
    files_.reserve(items.size());
    for (auto& it : items) {
      DownFile f;
      f.temp = temporary_name(it.local.string(), c_.host);
      f.outcome.path = it.local.string();
      f.item = std::move(it);
      files_.push_back(std::move(f));
    }
  }
  ~Downloader() {
    for (auto& f : files_) {
      if (f.fd >= 0) ::close(f.fd);
    }
  }

  Flow<TransferReport> run();

 private:
  void fail(DownFile& f, Error e);
  void fail_local(DownFile& f, std::string_view what);
  void open_file(DownFile& f);
  void send_read(DownFile& f, std::uint64_t offset, std::uint32_t len);
  void on_data(DownFile& f, std::uint64_t offset, Block block);
  void finish_receiving(DownFile& f);
  void fill();
  Flow<Result<void>> stat_phase();
  Flow<Result<void>> resume_phase();
  Flow<Result<void>> receive_phase();
  Flow<RemoteDigests> remote_digest_phase();
  void verify(const std::optional<std::vector<std::string>>& remote);
  void place(DownFile& f);
  TransferReport report(std::optional<Error> fatal);

  Session& session_;
  SftpClient::Impl& c_;
  TransferSettings settings_;
  std::vector<DownFile> files_;
  std::vector<DownFile*> active_;
  std::size_t next_file_ = 0;
  std::uint64_t in_flight_ = 0;
  std::vector<DownFile*> digested_;  ///< the files remote_digest_phase() asked about, in order
};

void Downloader::fail(DownFile& f, Error e) {
  if (f.stage == Stage::failed) return;
  const bool started = f.stage != Stage::waiting;
  f.stage = Stage::failed;
  if (e.host.empty()) e.host = c_.host;
  f.outcome.error = std::move(e);
  if (f.fd >= 0) {
    ::close(f.fd);
    f.fd = -1;
  }
  // With the connection gone the partial file stays for a later --resume; otherwise (a bad
  // checksum, a full disk, a server error) it goes.
  if (started && !c_.broken()) ::unlink(f.temp.c_str());
  f.early.clear();
  if (f.handle_open && !c_.broken()) {
    f.handle_open = false;
    std::uint32_t id = 0;
    auto w = c_.request(Type::close, id, f.handle.size() + 4);
    w.str(f.handle);
    c_.send(std::move(w).finish(), id, [](Result<Reply>) {});
  }
}

void Downloader::fail_local(DownFile& f, std::string_view what) {
  Error e{Errc::local_io, Phase::transfer, c_.host,
          fmt::format("{}: {}: {}", f.item.local.string(), what, std::strerror(errno))};
  e.path = f.item.local.string();
  fail(f, std::move(e));
}

void Downloader::open_file(DownFile& f) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  if (f.start == 0) flags |= O_TRUNC;
  f.stage = Stage::opening;
  f.fd = ::open(f.temp.c_str(), flags, 0600);
  if (f.fd < 0) return fail_local(f, "cannot create");
  std::uint32_t id = 0;
  auto w = c_.request(Type::open, id, f.item.remote.size() + 16);
  w.str(f.item.remote).u32(sftp::kOpenRead).attrs({});
  c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
    if (f.stage == Stage::failed) return;
    if (!r) return fail(f, r.error());
    auto h = c_.expect_handle(*r, f.item.remote, "open");
    if (!h) return fail(f, h.error());
    f.handle = std::move(*h);
    f.handle_open = true;
    f.stage = Stage::reading;
    f.next = f.start;
    f.hashed_to = f.start;
  });
}

void Downloader::send_read(DownFile& f, std::uint64_t offset, std::uint32_t len) {
  std::uint32_t id = 0;
  auto w = c_.request(Type::read, id, f.handle.size() + 16);
  w.str(f.handle).u64(offset).u32(len);
  ++f.reads_out;
  in_flight_ += len;
  c_.send(std::move(w).finish(), id, [this, &f, offset, len](Result<Reply> r) {
    --f.reads_out;
    in_flight_ -= len;
    if (f.stage == Stage::failed) return;
    if (!r) return fail(f, r.error());
    if (r->type == Type::data) {
      PacketReader p(r->body);
      auto data = p.str();
      if (!data || data->size() > len || data->empty()) {
        return fail(f,
                    c_.protocol_error(fmt::format("malformed data reply reading {}", f.item.remote))
                        .error());
      }
      const std::size_t got = data->size();
      Block b{std::string(), static_cast<std::size_t>(data->data() - r->body.data()), got};
      b.buf = std::move(r->body);
      on_data(f, offset, std::move(b));
      if (f.stage == Stage::failed) return;
      if (got < len) send_read(f, offset + got, len - static_cast<std::uint32_t>(got));
      return;
    }
    auto st = r->type == Type::status ? sftp::parse_status(r->body) : std::nullopt;
    if (st && st->code == static_cast<std::uint32_t>(SftpStatus::eof)) {
      Error e{Errc::file_error, Phase::transfer, c_.host,
              fmt::format("{}: {}: the file shrank while it was being downloaded", c_.host,
                          f.item.remote)};
      e.path = f.item.remote;
      return fail(f, std::move(e));
    }
    if (st) return fail(f, c_.status_error(*st, f.item.remote, "read").error());
    fail(f, c_.protocol_error(fmt::format("unexpected reply reading {}", f.item.remote)).error());
  });
}

void Downloader::on_data(DownFile& f, std::uint64_t offset, Block block) {
  std::string_view rest = std::string_view(block.buf).substr(block.offset, block.length);
  std::uint64_t at = offset;
  while (!rest.empty()) {
    ssize_t n = ::pwrite(f.fd, rest.data(), rest.size(), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail_local(f, "write");
    rest.remove_prefix(static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  f.received += block.length;
  f.outcome.bytes += block.length;
  if (settings_.on_bytes) settings_.on_bytes(block.length);
  if (!f.hasher) return;
  if (offset != f.hashed_to) {
    f.early.emplace(offset, std::move(block));
    return;
  }
  f.hashed_to += block.length;
  f.hasher->update(std::string_view(block.buf).substr(block.offset, block.length));
  for (auto it = f.early.begin(); it != f.early.end() && it->first == f.hashed_to;) {
    f.hashed_to += it->second.length;
    f.hasher->update(std::string_view(it->second.buf).substr(it->second.offset, it->second.length));
    it = f.early.erase(it);
  }
}

void Downloader::finish_receiving(DownFile& f) {
  f.stage = Stage::closing;
  if (f.hasher) f.digest = f.hasher->hex();
  if (::fsync(f.fd) != 0 && errno != EINVAL) return fail_local(f, "fsync");
  if (::close(f.fd) != 0) {
    f.fd = -1;
    return fail_local(f, "close");
  }
  f.fd = -1;
  std::uint32_t id = 0;
  auto w = c_.request(Type::close, id, f.handle.size() + 4);
  w.str(f.handle);
  f.handle_open = false;
  c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
    if (f.stage == Stage::failed) return;
    if (!r) return fail(f, r.error());
    if (auto ok = c_.expect_ok(*r, f.item.remote, "close"); !ok) return fail(f, ok.error());
    f.stage = Stage::sent;
  });
}

void Downloader::fill() {
  const std::uint32_t req = c_.request_bytes;
  const std::uint64_t window = std::max<std::uint64_t>(c_.options.window_bytes, req);
  std::erase_if(active_, [](DownFile* f) {
    return f->stage != Stage::opening && f->stage != Stage::reading && f->stage != Stage::closing;
  });
  const auto max_open = static_cast<std::size_t>(std::max(1, settings_.max_open_files));
  while (active_.size() < max_open && next_file_ < files_.size()) {
    DownFile& f = files_[next_file_++];
    if (f.stage != Stage::waiting) continue;
    open_file(f);
    if (f.stage != Stage::failed) active_.push_back(&f);
  }
  for (DownFile* f : active_) {
    while (f->stage == Stage::reading && f->next < f->size && in_flight_ + req <= window) {
      auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(req, f->size - f->next));
      send_read(*f, f->next, len);
      f->next += len;
    }
    if (f->stage == Stage::reading && f->next >= f->size && f->reads_out == 0) {
      finish_receiving(*f);
    }
    if (in_flight_ + req > window) break;
  }
}

Flow<Result<void>> Downloader::stat_phase() {
  for (auto& f : files_) {
    if (f.item.attrs && f.item.attrs->size && f.item.attrs->is_regular()) continue;
    std::uint32_t id = 0;
    auto w = c_.request(Type::stat, id, f.item.remote.size() + 4);
    w.str(f.item.remote);
    c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
      if (!r) return fail(f, r.error());
      auto a = c_.expect_attrs(*r, f.item.remote, "stat");
      if (!a) return fail(f, a.error());
      f.item.attrs = *a;
    });
  }
  if (auto d = co_await c_.drain(); !d) co_return d;
  for (auto& f : files_) {
    if (f.stage == Stage::failed) continue;
    if (!f.item.attrs->is_regular() || !f.item.attrs->size) {
      Error e{Errc::file_error, Phase::transfer, c_.host,
              fmt::format("{}: {}: not a regular file", c_.host, f.item.remote)};
      e.path = f.item.remote;
      fail(f, std::move(e));
      continue;
    }
    f.size = *f.item.attrs->size;
    if (settings_.checksum != Checksum::none) f.hasher.emplace(settings_.checksum);
  }
  co_return Result<void>{};
}

Flow<Result<void>> Downloader::resume_phase() {
  std::vector<std::pair<std::string, std::uint64_t>> partial;
  std::vector<DownFile*> which;
  for (auto& f : files_) {
    if (f.stage == Stage::failed) continue;
    struct stat st {};
    if (::lstat(f.temp.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) continue;
    auto n = static_cast<std::uint64_t>(st.st_size);
    if (n > f.size) continue;
    partial.emplace_back(f.item.remote, n);
    which.push_back(&f);
  }
  if (partial.empty() || settings_.checksum == Checksum::none) co_return Result<void>{};
  auto remote = co_await sftp::remote_prefix_checksums(session_, settings_.checksum, partial);
  if (!remote) co_return std::unexpected(remote.error());
  if (!*remote) co_return Result<void>{};
  for (std::size_t i = 0; i < which.size(); ++i) {
    DownFile& f = *which[i];
    int fd = ::open(f.temp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    // One read of the prefix: it starts the file's hash and, copied, is compared.
    auto fed = sftp::feed_fd_prefix(fd, partial[i].second, *f.hasher, f.temp.string());
    if (fed && !(**remote)[i].empty() && f.hasher->hex_so_far() == (**remote)[i]) {
      f.start = partial[i].second;
      f.outcome.resumed_from = f.start;
    } else {
      f.hasher.emplace(settings_.checksum);
    }
    ::close(fd);
  }
  co_return Result<void>{};
}

Flow<RemoteDigests> Downloader::remote_digest_phase() {
  // The remote files are complete before the first byte is read, so the remote hashes them
  // while they travel (a file that changes meanwhile fails its check, as it should).
  std::vector<std::string> paths;
  for (auto& f : files_) {
    if (f.stage == Stage::failed) continue;
    digested_.push_back(&f);
    paths.push_back(f.item.remote);
  }
  if (paths.empty() || settings_.checksum == Checksum::none) {
    co_return std::optional<std::vector<std::string>>(std::vector<std::string>());
  }
  co_return co_await sftp::remote_checksums(session_, settings_.checksum, std::move(paths));
}

void Downloader::verify(const std::optional<std::vector<std::string>>& remote) {
  if (settings_.checksum == Checksum::none) return;
  for (std::size_t i = 0; i < digested_.size(); ++i) {
    DownFile& f = *digested_[i];
    if (f.stage != Stage::sent) continue;
    std::string theirs;
    if (remote) {
      theirs = i < remote->size() ? (*remote)[i] : std::string();
    } else {
      // No checksum command there: check what reached the disk against what was received.
      int fd = ::open(f.temp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      auto h = fd >= 0 ? sftp::hash_fd_prefix(fd, f.size, settings_.checksum, f.temp.string())
                       : Result<std::string>(std::string());
      if (fd >= 0) ::close(fd);
      theirs = h ? *h : std::string();
    }
    if (theirs != f.digest) {
      Error e{
          Errc::verify_failed, Phase::verify, c_.host,
          fmt::format("{}: {}: {} mismatch after download (received {}, remote {}); "
                      "nothing was put in place",
                      c_.host, f.item.remote, to_string(settings_.checksum), f.digest.substr(0, 16),
                      theirs.empty() ? std::string("unreadable") : theirs.substr(0, 16))};
      e.path = f.item.remote;
      fail(f, std::move(e));
      continue;
    }
    f.outcome.digest = f.digest;
  }
}

void Downloader::place(DownFile& f) {
  const FileAttributes& a = *f.item.attrs;
  mode_t mode = a.permissions ? static_cast<mode_t>(*a.permissions & 07777) : 0644;
  if (!settings_.preserve) mode &= static_cast<mode_t>(0777 & ~process_umask());
  if (::chmod(f.temp.c_str(), mode) != 0) return fail_local(f, "chmod");
  if (settings_.preserve && a.mtime) {
    struct timespec times[2];
    times[0].tv_sec = a.atime.value_or(*a.mtime);
    times[0].tv_nsec = 0;
    times[1].tv_sec = *a.mtime;
    times[1].tv_nsec = 0;
    if (::utimensat(AT_FDCWD, f.temp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return fail_local(f, "set times");
    }
  }
  if (::rename(f.temp.c_str(), f.item.local.c_str()) != 0) return fail_local(f, "rename");
  f.stage = Stage::done;
}

TransferReport Downloader::report(std::optional<Error> fatal) {
  TransferReport r;
  r.fatal = fatal;
  for (auto& f : files_) {
    // With the connection gone the temporary file stays: a later --resume continues it.
    if (f.fd >= 0) {
      ::close(f.fd);
      f.fd = -1;
    }
    sftp::settle(r, std::move(f.outcome), f.stage == Stage::done, fatal, c_.host);
  }
  return r;
}

Flow<Result<void>> Downloader::receive_phase() {
  for (;;) {
    fill();
    if (active_.empty() && next_file_ >= files_.size() && c_.outstanding() == 0) break;
    if (c_.outstanding() == 0) continue;
    if (auto d = co_await c_.dispatch(); !d) co_return d;
  }
  co_return Result<void>{};
}

Flow<TransferReport> Downloader::run() {
  if (auto s = co_await stat_phase(); !s) co_return report(s.error());
  if (settings_.resume) {
    if (auto r = co_await resume_phase(); !r) co_return report(r.error());
  }
  // Named, not temporaries in the co_await (GCC 12).
  auto receiving = receive_phase();
  auto digesting = remote_digest_phase();
  auto both_done = both(std::move(receiving), std::move(digesting));
  auto results = co_await std::move(both_done);
  if (!results.first) co_return report(results.first.error());
  if (!results.second) co_return report(results.second.error());
  verify(*results.second);
  for (auto& f : files_) {
    if (f.stage == Stage::sent) place(f);
  }
  if (auto d = co_await c_.drain(); !d) co_return report(d.error());
  co_return report(std::nullopt);
}

}  // namespace

Flow<TransferReport> download(Session& session, SftpClient& sftp, std::vector<DownloadItem> items,
                              TransferSettings settings) {
  Downloader d(session, sftp, std::move(items), std::move(settings));
  co_return co_await d.run();
}

}  // namespace herd

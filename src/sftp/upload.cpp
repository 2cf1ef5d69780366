// upload(): many files to one host over one SFTP channel, verified, renamed into place.
//
// One loop drives every file's small state machine (waiting -> opening -> writing -> closing ->
// sent -> verified -> done, or failed at any point) with requests whose replies go to handlers
// (SftpClient::Impl::dispatch). The loop opens up to max_open_files at once and fills the data
// window with WRITEs of the earliest file still writing, so a big file streams at full window
// and small files overlap their OPEN/CLOSE round trips. Verification and renames are batched
// after the data phase: one remote checksum command for all files, then all renames pipelined.
// Except the first large file: a command on a second channel (the Follower, told through a pipe
// how many bytes are in place) hashes it as it is written, so its digest is ready with the last
// write; on a remote without CPUs to spare (TransferSettings::follow_min_cpus) the same command
// hashes it once the pipe says every byte is there, which still saves starting another.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "herd/transfer.hpp"
#include "sftp/client_impl.hpp"
#include "sftp/pipeline.hpp"
#include "sftp/transfer_common.hpp"

namespace herd {
namespace {

using sftp::Reply;
using sftp::Type;

enum class Stage { waiting, opening, writing, closing, sent, verified, done, failed };

constexpr std::uint64_t kFollowBytes = 64ull << 20;  // files from this size are followed
constexpr std::uint64_t kFollowStep = 32ull << 20;   // bytes hashed per line to the follower
constexpr std::uint64_t kFollowMinRate = 10'000'000;  // bytes/s under which it gives up

/// The remote hashing one file as it is written (see the top of this file): the pipe to its
/// stdin, and which of the file's writes have been acknowledged.
class Follower {
 public:
  Follower() = default;
  ~Follower() { close_all(); }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  /// Make the pipe; false (nothing followed) when it cannot be made.
  bool open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    return true;
  }
  int read_fd() const { return read_fd_; }

  /// A write of [offset, offset+len) was sent: its sequence number.
  std::uint64_t sent(std::uint64_t offset, std::uint32_t len) {
    acked_.push_back(false);
    ends_.push_back(offset + len);
    return first_ + acked_.size() - 1;
  }
  /// Write `seq` was acknowledged: tell the follower about the bytes now written in order.
  void acked(std::uint64_t seq, std::uint64_t size) {
    if (write_fd_ < 0 || seq < first_ || seq - first_ >= acked_.size()) return;
    acked_[seq - first_] = true;
    while (!acked_.empty() && acked_.front()) {
      written_ = ends_.front();
      acked_.pop_front();
      ends_.pop_front();
      ++first_;
    }
    while (written_ - told_ >= kFollowStep) tell(kFollowStep);
    if (written_ == size) {
      if (written_ > told_) tell(written_ - told_);
      finish();
    }
  }
  /// No more bytes will be told (the file is complete, or failed): the follower prints.
  void finish() {
    if (write_fd_ >= 0) ::close(write_fd_);
    write_fd_ = -1;
  }
  /// True when every byte was told to the follower.
  bool complete(std::uint64_t size) const { return told_ == size; }

 private:
  void tell(std::uint64_t n) {
    const std::string line = std::to_string(n) + "\n";
    // A few bytes into an empty-enough pipe (the exec drains it on every wake-up): a short
    // write means something is wrong, and the follower's digest will then not be trusted.
    if (::write(write_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      finish();
      return;
    }
    told_ += n;
  }
  void close_all() {
    finish();
    if (read_fd_ >= 0) ::close(read_fd_);
    read_fd_ = -1;
  }

  int read_fd_ = -1;
  int write_fd_ = -1;
  std::deque<bool> acked_;
  std::deque<std::uint64_t> ends_;
  std::uint64_t first_ = 0;    ///< sequence number of acked_.front()
  std::uint64_t written_ = 0;  ///< bytes acknowledged in order from the start
  std::uint64_t told_ = 0;     ///< bytes the follower was told to hash
};

struct UpFile {
  UploadItem item;
  std::string temp;
  Stage stage = Stage::waiting;
  std::string handle;
  std::uint64_t start = 0;  ///< resume offset
  std::uint64_t next = 0;   ///< next offset to send
  int writes_out = 0;
  bool handle_open = false;
  std::string local_digest;
  FileOutcome outcome;
};

class Uploader {
 public:
  Uploader(Session& session, SftpClient& sftp, std::vector<UploadItem> items,
           TransferSettings settings)
      : session_(session), c_(sftp.impl()), settings_(std::move(settings)) {
    files_.reserve(items.size());
    for (auto& it : items) {
      UpFile f;
      f.temp = temporary_name(it.remote, c_.host);
      f.outcome.path = it.remote;
      f.item = std::move(it);
      files_.push_back(std::move(f));
    }
  }

  Flow<TransferReport> run();

 private:
  void fail(UpFile& f, Error e);
  void fail(UpFile& f, Errc code, std::string message);
  void open_file(UpFile& f);
  void send_write(UpFile& f);
  void finish_sending(UpFile& f);
  void fill();
  UpFile* pick_followed();
  Flow<Result<void>> send_phase();
  Flow<Result<sftp::FollowerDigest>> follow_phase(std::string temp);
  Flow<Result<void>> resume_phase();
  Flow<Result<void>> verify_phase();
  Flow<Result<void>> rename_phase();
  Flow<Result<void>> read_back(UpFile& f, std::string& digest);
  TransferReport report(std::optional<Error> fatal);

  Session& session_;
  SftpClient::Impl& c_;
  TransferSettings settings_;
  std::vector<UpFile> files_;
  std::vector<UpFile*> active_;
  std::size_t next_file_ = 0;
  std::uint64_t in_flight_ = 0;
  UpFile* followed_ = nullptr;
  Follower follower_;
  sftp::FollowerDigest followed_digest_;  ///< the follower's digest of followed_, "" if none
};

void Uploader::fail(UpFile& f, Error e) {
  if (f.stage == Stage::failed) return;
  f.stage = Stage::failed;
  if (&f == followed_) follower_.finish();
  if (e.host.empty()) e.host = c_.host;
  f.outcome.error = std::move(e);
  if (c_.broken()) return;
  // Outstanding writes are answered first (the server handles requests in order); then the
  // handle is closed and the temporary file removed.
  if (f.handle_open) {
    f.handle_open = false;
    std::uint32_t id = 0;
    auto w = c_.request(Type::close, id, f.handle.size() + 4);
    w.str(f.handle);
    c_.send(std::move(w).finish(), id, [](Result<Reply>) {});
  }
  if (f.stage != Stage::waiting) {
    std::uint32_t id = 0;
    auto w = c_.request(Type::remove, id, f.temp.size() + 4);
    w.str(f.temp);
    c_.send(std::move(w).finish(), id, [](Result<Reply>) {});
  }
}

void Uploader::fail(UpFile& f, Errc code, std::string message) {
  Error e{code, Phase::transfer, c_.host, std::move(message)};
  e.path = f.item.remote;
  fail(f, std::move(e));
}

void Uploader::open_file(UpFile& f) {
  f.stage = Stage::opening;
  std::uint32_t id = 0;
  auto w = c_.request(Type::open, id, f.temp.size() + 24);
  std::uint32_t flags = sftp::kOpenWrite | sftp::kOpenCreate;
  if (f.start == 0) flags |= sftp::kOpenTruncate;
  FileAttributes a;
  a.permissions = f.item.source->mode() & 0777;
  w.str(f.temp).u32(flags).attrs(a);
  c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
    if (f.stage == Stage::failed) return;
    if (!r) return fail(f, r.error());
    auto h = c_.expect_handle(*r, f.temp, "open");
    if (!h) return fail(f, h.error());
    f.handle = std::move(*h);
    f.handle_open = true;
    f.stage = Stage::writing;
    f.next = f.start;
  });
}

void Uploader::send_write(UpFile& f) {
  const std::uint32_t req = c_.request_bytes;
  std::uint32_t id = 0;
  auto w = c_.request(Type::write, id, f.handle.size() + 16 + req);
  w.str(f.handle).u64(f.next);
  const std::size_t len_at = w.size();
  w.u32(0);
  char* dst = w.raw(req);
  auto n = f.item.source->read(f.next, dst, req);
  if (!n || *n == 0) {
    if (!n) return fail(f, n.error());
    return fail(f, Errc::local_io,
                fmt::format("{}: the file shrank while it was being sent",
                            f.item.source->path().string()));
  }
  w.drop(req - *n);
  w.patch_u32(len_at, static_cast<std::uint32_t>(*n));
  const std::uint32_t len = static_cast<std::uint32_t>(*n);
  const std::uint64_t seq = &f == followed_ ? follower_.sent(f.next, len) : 0;
  f.next += len;
  ++f.writes_out;
  in_flight_ += len;
  c_.send(std::move(w).finish(), id, [this, &f, len, seq](Result<Reply> r) {
    --f.writes_out;
    in_flight_ -= len;
    if (f.stage == Stage::failed) return;
    if (!r) return fail(f, r.error());
    if (auto ok = c_.expect_ok(*r, f.temp, "write"); !ok) return fail(f, ok.error());
    f.outcome.bytes += len;
    if (&f == followed_) follower_.acked(seq, f.item.source->size());
    if (settings_.on_bytes) settings_.on_bytes(len);
  });
}

void Uploader::finish_sending(UpFile& f) {
  f.stage = Stage::closing;
  if (settings_.preserve) {
    std::uint32_t id = 0;
    auto w = c_.request(Type::fsetstat, id, f.handle.size() + 32);
    FileAttributes a;
    a.permissions = f.item.source->mode();
    a.atime = f.item.source->atime();
    a.mtime = f.item.source->mtime();
    w.str(f.handle).attrs(a);
    c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
      if (f.stage == Stage::failed) return;
      if (!r) return fail(f, r.error());
      if (auto ok = c_.expect_ok(*r, f.item.remote, "setstat"); !ok) fail(f, ok.error());
    });
  }
  std::uint32_t id = 0;
  auto w = c_.request(Type::close, id, f.handle.size() + 4);
  w.str(f.handle);
  f.handle_open = false;
  c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
    if (f.stage == Stage::failed) return;
    if (!r) return fail(f, r.error());
    if (auto ok = c_.expect_ok(*r, f.temp, "close"); !ok) return fail(f, ok.error());
    if (f.item.source->changed()) {
      return fail(f, Errc::local_io,
                  fmt::format("{}: the file changed or vanished while it was being sent",
                              f.item.source->path().string()));
    }
    f.stage = Stage::sent;
  });
}

void Uploader::fill() {
  const std::uint32_t req = c_.request_bytes;
  const std::uint64_t window = std::max<std::uint64_t>(c_.options.window_bytes, req);
  std::erase_if(active_, [](UpFile* f) {
    return f->stage != Stage::opening && f->stage != Stage::writing && f->stage != Stage::closing;
  });
  const auto max_open = static_cast<std::size_t>(std::max(1, settings_.max_open_files));
  while (active_.size() < max_open && next_file_ < files_.size()) {
    UpFile& f = files_[next_file_++];
    if (f.stage != Stage::waiting) continue;  // failed before it started
    open_file(f);
    active_.push_back(&f);
  }
  for (UpFile* f : active_) {
    while (f->stage == Stage::writing && f->next < f->item.source->size() &&
           in_flight_ + req <= window && c_.unsent() < req) {
      send_write(*f);
    }
    if (f->stage == Stage::writing && f->next >= f->item.source->size()) finish_sending(*f);
    if (in_flight_ + req > window || c_.unsent() >= req) break;
  }
}

UpFile* Uploader::pick_followed() {
  if (settings_.checksum == Checksum::none) return nullptr;
  for (auto& f : files_) {
    if (f.stage == Stage::waiting && f.start == 0 && f.item.source->size() >= kFollowBytes) {
      return &f;
    }
  }
  return nullptr;
}

Flow<Result<void>> Uploader::send_phase() {
  Result<void> out;
  for (;;) {
    fill();
    if (active_.empty() && next_file_ >= files_.size() && c_.outstanding() == 0) break;
    if (c_.outstanding() == 0) continue;  // fill() changed stages (e.g. empty files): again
    if (auto d = co_await c_.dispatch(); !d) {
      out = std::unexpected(d.error());
      break;
    }
  }
  follower_.finish();  // whatever happened, the follower is told no more and ends
  co_return out;
}

/// The follower's digest of `temp` (digest "" when it gave none).
Flow<Result<sftp::FollowerDigest>> Uploader::follow_phase(std::string temp) {
  std::string out;
  ExecRequest request;
  const std::uint64_t size = followed_->item.source->size();
  request.command = sftp::follow_command(settings_.checksum, temp, size, settings_.follow_min_cpus);
  request.stdin_fd = follower_.read_fd();
  // Bounded, so that a remote that stops hashing cannot hold the transfer: past this (a link
  // slower than kFollowMinRate, then as long again to hash the file where it waits for the
  // last byte), the follower is ended and the file checked the usual way.
  request.timeout = std::chrono::milliseconds(60'000 + 2 * size / (kFollowMinRate / 1000));
  ExecSink sink{[&out](std::string_view d) {
                  if (out.size() < 4096) out.append(d);
                },
                {}};
  auto flow = session_.exec_async(std::move(request), std::move(sink));
  auto ran = co_await std::move(flow);
  if (!ran) co_return std::unexpected(ran.error());
  if (ran->exit_status != 0) co_return sftp::FollowerDigest{};
  co_return sftp::parse_follower(out, settings_.checksum);
}

Flow<Result<void>> Uploader::resume_phase() {
  std::vector<std::pair<std::string, std::uint64_t>> partial;
  std::vector<UpFile*> which;
  for (auto& f : files_) {
    std::uint32_t id = 0;
    auto w = c_.request(Type::lstat, id, f.temp.size() + 4);
    w.str(f.temp);
    c_.send(std::move(w).finish(), id, [this, &f, &partial, &which](Result<Reply> r) {
      if (!r) return;
      auto a = c_.expect_attrs(*r, f.temp, "lstat");
      if (!a || !a->is_regular() || !a->size || *a->size == 0) return;
      if (*a->size > f.item.source->size()) return;
      partial.emplace_back(f.temp, *a->size);
      which.push_back(&f);
    });
  }
  if (auto d = co_await c_.drain(); !d) co_return d;
  if (partial.empty() || settings_.checksum == Checksum::none) co_return Result<void>{};
  auto remote = co_await sftp::remote_prefix_checksums(session_, settings_.checksum, partial);
  if (!remote) co_return std::unexpected(remote.error());
  if (!*remote) co_return Result<void>{};  // no checksum tool: start over
  for (std::size_t i = 0; i < which.size(); ++i) {
    auto local = which[i]->item.source->prefix_digest(partial[i].second);
    if (local && !(**remote)[i].empty() && *local == (**remote)[i]) {
      which[i]->start = partial[i].second;
      which[i]->outcome.resumed_from = partial[i].second;
    }
  }
  co_return Result<void>{};
}

Flow<Result<void>> Uploader::read_back(UpFile& f, std::string& digest) {
  std::uint32_t id = 0;
  auto w = c_.request(Type::open, id, f.temp.size() + 16);
  w.str(f.temp).u32(sftp::kOpenRead).attrs({});
  auto r = co_await c_.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  auto h = c_.expect_handle(*r, f.temp, "open");
  if (!h) co_return std::unexpected(h.error());
  sftp::Hasher hasher(settings_.checksum);
  auto got = co_await sftp::read_all(
      c_, *h, f.temp, 0, std::nullopt, f.item.source->size(),
      [&hasher](std::uint64_t, std::string_view d) -> Result<void> {
        hasher.update(d);
        return {};
      },
      {});
  std::uint32_t cid = 0;
  auto cw = c_.request(Type::close, cid, h->size() + 4);
  cw.str(*h);
  auto closed = co_await c_.call(std::move(cw).finish(), cid);
  if (!got) co_return std::unexpected(got.error());
  if (!closed) co_return std::unexpected(closed.error());
  digest = hasher.hex();
  co_return Result<void>{};
}

Flow<Result<void>> Uploader::verify_phase() {
  std::vector<UpFile*> sent;
  for (auto& f : files_) {
    if (f.stage == Stage::sent) sent.push_back(&f);
  }
  if (sent.empty()) co_return Result<void>{};
  for (UpFile* f : sent) {
    if (settings_.checksum == Checksum::none) {
      f->stage = Stage::verified;
      continue;
    }
    auto d = f->start == 0 ? f->item.source->digest() : std::nullopt;
    if (!d) {
      auto full = f->item.source->prefix_digest(f->item.source->size());
      if (!full) {
        fail(*f, full.error());
        continue;
      }
      d = *full;
    }
    f->local_digest = *d;
  }
  if (settings_.checksum == Checksum::none) co_return Result<void>{};
  std::vector<std::string> temps;
  std::vector<UpFile*> asked;
  for (UpFile* f : sent) {
    if (f->stage != Stage::sent) continue;
    if (f == followed_ && !followed_digest_.digest.empty() &&
        followed_digest_.digest == f->local_digest) {
      f->outcome.digest = f->local_digest;
      f->outcome.remote_hash = followed_digest_.how;
      f->stage = Stage::verified;  // the follower hashed it, while it arrived or just after
      continue;
    }
    temps.push_back(f->temp);
    asked.push_back(f);
  }
  if (asked.empty()) co_return Result<void>{};
  auto remote = co_await sftp::remote_checksums(session_, settings_.checksum, temps);
  if (!remote) co_return std::unexpected(remote.error());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    UpFile& f = *asked[i];
    std::string theirs;
    if (*remote) {
      theirs = (**remote)[i];
    } else {
      auto rb = co_await read_back(f, theirs);
      if (!rb) {
        fail(f, rb.error());
        continue;
      }
    }
    if (theirs != f.local_digest) {
      fail(f, Errc::verify_failed,
           fmt::format("{}: {}: {} mismatch after upload (local {}, remote {}); nothing was "
                       "put in place",
                       c_.host, f.item.remote, to_string(settings_.checksum),
                       f.local_digest.substr(0, 16),
                       theirs.empty() ? std::string("unreadable") : theirs.substr(0, 16)));
      continue;
    }
    f.outcome.digest = f.local_digest;
    f.outcome.remote_hash = *remote ? RemoteHash::command : RemoteHash::read_back;
    f.stage = Stage::verified;
  }
  co_return Result<void>{};
}

Flow<Result<void>> Uploader::rename_phase() {
  const bool posix = std::any_of(c_.extensions.begin(), c_.extensions.end(), [](const auto& e) {
    return e.first == "posix-rename@openssh.com";
  });
  for (auto& f : files_) {
    if (f.stage != Stage::verified) continue;
    std::uint32_t id = 0;
    if (posix) {
      auto w = c_.request(Type::extended, id, f.temp.size() + f.item.remote.size() + 40);
      w.str("posix-rename@openssh.com").str(f.temp).str(f.item.remote);
      c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
        if (!r) return fail(f, r.error());
        if (auto ok = c_.expect_ok(*r, f.item.remote, "rename"); !ok) return fail(f, ok.error());
        f.stage = Stage::done;
      });
    } else {
      // Plain v3 rename does not replace: remove the old file first (not atomic, but the
      // new content is complete and verified before the old one goes).
      auto rm = c_.request(Type::remove, id, f.item.remote.size() + 4);
      rm.str(f.item.remote);
      c_.send(std::move(rm).finish(), id, [](Result<Reply>) {});
      auto w = c_.request(Type::rename, id, f.temp.size() + f.item.remote.size() + 8);
      w.str(f.temp).str(f.item.remote);
      c_.send(std::move(w).finish(), id, [this, &f](Result<Reply> r) {
        if (!r) return fail(f, r.error());
        if (auto ok = c_.expect_ok(*r, f.item.remote, "rename"); !ok) return fail(f, ok.error());
        f.stage = Stage::done;
      });
    }
  }
  co_return co_await c_.drain();
}

TransferReport Uploader::report(std::optional<Error> fatal) {
  TransferReport r;
  r.fatal = fatal;
  for (auto& f : files_) {
    sftp::settle(r, std::move(f.outcome), f.stage == Stage::done, fatal, c_.host);
  }
  return r;
}

Flow<TransferReport> Uploader::run() {
  if (settings_.resume) {
    if (auto r = co_await resume_phase(); !r) co_return report(r.error());
  }
  followed_ = pick_followed();
  if (followed_ != nullptr && !follower_.open()) followed_ = nullptr;
  if (followed_ == nullptr) {
    if (auto s = co_await send_phase(); !s) co_return report(s.error());
  } else {
    // Named, not temporaries in the co_await (GCC 12).
    auto sending = send_phase();
    auto hashing = follow_phase(followed_->temp);
    auto both_done = both(std::move(sending), std::move(hashing));
    auto results = co_await std::move(both_done);
    if (!results.first) co_return report(results.first.error());
    if (results.second && follower_.complete(followed_->item.source->size())) {
      followed_digest_ = *results.second;
    }
  }
  if (auto v = co_await verify_phase(); !v) co_return report(v.error());
  if (auto r = co_await rename_phase(); !r) co_return report(r.error());
  if (auto d = co_await c_.drain(); !d) co_return report(d.error());
  co_return report(std::nullopt);
}

}  // namespace

std::string temporary_name(const std::string& path, std::string_view who) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + base + ".herd-" + hex_digest(Checksum::sha256, who).substr(0, 8) + ".part";
}

Flow<TransferReport> upload(Session& session, SftpClient& sftp, std::vector<UploadItem> items,
                            TransferSettings settings) {
  Uploader u(session, sftp, std::move(items), std::move(settings));
  co_return co_await u.run();
}

Flow<Result<void>> make_remote_dirs(SftpClient& sftp, std::vector<std::string> dirs,
                                    std::optional<std::uint32_t> mode) {
  auto& c = sftp.impl();
  std::vector<std::string> failed;
  for (const auto& d : dirs) {
    std::uint32_t id = 0;
    auto w = c.request(Type::mkdir, id, d.size() + 12);
    FileAttributes a;
    a.permissions = mode.value_or(0777);
    w.str(d).attrs(a);
    c.send(std::move(w).finish(), id, [&c, &failed, d](Result<Reply> r) {
      if (!r || !c.expect_ok(*r, d, "mkdir")) failed.push_back(d);
    });
  }
  if (auto r = co_await c.drain(); !r) co_return r;
  // A mkdir that failed is fine when the directory was there already.
  for (const auto& d : failed) {
    std::uint32_t id = 0;
    auto w = c.request(Type::stat, id, d.size() + 4);
    w.str(d);
    auto r = co_await c.call(std::move(w).finish(), id);
    if (!r) co_return std::unexpected(r.error());
    auto a = c.expect_attrs(*r, d, "mkdir");
    if (!a) co_return std::unexpected(a.error());
    if (!a->is_dir()) {
      co_return c.error(Errc::file_error, d,
                        fmt::format("{}: mkdir {}: exists and is not a directory", c.host, d));
    }
  }
  co_return Result<void>{};
}

}  // namespace herd

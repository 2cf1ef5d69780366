// SftpClient: the path operations (paramiko's SFTPClient surface) over the protocol engine.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sftp/client_impl.hpp"
#include "sftp/pipeline.hpp"

namespace herd {

using sftp::PacketReader;
using sftp::Reply;
using sftp::Type;

std::optional<OpenMode> OpenMode::parse(std::string_view mode) {
  std::string m;
  for (char ch : mode) {
    if (ch != 'b') m.push_back(ch);
  }
  const bool plus = m.size() == 2 && m[1] == '+';
  if (m.empty() || m.size() > 2 || (m.size() == 2 && !plus)) return std::nullopt;
  OpenMode o;
  switch (m[0]) {
    case 'r': o.read = true; o.write = plus; break;
    case 'w': o.write = o.create = o.truncate = true; o.read = plus; break;
    case 'a': o.write = o.create = o.append = true; o.read = plus; break;
    case 'x': o.write = o.create = o.exclusive = true; o.read = plus; break;
    default: return std::nullopt;
  }
  return o;
}

namespace {

std::uint32_t open_flags(const OpenMode& m) {
  std::uint32_t f = 0;
  if (m.read) f |= sftp::kOpenRead;
  if (m.write) f |= sftp::kOpenWrite;
  if (m.append) f |= sftp::kOpenAppend;
  if (m.create) f |= sftp::kOpenCreate;
  if (m.truncate) f |= sftp::kOpenTruncate;
  if (m.exclusive) f |= sftp::kOpenExclusive;
  return f;
}

/// A request whose only field is a path.
Flow<Result<Reply>> path_call(SftpClient::Impl& c, Type type, const std::string& path) {
  std::uint32_t id = 0;
  auto w = c.request(type, id, path.size() + 4);
  w.str(path);
  co_return co_await c.call(std::move(w).finish(), id);
}

Flow<Result<void>> path_status(SftpClient::Impl& c, Type type, std::string path,
                               std::string_view op) {
  auto r = co_await path_call(c, type, path);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, path, op);
}

Flow<Result<void>> close_handle(SftpClient::Impl& c, std::string handle, std::string path) {
  std::uint32_t id = 0;
  auto w = c.request(Type::close, id, handle.size() + 4);
  w.str(handle);
  auto r = co_await c.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, path, "close");
}

/// An extended request `name` whose fields are one or two strings.
Flow<Result<Reply>> extended_call(SftpClient::Impl& c, std::string name, std::string first,
                                  std::optional<std::string> second = std::nullopt) {
  if (!std::any_of(c.extensions.begin(), c.extensions.end(),
                   [&](const auto& e) { return e.first == name; })) {
    co_return c.error(Errc::unsupported, first,
                      fmt::format("{}: the server does not offer {}", c.host, name));
  }
  std::uint32_t id = 0;
  auto w = c.request(Type::extended, id, 64);
  w.str(name);
  w.str(first);
  if (second) w.str(*second);
  co_return co_await c.call(std::move(w).finish(), id);
}

Result<void> local_error(SftpClient::Impl& c, const std::string& path, std::string_view what) {
  return fail(Errc::local_io, Phase::transfer, c.host,
              fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SftpFile

struct SftpFile::Impl {
  SftpClient::Impl& c;
  std::string handle;
  std::string path;
  OpenMode mode;
  std::uint64_t offset = 0;
  bool closed = false;
  struct Pending {
    std::uint32_t id;
    std::uint32_t length;
  };
  std::deque<Pending> writes;
  std::uint64_t write_bytes = 0;
  std::optional<Error> deferred;  ///< a failed pipelined write, reported by the next call

  /// Wait for the oldest write; record a failure.
  Flow<Result<void>> complete_one() {
    Pending p = writes.front();
    writes.pop_front();
    write_bytes -= p.length;
    auto r = co_await c.wait(p.id);
    if (!r) co_return std::unexpected(r.error());
    if (auto ok = c.expect_ok(*r, path, "write"); !ok && !deferred) deferred = ok.error();
    co_return Result<void>{};
  }
  Flow<Result<void>> flush() {
    while (!writes.empty()) {
      auto r = co_await complete_one();
      if (!r) co_return r;
    }
    if (deferred) co_return std::unexpected(*std::exchange(deferred, std::nullopt));
    co_return Result<void>{};
  }
};

SftpFile::SftpFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SftpFile::SftpFile(SftpFile&&) noexcept = default;
SftpFile& SftpFile::operator=(SftpFile&&) noexcept = default;
SftpFile::~SftpFile() {
  if (impl_ && !impl_->closed && !impl_->c.broken()) (void)close();
}

Flow<Result<std::string>> SftpFile::read_async(std::size_t n) {
  Impl& f = *impl_;
  if (auto r = co_await f.flush(); !r) co_return std::unexpected(r.error());
  std::string out;
  auto got = co_await sftp::read_all(
      f.c, f.handle, f.path, f.offset, n, std::nullopt,
      [&out](std::uint64_t, std::string_view d) -> Result<void> {
        out.append(d);
        return {};
      },
      {});
  if (!got) co_return std::unexpected(got.error());
  f.offset += *got;
  co_return out;
}
Result<std::string> SftpFile::read(std::size_t n) { return run_blocking(read_async(n)); }

Flow<Result<void>> SftpFile::write_async(std::string data) {
  Impl& f = *impl_;
  if (f.deferred) co_return std::unexpected(*std::exchange(f.deferred, std::nullopt));
  std::size_t pos = 0;
  while (pos < data.size()) {
    auto n = std::min<std::size_t>(data.size() - pos, f.c.request_bytes);
    std::uint32_t id = 0;
    auto w = f.c.request(Type::write, id, f.handle.size() + 16 + n);
    w.str(f.handle).u64(f.offset).str(std::string_view(data).substr(pos, n));
    f.c.send(std::move(w).finish(), id);
    f.writes.push_back({id, static_cast<std::uint32_t>(n)});
    f.write_bytes += n;
    f.offset += n;
    pos += n;
    while (f.write_bytes > f.c.options.window_bytes) {
      auto r = co_await f.complete_one();
      if (!r) co_return r;
    }
    if (f.deferred) co_return std::unexpected(*std::exchange(f.deferred, std::nullopt));
  }
  co_return Result<void>{};
}
Result<void> SftpFile::write(std::string_view data) {
  return run_blocking(write_async(std::string(data)));
}

Result<void> SftpFile::seek(std::int64_t offset, int whence) {
  std::int64_t base = 0;
  if (whence == 1) {
    base = static_cast<std::int64_t>(impl_->offset);
  } else if (whence == 2) {
    auto st = stat();
    if (!st) return std::unexpected(st.error());
    base = static_cast<std::int64_t>(st->size.value_or(0));
  } else if (whence != 0) {
    throw std::invalid_argument("SftpFile::seek: whence must be 0, 1 or 2");
  }
  if (base + offset < 0) {
    return impl_->c.error(Errc::bad_config, impl_->path,
                          fmt::format("{}: seek before the start of the file", impl_->path));
  }
  impl_->offset = static_cast<std::uint64_t>(base + offset);
  return {};
}

std::uint64_t SftpFile::tell() const { return impl_->offset; }

Result<FileAttributes> SftpFile::stat() {
  return run_blocking([](Impl& f) -> Flow<Result<FileAttributes>> {
    if (auto r = co_await f.flush(); !r) co_return std::unexpected(r.error());
    std::uint32_t id = 0;
    auto w = f.c.request(Type::fstat, id, f.handle.size() + 4);
    w.str(f.handle);
    auto r = co_await f.c.call(std::move(w).finish(), id);
    if (!r) co_return std::unexpected(r.error());
    co_return f.c.expect_attrs(*r, f.path, "fstat");
  }(*impl_));
}

Result<void> SftpFile::setstat(const FileAttributes& attrs) {
  return run_blocking([](Impl& f, FileAttributes a) -> Flow<Result<void>> {
    if (auto r = co_await f.flush(); !r) co_return r;
    std::uint32_t id = 0;
    auto w = f.c.request(Type::fsetstat, id, f.handle.size() + 40);
    w.str(f.handle).attrs(a);
    auto r = co_await f.c.call(std::move(w).finish(), id);
    if (!r) co_return std::unexpected(r.error());
    co_return f.c.expect_ok(*r, f.path, "fsetstat");
  }(*impl_, attrs));
}

Flow<Result<void>> SftpFile::flush_async() { co_return co_await impl_->flush(); }
Result<void> SftpFile::flush() { return run_blocking(flush_async()); }

Result<void> SftpFile::fsync() {
  return run_blocking([](Impl& f) -> Flow<Result<void>> {
    if (auto r = co_await f.flush(); !r) co_return r;
    auto r = co_await extended_call(f.c, "fsync@openssh.com", f.handle);
    if (!r) co_return std::unexpected(r.error());
    co_return f.c.expect_ok(*r, f.path, "fsync");
  }(*impl_));
}

Flow<Result<void>> SftpFile::close_async() {
  Impl& f = *impl_;
  if (f.closed) co_return Result<void>{};
  auto flushed = co_await f.flush();
  f.closed = true;
  auto closed = co_await close_handle(f.c, f.handle, f.path);
  if (!flushed) co_return flushed;
  co_return closed;
}
Result<void> SftpFile::close() { return run_blocking(close_async()); }

// ---------------------------------------------------------------------------------------------
// DirIterator

struct DirIterator::Impl {
  SftpClient::Impl& c;
  std::string handle;
  std::string path;
  std::deque<DirEntry> batch;
  bool done = false;
};

DirIterator::DirIterator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DirIterator::DirIterator(DirIterator&&) noexcept = default;
DirIterator& DirIterator::operator=(DirIterator&&) noexcept = default;
DirIterator::~DirIterator() {
  if (impl_ && !impl_->done && !impl_->c.broken()) {
    impl_->done = true;
    (void)run_blocking(close_handle(impl_->c, impl_->handle, impl_->path));
  }
}

Flow<Result<std::optional<DirEntry>>> DirIterator::next_async() {
  Impl& d = *impl_;
  while (d.batch.empty()) {
    if (d.done) co_return std::optional<DirEntry>{};
    std::uint32_t id = 0;
    auto w = d.c.request(Type::readdir, id, d.handle.size() + 4);
    w.str(d.handle);
    auto r = co_await d.c.call(std::move(w).finish(), id);
    if (!r) co_return std::unexpected(r.error());
    if (r->type == Type::status) {
      auto st = sftp::parse_status(r->body);
      if (st && st->code == static_cast<std::uint32_t>(SftpStatus::eof)) {
        d.done = true;
        auto closed = co_await close_handle(d.c, d.handle, d.path);
        if (!closed) co_return std::unexpected(closed.error());
        co_return std::optional<DirEntry>{};
      }
    }
    auto names = d.c.expect_names(*r, d.path, "readdir");
    if (!names) co_return std::unexpected(names.error());
    for (auto& e : *names) d.batch.push_back(std::move(e));
  }
  DirEntry e = std::move(d.batch.front());
  d.batch.pop_front();
  co_return std::optional<DirEntry>(std::move(e));
}
Result<std::optional<DirEntry>> DirIterator::next() { return run_blocking(next_async()); }

// ---------------------------------------------------------------------------------------------
// SftpClient

SftpClient::SftpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SftpClient::SftpClient(SftpClient&&) noexcept = default;
SftpClient& SftpClient::operator=(SftpClient&&) noexcept = default;
SftpClient::~SftpClient() = default;

void SftpClient::close() {
  if (impl_ && impl_->channel) impl_->channel.reset();
}

Flow<Result<SftpClient>> SftpClient::open_async(Session& session, SftpOptions options) {
  auto impl = std::make_unique<Impl>(SessionAccess::of(session), options);
  auto started = co_await impl->start();
  if (!started) co_return std::unexpected(started.error());
  co_return SftpClient(std::move(impl));
}
Result<SftpClient> SftpClient::open(Session& session, SftpOptions options) {
  return run_blocking(open_async(session, options));
}

const std::vector<std::pair<std::string, std::string>>& SftpClient::extensions() const {
  return impl_->extensions;
}
bool SftpClient::has_extension(std::string_view name) const {
  return std::any_of(impl_->extensions.begin(), impl_->extensions.end(),
                     [&](const auto& e) { return e.first == name; });
}
std::uint32_t SftpClient::request_bytes() const { return impl_->request_bytes; }
const std::string& SftpClient::host() const { return impl_->host; }

Flow<Result<SftpFile>> SftpClient::open_async(std::string path, OpenMode mode,
                                              std::optional<std::uint32_t> permissions) {
  Impl& c = *impl_;
  path = c.resolve(path);
  std::uint32_t id = 0;
  auto w = c.request(Type::open, id, path.size() + 16);
  FileAttributes a;
  a.permissions = permissions;
  w.str(path).u32(open_flags(mode)).attrs(a);
  auto r = co_await c.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  auto handle = c.expect_handle(*r, path, "open");
  if (!handle) co_return std::unexpected(handle.error());
  auto f = std::make_unique<SftpFile::Impl>(SftpFile::Impl{c, std::move(*handle), path, mode});
  co_return SftpFile(std::move(f));
}
Result<SftpFile> SftpClient::open(const std::string& path, std::string_view mode,
                                  std::optional<std::uint32_t> permissions) {
  auto m = OpenMode::parse(mode);
  if (!m) throw std::invalid_argument(fmt::format("SftpClient::open: invalid mode '{}'", mode));
  return run_blocking(open_async(path, *m, permissions));
}

Flow<Result<FileAttributes>> SftpClient::stat_async(std::string path) {
  path = impl_->resolve(path);
  auto r = co_await path_call(*impl_, Type::stat, path);
  if (!r) co_return std::unexpected(r.error());
  co_return impl_->expect_attrs(*r, path, "stat");
}
Result<FileAttributes> SftpClient::stat(const std::string& path) {
  return run_blocking(stat_async(path));
}

Flow<Result<FileAttributes>> SftpClient::lstat_async(std::string path) {
  path = impl_->resolve(path);
  auto r = co_await path_call(*impl_, Type::lstat, path);
  if (!r) co_return std::unexpected(r.error());
  co_return impl_->expect_attrs(*r, path, "lstat");
}
Result<FileAttributes> SftpClient::lstat(const std::string& path) {
  return run_blocking(lstat_async(path));
}

Flow<Result<void>> SftpClient::setstat_async(std::string path, FileAttributes attrs) {
  Impl& c = *impl_;
  path = c.resolve(path);
  std::uint32_t id = 0;
  auto w = c.request(Type::setstat, id, path.size() + 40);
  w.str(path).attrs(attrs);
  auto r = co_await c.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, path, "setstat");
}
Result<void> SftpClient::setstat(const std::string& path, const FileAttributes& attrs) {
  return run_blocking(setstat_async(path, attrs));
}
Result<void> SftpClient::chmod(const std::string& path, std::uint32_t mode) {
  FileAttributes a;
  a.permissions = mode;
  return setstat(path, a);
}
Result<void> SftpClient::chown(const std::string& path, std::uint32_t uid, std::uint32_t gid) {
  FileAttributes a;
  a.uid = uid;
  a.gid = gid;
  return setstat(path, a);
}
Result<void> SftpClient::utime(const std::string& path, std::uint32_t atime,
                               std::uint32_t mtime) {
  FileAttributes a;
  a.atime = atime;
  a.mtime = mtime;
  return setstat(path, a);
}
Result<void> SftpClient::truncate(const std::string& path, std::uint64_t size) {
  FileAttributes a;
  a.size = size;
  return setstat(path, a);
}

Flow<Result<DirIterator>> SftpClient::opendir_async(std::string path) {
  Impl& c = *impl_;
  path = c.resolve(path);
  auto r = co_await path_call(c, Type::opendir, path);
  if (!r) co_return std::unexpected(r.error());
  auto handle = c.expect_handle(*r, path, "opendir");
  if (!handle) co_return std::unexpected(handle.error());
  co_return DirIterator(std::make_unique<DirIterator::Impl>(
      DirIterator::Impl{c, std::move(*handle), path, {}, false}));
}
Result<DirIterator> SftpClient::opendir(const std::string& path) {
  return run_blocking(opendir_async(path));
}

Flow<Result<std::vector<DirEntry>>> SftpClient::listdir_attr_async(std::string path) {
  auto it = co_await opendir_async(std::move(path));
  if (!it) co_return std::unexpected(it.error());
  std::vector<DirEntry> out;
  for (;;) {
    auto e = co_await it->next_async();
    if (!e) co_return std::unexpected(e.error());
    if (!*e) break;
    if ((*e)->name == "." || (*e)->name == "..") continue;
    out.push_back(std::move(**e));
  }
  co_return out;
}
Result<std::vector<DirEntry>> SftpClient::listdir_attr(const std::string& path) {
  return run_blocking(listdir_attr_async(path));
}
Result<std::vector<std::string>> SftpClient::listdir(const std::string& path) {
  auto entries = listdir_attr(path);
  if (!entries) return std::unexpected(entries.error());
  std::vector<std::string> names;
  names.reserve(entries->size());
  for (auto& e : *entries) names.push_back(std::move(e.name));
  return names;
}

Flow<Result<void>> SftpClient::mkdir_async(std::string path, std::uint32_t mode) {
  Impl& c = *impl_;
  path = c.resolve(path);
  std::uint32_t id = 0;
  auto w = c.request(Type::mkdir, id, path.size() + 12);
  FileAttributes a;
  a.permissions = mode;
  w.str(path).attrs(a);
  auto r = co_await c.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, path, "mkdir");
}
Result<void> SftpClient::mkdir(const std::string& path, std::uint32_t mode) {
  return run_blocking(mkdir_async(path, mode));
}

Flow<Result<void>> SftpClient::rmdir_async(std::string path) {
  co_return co_await path_status(*impl_, Type::rmdir, impl_->resolve(path), "rmdir");
}
Result<void> SftpClient::rmdir(const std::string& path) { return run_blocking(rmdir_async(path)); }

Flow<Result<void>> SftpClient::remove_async(std::string path) {
  co_return co_await path_status(*impl_, Type::remove, impl_->resolve(path), "remove");
}
Result<void> SftpClient::remove(const std::string& path) {
  return run_blocking(remove_async(path));
}

Flow<Result<void>> SftpClient::rename_async(std::string from, std::string to) {
  Impl& c = *impl_;
  from = c.resolve(from);
  to = c.resolve(to);
  std::uint32_t id = 0;
  auto w = c.request(Type::rename, id, from.size() + to.size() + 8);
  w.str(from).str(to);
  auto r = co_await c.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, from, "rename");
}
Result<void> SftpClient::rename(const std::string& from, const std::string& to) {
  return run_blocking(rename_async(from, to));
}

Flow<Result<void>> SftpClient::posix_rename_async(std::string from, std::string to) {
  Impl& c = *impl_;
  from = c.resolve(from);
  to = c.resolve(to);
  auto r = co_await extended_call(c, "posix-rename@openssh.com", from, to);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, from, "posix-rename");
}
Result<void> SftpClient::posix_rename(const std::string& from, const std::string& to) {
  return run_blocking(posix_rename_async(from, to));
}

Flow<Result<void>> SftpClient::symlink_async(std::string target, std::string link) {
  Impl& c = *impl_;
  link = c.resolve(link);
  std::uint32_t id = 0;
  auto w = c.request(Type::symlink, id, target.size() + link.size() + 8);
  // OpenSSH's sftp-server takes (target, link) in the reverse of the draft's order; so do
  // paramiko and every client that talks to it.
  w.str(target).str(link);
  auto r = co_await c.call(std::move(w).finish(), id);
  if (!r) co_return std::unexpected(r.error());
  co_return c.expect_ok(*r, link, "symlink");
}
Result<void> SftpClient::symlink(const std::string& target, const std::string& link) {
  return run_blocking(symlink_async(target, link));
}

Flow<Result<std::string>> SftpClient::readlink_async(std::string path) {
  path = impl_->resolve(path);
  auto r = co_await path_call(*impl_, Type::readlink, path);
  if (!r) co_return std::unexpected(r.error());
  auto names = impl_->expect_names(*r, path, "readlink");
  if (!names) co_return std::unexpected(names.error());
  if (names->size() != 1) co_return impl_->protocol_error("readlink reply without one name");
  co_return std::move((*names)[0].name);
}
Result<std::string> SftpClient::readlink(const std::string& path) {
  return run_blocking(readlink_async(path));
}

Result<void> SftpClient::hardlink(const std::string& existing, const std::string& link) {
  return run_blocking([](Impl& c, std::string e, std::string l) -> Flow<Result<void>> {
    auto r = co_await extended_call(c, "hardlink@openssh.com", e, l);
    if (!r) co_return std::unexpected(r.error());
    co_return c.expect_ok(*r, l, "hardlink");
  }(*impl_, impl_->resolve(existing), impl_->resolve(link)));
}

Result<FsStats> SftpClient::statvfs(const std::string& path) {
  return run_blocking([](Impl& c, std::string p) -> Flow<Result<FsStats>> {
    auto r = co_await extended_call(c, "statvfs@openssh.com", p);
    if (!r) co_return std::unexpected(r.error());
    if (r->type != Type::extended_reply) {
      auto ok = c.expect_ok(*r, p, "statvfs");
      if (!ok) co_return std::unexpected(ok.error());
      co_return c.protocol_error("statvfs reply without data");
    }
    PacketReader rd(r->body);
    FsStats s;
    for (std::uint64_t* f : {&s.bsize, &s.frsize, &s.blocks, &s.bfree, &s.bavail, &s.files,
                             &s.ffree, &s.favail, &s.fsid, &s.flag, &s.namemax}) {
      auto v = rd.u64();
      if (!v) co_return c.protocol_error("malformed statvfs reply");
      *f = *v;
    }
    co_return s;
  }(*impl_, impl_->resolve(path)));
}

Flow<Result<std::string>> SftpClient::normalize_async(std::string path) {
  path = impl_->resolve(path);
  auto r = co_await path_call(*impl_, Type::realpath, path);
  if (!r) co_return std::unexpected(r.error());
  auto names = impl_->expect_names(*r, path, "realpath");
  if (!names) co_return std::unexpected(names.error());
  if (names->size() != 1) co_return impl_->protocol_error("realpath reply without one name");
  co_return std::move((*names)[0].name);
}
Result<std::string> SftpClient::normalize(const std::string& path) {
  return run_blocking(normalize_async(path));
}

std::optional<std::string> SftpClient::getcwd() const { return impl_->cwd; }

Result<void> SftpClient::chdir(const std::string& path) {
  auto st = stat(path);
  if (!st) return std::unexpected(st.error());
  if (!st->is_dir()) {
    return impl_->error(Errc::file_error, path,
                        fmt::format("{}: chdir {}: not a directory", impl_->host, path));
  }
  auto real = normalize(path);
  if (!real) return std::unexpected(real.error());
  impl_->cwd = *real;
  return {};
}

Result<std::uint64_t> SftpClient::getfo(const std::string& remote, int fd, ProgressFn progress) {
  return run_blocking([](Impl& c, std::string path, int out,
                         ProgressFn prog) -> Flow<Result<std::uint64_t>> {
    std::uint32_t id = 0;
    auto w = c.request(Type::open, id, path.size() + 16);
    w.str(path).u32(sftp::kOpenRead).attrs({});
    auto r = co_await c.call(std::move(w).finish(), id);
    if (!r) co_return std::unexpected(r.error());
    auto handle = c.expect_handle(*r, path, "open");
    if (!handle) co_return std::unexpected(handle.error());
    std::optional<std::uint64_t> size;
    {
      std::uint32_t sid = 0;
      auto sw = c.request(Type::fstat, sid, handle->size() + 4);
      sw.str(*handle);
      auto sr = co_await c.call(std::move(sw).finish(), sid);
      if (!sr) co_return std::unexpected(sr.error());
      if (auto a = c.expect_attrs(*sr, path, "fstat")) size = a->size;
    }
    auto got = co_await sftp::read_all(
        c, *handle, path, 0, std::nullopt, size,
        [&c, out](std::uint64_t, std::string_view d) -> Result<void> {
          while (!d.empty()) {
            ssize_t n = ::write(out, d.data(), d.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return local_error(c, "download", "write");
            d.remove_prefix(static_cast<std::size_t>(n));
          }
          return {};
        },
        std::move(prog));
    auto closed = co_await close_handle(c, *handle, path);
    if (!got) co_return got;
    if (!closed) co_return std::unexpected(closed.error());
    co_return got;
  }(*impl_, impl_->resolve(remote), fd, std::move(progress)));
}

Result<std::uint64_t> SftpClient::get(const std::string& remote, const std::string& local,
                                      ProgressFn progress) {
  int fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    return fail(Errc::local_io, Phase::transfer, impl_->host,
                fmt::format("{}: cannot create: {}", local, std::strerror(errno)));
  }
  auto r = getfo(remote, fd, std::move(progress));
  if (::close(fd) != 0 && r) {
    return fail(Errc::local_io, Phase::transfer, impl_->host,
                fmt::format("{}: close: {}", local, std::strerror(errno)));
  }
  return r;
}

Result<FileAttributes> SftpClient::putfo(int fd, const std::string& remote, ProgressFn progress) {
  return run_blocking([](Impl& c, std::string path, int in,
                         ProgressFn prog) -> Flow<Result<FileAttributes>> {
    std::optional<std::uint64_t> size;
    struct stat st{};
    if (::fstat(in, &st) == 0 && S_ISREG(st.st_mode)) size = static_cast<std::uint64_t>(st.st_size);
    std::uint32_t id = 0;
    auto w = c.request(Type::open, id, path.size() + 16);
    w.str(path).u32(sftp::kOpenWrite | sftp::kOpenCreate | sftp::kOpenTruncate).attrs({});
    auto r = co_await c.call(std::move(w).finish(), id);
    if (!r) co_return std::unexpected(r.error());
    auto handle = c.expect_handle(*r, path, "open");
    if (!handle) co_return std::unexpected(handle.error());
    auto sent = co_await sftp::write_all(
        c, *handle, path, 0, size,
        [&c, in](std::uint64_t, char* dst, std::size_t n) -> Result<std::size_t> {
          for (;;) {
            ssize_t got = ::read(in, dst, n);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return std::unexpected(local_error(c, "upload", "read").error());
            return static_cast<std::size_t>(got);
          }
        },
        std::move(prog));
    std::optional<Result<FileAttributes>> attrs;
    if (sent) {
      std::uint32_t sid = 0;
      auto sw = c.request(Type::fstat, sid, handle->size() + 4);
      sw.str(*handle);
      auto sr = co_await c.call(std::move(sw).finish(), sid);
      if (!sr) co_return std::unexpected(sr.error());
      attrs = c.expect_attrs(*sr, path, "fstat");
    }
    auto closed = co_await close_handle(c, *handle, path);
    if (!sent) co_return std::unexpected(sent.error());
    if (!closed) co_return std::unexpected(closed.error());
    co_return std::move(*attrs);
  }(*impl_, impl_->resolve(remote), fd, std::move(progress)));
}

Result<FileAttributes> SftpClient::put(const std::string& local, const std::string& remote,
                                       ProgressFn progress) {
  int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(Errc::local_io, Phase::transfer, impl_->host,
                fmt::format("{}: cannot open: {}", local, std::strerror(errno)));
  }
  auto r = putfo(fd, remote, std::move(progress));
  ::close(fd);
  return r;
}

}  // namespace herd

// libherd SFTP: herd's own SFTP v3 client over an SSH channel, pipelined.
//
// Theory of operation: SftpClient opens a "session" channel with the `sftp` subsystem on an
// authenticated Session and speaks SFTP version 3 (draft-ietf-secsh-filexfer-02) over it. Every
// request carries an id; requests are written to the channel as the SSH window allows and
// replies are matched to their ids as they arrive, so any number of requests can be in flight.
// Transfers (get/put, SftpFile::read of large sizes, the fleet's put/get) keep a window of READ
// or WRITE requests outstanding, each as large as the server allows (`limits@openssh.com`, else
// 32 KiB), so throughput is bounded by the link and the ciphers, not by round trips.
//
// Every operation exists as a resumable flow (`*_async`, see flow.hpp) for event loops, and as a
// blocking call over it. Errors carry the SFTP status code, the path and the host
// (Error::sftp_status, Error::path, Error::host). The Session must outlive its SftpClient, and
// an SftpClient its SftpFiles and iterators.
//
// Names a server returns are data: this layer hands them over as they are; code that builds
// local paths from them (transfer.hpp, the CLI) must check them with is_safe_name().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "herd/error.hpp"
#include "herd/flow.hpp"
#include "herd/session.hpp"
#include "herd/sftp_types.hpp"

namespace herd {

/// Tuning; defaults suit LAN and WAN links alike.
struct SftpOptions {
  std::uint32_t max_request_bytes = 256 * 1024;  ///< capped by the server's limits
  std::uint64_t window_bytes = 8 * 1024 * 1024;  ///< READ/WRITE bytes in flight per transfer
  std::chrono::milliseconds idle_timeout{60000}; ///< no reply for this long: the server hung
  std::chrono::milliseconds open_timeout{30000}; ///< channel, subsystem and version exchange
};

/// bytes done, bytes total (total is 0 when unknown).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

class SftpClient;

/// An open remote file. Writes are pipelined: write() returns once the data is sent (or queued
/// within the window); a failed write is reported by a later write(), flush() or close().
class SftpFile {
 public:
  SftpFile(SftpFile&&) noexcept;
  SftpFile& operator=(SftpFile&&) noexcept;
  ~SftpFile();  ///< closes the handle if still open (errors are dropped: call close())

  /// Up to `n` bytes from the current offset (fewer only at the end); empty at EOF. Large reads
  /// are split into pipelined requests.
  Result<std::string> read(std::size_t n);
  Flow<Result<std::string>> read_async(std::size_t n);
  /// Write all of `data` at the current offset (at the end in append mode).
  Result<void> write(std::string_view data);
  Flow<Result<void>> write_async(std::string data);
  /// Move the offset: whence 0 = from start, 1 = from current, 2 = from the end (stats the file).
  Result<void> seek(std::int64_t offset, int whence = 0);
  /// The current offset.
  std::uint64_t tell() const;
  /// fstat.
  Result<FileAttributes> stat();
  /// fsetstat (chmod/chown/utime/truncate on the handle).
  Result<void> setstat(const FileAttributes& attrs);
  /// Wait until every write sent so far is acknowledged.
  Result<void> flush();
  Flow<Result<void>> flush_async();
  /// fsync@openssh.com (after flush).
  Result<void> fsync();
  /// Flush and close the handle.
  Result<void> close();
  Flow<Result<void>> close_async();

  struct Impl;

 private:
  friend class SftpClient;
  explicit SftpFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A streaming directory listing: entries arrive in batches as the server sends them.
class DirIterator {
 public:
  DirIterator(DirIterator&&) noexcept;
  DirIterator& operator=(DirIterator&&) noexcept;
  ~DirIterator();
  /// The next entry, or nullopt at the end.
  Result<std::optional<DirEntry>> next();
  Flow<Result<std::optional<DirEntry>>> next_async();

  struct Impl;

 private:
  friend class SftpClient;
  explicit DirIterator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// An SFTP session on one SSH connection (paramiko's SFTPClient).
class SftpClient {
 public:
  SftpClient(SftpClient&&) noexcept;
  SftpClient& operator=(SftpClient&&) noexcept;
  ~SftpClient();

  /// Start the sftp subsystem on `session` and exchange versions (blocking).
  static Result<SftpClient> open(Session& session, SftpOptions options = {});
  static Flow<Result<SftpClient>> open_async(Session& session, SftpOptions options = {});

  /// The server's extensions from its VERSION reply (name, data).
  const std::vector<std::pair<std::string, std::string>>& extensions() const;
  /// True when the server announced extension `name` (e.g. "posix-rename@openssh.com").
  bool has_extension(std::string_view name) const;
  /// Bytes per READ / WRITE request this client uses.
  std::uint32_t request_bytes() const;
  /// "user@host:port" of the session, as errors name it.
  const std::string& host() const;

  Result<SftpFile> open(const std::string& path, std::string_view mode = "r",
                        std::optional<std::uint32_t> permissions = std::nullopt);
  Flow<Result<SftpFile>> open_async(std::string path, OpenMode mode,
                                    std::optional<std::uint32_t> permissions = std::nullopt);

  Result<FileAttributes> stat(const std::string& path);
  Flow<Result<FileAttributes>> stat_async(std::string path);
  Result<FileAttributes> lstat(const std::string& path);
  Flow<Result<FileAttributes>> lstat_async(std::string path);
  Result<void> setstat(const std::string& path, const FileAttributes& attrs);
  Flow<Result<void>> setstat_async(std::string path, FileAttributes attrs);
  Result<void> chmod(const std::string& path, std::uint32_t mode);
  Result<void> chown(const std::string& path, std::uint32_t uid, std::uint32_t gid);
  Result<void> utime(const std::string& path, std::uint32_t atime, std::uint32_t mtime);
  Result<void> truncate(const std::string& path, std::uint64_t size);

  /// Names in a directory (without "." and "..").
  Result<std::vector<std::string>> listdir(const std::string& path = ".");
  /// Entries with attributes (without "." and "..").
  Result<std::vector<DirEntry>> listdir_attr(const std::string& path = ".");
  Flow<Result<std::vector<DirEntry>>> listdir_attr_async(std::string path);
  /// A streaming listing (includes whatever the server sends, "." and ".." too).
  Result<DirIterator> opendir(const std::string& path);
  Flow<Result<DirIterator>> opendir_async(std::string path);

  Result<void> mkdir(const std::string& path, std::uint32_t mode = 0777);
  Flow<Result<void>> mkdir_async(std::string path, std::uint32_t mode = 0777);
  Result<void> rmdir(const std::string& path);
  Flow<Result<void>> rmdir_async(std::string path);
  Result<void> remove(const std::string& path);
  Flow<Result<void>> remove_async(std::string path);
  /// SFTP v3 rename: fails if `to` exists (OpenSSH).
  Result<void> rename(const std::string& from, const std::string& to);
  Flow<Result<void>> rename_async(std::string from, std::string to);
  /// posix-rename@openssh.com: atomically replaces `to`.
  Result<void> posix_rename(const std::string& from, const std::string& to);
  Flow<Result<void>> posix_rename_async(std::string from, std::string to);
  /// Create `link` pointing at `target`.
  Result<void> symlink(const std::string& target, const std::string& link);
  Flow<Result<void>> symlink_async(std::string target, std::string link);
  Result<std::string> readlink(const std::string& path);
  Flow<Result<std::string>> readlink_async(std::string path);
  /// hardlink@openssh.com: a new name `link` for `existing`.
  Result<void> hardlink(const std::string& existing, const std::string& link);
  /// statvfs@openssh.com for the file system holding `path`.
  Result<FsStats> statvfs(const std::string& path);
  /// The server's canonical absolute form of `path` (REALPATH).
  Result<std::string> normalize(const std::string& path);
  Flow<Result<std::string>> normalize_async(std::string path);
  /// The directory relative paths are resolved against (nullopt until chdir, like paramiko).
  std::optional<std::string> getcwd() const;
  /// Change the client-side working directory (checked to be a directory).
  Result<void> chdir(const std::string& path);

  /// Download `remote` to the local file `local` (pipelined). The file is written in place:
  /// for atomic, verified downloads use herd::transfer (transfer.hpp).
  Result<std::uint64_t> get(const std::string& remote, const std::string& local,
                            ProgressFn progress = {});
  /// Download into an open file descriptor (not closed). Returns bytes written.
  Result<std::uint64_t> getfo(const std::string& remote, int fd, ProgressFn progress = {});
  /// Upload the local file `local` to `remote` (created or truncated). Returns the attributes
  /// of the remote file after the upload.
  Result<FileAttributes> put(const std::string& local, const std::string& remote,
                             ProgressFn progress = {});
  /// Upload everything read from `fd` until EOF.
  Result<FileAttributes> putfo(int fd, const std::string& remote, ProgressFn progress = {});

  /// End the subsystem (also done by the destructor).
  void close();

  struct Impl;
  /// For herd's transfer code: the protocol engine.
  Impl& impl() { return *impl_; }

 private:
  explicit SftpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd

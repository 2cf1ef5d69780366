// Verified, atomic file transfers over SftpClient: what `herd put` / `herd get` do per host.
//
// Theory of operation: a host's transfer is a list of files. Up to `max_open_files` are in
// progress at once on the one SFTP channel (OPEN, the WRITEs or READs, CLOSE are pipelined
// across files as well as within one), and a window of data requests is kept in flight, so ten
// thousand small files cost about as many round trips as one large one.
//
// Every file goes to a temporary name beside its destination (`.NAME.herd-TAG.part`) and is moved
// into place only after its checksum has been compared: uploads hash the data as it is sent and
// compare with the remote's `sha256sum` (`md5sum`), asked for all files of the host in one
// command, or, where the remote has no such command, with the file read back over SFTP.
// Downloads hash as they receive and compare with the remote's checksum the same way. A file
// whose checksum differs, or that fails in any other way, is removed from its temporary name and
// reported; the other files (and hosts) carry on. With `resume`, a temporary file left by an
// interrupted run is continued from the end of its longest prefix whose checksum matches.
//
// Sources are shared: one LocalSource sent to 500 hosts is opened once and hashed once (the
// first host to send each block hashes it, in order), and its blocks come from the page cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "herd/error.hpp"
#include "herd/flow.hpp"
#include "herd/session.hpp"
#include "herd/sftp.hpp"

namespace herd {

/// How transferred files are checked.
enum class Checksum { sha256, md5, none };

/// "sha256", "md5", "none".
std::string_view to_string(Checksum c);
std::optional<Checksum> parse_checksum(std::string_view name);

/// Hex digest of `data` (tests and manifests).
std::string hex_digest(Checksum c, std::string_view data);

/// A local regular file to upload, shared by every host it goes to (thread-safe).
class LocalSource {
 public:
  /// Open `path` (must be a regular file). Size, mode and times are taken now.
  static Result<std::shared_ptr<LocalSource>> open(const std::filesystem::path& path,
                                                   Checksum checksum);
  ~LocalSource();
  LocalSource(const LocalSource&) = delete;
  LocalSource& operator=(const LocalSource&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  std::uint32_t mode() const { return mode_; }    ///< permission bits
  std::uint32_t mtime() const { return mtime_; }  ///< seconds
  std::uint32_t atime() const { return atime_; }  ///< seconds

  /// Fill `dst` with up to `n` bytes at `offset` (fewer at the end), hashing them if no host
  /// has yet. An error when the file cannot be read or has changed size since open().
  Result<std::size_t> read(std::uint64_t offset, char* dst, std::size_t n);
  /// The file's digest once every byte has been read by some host (empty for Checksum::none).
  std::optional<std::string> digest();
  /// The digest of the first `n` bytes, computed now (for resume; not cached).
  Result<std::string> prefix_digest(std::uint64_t n);
  /// The digest of the whole file with `c`, computed once and kept (sync --compare-checksum).
  Result<std::string> full_digest(Checksum c);
  /// True if size or mtime differ from when the file was opened.
  bool changed() const;
  /// Bytes hashed so far: each byte once, however many hosts read it.
  std::uint64_t bytes_hashed() const;

 private:
  LocalSource() = default;
  std::filesystem::path path_;
  int fd_ = -1;
  Checksum checksum_ = Checksum::sha256;
  std::uint64_t size_ = 0;
  std::uint32_t mode_ = 0, mtime_ = 0, atime_ = 0;
  std::int64_t mtime_ns_ = 0;
  mutable std::mutex mu_;
  void* hash_ = nullptr;  ///< EVP_MD_CTX, guarded by mu_
  std::uint64_t hashed_ = 0;
  std::optional<std::string> digest_;
  std::optional<std::pair<Checksum, std::string>> full_;  ///< full_digest()'s, guarded by mu_
};

/// One file to upload: the shared source and the remote destination path.
struct UploadItem {
  std::shared_ptr<LocalSource> source;
  std::string remote;
};

/// One file to download: the remote path (its size, when a listing gave it) and the local
/// destination.
struct DownloadItem {
  std::string remote;
  std::filesystem::path local;
  std::optional<FileAttributes> attrs;  ///< from a listing; else stat'ed
};

struct TransferSettings {
  Checksum checksum = Checksum::sha256;
  bool preserve = false;   ///< keep modes and times (-p)
  bool resume = false;     ///< continue from the verified prefix of a temporary file
  int max_open_files = 32; ///< files in progress at once per host
  /// The first large upload (64 MiB or more) is hashed by the remote as it is written, where
  /// the remote has at least this many CPUs (0: always); else it is hashed once written (by
  /// the same command, started with the transfer).
  int follow_min_cpus = 3;
  /// Bytes moved so far on this host (acknowledged writes, received reads), for progress.
  std::function<void(std::uint64_t delta)> on_bytes;
};

/// Where an upload's remote digest came from.
enum class RemoteHash {
  none,          ///< not verified (or a download)
  command,       ///< a checksum command once the data phase ended
  followed,      ///< the follower, hashing as the bytes were written
  once_written,  ///< the follower, when every byte was in place (remote short of CPUs)
  read_back,     ///< read back over SFTP (no checksum command there)
};

/// How one file went.
struct FileOutcome {
  std::string path;        ///< the destination
  bool ok = false;
  std::uint64_t bytes = 0; ///< bytes moved in this run (less than the size after a resume)
  std::uint64_t resumed_from = 0;
  std::string digest;      ///< hex, when verified
  RemoteHash remote_hash = RemoteHash::none;  ///< upload: how the remote's digest was had
  std::optional<Error> error;
};

/// One host's files.
struct TransferReport {
  std::vector<FileOutcome> files;
  std::uint64_t bytes = 0;
  std::size_t failed = 0;
  /// A failure that ended the whole transfer (lost connection, cancel); files not reached are
  /// reported failed with it.
  std::optional<Error> fatal;
};

/// Create remote directories (parents first; existing ones are fine).
Flow<Result<void>> make_remote_dirs(SftpClient& sftp, std::vector<std::string> dirs,
                                    std::optional<std::uint32_t> mode);

/// Upload `items` over `sftp` (on `session`, used for the remote checksum command).
Flow<TransferReport> upload(Session& session, SftpClient& sftp, std::vector<UploadItem> items,
                            TransferSettings settings);

/// Download `items`; local parent directories must exist.
Flow<TransferReport> download(Session& session, SftpClient& sftp,
                              std::vector<DownloadItem> items, TransferSettings settings);

/// How an archive (--archive) is compressed.
enum class ArchiveCompression { gzip, zstd, none };

/// One member of an archive: a file, a directory or a symlink, at `rel` under the destination.
struct ArchiveMember {
  enum class Kind { file, dir, symlink };
  Kind kind = Kind::file;
  std::string rel;
  std::filesystem::path local;  ///< file: where it is read from
  std::string link_target;      ///< symlink: what it points to
};

/// Many small files as one compressed tar, built once into a temporary file and streamed to
/// every host into `tar -x`, the compress-then-extract way operators move folders. Each file's
/// digest is taken while it is added, to be checked on the host after extraction.
class LocalArchive {
 public:
  struct File {
    std::string rel;
    std::uint64_t size = 0;
    std::string digest;
  };
  static Result<std::shared_ptr<LocalArchive>> build(const std::vector<ArchiveMember>& members,
                                                     ArchiveCompression compression,
                                                     Checksum checksum, bool preserve);
  ~LocalArchive();
  LocalArchive(const LocalArchive&) = delete;
  LocalArchive& operator=(const LocalArchive&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t bytes() const { return bytes_; }           ///< compressed size
  std::uint64_t content_bytes() const { return content_; } ///< sum of the files' sizes
  ArchiveCompression compression() const { return compression_; }
  Checksum checksum() const { return checksum_; }
  bool preserve() const { return preserve_; }
  const std::vector<File>& files() const { return files_; }
  const std::vector<std::string>& dirs() const { return dirs_; }
  const std::vector<std::string>& links() const { return links_; }

 private:
  LocalArchive() = default;
  std::filesystem::path path_;
  std::uint64_t bytes_ = 0, content_ = 0;
  ArchiveCompression compression_ = ArchiveCompression::gzip;
  Checksum checksum_ = Checksum::sha256;
  bool preserve_ = false;
  std::vector<File> files_;
  std::vector<std::string> dirs_, links_;
};

/// Stream `archive` into `tar -x` in a temporary directory beside `dest` (made if missing),
/// check every file's digest there, then move the members into place over SFTP and remove the
/// temporary directory. Files whose digest differs are not moved and are reported failed.
Flow<TransferReport> upload_archive(Session& session, SftpClient& sftp,
                                    std::shared_ptr<LocalArchive> archive, std::string dest,
                                    TransferSettings settings);

/// The remote's digests of `paths` (openssl dgst, else sha256sum/md5sum), a few commands for
/// many paths: one hex digest per path ("" where unreadable), or nullopt when the remote has no
/// tool for it.
Flow<Result<std::optional<std::vector<std::string>>>> remote_digests(
    Session& session, Checksum c, std::vector<std::string> paths);

/// The temporary name herd uses beside `path` for host `who`: ".NAME.herd-TAG.part", TAG the
/// first 8 hex digits of SHA-256(who). Per host, so hosts that share a file system (NFS homes,
/// the lab) never write the same temporary file; the same on every run, so --resume finds it.
std::string temporary_name(const std::string& path, std::string_view who);

}  // namespace herd

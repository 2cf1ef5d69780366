// Pieces shared by uploads and downloads: hashing, and checksums computed by the remote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "herd/transfer.hpp"

namespace herd::sftp {

/// An incremental SHA-256 / MD5 (OpenSSL EVP); Checksum::none hashes nothing.
class Hasher {
 public:
  explicit Hasher(Checksum c);
  ~Hasher();
  Hasher(Hasher&& o) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  Hasher& operator=(Hasher&&) = delete;
  void update(std::string_view data);
  /// Finish: lower-case hex ("" for none). Call once.
  std::string hex();
  /// The hex digest of what was fed so far, leaving the hash open for more.
  std::string hex_so_far() const;

 private:
  Checksum checksum_;
  void* ctx_ = nullptr;
};

/// Feed the first `n` bytes of `fd` to `h`.
Result<void> feed_fd_prefix(int fd, std::uint64_t n, Hasher& h, const std::string& what);
/// Digest of the first `n` bytes of `fd`.
Result<std::string> hash_fd_prefix(int fd, std::uint64_t n, Checksum c, const std::string& what);

/// Add a file's outcome to `report`: done, or failed with its error (with `fatal`, or "did not
/// finish", when the transfer ended before the file did).
void settle(TransferReport& report, FileOutcome outcome, bool done,
            const std::optional<Error>& fatal, const std::string& host);

/// The remote's checksums of `paths` (`sha256sum` / `md5sum`, a few commands for many paths):
/// one hex digest per path, "" for a file it could not read. nullopt when the remote has no
/// such command (the caller reads the files back instead).
Flow<Result<std::optional<std::vector<std::string>>>> remote_checksums(
    Session& session, Checksum c, std::vector<std::string> paths);

/// The remote's checksums of the first N bytes of each path (for resume); as above.
Flow<Result<std::optional<std::vector<std::string>>>> remote_prefix_checksums(
    Session& session, Checksum c, std::vector<std::pair<std::string, std::uint64_t>> prefixes);

/// A command that hashes `path`, an upload of `size` bytes, on the remote: it reads a byte
/// count per line on stdin, hashes that many more bytes of the file each time, and prints the
/// digest (as the checksum tools do) at EOF. Used by upload() to have the remote's checksum
/// ready when the last byte is written instead of reading the whole file again afterwards. On
/// a remote with fewer than `min_cpus` CPUs, where hashing alongside the writes would slow
/// them, it only adds up the counts and hashes the file once they reach `size` — still without
/// a second command. Its first line says which way it went ("w": while written, "a": after).
std::string follow_command(Checksum c, const std::string& path, std::uint64_t size,
                           int min_cpus);

/// What a follow_command printed: the digest ("" if none) and how it was taken (followed or
/// once_written).
struct FollowerDigest {
  std::string digest;
  RemoteHash how = RemoteHash::none;
};
FollowerDigest parse_follower(const std::string& output, Checksum c);

}  // namespace herd::sftp

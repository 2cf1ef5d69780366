// SFTP value types: attributes, directory entries, open modes, status codes, safe names.
// Plain values with no dependency on the rest of libherd (the packet fuzzer builds on them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herd {

/// SFTP v3 status codes (SSH_FX_*), as carried in Error::sftp_status.
enum class SftpStatus : std::uint32_t {
  ok = 0,
  eof = 1,
  no_such_file = 2,
  permission_denied = 3,
  failure = 4,
  bad_message = 5,
  no_connection = 6,
  connection_lost = 7,
  op_unsupported = 8,
};

/// File attributes; absent fields are not sent (setstat changes only what is set).
struct FileAttributes {
  std::optional<std::uint64_t> size;
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  std::optional<std::uint32_t> permissions;  ///< with the file type bits (S_IFMT) from stat
  std::optional<std::uint32_t> atime;        ///< seconds since the epoch
  std::optional<std::uint32_t> mtime;        ///< seconds since the epoch
  std::vector<std::pair<std::string, std::string>> extended;

  bool is_dir() const;
  bool is_regular() const;
  bool is_symlink() const;
};

/// One directory entry (paramiko's SFTPAttributes with filename/longname).
struct DirEntry {
  std::string name;      ///< as the server sent it: check with is_safe_name() before use
  std::string longname;  ///< `ls -l` style line, informational
  FileAttributes attrs;
};

/// statvfs@openssh.com.
struct FsStats {
  std::uint64_t bsize = 0, frsize = 0, blocks = 0, bfree = 0, bavail = 0;
  std::uint64_t files = 0, ffree = 0, favail = 0, fsid = 0, flag = 0, namemax = 0;
};

/// How a file is opened: paramiko's mode strings.
struct OpenMode {
  bool read = false;
  bool write = false;
  bool append = false;
  bool create = false;
  bool truncate = false;
  bool exclusive = false;

  /// "r", "w", "a", "x", each optionally with "+" (and a "b", ignored). nullopt if invalid.
  static std::optional<OpenMode> parse(std::string_view mode);
};

/// True when `name` (from a server's listing, manifest or link) is a single path component that
/// stays inside a directory: not empty, not "." or "..", no '/', no NUL.
bool is_safe_name(std::string_view name);

}  // namespace herd

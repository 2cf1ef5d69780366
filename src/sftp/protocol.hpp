// SFTP version 3 wire constants (draft-ietf-secsh-filexfer-02) and OpenSSH's extensions.
#pragma once

#include <cstdint>

namespace herd::sftp {

inline constexpr std::uint32_t kVersion = 3;

/// Packet types.
enum class Type : std::uint8_t {
  init = 1,
  version = 2,
  open = 3,
  close = 4,
  read = 5,
  write = 6,
  lstat = 7,
  fstat = 8,
  setstat = 9,
  fsetstat = 10,
  opendir = 11,
  readdir = 12,
  remove = 13,
  mkdir = 14,
  rmdir = 15,
  realpath = 16,
  stat = 17,
  rename = 18,
  readlink = 19,
  symlink = 20,
  status = 101,
  handle = 102,
  data = 103,
  name = 104,
  attrs = 105,
  extended = 200,
  extended_reply = 201,
};

/// SSH_FXF_* open flags.
inline constexpr std::uint32_t kOpenRead = 0x01;
inline constexpr std::uint32_t kOpenWrite = 0x02;
inline constexpr std::uint32_t kOpenAppend = 0x04;
inline constexpr std::uint32_t kOpenCreate = 0x08;
inline constexpr std::uint32_t kOpenTruncate = 0x10;
inline constexpr std::uint32_t kOpenExclusive = 0x20;

/// SSH_FILEXFER_ATTR_* flags.
inline constexpr std::uint32_t kAttrSize = 0x01;
inline constexpr std::uint32_t kAttrUidGid = 0x02;
inline constexpr std::uint32_t kAttrPermissions = 0x04;
inline constexpr std::uint32_t kAttrAcModTime = 0x08;
inline constexpr std::uint32_t kAttrExtended = 0x80000000;

/// The largest packet herd accepts from a server (bytes, length field excluded). OpenSSH's
/// sftp-server sends at most 256 KiB of data per reply; names lists are bounded by its 256 KiB
/// packet limit too.
inline constexpr std::uint32_t kMaxPacketBytes = 1024 * 1024;

/// Bytes per request when the server announces no limits (what every v3 server must accept).
inline constexpr std::uint32_t kDefaultRequestBytes = 32 * 1024;

/// Bytes of a WRITE request besides its data: type, id, handle length, offset, data length.
inline constexpr std::uint32_t kWriteOverheadBytes = 1 + 4 + 4 + 8 + 4;

}  // namespace herd::sftp

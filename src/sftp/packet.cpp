#include "sftp/packet.hpp"

#include <sys/stat.h>

#include <cstring>

namespace herd {

bool FileAttributes::is_dir() const { return permissions && S_ISDIR(*permissions); }
bool FileAttributes::is_regular() const { return permissions && S_ISREG(*permissions); }
bool FileAttributes::is_symlink() const { return permissions && S_ISLNK(*permissions); }

bool is_safe_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace herd

namespace herd::sftp {
namespace {

void put_be32(char* p, std::uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

std::uint32_t get_be32(const char* p) {
  auto b = [p](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

}  // namespace

PacketWriter::PacketWriter(Type type, std::size_t reserve) {
  buf_.reserve(reserve + 5);
  buf_.append(4, '\0');
  buf_.push_back(static_cast<char>(type));
}

PacketWriter& PacketWriter::u8(std::uint8_t v) {
  buf_.push_back(static_cast<char>(v));
  return *this;
}

PacketWriter& PacketWriter::u32(std::uint32_t v) {
  char b[4];
  put_be32(b, v);
  buf_.append(b, 4);
  return *this;
}

PacketWriter& PacketWriter::u64(std::uint64_t v) {
  u32(static_cast<std::uint32_t>(v >> 32));
  return u32(static_cast<std::uint32_t>(v));
}

PacketWriter& PacketWriter::str(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  buf_.append(s);
  return *this;
}

PacketWriter& PacketWriter::attrs(const FileAttributes& a) {
  std::uint32_t flags = 0;
  if (a.size) flags |= kAttrSize;
  if (a.uid && a.gid) flags |= kAttrUidGid;
  if (a.permissions) flags |= kAttrPermissions;
  if (a.atime && a.mtime) flags |= kAttrAcModTime;
  if (!a.extended.empty()) flags |= kAttrExtended;
  u32(flags);
  if (flags & kAttrSize) u64(*a.size);
  if (flags & kAttrUidGid) u32(*a.uid).u32(*a.gid);
  if (flags & kAttrPermissions) u32(*a.permissions);
  if (flags & kAttrAcModTime) u32(*a.atime).u32(*a.mtime);
  if (flags & kAttrExtended) {
    u32(static_cast<std::uint32_t>(a.extended.size()));
    for (const auto& [k, v] : a.extended) str(k).str(v);
  }
  return *this;
}

char* PacketWriter::raw(std::size_t n) {
  std::size_t at = buf_.size();
  buf_.resize(at + n);
  return buf_.data() + at;
}

void PacketWriter::patch_u32(std::size_t pos, std::uint32_t v) { put_be32(buf_.data() + pos, v); }

std::string PacketWriter::finish() && {
  put_be32(buf_.data(), static_cast<std::uint32_t>(buf_.size() - 4));
  return std::move(buf_);
}

std::optional<std::uint8_t> PacketReader::u8() {
  if (rest_.empty()) return std::nullopt;
  auto v = static_cast<std::uint8_t>(rest_[0]);
  rest_.remove_prefix(1);
  return v;
}

std::optional<std::uint32_t> PacketReader::u32() {
  if (rest_.size() < 4) return std::nullopt;
  auto v = get_be32(rest_.data());
  rest_.remove_prefix(4);
  return v;
}

std::optional<std::uint64_t> PacketReader::u64() {
  auto hi = u32();
  if (!hi) return std::nullopt;
  auto lo = u32();
  if (!lo) return std::nullopt;
  return (static_cast<std::uint64_t>(*hi) << 32) | *lo;
}

std::optional<std::string_view> PacketReader::str() {
  auto n = u32();
  if (!n || *n > rest_.size()) return std::nullopt;
  auto s = rest_.substr(0, *n);
  rest_.remove_prefix(*n);
  return s;
}

std::optional<FileAttributes> PacketReader::attrs() {
  auto flags = u32();
  if (!flags) return std::nullopt;
  FileAttributes a;
  if (*flags & kAttrSize) {
    if (!(a.size = u64())) return std::nullopt;
  }
  if (*flags & kAttrUidGid) {
    if (!(a.uid = u32()) || !(a.gid = u32())) return std::nullopt;
  }
  if (*flags & kAttrPermissions) {
    if (!(a.permissions = u32())) return std::nullopt;
  }
  if (*flags & kAttrAcModTime) {
    if (!(a.atime = u32()) || !(a.mtime = u32())) return std::nullopt;
  }
  if (*flags & kAttrExtended) {
    auto n = u32();
    if (!n) return std::nullopt;
    for (std::uint32_t i = 0; i < *n; ++i) {
      auto k = str();
      auto v = k ? str() : std::nullopt;
      if (!v) return std::nullopt;
      a.extended.emplace_back(std::string(*k), std::string(*v));
    }
  }
  return a;
}

std::optional<StatusReply> parse_status(std::string_view body) {
  PacketReader r(body);
  auto code = r.u32();
  if (!code) return std::nullopt;
  StatusReply s{*code, {}};
  // The message and language tag are optional in practice (some v3 servers omit them).
  if (auto msg = r.str()) s.message.assign(*msg);
  return s;
}

PacketSplitter::Next PacketSplitter::next(std::uint8_t& type, std::string& payload) {
  const std::size_t avail = buf_.size() - pos_;
  if (avail < 4) return Next::need_more;
  const std::uint32_t len = get_be32(buf_.data() + pos_);
  if (len < 1 || len > kMaxPacketBytes) return Next::bad;
  if (avail - 4 < len) return Next::need_more;
  type = static_cast<std::uint8_t>(buf_[pos_ + 4]);
  payload.assign(buf_, pos_ + 5, len - 1);
  pos_ += 4 + len;
  // Compact once the consumed prefix dominates, so the buffer stays about one packet long.
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return Next::packet;
}

}  // namespace herd::sftp

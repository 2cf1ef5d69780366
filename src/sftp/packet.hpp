// Building and parsing SFTP packets. Pure functions on bytes: no I/O, fuzzed (tests/fuzz).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "herd/sftp_types.hpp"
#include "sftp/protocol.hpp"

namespace herd::sftp {

/// Builds one packet: uint32 length, byte type, then fields (big-endian, strings length-prefixed).
class PacketWriter {
 public:
  /// Start a packet of `type`; `reserve` bytes of payload are expected.
  explicit PacketWriter(Type type, std::size_t reserve = 64);
  PacketWriter& u8(std::uint8_t v);
  PacketWriter& u32(std::uint32_t v);
  PacketWriter& u64(std::uint64_t v);
  PacketWriter& str(std::string_view s);
  PacketWriter& attrs(const FileAttributes& a);
  /// Append `n` bytes for the caller to fill in place (valid until the next append).
  char* raw(std::size_t n);
  /// Drop the last `n` bytes (what raw() reserved but the caller did not fill).
  void drop(std::size_t n) { buf_.resize(buf_.size() - n); }
  /// Overwrite the big-endian uint32 at byte `pos` of the packet (length field included).
  void patch_u32(std::size_t pos, std::uint32_t v);
  std::size_t size() const { return buf_.size(); }
  /// The finished packet with its length field filled in.
  std::string finish() &&;

 private:
  std::string buf_;
};

/// Reads fields from a packet body. Every read is bounds-checked: past the end it returns
/// nullopt (having possibly consumed part of the field), and the caller gives up on the packet.
class PacketReader {
 public:
  explicit PacketReader(std::string_view body) : rest_(body) {}
  std::optional<std::uint8_t> u8();
  std::optional<std::uint32_t> u32();
  std::optional<std::uint64_t> u64();
  /// A length-prefixed string (a view into the body).
  std::optional<std::string_view> str();
  std::optional<FileAttributes> attrs();
  bool empty() const { return rest_.empty(); }
  std::size_t remaining() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

/// One reply from the server: its type and the body after the request id.
struct Reply {
  Type type = Type::status;
  std::string body;
};

/// A STATUS reply's fields.
struct StatusReply {
  std::uint32_t code = 0;
  std::string message;
};

/// Parse a STATUS body; nullopt when malformed.
std::optional<StatusReply> parse_status(std::string_view body);

/// Splits a byte stream into packets: feed bytes, take whole packets. A packet longer than
/// kMaxPacketBytes or shorter than its header is a protocol error.
class PacketSplitter {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  enum class Next { packet, need_more, bad };
  /// The next whole packet (type, id for typed replies, body) when one is complete.
  Next next(std::uint8_t& type, std::string& payload);
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
};

}  // namespace herd::sftp

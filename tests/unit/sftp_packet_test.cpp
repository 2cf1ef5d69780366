// The pure SFTP packet code (src/sftp/packet.*): PacketWriter / PacketReader round trips and wire
// layout, reader bounds, PacketSplitter framing, parse_status, is_safe_name and OpenMode::parse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "herd/sftp.hpp"
#include "sftp/packet.hpp"
#include "sftp/protocol.hpp"

namespace herd::sftp {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

/// The payload of a finished packet: what follows the length field and the type byte.
std::string body_of(const std::string& packet) {
  return packet.substr(5);
}

/// A copy of `bytes` in a heap block of exactly that size, so a read past the end is an
/// AddressSanitizer error in the sanitizer build (a std::string has a NUL and slack after it).
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view bytes)
      : size_(bytes.size()), data_(new char[bytes.size() == 0 ? 1 : bytes.size()]) {
    std::copy(bytes.begin(), bytes.end(), data_.get());
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

void expect_same_attrs(const FileAttributes& got, const FileAttributes& want) {
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.uid, want.uid);
  EXPECT_EQ(got.gid, want.gid);
  EXPECT_EQ(got.permissions, want.permissions);
  EXPECT_EQ(got.atime, want.atime);
  EXPECT_EQ(got.mtime, want.mtime);
  EXPECT_EQ(got.extended, want.extended);
}

// Bits of the attribute combinations below (one per SSH_FILEXFER_ATTR_* group).
constexpr unsigned kSize = 1, kOwner = 2, kPerm = 4, kTimes = 8, kExt = 16;

FileAttributes attrs_with(unsigned mask) {
  FileAttributes a;
  if (mask & kSize) a.size = 0x0102030405060708ull;
  if (mask & kOwner) {
    a.uid = 1000;
    a.gid = 0xFFFFFFFEu;
  }
  if (mask & kPerm) a.permissions = 0100644;
  if (mask & kTimes) {
    a.atime = 1700000000;
    a.mtime = 0xFFFFFFFFu;
  }
  if (mask & kExt) {
    a.extended = {{"acl@example.com", "user::rw-"}, {"", ""}, {"bin\0key"s, "\xff\x00\x01"s}};
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// PacketWriter layout

TEST(SftpPacketWriter, OpenRequestMatchesHandWrittenBytes) {
  FileAttributes a;
  a.permissions = 0644;
  PacketWriter w(Type::open);
  w.u32(1).str("a.txt").u32(kOpenRead | kOpenWrite | kOpenCreate | kOpenTruncate).attrs(a);
  const std::string got = std::move(w).finish();
  // clang-format off
  const std::string want =
      "\x00\x00\x00\x1a"           // length: 26 bytes after this field
      "\x03"                       // SSH_FXP_OPEN
      "\x00\x00\x00\x01"           // request id 1
      "\x00\x00\x00\x05" "a.txt"   // filename
      "\x00\x00\x00\x1b"           // READ | WRITE | CREAT | TRUNC (0x01|0x02|0x08|0x10)
      "\x00\x00\x00\x04"           // attrs: PERMISSIONS only
      "\x00\x00\x01\xa4"s;         // 0644
  // clang-format on
  EXPECT_EQ(got, want);
}

TEST(SftpPacketWriter, IntegersAreBigEndian) {
  PacketWriter w(Type::extended);
  w.u8(0xAB).u32(0x01020304u).u64(0x1122334455667788ull);
  EXPECT_EQ(std::move(w).finish(),
            "\x00\x00\x00\x0e\xc8\xab\x01\x02\x03\x04\x11\x22\x33\x44\x55\x66\x77\x88"s);
}

TEST(SftpPacketWriter, EmptyPacketIsLengthOneAndType) {
  PacketWriter w(Type::init, 0);
  EXPECT_EQ(w.size(), 5u);
  EXPECT_EQ(std::move(w).finish(), "\x00\x00\x00\x01\x01"s);
}

TEST(SftpPacketWriter, AttrsEncodeFlagsAndFieldsInProtocolOrder) {
  const std::string packet = std::move(PacketWriter(Type::attrs).attrs(attrs_with(31))).finish();
  // clang-format off
  const std::string want_body =
      "\x80\x00\x00\x0f"                     // EXTENDED | ACMODTIME | PERMISSIONS | UIDGID | SIZE
      "\x01\x02\x03\x04\x05\x06\x07\x08"     // size
      "\x00\x00\x03\xe8" "\xff\xff\xff\xfe"  // uid, gid
      "\x00\x00\x81\xa4"                     // 0100644
      "\x65\x53\xf1\x00" "\xff\xff\xff\xff"  // atime, mtime
      "\x00\x00\x00\x03"                     // 3 extended pairs
      "\x00\x00\x00\x0f" "acl@example.com" "\x00\x00\x00\x09" "user::rw-"
      "\x00\x00\x00\x00" "\x00\x00\x00\x00"
      "\x00\x00\x00\x07" "bin\x00key" "\x00\x00\x00\x03" "\xff\x00\x01"s;
  // clang-format on
  EXPECT_EQ(body_of(packet), want_body);
}

TEST(SftpPacketWriter, EmptyAttrsAreJustAZeroFlagsWord) {
  const std::string packet = std::move(PacketWriter(Type::attrs).attrs({})).finish();
  EXPECT_EQ(body_of(packet), "\x00\x00\x00\x00"s);
}

// uid without gid (or atime without mtime) cannot be expressed in v3: the pair is left out.
TEST(SftpPacketWriter, HalfAPairIsNotSent) {
  FileAttributes a;
  a.uid = 5;
  a.atime = 7;
  const std::string packet = std::move(PacketWriter(Type::attrs).attrs(a)).finish();
  EXPECT_EQ(body_of(packet), "\x00\x00\x00\x00"s);
}

TEST(SftpPacketWriter, RawDropAndPatch) {
  PacketWriter w(Type::write);
  w.u32(9);
  const std::size_t len_at = w.size();
  w.u32(0);  // placeholder, patched below
  char* p = w.raw(8);
  p[0] = 'h';
  p[1] = 'i';
  w.drop(6);  // only two of the eight reserved bytes were used
  w.patch_u32(len_at, 2);
  EXPECT_EQ(std::move(w).finish(), "\x00\x00\x00\x0b\x06\x00\x00\x00\x09\x00\x00\x00\x02hi"s);
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(SftpPacketRoundTrip, EveryFieldType) {
  const std::string binary = "\x00\xff\x7f\x80 \n"s;
  const std::string big(70000, 'q');
  PacketWriter w(Type::extended);
  w.u8(0).u8(0xFF).u32(0).u32(0xFFFFFFFFu).u32(0x80000001u);
  w.u64(0).u64(std::numeric_limits<std::uint64_t>::max()).u64(0x8000000000000001ull);
  w.str("").str("hello").str(binary).str(big);
  const std::string body = body_of(std::move(w).finish());

  PacketReader r(body);
  EXPECT_EQ(r.u8(), 0u);
  EXPECT_EQ(r.u8(), 0xFFu);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_EQ(r.u32(), 0xFFFFFFFFu);
  EXPECT_EQ(r.u32(), 0x80000001u);
  EXPECT_EQ(r.u64(), 0u);
  EXPECT_EQ(r.u64(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(r.u64(), 0x8000000000000001ull);
  EXPECT_EQ(r.str(), ""sv);
  EXPECT_EQ(r.str(), "hello"sv);
  EXPECT_EQ(r.str(), std::string_view(binary));
  EXPECT_EQ(r.str(), std::string_view(big));
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.u8(), std::nullopt);
  EXPECT_EQ(r.u32(), std::nullopt);
  EXPECT_EQ(r.u64(), std::nullopt);
  EXPECT_EQ(r.str(), std::nullopt);
  EXPECT_EQ(r.attrs(), std::nullopt);
}

TEST(SftpPacketRoundTrip, StringIsAViewIntoTheBody) {
  const std::string body =
      "\x00\x00\x00\x03"
      "abc"s;
  PacketReader r(body);
  auto s = r.str();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->data(), body.data() + 4);
  EXPECT_EQ(s->size(), 3u);
}

TEST(SftpPacketRoundTrip, AttributesWithEveryFlagCombination) {
  for (unsigned mask = 0; mask < 32; ++mask) {
    SCOPED_TRACE("mask " + std::to_string(mask));
    const FileAttributes want = attrs_with(mask);
    PacketWriter w(Type::attrs);
    w.u32(42).attrs(want).u32(0xC0FFEEu);  // fields around it: attrs consume exactly their bytes
    const std::string body = body_of(std::move(w).finish());

    std::uint32_t flags = 0;
    if (mask & kSize) flags |= kAttrSize;
    if (mask & kOwner) flags |= kAttrUidGid;
    if (mask & kPerm) flags |= kAttrPermissions;
    if (mask & kTimes) flags |= kAttrAcModTime;
    if (mask & kExt) flags |= kAttrExtended;
    PacketReader peek(std::string_view(body).substr(4));
    EXPECT_EQ(peek.u32(), flags);

    PacketReader r(body);
    EXPECT_EQ(r.u32(), 42u);
    auto got = r.attrs();
    ASSERT_TRUE(got);
    expect_same_attrs(*got, want);
    EXPECT_EQ(r.u32(), 0xC0FFEEu);
    EXPECT_TRUE(r.empty());
  }
}

TEST(SftpPacketRoundTrip, AttributeTypeHelpers) {
  FileAttributes a;
  EXPECT_FALSE(a.is_dir() || a.is_regular() || a.is_symlink());
  a.permissions = 040755;
  EXPECT_TRUE(a.is_dir());
  EXPECT_FALSE(a.is_regular());
  a.permissions = 0100600;
  EXPECT_TRUE(a.is_regular());
  a.permissions = 0120777;
  EXPECT_TRUE(a.is_symlink());
  EXPECT_FALSE(a.is_dir());
}

TEST(SftpPacketRoundTrip, UnknownAttributeFlagBitsAreIgnored) {
  // 0x10 / 0x20 are not defined in v3; only the defined fields follow.
  const std::string body =
      "\x00\x00\x00\x34"
      "\x00\x00\x01\xed"s;
  PacketReader r(body);
  auto a = r.attrs();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->permissions, 0755u);
  EXPECT_FALSE(a->size);
  EXPECT_TRUE(r.empty());
}

// ---------------------------------------------------------------------------------------------
// PacketReader bounds

TEST(SftpPacketReader, TruncatedIntegersFail) {
  for (std::size_t n = 0; n < 4; ++n) {
    ExactBuffer b(std::string(n, '\x01'));
    PacketReader r(b.view());
    EXPECT_EQ(r.u32(), std::nullopt) << n;
    EXPECT_LE(r.remaining(), n);
  }
  for (std::size_t n = 0; n < 8; ++n) {
    ExactBuffer b(std::string(n, '\x01'));
    PacketReader r(b.view());
    EXPECT_EQ(r.u64(), std::nullopt) << n;
    EXPECT_LE(r.remaining(), n);
  }
  ExactBuffer none("");
  PacketReader r(none.view());
  EXPECT_EQ(r.u8(), std::nullopt);
}

// The reader sees a view of a prefix of a larger buffer: the bytes after the view would make
// each read succeed, so a read that strays past the end would return a value.
TEST(SftpPacketReader, NeverReadsPastTheView) {
  const std::string whole =
      "\x00\x00\x00\x04"
      "abcd"
      "\x00\x00\x00\x00\x00\x00\x00\x00"s;
  for (std::size_t n = 0; n < 8; ++n) {
    SCOPED_TRACE(n);
    PacketReader s(std::string_view(whole).substr(0, n));
    EXPECT_EQ(s.str(), std::nullopt);
    PacketReader u(std::string_view(whole).substr(8, n));
    EXPECT_EQ(u.u64(), std::nullopt);
    if (n < 4) {
      PacketReader v(std::string_view(whole).substr(8, n));
      EXPECT_EQ(v.u32(), std::nullopt);
    }
  }
}

TEST(SftpPacketReader, StringLengthLargerThanTheRest) {
  for (const std::string& body : {"\x00\x00\x00\x05"
                                  "abcd"s,
                                  "\xff\xff\xff\xff"
                                  "abcd"s,
                                  "\x80\x00\x00\x00"s, "\x00\x00\x00\x01"s}) {
    ExactBuffer b(body);
    PacketReader r(b.view());
    EXPECT_EQ(r.str(), std::nullopt);
    EXPECT_LE(r.remaining(), body.size());
  }
  // Exactly the rest is fine.
  ExactBuffer b(
      "\x00\x00\x00\x04"
      "abcd"s);
  PacketReader r(b.view());
  EXPECT_EQ(r.str(), "abcd"sv);
  EXPECT_TRUE(r.empty());
}

TEST(SftpPacketReader, EveryProperPrefixOfAttributesFails) {
  for (unsigned mask = 1; mask < 32; ++mask) {
    const std::string body =
        body_of(std::move(PacketWriter(Type::attrs).attrs(attrs_with(mask))).finish());
    for (std::size_t n = 0; n < body.size(); ++n) {
      ExactBuffer b(std::string_view(body).substr(0, n));
      PacketReader r(b.view());
      EXPECT_EQ(r.attrs(), std::nullopt) << "mask " << mask << " prefix " << n;
      EXPECT_LE(r.remaining(), n);
    }
  }
}

TEST(SftpPacketReader, ExtendedCountLargerThanThePairsFails) {
  // Claims 0xFFFFFFFF pairs, carries one: fails when the bytes run out, without looping on.
  const std::string body =
      "\x80\x00\x00\x00"
      "\xff\xff\xff\xff"
      "\x00\x00\x00\x01k\x00\x00\x00\x01v"s;
  ExactBuffer b(body);
  PacketReader r(b.view());
  EXPECT_EQ(r.attrs(), std::nullopt);
  // A key without its value fails too.
  ExactBuffer half(
      "\x80\x00\x00\x00"
      "\x00\x00\x00\x01"
      "\x00\x00\x00\x01k"s);
  PacketReader h(half.view());
  EXPECT_EQ(h.attrs(), std::nullopt);
}

TEST(SftpPacketReader, FieldSequenceOnEveryPrefixOfAPacket) {
  // A NAME-like body: id, count, then (filename, longname, attrs) entries.
  PacketWriter w(Type::name);
  w.u32(7).u32(2);
  w.str("a").str("-rw-r--r-- 1 u g 0 a").attrs(attrs_with(31));
  w.str("dir").str("drwxr-xr-x 2 u g 0 dir").attrs(attrs_with(kPerm | kTimes));
  const std::string body = body_of(std::move(w).finish());
  auto parse = [](std::string_view bytes) {
    PacketReader r(bytes);
    std::size_t last = r.remaining();
    auto step = [&](bool ok) {
      EXPECT_LE(r.remaining(), last) << "remaining() grew";
      last = r.remaining();
      return ok;
    };
    if (!step(r.u32().has_value())) return false;
    auto n = r.u32();
    if (!step(n.has_value())) return false;
    for (std::uint32_t i = 0; i < *n; ++i) {
      if (!step(r.str().has_value()) || !step(r.str().has_value()) ||
          !step(r.attrs().has_value())) {
        return false;
      }
    }
    return r.empty();
  };
  EXPECT_TRUE(parse(body));
  for (std::size_t n = 0; n < body.size(); ++n) {
    ExactBuffer b(std::string_view(body).substr(0, n));
    EXPECT_FALSE(parse(b.view())) << "prefix " << n;
  }
}

// ---------------------------------------------------------------------------------------------
// parse_status

TEST(SftpParseStatus, WithMessageAndLanguage) {
  PacketWriter w(Type::status);
  w.u32(2).str("No such file").str("en");
  auto s = parse_status(body_of(std::move(w).finish()));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 2u);
  EXPECT_EQ(s->message, "No such file");
}

TEST(SftpParseStatus, WithoutMessage) {
  auto s = parse_status("\x00\x00\x00\x04"s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 4u);
  EXPECT_EQ(s->message, "");
}

TEST(SftpParseStatus, MessageWithoutLanguageTag) {
  auto s = parse_status(
      "\x00\x00\x00\x01\x00\x00\x00\x03"
      "EOF"s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 1u);
  EXPECT_EQ(s->message, "EOF");
}

TEST(SftpParseStatus, TruncatedMessageIsDropped) {
  ExactBuffer b(
      "\x00\x00\x00\x03\x00\x00\x00\x10"
      "Perm"s);
  auto s = parse_status(b.view());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 3u);
  EXPECT_EQ(s->message, "");
}

TEST(SftpParseStatus, ShortBodyIsMalformed) {
  for (std::size_t n = 0; n < 4; ++n) {
    ExactBuffer b(std::string(n, '\0'));
    EXPECT_EQ(parse_status(b.view()), std::nullopt) << n;
  }
}

// ---------------------------------------------------------------------------------------------
// PacketSplitter

struct Packet {
  std::uint8_t type;
  std::string payload;
  bool operator==(const Packet&) const = default;
};

std::string frame(std::uint8_t type, std::string_view payload) {
  std::string out;
  const auto len = static_cast<std::uint32_t>(payload.size() + 1);
  out += static_cast<char>(len >> 24);
  out += static_cast<char>(len >> 16);
  out += static_cast<char>(len >> 8);
  out += static_cast<char>(len);
  out += static_cast<char>(type);
  out += payload;
  return out;
}

/// Takes every complete packet; fails the test on Next::bad.
void drain(PacketSplitter& s, std::vector<Packet>& out) {
  for (;;) {
    std::uint8_t type = 0;
    std::string payload;
    auto n = s.next(type, payload);
    ASSERT_NE(n, PacketSplitter::Next::bad);
    if (n == PacketSplitter::Next::need_more) return;
    out.push_back({type, std::move(payload)});
  }
}

std::vector<Packet> sample_packets() {
  std::vector<Packet> v;
  v.push_back(
      {101,
       body_of(std::move(PacketWriter(Type::status).u32(1).u32(0).str("ok").str("")).finish())});
  v.push_back({102,
               "\x00\x00\x00\x02\x00\x00\x00\x04"
               "h\x00\x01\xff"s});
  v.push_back({103, ""});  // type only
  v.push_back({103, "\x00\x00\x00\x03\x00\x00\x01\x00"s + std::string(256, 'd')});
  v.push_back({2, "\x00\x00\x00\x03"s});
  return v;
}

std::string stream_of(const std::vector<Packet>& packets) {
  std::string out;
  for (const auto& p : packets) out += frame(p.type, p.payload);
  return out;
}

TEST(SftpPacketSplitter, WriterPacketsComeBackWhole) {
  PacketWriter w(Type::handle);
  w.u32(77).str("handle-1");
  const std::string packet = std::move(w).finish();
  PacketSplitter s;
  s.feed(packet);
  std::uint8_t type = 0;
  std::string payload;
  ASSERT_EQ(s.next(type, payload), PacketSplitter::Next::packet);
  EXPECT_EQ(type, 102);
  PacketReader r(payload);
  EXPECT_EQ(r.u32(), 77u);
  EXPECT_EQ(r.str(), "handle-1"sv);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(s.buffered(), 0u);
  EXPECT_EQ(s.next(type, payload), PacketSplitter::Next::need_more);
}

TEST(SftpPacketSplitter, ByteByByte) {
  const auto want = sample_packets();
  const std::string stream = stream_of(want);
  PacketSplitter s;
  std::vector<Packet> got;
  std::size_t boundary = 0, index = 0;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    s.feed(stream.substr(i, 1));
    const std::size_t before = got.size();
    drain(s, got);
    if (index < want.size() && i + 1 == boundary + 5 + want[index].payload.size()) {
      EXPECT_EQ(got.size(), before + 1) << "packet " << index << " complete at byte " << i;
      boundary = i + 1;
      ++index;
    } else {
      EXPECT_EQ(got.size(), before) << "a packet came out early at byte " << i;
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(SftpPacketSplitter, OddChunks) {
  const auto one = sample_packets();
  std::vector<Packet> want;
  for (int i = 0; i < 20; ++i) want.insert(want.end(), one.begin(), one.end());
  const std::string stream = stream_of(want);
  for (std::size_t step : {2u, 3u, 7u, 13u, 64u, 255u, 1000u}) {
    SCOPED_TRACE("chunk " + std::to_string(step));
    PacketSplitter s;
    std::vector<Packet> got;
    for (std::size_t i = 0; i < stream.size(); i += step) {
      s.feed(std::string_view(stream).substr(i, step));
      drain(s, got);
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(SftpPacketSplitter, SeveralPacketsInOneFeed) {
  const auto want = sample_packets();
  PacketSplitter s;
  s.feed(stream_of(want) + "\x00\x00"s);  // and the start of a next header
  std::vector<Packet> got;
  drain(s, got);
  EXPECT_EQ(got, want);
  EXPECT_EQ(s.buffered(), 2u);
}

TEST(SftpPacketSplitter, ZeroLengthIsBad) {
  PacketSplitter s;
  s.feed("\x00\x00\x00\x00\x65"s);
  std::uint8_t type = 0;
  std::string payload;
  EXPECT_EQ(s.next(type, payload), PacketSplitter::Next::bad);
  EXPECT_EQ(s.next(type, payload), PacketSplitter::Next::bad) << "bad stays bad";
}

TEST(SftpPacketSplitter, LengthOverTheLimitIsBadFromTheHeaderAlone) {
  for (std::uint32_t len : {kMaxPacketBytes + 1, 0x80000000u, 0xFFFFFFFFu}) {
    PacketSplitter s;
    std::string header;
    header += static_cast<char>(len >> 24);
    header += static_cast<char>(len >> 16);
    header += static_cast<char>(len >> 8);
    header += static_cast<char>(len);
    std::uint8_t type = 0;
    std::string payload;
    s.feed(header.substr(0, 3));
    EXPECT_EQ(s.next(type, payload), PacketSplitter::Next::need_more);
    s.feed(header.substr(3));
    EXPECT_EQ(s.next(type, payload), PacketSplitter::Next::bad) << len;
  }
}

TEST(SftpPacketSplitter, BadAfterGoodPackets) {
  PacketSplitter s;
  s.feed(frame(103, "abc") + "\x00\x00\x00\x00"s);
  std::uint8_t type = 0;
  std::string payload;
  ASSERT_EQ(s.next(type, payload), PacketSplitter::Next::packet);
  EXPECT_EQ(payload, "abc");
  EXPECT_EQ(s.next(type, payload), PacketSplitter::Next::bad);
}

TEST(SftpPacketSplitter, LengthAtTheLimitIsAccepted) {
  const std::string payload(kMaxPacketBytes - 1, 'x');
  const std::string packet = frame(103, payload);
  PacketSplitter s;
  s.feed(std::string_view(packet).substr(0, 4));
  std::uint8_t type = 0;
  std::string got;
  EXPECT_EQ(s.next(type, got), PacketSplitter::Next::need_more);
  s.feed(std::string_view(packet).substr(4, packet.size() - 5));
  EXPECT_EQ(s.next(type, got), PacketSplitter::Next::need_more);
  s.feed(std::string_view(packet).substr(packet.size() - 1));
  ASSERT_EQ(s.next(type, got), PacketSplitter::Next::packet);
  EXPECT_EQ(type, 103);
  EXPECT_EQ(got, payload);
}

// Enough packets that the consumed prefix passes the compaction threshold (64 KiB) many times,
// with a partial packet held in the buffer across each compaction.
TEST(SftpPacketSplitter, CompactionKeepsResultsRight) {
  std::vector<Packet> want;
  for (std::uint32_t i = 0; i < 6000; ++i) {
    std::string payload;
    for (int k = 3; k >= 0; --k) payload += static_cast<char>(i >> (8 * k));
    payload += std::string(i % 331, static_cast<char>('a' + i % 26));
    want.push_back({static_cast<std::uint8_t>(101 + i % 5), std::move(payload)});
  }
  const std::string stream = stream_of(want);
  ASSERT_GT(stream.size(), 10u * 64 * 1024);
  for (std::size_t step : {997u, 4096u, 40000u, 150000u}) {
    SCOPED_TRACE("chunk " + std::to_string(step));
    PacketSplitter s;
    std::vector<Packet> got;
    std::size_t fed = 0, taken = 0;
    for (std::size_t i = 0; i < stream.size(); i += step) {
      const auto chunk = std::string_view(stream).substr(i, step);
      s.feed(chunk);
      fed += chunk.size();
      const std::size_t before = got.size();
      drain(s, got);
      for (std::size_t k = before; k < got.size(); ++k) taken += 5 + got[k].payload.size();
      EXPECT_EQ(s.buffered(), fed - taken);
    }
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t k = 0; k < want.size(); ++k) {
      if (!(got[k] == want[k])) {
        ADD_FAILURE() << "packet " << k << " differs";
        break;
      }
    }
    EXPECT_EQ(s.buffered(), 0u);
  }
}

// Only complete packets drained each time, one byte short of the next: compaction runs while the
// unconsumed tail is a partial packet and its header.
TEST(SftpPacketSplitter, CompactionWithAPartialPacketPending) {
  PacketSplitter s;
  std::string first;
  for (int i = 0; i < 100; ++i) first += frame(103, std::string(1000, static_cast<char>(i)));
  const std::string last = frame(104, "tail-packet");
  s.feed(first + last.substr(0, last.size() - 1));
  std::vector<Packet> got;
  drain(s, got);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99].payload, std::string(1000, static_cast<char>(99)));
  EXPECT_EQ(s.buffered(), last.size() - 1);
  s.feed(last.substr(last.size() - 1));
  drain(s, got);
  ASSERT_EQ(got.size(), 101u);
  EXPECT_EQ(got.back(), (Packet{104, "tail-packet"}));
  EXPECT_EQ(s.buffered(), 0u);
}

}  // namespace
}  // namespace herd::sftp

namespace herd {
namespace {

// ---------------------------------------------------------------------------------------------
// is_safe_name

TEST(SftpSafeName, RefusesWhatLeavesTheDirectory) {
  EXPECT_FALSE(is_safe_name(""));
  EXPECT_FALSE(is_safe_name("."));
  EXPECT_FALSE(is_safe_name(".."));
  EXPECT_FALSE(is_safe_name("a/b"));
  EXPECT_FALSE(is_safe_name("/x"));
  EXPECT_FALSE(is_safe_name("x/"));
  EXPECT_FALSE(is_safe_name("../x"));
  EXPECT_FALSE(is_safe_name("/"));
  EXPECT_FALSE(is_safe_name(std::string_view("a\0b", 3)));
  EXPECT_FALSE(is_safe_name(std::string_view("\0", 1)));
  EXPECT_FALSE(is_safe_name(std::string_view("..\0", 3)));
}

TEST(SftpSafeName, AcceptsSingleComponents) {
  EXPECT_TRUE(is_safe_name("..x"));
  EXPECT_TRUE(is_safe_name("x.."));
  EXPECT_TRUE(is_safe_name("..."));
  EXPECT_TRUE(is_safe_name(".hidden"));
  EXPECT_TRUE(is_safe_name("file.txt"));
  EXPECT_TRUE(is_safe_name("with space"));
  EXPECT_TRUE(is_safe_name("back\\slash"));
  EXPECT_TRUE(is_safe_name("-rf"));
  EXPECT_TRUE(is_safe_name("caf\xc3\xa9"));
}

// ---------------------------------------------------------------------------------------------
// OpenMode::parse

using Flags =
    std::tuple<bool, bool, bool, bool, bool, bool>;  // read write append create trunc excl

Flags flags_of(const OpenMode& m) {
  return {m.read, m.write, m.append, m.create, m.truncate, m.exclusive};
}

TEST(SftpOpenMode, ValidModes) {
  struct Case {
    const char* mode;
    Flags want;
  };
  const Case cases[] = {
      {"r", {true, false, false, false, false, false}},
      {"r+", {true, true, false, false, false, false}},
      {"w", {false, true, false, true, true, false}},
      {"w+", {true, true, false, true, true, false}},
      {"a", {false, true, true, true, false, false}},
      {"a+", {true, true, true, true, false, false}},
      {"x", {false, true, false, true, false, true}},
      {"x+", {true, true, false, true, false, true}},
      {"rb", {true, false, false, false, false, false}},
      {"rb+", {true, true, false, false, false, false}},
      {"r+b", {true, true, false, false, false, false}},
      {"wb", {false, true, false, true, true, false}},
      {"ab+", {true, true, true, true, false, false}},
  };
  for (const auto& c : cases) {
    auto m = OpenMode::parse(c.mode);
    ASSERT_TRUE(m) << c.mode;
    EXPECT_EQ(flags_of(*m), c.want) << c.mode;
  }
}

TEST(SftpOpenMode, InvalidModes) {
  for (const char* mode : {"", "rw", "z", "r++", "+", "+r", "b", "rx", "R", "w-", " r", "r "}) {
    EXPECT_EQ(OpenMode::parse(mode), std::nullopt) << '"' << mode << '"';
  }
  EXPECT_EQ(OpenMode::parse(std::string_view("r\0", 2)), std::nullopt);
}

}  // namespace
}  // namespace herd

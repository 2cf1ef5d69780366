// Fuzz target for the SFTP packet code (src/sftp/packet.cpp): what a hostile server can send.
// The input is
//   byte 0      chunking seed: how the stream is cut into feed() calls
//   byte 1      k: the number of reader ops that follow (k % 32)
//   k bytes     reader ops (u8, u32, u64, str, attrs, status), applied in turn to the stream
//   the rest    the byte stream a server sent
// The stream goes through PacketSplitter (in chunks, and again in one feed: both must give the
// same packets), every packet is parsed as a reply of its type, and the whole stream is read
// with the op script. Any broken invariant aborts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sftp/packet.hpp"
#include "sftp/protocol.hpp"

namespace {

using herd::FileAttributes;
using herd::sftp::PacketReader;
using herd::sftp::PacketSplitter;
using herd::sftp::PacketWriter;
using herd::sftp::Type;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "sftp packet invariant broken: %s\n", what);
  std::abort();
}

bool same(const FileAttributes& a, const FileAttributes& b) {
  return a.size == b.size && a.uid == b.uid && a.gid == b.gid && a.permissions == b.permissions &&
         a.atime == b.atime && a.mtime == b.mtime && a.extended == b.extended;
}

std::uint32_t be32(std::string_view s) {
  auto b = [&](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

/// Wraps a PacketReader and checks each read against what the bytes allow.
class CheckedReader {
 public:
  explicit CheckedReader(std::string_view body) : body_(body), r_(body) {}

  bool u8() {
    const std::size_t before = r_.remaining();
    auto v = r_.u8();
    check(v.has_value() == (before >= 1), "u8 success does not match the bytes left");
    return after(before, v ? 1 : 0, v.has_value());
  }
  bool u32() {
    const std::size_t before = r_.remaining();
    const std::string_view at = rest();
    auto v = r_.u32();
    check(v.has_value() == (before >= 4), "u32 success does not match the bytes left");
    if (v) check(*v == be32(at), "u32 is not the big-endian value");
    return after(before, v ? 4 : 0, v.has_value());
  }
  bool u64() {
    const std::size_t before = r_.remaining();
    const std::string_view at = rest();
    auto v = r_.u64();
    check(v.has_value() == (before >= 8), "u64 success does not match the bytes left");
    if (v) {
      const std::uint64_t want = (static_cast<std::uint64_t>(be32(at)) << 32) | be32(at.substr(4));
      check(*v == want, "u64 is not the big-endian value");
    }
    return after(before, v ? 8 : std::size_t(-1), v.has_value());
  }
  std::optional<std::string_view> str() {
    const std::size_t before = r_.remaining();
    const std::string_view at = rest();
    auto v = r_.str();
    const bool fits = before >= 4 && be32(at) <= before - 4;
    check(v.has_value() == fits, "str success does not match its length field");
    if (v) {
      check(v->size() == be32(at), "str size is not its length field");
      check(v->data() == at.data() + 4, "str is not the bytes after its length");
      check(v->data() >= body_.data() && v->data() + v->size() <= body_.data() + body_.size(),
            "str points outside the body");
    }
    after(before, v ? 4 + v->size() : std::size_t(-1), v.has_value());
    return v;
  }
  std::optional<FileAttributes> attrs() {
    const std::size_t before = r_.remaining();
    auto a = r_.attrs();
    after(before, std::size_t(-1), a.has_value());
    if (a) {
      check(a->uid.has_value() == a->gid.has_value(), "uid without gid");
      check(a->atime.has_value() == a->mtime.has_value(), "atime without mtime");
      // Encoding what was decoded and decoding it again gives the same attributes, in no more
      // bytes than the original (unknown flag bits and an empty extended list are dropped).
      const std::string packet = std::move(PacketWriter(Type::attrs).attrs(*a)).finish();
      PacketReader again(std::string_view(packet).substr(5));
      auto b = again.attrs();
      check(b.has_value() && again.empty(), "re-encoded attributes do not parse");
      check(same(*a, *b), "attributes change across encode/decode");
      check(packet.size() - 5 <= before - r_.remaining(), "re-encoded attributes grew");
    }
    return a;
  }
  bool status() {
    const std::string_view at = rest();
    auto s = herd::sftp::parse_status(at);
    check(s.has_value() == (at.size() >= 4), "parse_status success does not match the size");
    if (s) {
      check(s->code == be32(at), "status code is not the first field");
      check(s->message.size() <= at.size() - 4, "status message longer than the body");
    }
    r_ = PacketReader({});  // a STATUS body is the whole rest
    return s.has_value();
  }

  std::size_t remaining() const { return r_.remaining(); }

 private:
  std::string_view rest() const { return body_.substr(body_.size() - r_.remaining()); }

  /// remaining() never grows; a successful read consumes exactly `used` bytes (-1: unknown).
  bool after(std::size_t before, std::size_t used, bool ok) {
    check(r_.remaining() <= before, "remaining() grew");
    if (ok && used != std::size_t(-1)) check(before - r_.remaining() == used, "wrong bytes used");
    return ok;
  }

  std::string_view body_;
  PacketReader r_;
};

/// Parse `payload` as the reply (or request) of its type, the way the client would.
void parse_typed(std::uint8_t type, std::string_view payload) {
  CheckedReader r(payload);
  switch (static_cast<Type>(type)) {
    case Type::version:
      if (!r.u32()) return;
      for (int i = 0; i < 1024 && r.remaining() > 0; ++i) {
        if (!r.str() || !r.str()) return;
      }
      return;
    case Type::status:
      if (r.u32()) r.status();
      return;
    case Type::handle:
    case Type::data:
      if (r.u32()) r.str();
      return;
    case Type::name: {
      if (!r.u32() || !r.u32()) return;
      // The count is not trusted: entries stop when the bytes do.
      for (int i = 0; i < 4096 && r.remaining() > 0; ++i) {
        if (!r.str() || !r.str() || !r.attrs()) return;
      }
      return;
    }
    case Type::attrs:
      if (r.u32()) r.attrs();
      return;
    case Type::extended_reply:
      if (r.u32()) {
        for (int i = 0; i < 11 && r.u64();) ++i;  // statvfs@openssh.com
      }
      return;
    default:
      if (r.u32()) r.str();
      return;
  }
}

/// The packets `stream` splits into, fed in chunks whose sizes come from `seed` (0: one feed).
/// Stops at the first bad length; `bad` says whether there was one.
std::vector<std::pair<std::uint8_t, std::string>> split(std::string_view stream, std::uint8_t seed,
                                                        bool& bad) {
  PacketSplitter s;
  std::vector<std::pair<std::uint8_t, std::string>> out;
  std::size_t fed = 0, taken = 0;
  std::uint32_t rng = seed;
  bad = false;
  while (!bad) {
    if (fed < stream.size()) {
      std::size_t n = stream.size() - fed;
      if (seed != 0) {
        rng = rng * 1103515245u + 12345u;
        n = std::min<std::size_t>(n, 1 + (rng >> 16) % ((seed & 0x80) ? 4096 : 17));
      }
      s.feed(stream.substr(fed, n));
      fed += n;
    }
    check(s.buffered() == fed - taken, "buffered() is not fed minus taken");
    for (;;) {
      std::uint8_t type = 0;
      std::string payload;
      const std::size_t before = s.buffered();
      auto next = s.next(type, payload);
      if (next == PacketSplitter::Next::packet) {
        check(payload.size() + 1 <= herd::sftp::kMaxPacketBytes, "packet over the limit");
        check(s.buffered() + 5 + payload.size() == before, "packet size and buffer disagree");
        taken += 5 + payload.size();
        out.emplace_back(type, std::move(payload));
        continue;
      }
      check(s.buffered() == before, "need_more or bad consumed bytes");
      if (next == PacketSplitter::Next::bad) {
        check(before >= 4, "bad without a whole length field");
        const std::uint32_t len = be32(stream.substr(taken, 4));
        check(len == 0 || len > herd::sftp::kMaxPacketBytes, "bad for a valid length");
        check(s.next(type, payload) == PacketSplitter::Next::bad, "bad does not stay bad");
        bad = true;
      } else if (before >= 4) {
        const std::uint32_t len = be32(stream.substr(taken, 4));
        check(len >= 1 && len <= herd::sftp::kMaxPacketBytes && before - 4 < len,
              "need_more with a whole valid packet buffered");
      }
      break;
    }
    if (fed == stream.size() && !bad) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto seed = static_cast<std::uint8_t>(input[0]);
  const std::size_t nops =
      std::min<std::size_t>(static_cast<std::uint8_t>(input[1]) % 32, input.size() - 2);
  const std::string_view ops = input.substr(2, nops);
  // A copy of exactly the stream's size on the heap, so AddressSanitizer sees any over-read.
  const std::string stream_copy(input.substr(2 + nops));
  std::vector<char> heap(stream_copy.begin(), stream_copy.end());
  const std::string_view stream(heap.data(), heap.size());

  bool bad_chunked = false, bad_whole = false;
  const auto chunked = split(stream, seed, bad_chunked);
  const auto whole = split(stream, 0, bad_whole);
  check(chunked == whole && bad_chunked == bad_whole, "chunking changes the packets");
  for (const auto& [type, payload] : whole) {
    std::vector<char> exact(payload.begin(), payload.end());
    parse_typed(type, std::string_view(exact.data(), exact.size()));
  }

  if (!ops.empty()) {
    CheckedReader r(stream);
    for (std::size_t i = 0; i < 4096 && r.remaining() > 0; ++i) {
      bool ok = true;
      switch (static_cast<std::uint8_t>(ops[i % ops.size()]) % 6) {
        case 0: ok = r.u8(); break;
        case 1: ok = r.u32(); break;
        case 2: ok = r.u64(); break;
        case 3: ok = r.str().has_value(); break;
        case 4: ok = r.attrs().has_value(); break;
        default: ok = r.status(); break;
      }
      if (!ok) break;
    }
  }

  // Strings of the stream written and read back unchanged.
  PacketWriter w(Type::extended);
  w.u32(static_cast<std::uint32_t>(stream.size())).str(stream).str(ops);
  const std::string packet = std::move(w).finish();
  check(be32(packet) == packet.size() - 4, "finish() length field");
  PacketReader back(std::string_view(packet).substr(5));
  check(back.u32() == stream.size() && back.str() == stream && back.str() == ops && back.empty(),
        "written strings do not read back");
  return 0;
}

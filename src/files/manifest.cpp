#include "herd/manifest.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace herd {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool valid_token(std::string_view t) {
  if (all_digits(t)) return true;
  if (!t.starts_with("sha256:") || t.size() != 7 + 64) return false;
  for (char c : t.substr(7)) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

/// A relative path of plain names.
bool valid_path(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.back() == '/') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    auto part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." ||
        part.find('\0') != std::string_view::npos) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view text, std::string_view magic,
                                std::string_view source) {
  Manifest m;
  std::size_t line_no = 0;
  bool seen_seq = false;
  auto bad = [&](std::string_view why) {
    return fail(Errc::bad_config, Phase::transfer, "",
                fmt::format("{}:{}: {}", source, line_no, why));
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1) {
      if (line != magic) return bad(fmt::format("expected '{}' as the first line", magic));
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    if (!seen_seq) {
      if (!line.starts_with("seq ") || !all_digits(line.substr(4))) {
        return bad("expected 'seq N' after the version line");
      }
      std::from_chars(line.data() + 4, line.data() + line.size(), m.seq);
      seen_seq = true;
      continue;
    }
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return bad("expected 'SEQ PATH' or 'sha256:HEX PATH'");
    auto token = line.substr(0, sp);
    auto path = line.substr(sp + 1);
    if (!valid_token(token)) return bad(fmt::format("bad sequence number or checksum '{}'",
                                                    token.substr(0, 80)));
    if (!valid_path(path)) {
      return bad(fmt::format("'{}' is not a relative path of plain names", path.substr(0, 200)));
    }
    if (!m.entries.emplace(std::string(path), std::string(token)).second) {
      return bad(fmt::format("'{}' is listed twice", path.substr(0, 200)));
    }
  }
  if (line_no == 0) return bad(fmt::format("empty; expected '{}'", magic));
  if (!seen_seq) return bad("no 'seq N' line");
  return m;
}

std::string format_manifest(const Manifest& m, std::string_view magic) {
  std::string out = fmt::format("{}\nseq {}\n", magic, m.seq);
  for (const auto& [path, token] : m.entries) out += fmt::format("{} {}\n", token, path);
  return out;
}

std::optional<std::string> token_sha256(std::string_view token) {
  if (!token.starts_with("sha256:")) return std::nullopt;
  std::string hex(token.substr(7));
  for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

}  // namespace herd

// Small text helpers shared by the inventory parsers.
#include <string>
#include <string_view>
#include <vector>

#include "inventory/builder.hpp"

namespace herd::inventory_detail {

namespace {
constexpr std::size_t kMaxPrintable = 60;  // characters of a value quoted in an error
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxPrintable)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > kMaxPrintable) out += "...";
  return out;
}

std::string unquote(std::string_view s) {
  if (s.size() < 2 || (s.front() != '"' && s.front() != '\'') || s.back() != s.front()) {
    return std::string(s);
  }
  const char q = s.front();
  const std::string_view body = s.substr(1, s.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == q) return std::string(s);  // an unescaped quote inside: not one quoted literal
    if (c == '\\' && i + 1 < body.size()) {
      const char n = body[++i];
      switch (n) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case '\\':
        case '"':
        case '\'': c = n; break;
        default:
          out += '\\';
          c = n;
          break;
      }
    }
    out += c;
  }
  return out;
}

bool shell_split(std::string_view line, bool comments, std::vector<std::string>& out) {
  std::string token;
  bool in_token = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (is_space(c)) {
      if (in_token) out.push_back(std::move(token));
      token.clear();
      in_token = false;
    } else if (c == '#' && comments) {
      break;
    } else if (c == '\'') {
      const auto end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return false;
      token.append(line.substr(i + 1, end - i - 1));
      in_token = true;
      i = end;
    } else if (c == '"') {
      ++i;
      for (;; ++i) {
        if (i >= line.size()) return false;
        if (line[i] == '"') break;
        if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          ++i;
        }
        token += line[i];
      }
      in_token = true;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) return false;
      token += line[++i];
      in_token = true;
    } else {
      token += c;
      in_token = true;
    }
  }
  if (in_token) out.push_back(std::move(token));
  return true;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

}  // namespace herd::inventory_detail

// Packed indexes, names <-> (pattern, indexes), and one-line error messages.
#include <algorithm>

#include "nodeset/detail.hpp"

namespace herd::nodeset_detail {

namespace {
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr std::size_t kShownChars = 80;  // longest pattern quoted in an error message
}  // namespace

unsigned digit_count(std::uint64_t v) {
  unsigned n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

std::uint64_t pow10(unsigned n) {
  std::uint64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

std::uint64_t index_from_digits(std::string_view digits) {
  std::uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return pack(v, effective_width(static_cast<unsigned>(digits.size()), v));
}

void append_index(std::string& out, std::uint64_t index) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  std::uint64_t v = value_of(index);
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (auto w = static_cast<std::ptrdiff_t>(width_of(index)); end - p < w;) *--p = '0';
  out.append(p, end);
}

void scan_name(std::string_view name, std::string& pattern, std::vector<std::uint64_t>& indexes) {
  pattern.clear();
  indexes.clear();
  for (std::size_t i = 0; i < name.size();) {
    if (!is_digit(name[i])) {
      pattern.push_back(name[i++]);
      continue;
    }
    std::size_t j = i;
    while (j < name.size() && is_digit(name[j])) ++j;
    if (j - i <= kMaxDigits) {
      pattern.push_back(kSlot);
      indexes.push_back(index_from_digits(name.substr(i, j - i)));
    } else {
      pattern.append(name.substr(i, j - i));
    }
    i = j;
  }
}

void append_name(std::string& out, std::string_view pattern, const std::uint64_t* row) {
  for (char c : pattern) {
    if (c == kSlot) {
      append_index(out, *row++);
    } else {
      out.push_back(c);
    }
  }
}

void fail(std::string_view noun, std::string_view text, std::size_t pos, std::string_view what,
          std::string_view context) {
  std::string msg(noun);
  msg += " \"";
  std::string_view shown = text.substr(0, kShownChars);
  for (unsigned char c : shown) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      msg += c == '"' || c == '\\' ? std::string{'\\', static_cast<char>(c)}
                                   : std::string{'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    } else {
      msg.push_back(static_cast<char>(c));
    }
  }
  if (shown.size() < text.size()) msg += "...";
  msg += "\": ";
  msg += what;
  msg += " at column ";
  msg += std::to_string(pos + 1);
  if (!context.empty()) {
    msg += ' ';
    msg += context;
  }
  throw PatternError(msg);
}

}  // namespace herd::nodeset_detail

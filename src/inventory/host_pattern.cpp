// Ansible host ranges: `head[beg:end(:step)]tail`, numeric (zero-padded when `beg` has a leading
// zero) or single letters in Ansible's order a-z then A-Z. Several ranges in one pattern multiply.
// This is Ansible's syntax, not herd's NodeSet syntax.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "inventory/builder.hpp"

namespace herd::inventory_detail {

namespace {

constexpr std::string_view kLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::size_t kMaxDigits = 18;  // fits std::uint64_t

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::uint64_t to_number(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Expands the text between brackets into `values`; returns the reason when malformed.
std::string expand_range(std::string_view spec, std::size_t max_hosts,
                         std::vector<std::string>& values) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto colon = spec.find(':');
    parts.push_back(spec.substr(0, colon));
    if (colon == std::string_view::npos) break;
    spec.remove_prefix(colon + 1);
  }
  if (parts.size() < 2 || parts.size() > 3)
    return "a host range is [begin:end] or [begin:end:step]";
  std::string_view beg = parts[0].empty() ? std::string_view("0") : parts[0];
  const std::string_view end = parts[1];
  if (end.empty()) return "a host range needs an end value";
  std::uint64_t step = 1;
  if (parts.size() == 3) {
    if (!all_digits(parts[2]) || parts[2].size() > kMaxDigits || to_number(parts[2]) == 0) {
      return "a host range step must be a positive number";
    }
    step = to_number(parts[2]);
  }
  if (all_digits(beg) && all_digits(end)) {
    if (beg.size() > kMaxDigits || end.size() > kMaxDigits) return "host range numbers too large";
    const std::size_t width = (beg.size() > 1 && beg[0] == '0') ? beg.size() : 0;
    if (width != 0 && width != end.size()) {
      return "a zero-padded host range needs begin and end of equal length";
    }
    const std::uint64_t b = to_number(beg);
    const std::uint64_t e = to_number(end);
    if (b > e) return "a host range needs begin <= end";
    if ((e - b) / step + 1 > max_hosts) return fmt::format("host range over {} hosts", max_hosts);
    for (std::uint64_t v = b; v <= e; v += step) {
      values.push_back(fmt::format("{:0{}}", v, width));
      if (e - v < step) break;
    }
    return {};
  }
  if (beg.size() == 1 && end.size() == 1) {
    const auto b = kLetters.find(beg[0]);
    const auto e = kLetters.find(end[0]);
    if (b == std::string_view::npos || e == std::string_view::npos) {
      return "a host range is numbers or single letters";
    }
    if (b > e) return "a host range needs begin <= end";
    for (std::size_t v = b; v <= e; v += step) {
      values.emplace_back(1, kLetters[v]);
      if (e - v < step) break;
    }
    return {};
  }
  return "a host range is numbers or single letters";
}

}  // namespace

std::string expand_host_pattern(std::string_view pattern, std::size_t max_hosts,
                                std::vector<std::string>& out) {
  if (pattern.empty()) return "empty host name";
  // Split into literal pieces and ranges, then take their product.
  std::vector<std::vector<std::string>> pieces;
  std::size_t total = 1;
  while (!pattern.empty()) {
    const auto open = pattern.find_first_of("[]");
    if (open == std::string_view::npos) {
      pieces.push_back({std::string(pattern)});
      break;
    }
    if (pattern[open] == ']') return "']' without '[' in host pattern";
    if (open > 0) pieces.push_back({std::string(pattern.substr(0, open))});
    const auto close = pattern.find_first_of("[]", open + 1);
    if (close == std::string_view::npos || pattern[close] != ']') {
      return "unterminated host range";
    }
    std::vector<std::string> values;
    if (auto why = expand_range(pattern.substr(open + 1, close - open - 1), max_hosts, values);
        !why.empty()) {
      return why;
    }
    if (values.size() > max_hosts / total)
      return fmt::format("host range over {} hosts", max_hosts);
    total *= values.size();
    pieces.push_back(std::move(values));
    pattern.remove_prefix(close + 1);
  }
  std::vector<std::size_t> at(pieces.size(), 0);
  for (std::size_t n = 0; n < total; ++n) {
    std::string name;
    for (std::size_t i = 0; i < pieces.size(); ++i) name += pieces[i][at[i]];
    out.push_back(std::move(name));
    for (std::size_t i = pieces.size(); i-- > 0;) {  // odometer, last range fastest
      if (++at[i] < pieces[i].size()) break;
      at[i] = 0;
    }
  }
  return {};
}

std::string_view split_host_port(std::string_view pattern, std::string& port) {
  port.clear();
  // Colons inside brackets belong to ranges; more than one other colon is an IPv6 address.
  int depth = 0;
  std::size_t colons = 0;
  std::size_t last = std::string_view::npos;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '[') ++depth;
    if (c == ']' && depth > 0) --depth;
    if (c == ':' && depth == 0) {
      ++colons;
      last = i;
    }
  }
  if (colons != 1 || !all_digits(pattern.substr(last + 1))) return pattern;
  port = std::string(pattern.substr(last + 1));
  return pattern.substr(0, last);
}

}  // namespace herd::inventory_detail

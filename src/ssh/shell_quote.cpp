#include "herd/shell_quote.hpp"

namespace herd {

std::string shell_quote(std::string_view value) {
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '@' ||
           c == '+';
  };
  bool safe = !value.empty();
  for (char c : value) safe = safe && plain(c);
  if (safe) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace herd

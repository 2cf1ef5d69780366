// The plain `config.ini` many ops scripts read with Python's configparser:
//   [ssh]
//   host = 10.0.0.5            (or: hosts = a, b, c)
//   port = 22
//   username = root            (or: user)
//   password = secret
//   key_file = ~/.ssh/id_rsa   (or: identity_file)
// Only the [ssh] section is read; other sections (a script's [db], [mail]) are skipped. Keys are
// case-insensitive; `key: value` works too; values may be quoted. Every listed host gets the same
// settings, as herd_* host vars (other keys of [ssh] become vars under their own name).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "inventory/builder.hpp"

namespace herd::inventory_detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string var_name(const std::string& key) {
  if (key == "port") return "herd_port";
  if (key == "username" || key == "user") return "herd_user";
  if (key == "password") return "herd_password";
  if (key == "key_file" || key == "identity_file") return "herd_identity_file";
  if (key == "proxy_jump") return "herd_proxy_jump";
  return key;
}

}  // namespace

void parse_plain(std::string_view text, Builder& b) {
  struct Entry {
    std::string key;
    std::string value;
    std::size_t line;
  };
  std::vector<Entry> entries;
  bool in_ssh = false;
  std::size_t section_line = 0;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::size_t lineno = i + 1;
    const std::string_view line = trim(lines[i]);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const auto close = line.find(']');
      if (close == std::string_view::npos) b.fail(lineno, "section header without ']'");
      in_ssh = lower(trim(line.substr(1, close - 1))) == "ssh";
      if (in_ssh && section_line == 0) section_line = lineno;
      continue;
    }
    if (!in_ssh) continue;
    const auto sep = line.find_first_of("=:");
    if (sep == std::string_view::npos) b.fail(lineno, "expected key = value in [ssh]");
    const std::string key = lower(trim(line.substr(0, sep)));
    if (key.empty()) b.fail(lineno, "empty key in [ssh]");
    entries.push_back({key, unquote(trim(line.substr(sep + 1))), lineno});
  }
  if (section_line == 0) b.fail(1, "no [ssh] section");

  std::vector<std::pair<std::string, std::size_t>> names;  // host, line
  for (const auto& e : entries) {
    if (e.key == "host" || e.key == "hosts") {
      std::string_view list = e.value;
      while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view name = trim(list.substr(0, comma));
        if (!name.empty()) names.emplace_back(std::string(name), e.line);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
  }
  if (names.empty()) b.fail(section_line, "[ssh] has no host or hosts");
  for (const auto& [name, line] : names) {
    const std::size_t h = b.host(name, line);
    for (const auto& e : entries) {
      if (e.key != "host" && e.key != "hosts") b.set_host_var(h, var_name(e.key), e.value, e.line);
    }
  }
}

}  // namespace herd::inventory_detail

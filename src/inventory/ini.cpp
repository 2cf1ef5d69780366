// Ansible's INI inventory format:
//   host01 ansible_port=2222          # before any section: ungrouped
//   [web]                             # hosts of group web
//   web[01:20] ansible_user=deploy    # a range, inline vars (values may be quoted)
//   [prod:children]                   # child groups
//   web
//   [prod:vars]                       # group vars, one key=value a line
//   ansible_user = ops
// Host lines are split like Ansible's shlex (an unquoted `#` starts a comment); whole lines
// starting with `#` or `;` are comments.
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "inventory/builder.hpp"

namespace herd::inventory_detail {

namespace {

enum class Section { hosts, children, vars };

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

void parse_header(std::string_view line, std::size_t lineno, Builder& b, Section& section,
                  std::size_t& group) {
  const auto close = line.find(']');
  if (close == std::string_view::npos) b.fail(lineno, "section header without ']'");
  const std::string_view rest = trim(line.substr(close + 1));
  if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
    b.fail(lineno, "unexpected text after section header");
  }
  std::string_view inner = line.substr(1, close - 1);
  std::string_view kind = "hosts";
  if (const auto colon = inner.find(':'); colon != std::string_view::npos) {
    kind = inner.substr(colon + 1);
    inner = inner.substr(0, colon);
  }
  if (inner.empty()) b.fail(lineno, "empty group name in section header");
  for (char c : inner) {
    if (is_blank(c) || c == '[')
      b.fail(lineno, fmt::format("bad group name \"{}\"", printable(inner)));
  }
  if (kind == "hosts") {
    section = Section::hosts;
  } else if (kind == "children") {
    section = Section::children;
  } else if (kind == "vars") {
    section = Section::vars;
  } else {
    b.fail(lineno, fmt::format("section [{}:{}] has unknown type \"{}\" (hosts, children or vars)",
                               printable(inner), printable(kind), printable(kind)));
  }
  group = b.group(inner, lineno, section != Section::vars);
}

void parse_host_line(std::string_view line, std::size_t lineno, Builder& b, std::size_t group) {
  std::vector<std::string> tokens;
  if (!shell_split(line, true, tokens)) b.fail(lineno, "unterminated quote or trailing backslash");
  if (tokens.empty()) return;
  std::string port;
  const std::string_view pattern = split_host_port(tokens[0], port);
  std::vector<std::string> names;
  if (auto why = expand_host_pattern(pattern, b.limits().max_range_hosts, names); !why.empty()) {
    b.fail(lineno, fmt::format("{}: \"{}\"", why, printable(pattern)));
  }
  // Vars are checked before any host is created so an error names the line, not a half state.
  std::vector<std::pair<std::string, std::string>> vars;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const auto eq = tokens[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      // The token itself is not echoed: it may be a password.
      b.fail(lineno, fmt::format("expected key=value host variable (word {}) for {}", i + 1,
                                 printable(pattern)));
    }
    vars.emplace_back(tokens[i].substr(0, eq), unquote(std::string_view(tokens[i]).substr(eq + 1)));
  }
  for (const auto& name : names) {
    const std::size_t h = b.host(name, lineno);
    b.add_member(group, h);
    if (!port.empty()) b.set_host_var(h, "ansible_port", port, lineno);
    for (const auto& [k, v] : vars) b.set_host_var(h, k, v, lineno);
  }
}

}  // namespace

void parse_ini(std::string_view text, Builder& b) {
  Section section = Section::hosts;
  std::size_t group = Builder::kUngrouped;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::size_t lineno = i + 1;
    const std::string_view line = trim(lines[i]);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      parse_header(line, lineno, b, section, group);
      continue;
    }
    switch (section) {
      case Section::hosts: parse_host_line(line, lineno, b, group); break;
      case Section::children: {
        std::size_t end = 0;
        while (end < line.size() && !is_blank(line[end])) ++end;
        const std::string_view rest = trim(line.substr(end));
        if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
          b.fail(lineno, "expected one child group name a line");
        }
        b.add_child(group, b.group(line.substr(0, end), lineno), lineno);
        break;
      }
      case Section::vars: {
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) b.fail(lineno, "expected key=value in a :vars section");
        const std::string_view key = trim(line.substr(0, eq));
        if (key.empty()) b.fail(lineno, "empty variable name");
        b.set_group_var(group, std::string(key), unquote(trim(line.substr(eq + 1))), lineno);
        break;
      }
    }
  }
}

}  // namespace herd::inventory_detail

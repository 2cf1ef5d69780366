// The intermediate model every inventory parser fills, and its resolution into an Inventory
// (see the theory of operation in include/herd/inventory.hpp). Internal to src/inventory.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "herd/inventory.hpp"

namespace herd::inventory_detail {

/// Size limits that keep hostile input from exhausting memory or time.
struct Limits {
  std::size_t max_hosts = 1'000'000;        // distinct hosts per inventory
  std::size_t max_range_hosts = 100'000;    // hosts from one range pattern
  std::size_t max_yaml_visits = 4'000'000;  // group + host nodes walked in a YAML inventory
  std::size_t max_yaml_depth = 400;         // nested YAML groups
};

/// A var's value and the 1-based line that set it.
struct Var {
  std::string value;
  std::size_t line = 0;
};
using VarMap = std::map<std::string, Var, std::less<>>;

/// A host's var after inheritance, and the rank of the level that set it: 0 `all`, then groups
/// by precedence, highest the host itself. Points into the model (no copies while merging).
struct Merged {
  const Var* var = nullptr;
  std::size_t rank = 0;
};
using MergedVars = std::map<std::string_view, Merged>;

class Builder {
 public:
  static constexpr std::size_t kAll = 0;
  static constexpr std::size_t kUngrouped = 1;

  Builder(std::string source, Inventory::Format format, const Limits& limits);

  const Limits& limits() const { return limits_; }
  const std::string& source() const { return source_; }

  /// Throws InventoryError `SOURCE:LINE: reason`.
  [[noreturn]] void fail(std::size_t line, std::string reason) const;

  /// The group called `name`, created if new. `declared` is false for a group only named by
  /// `[name:vars]` (INI), which must be declared somewhere else by the end.
  std::size_t group(std::string_view name, std::size_t line, bool declared = true);
  /// The host called `name`, created if new (fails beyond Limits::max_hosts).
  std::size_t host(std::string_view name, std::size_t line);

  void add_member(std::size_t group, std::size_t host);
  void add_child(std::size_t parent, std::size_t child, std::size_t line);
  void set_group_var(std::size_t group, std::string key, std::string value, std::size_t line);
  void set_host_var(std::size_t host, std::string key, std::string value, std::size_t line);

  /// Resolves groups and vars into the final value (throws InventoryError). Call once: it moves
  /// the name indexes into the result.
  Inventory finish();

 private:
  struct Host {
    std::string name;
    VarMap vars;
    std::vector<std::size_t> groups;  // direct groups
  };
  struct Group {
    std::string name;
    std::size_t line = 0;
    bool declared = false;
    VarMap vars;
    std::vector<std::size_t> children;
    std::vector<std::size_t> child_lines;
    std::vector<std::size_t> parents;
  };

  void check_cycles() const;
  std::vector<std::size_t> topological_order() const;
  HostSpec make_spec(const Host& h, const MergedVars& vars) const;

  std::string source_;
  Inventory::Format format_;
  Limits limits_;
  std::vector<Host> hosts_;
  std::map<std::string, std::size_t, std::less<>> host_index_;
  std::vector<Group> groups_;
  std::map<std::string, std::size_t, std::less<>> group_index_;
  std::set<std::pair<std::size_t, std::size_t>> edges_;
};

// ---- text helpers (text.cpp) ----

std::string_view trim(std::string_view s);
/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);
/// `s` for an error message: at most 60 characters, control characters as `?`.
std::string printable(std::string_view s);
/// Removes one level of matching '...' or "..." quotes (with \\ \" \' \n \t escapes), as Ansible's
/// value parsing does; anything else is returned unchanged.
std::string unquote(std::string_view s);
/// Splits like Python's shlex.split(posix=True): whitespace separates, quotes group, backslash
/// escapes; with `comments`, an unquoted `#` ends the line. Returns false on an unterminated quote
/// or trailing backslash.
bool shell_split(std::string_view line, bool comments, std::vector<std::string>& out);
/// Splits `text` into lines (without "\n" or a trailing "\r").
std::vector<std::string_view> split_lines(std::string_view text);

// ---- host patterns (host_pattern.cpp) ----

/// Expands an Ansible host pattern (`web[01:20]`, `db-[a:f]`, `n[1:10:2]`, combinations) into
/// `out`. Returns an empty string, or the reason it is malformed.
std::string expand_host_pattern(std::string_view pattern, std::size_t max_hosts,
                                std::vector<std::string>& out);
/// Splits a trailing `:PORT` off a host pattern (`web01:2222`, `web[1:3]:22`): sets `port` to
/// the digits, or leaves it empty when there is none (IPv6 addresses keep their colons).
std::string_view split_host_port(std::string_view pattern, std::string& port);

// ---- parsers (ini.cpp, yaml.cpp, plain.cpp) ----

void parse_ini(std::string_view text, Builder& b);
void parse_yaml(std::string_view text, Builder& b);
void parse_plain(std::string_view text, Builder& b);

/// Inventory::parse with explicit limits (the fuzz target uses small ones).
Inventory parse(std::string_view text, std::string_view source_name, Inventory::Format f,
                const Limits& limits);

}  // namespace herd::inventory_detail

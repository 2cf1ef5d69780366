// herd inventories: which hosts exist, how to reach them, and which groups they belong to.
//
// Theory of operation
// -------------------
// An inventory file is read in one of three formats and always ends as the same value, an
// `Inventory`: hosts in file order (`HostSpec`, one per distinct host name) and groups, each a
// list of host names.
//
//   ini    Ansible's INI inventory: `[group]` sections of host lines with inline `key=value`
//          vars, `[group:children]`, `[group:vars]`, Ansible host ranges (`web[01:20]`,
//          `db-[a:f]`, `n[1:10:2]`), `#` / `;` comment lines. Hosts listed before any section
//          go to `ungrouped`.
//   yaml   Ansible's YAML inventory: `all: {hosts: ..., vars: ..., children: ...}` nested to any
//          depth; host keys may use the same ranges.
//   plain  the `config.ini` of ops scripts: an `[ssh]` section with `host` (or `hosts = a,b,c`),
//          `port`, `username`/`user`, `password`, `key_file`/`identity_file`.
//
// `Format::detect` picks YAML by extension (.yml/.yaml), else looks at the text: an `[ssh]`
// section with a `host`/`hosts` key means plain, a first line that is `---` or `name:` means YAML,
// anything else is INI.
//
// Each parser fills one intermediate model (hosts with their own vars, groups with vars, direct
// members and child edges, each var remembering its line). Resolution then runs once over the
// whole model, in time linear in hosts x groups-per-host:
//   1. group cycles are rejected (depth-first search over child edges);
//   2. each group gets its depth (longest path from `all`), as Ansible does;
//   3. a host's groups are its direct groups and all their ancestors; a host in no group other
//      than `all` belongs to `ungrouped`;
//   4. vars are merged in Ansible's order: `all` vars, then group vars by increasing depth
//      (siblings at the same depth by name), then the host's own vars — later wins;
//   5. the connection fields of `HostSpec` are read from the merged vars: the var set at the
//      most specific level wins, and at the same level herd_* beats ansible_* beats
//      ansible_ssh_*; malformed ones (a port of 70000) are reported at the line that set them.
//
// Errors are `InventoryError` whose message is one line, `FILE:LINE: reason`. No error message
// ever contains a var value other than a port, so passwords never reach logs.
//
// This header and src/inventory/ are plain C++20 (no <expected>, no herd/error.hpp): the fuzz
// build uses clang 14, whose libstdc++ lacks std::expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace herd {

namespace inventory_detail {
class Builder;
}

/// One host of an inventory, with its connection settings after inheritance.
struct HostSpec {
  /// The name as listed in the inventory (after range expansion).
  std::string name;
  /// Address to connect to (herd_host / ansible_host / ansible_ssh_host); unset: use `name`.
  std::optional<std::string> hostname;
  /// herd_port / ansible_port / ansible_ssh_port, or `name:port` in a host line.
  std::optional<std::uint16_t> port;
  /// herd_user / ansible_user / ansible_ssh_user.
  std::optional<std::string> user;
  /// herd_identity_file, else ansible_ssh_private_key_file (as written; `~` not expanded).
  std::vector<std::string> identity_files;
  /// herd_proxy_jump, else `-J X` / `-o ProxyJump=X` in ansible_ssh_common_args / _extra_args.
  std::optional<std::string> proxy_jump;
  /// herd_password / ansible_password / ansible_ssh_pass. Secret: never logged or printed.
  std::optional<std::string> password;
  /// Every var after inheritance, except the password vars (which only fill `password`).
  std::map<std::string, std::string> vars;
};

/// A malformed or unreadable inventory. `what()` is one line: `FILE:LINE: reason`, or
/// `cannot read FILE: reason` for a file that could not be read (then `line() == 0`).
class InventoryError : public std::runtime_error {
 public:
  /// An error at `line` (1-based) of `file`.
  InventoryError(std::string file, std::size_t line, std::string reason);
  /// An error about the whole file (unreadable): `what()` is `message` as is.
  InventoryError(std::string file, std::string message);

  /// The source name given to `Inventory::parse` or the path given to `Inventory::load`.
  const std::string& file() const noexcept { return file_; }
  /// 1-based line of the problem, 0 when it concerns the whole file.
  std::size_t line() const noexcept { return line_; }
  /// The message without the `FILE:LINE: ` prefix.
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  std::size_t line_ = 0;
  std::string reason_;
};

/// Hosts and groups read from one inventory file. A value: copyable, immutable after parsing.
class Inventory {
 public:
  /// The inventory file formats (see the top of this header).
  enum class Format { detect, ini, yaml, plain };

  /// An empty inventory (no hosts; groups `all` and `ungrouped`).
  Inventory();

  /// Parses `text`; `source_name` names it in errors and picks the format when `f` is
  /// `Format::detect`. Throws InventoryError.
  static Inventory parse(std::string_view text, std::string_view source_name,
                         Format f = Format::detect);
  /// Reads and parses the file at `path`. Throws InventoryError, also when it cannot be read.
  static Inventory load(const std::filesystem::path& path, Format f = Format::detect);

  /// The format `text` would be parsed as by `Format::detect` (never returns `detect`).
  static Format detect_format(std::string_view text, std::string_view source_name);

  /// Every host, in the order of first appearance in the file.
  const std::vector<HostSpec>& hosts() const noexcept { return hosts_; }
  /// The host called `name`, or nullptr.
  const HostSpec* host(std::string_view name) const noexcept;

  /// Every group name: `all`, `ungrouped`, then the others in order of first mention.
  const std::vector<std::string>& group_names() const noexcept { return group_names_; }
  /// Hosts of `group` and of its children, recursively; deduplicated, in host (file) order.
  /// `all` is every host. std::nullopt when no such group exists.
  std::optional<std::vector<std::string>> group_members(std::string_view group) const;

  /// The source name or path the inventory was read from.
  const std::string& source() const noexcept { return source_; }
  /// The format it was parsed as.
  Format format() const noexcept { return format_; }

 private:
  friend class inventory_detail::Builder;

  std::string source_;
  Format format_ = Format::ini;
  std::vector<HostSpec> hosts_;
  std::map<std::string, std::size_t, std::less<>> host_index_;
  std::vector<std::string> group_names_;
  std::map<std::string, std::size_t, std::less<>> group_index_;
  std::vector<std::vector<std::size_t>> group_hosts_;  // indices into hosts_
};

/// "ini", "yaml", "plain" or "detect".
std::string_view to_string(Inventory::Format f) noexcept;

}  // namespace herd

// Inventory: format detection, parse/load, lookups.
#include "herd/inventory.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "inventory/builder.hpp"

namespace herd {

InventoryError::InventoryError(std::string file, std::size_t line, std::string reason)
    : std::runtime_error(fmt::format("{}:{}: {}", file, line, reason)),
      file_(std::move(file)),
      line_(line),
      reason_(std::move(reason)) {}

InventoryError::InventoryError(std::string file, std::string message)
    : std::runtime_error(message), file_(std::move(file)), reason_(std::move(message)) {}

Inventory::Inventory()
    : group_names_{"all", "ungrouped"},
      group_index_{{"all", 0}, {"ungrouped", 1}},
      group_hosts_(2) {}

std::string_view to_string(Inventory::Format f) noexcept {
  switch (f) {
    case Inventory::Format::detect: return "detect";
    case Inventory::Format::ini: return "ini";
    case Inventory::Format::yaml: return "yaml";
    case Inventory::Format::plain: return "plain";
  }
  return "?";
}

Inventory::Format Inventory::detect_format(std::string_view text, std::string_view source_name) {
  using inventory_detail::iequals;
  using inventory_detail::trim;
  if (source_name.ends_with(".yml") || source_name.ends_with(".yaml")) return Format::yaml;
  bool in_ssh = false;
  bool first = true;
  bool yaml_start = false;
  for (auto raw : inventory_detail::split_lines(text)) {
    const auto line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (first) {
      // `---`, or `name:` alone on the line (an INI host line never ends with a bare colon).
      yaml_start = line == "---" || (line.front() != '[' && line.back() == ':' &&
                                     line.find_first_of(" \t=") == std::string_view::npos);
      first = false;
    }
    if (line.front() == '[') {
      const auto close = line.find(']');
      const auto name = line.substr(1, close == std::string_view::npos ? 0 : close - 1);
      in_ssh = iequals(trim(name), "ssh");
      continue;
    }
    if (in_ssh) {
      const auto key = trim(line.substr(0, line.find_first_of("=:")));
      if (line.find_first_of("=:") != std::string_view::npos &&
          (iequals(key, "host") || iequals(key, "hosts"))) {
        return Format::plain;
      }
    }
  }
  return yaml_start ? Format::yaml : Format::ini;
}

namespace inventory_detail {

Inventory parse(std::string_view text, std::string_view source_name, Inventory::Format f,
                const Limits& limits) {
  if (f == Inventory::Format::detect) f = Inventory::detect_format(text, source_name);
  Builder b(std::string(source_name), f, limits);
  switch (f) {
    case Inventory::Format::yaml: parse_yaml(text, b); break;
    case Inventory::Format::plain: parse_plain(text, b); break;
    default: parse_ini(text, b); break;
  }
  return b.finish();
}

}  // namespace inventory_detail

Inventory Inventory::parse(std::string_view text, std::string_view source_name, Format f) {
  return inventory_detail::parse(text, source_name, f, inventory_detail::Limits{});
}

Inventory Inventory::load(const std::filesystem::path& path, Format f) {
  const std::string name = path.string();
  auto fail = [&](int err) {
    throw InventoryError(name, fmt::format("cannot read {}: {}", name, std::strerror(err)));
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(EISDIR);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(name.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) fail(errno);
  std::string text;
  char buf[65536];  // bytes per read
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
    text.append(buf, n);
    if (n < sizeof buf) {
      if (std::ferror(file.get())) fail(errno != 0 ? errno : EIO);
      break;
    }
  }
  return parse(text, name, f);
}

const HostSpec* Inventory::host(std::string_view name) const noexcept {
  const auto it = host_index_.find(name);
  return it == host_index_.end() ? nullptr : &hosts_[it->second];
}

std::optional<std::vector<std::string>> Inventory::group_members(std::string_view group) const {
  const auto it = group_index_.find(group);
  if (it == group_index_.end()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(group_hosts_[it->second].size());
  for (auto h : group_hosts_[it->second]) out.push_back(hosts_[h].name);
  return out;
}

}  // namespace herd

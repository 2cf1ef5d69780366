#include "cli/targets.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

namespace herd::cli {
namespace {

namespace fs = std::filesystem;

/// Whether `path` holds a private key (PEM or OpenSSH armour) rather than an inventory.
bool looks_like_private_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  auto start = head.find_first_not_of(" \t\r\n");
  return start != std::string::npos && head.compare(start, 10, "-----BEGIN") == 0;
}

/// `~/x` -> `$HOME/x`, as ssh does for IdentityFile.
fs::path expand_home(const std::string& p) {
  if (p.starts_with("~/")) {
    if (const char* home = std::getenv("HOME")) return fs::path(home) / p.substr(2);
  }
  return p;
}

}  // namespace

Result<std::optional<Inventory>> load_inventory(CommonOptions& o) {
  std::vector<std::string> keys;
  for (auto& i : o.identities) {
    if (looks_like_private_key(i)) {
      keys.push_back(std::move(i));
    } else if (o.inventory.empty() || o.inventory == i) {
      o.inventory = std::move(i);
    } else {
      return fail(Errc::bad_config, Phase::connect, "",
                  fmt::format("two inventories given ({} and {}); herd reads one", o.inventory, i));
    }
  }
  o.identities = std::move(keys);

  fs::path path = o.inventory;
  if (path.empty()) {
    if (const char* env = std::getenv("HERD_INVENTORY"); env != nullptr && *env != '\0') {
      path = env;
    } else if (std::error_code ec; fs::is_regular_file("herd.ini", ec)) {
      path = "herd.ini";
    } else {
      return std::optional<Inventory>{};
    }
  }
  try {
    return std::optional<Inventory>(Inventory::load(path));
  } catch (const InventoryError& e) {
    return fail(Errc::bad_config, Phase::connect, "", e.what());
  }
}

GroupResolver group_resolver(const Inventory* inventory) {
  if (inventory == nullptr) return {};
  return [inventory](std::string_view group) { return inventory->group_members(group); };
}

std::vector<std::string> expand_hosts(const std::string& pattern,
                                      const std::vector<std::string>& excludes,
                                      const Inventory* inventory) {
  const GroupResolver groups = group_resolver(inventory);
  NodeSet set = NodeSet::parse(pattern, groups);
  for (const auto& x : excludes) set -= NodeSet::parse(x, groups);
  if (set.size() == 0) {
    throw PatternError(fmt::format("pattern \"{}\": no hosts{}", pattern,
                                   excludes.empty() ? "" : " left after -x"));
  }
  return set.expand();
}

std::string fold_hosts(const std::vector<std::string>& hosts) {
  std::string joined;
  for (const auto& h : hosts) joined += (joined.empty() ? "" : ",") + h;
  try {
    return NodeSet::parse(joined).fold();
  } catch (const PatternError&) {
    return joined;  // a name NodeSet cannot read as a pattern: list them as they are
  }
}

Result<SessionOptions> host_options(const CommonOptions& common, const std::string& name,
                                    const Inventory* inventory) {
  auto options = session_options(common, name);
  if (!options) return options;
  const HostSpec* spec = inventory != nullptr ? inventory->host(name) : nullptr;
  if (spec == nullptr) return options;
  SessionOptions& s = *options;
  if (spec->hostname) s.hostname = spec->hostname;
  if (!s.port && spec->port) s.port = spec->port;
  if (!s.user && spec->user) s.user = spec->user;
  if (!s.proxy_jump && spec->proxy_jump) s.proxy_jump = spec->proxy_jump;
  if (common.identities.empty()) {
    for (const auto& f : spec->identity_files) s.key_files.push_back(expand_home(f));
  }
  if (!s.password && spec->password) s.password = spec->password;
  return options;
}

Result<std::vector<HostTarget>> build_targets(const std::vector<std::string>& names,
                                              const CommonOptions& common,
                                              const Inventory* inventory) {
  std::vector<HostTarget> targets;
  targets.reserve(names.size());
  for (const auto& name : names) {
    auto options = host_options(common, name, inventory);
    if (!options) return std::unexpected(options.error());
    targets.push_back(HostTarget{name, std::move(*options)});
  }
  return targets;
}

}  // namespace herd::cli

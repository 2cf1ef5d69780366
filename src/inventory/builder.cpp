// Resolution of the parsed model into an Inventory: cycles, depths, membership, var precedence,
// connection fields (theory of operation in include/herd/inventory.hpp).
#include "inventory/builder.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace herd::inventory_detail {

namespace {

// Connection fields and the vars that set them, strongest first.
constexpr std::string_view kHostVars[] = {"herd_host", "ansible_host", "ansible_ssh_host"};
constexpr std::string_view kPortVars[] = {"herd_port", "ansible_port", "ansible_ssh_port"};
constexpr std::string_view kUserVars[] = {"herd_user", "ansible_user", "ansible_ssh_user"};
constexpr std::string_view kKeyVars[] = {"herd_identity_file", "ansible_ssh_private_key_file",
                                         "ansible_private_key_file"};
constexpr std::string_view kPasswordVars[] = {"herd_password", "ansible_password",
                                              "ansible_ssh_pass"};
constexpr std::string_view kSshArgVars[] = {"ansible_ssh_common_args", "ansible_ssh_extra_args"};

// The var among `names` set at the most specific level (highest rank); at the same level the
// earlier name wins (herd_* before ansible_* before ansible_ssh_*).
template <std::size_t N>
const Var* first_set(const MergedVars& vars, const std::string_view (&names)[N]) {
  const Merged* best = nullptr;
  for (auto name : names) {
    if (auto it = vars.find(name); it != vars.end() && (!best || it->second.rank > best->rank)) {
      best = &it->second;
    }
  }
  return best ? best->var : nullptr;
}

// The ProxyJump in ssh arguments (`-J X`, `-JX`, `-o ProxyJump=X`, `-oProxyJump X`), or "".
std::string proxy_jump_from_args(std::string_view args) {
  std::vector<std::string> tokens;
  if (!shell_split(args, false, tokens)) return {};
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    auto next = [&]() -> std::string_view {
      return i + 1 < tokens.size() ? std::string_view(tokens[++i]) : "";
    };
    if (t == "-J") return std::string(next());
    if (t.starts_with("-J")) return std::string(t.substr(2));
    std::string_view opt;
    if (t == "-o") {
      opt = next();
    } else if (t.starts_with("-o")) {
      opt = t.substr(2);
    } else {
      continue;
    }
    const auto sep = opt.find_first_of("= \t");
    if (sep == std::string_view::npos || !iequals(opt.substr(0, sep), "ProxyJump")) continue;
    std::string_view value = trim(opt.substr(sep));
    if (!value.empty() && value.front() == '=') value = trim(value.substr(1));
    if (value.empty() && opt[sep] != '=' && i + 1 < tokens.size()) value = next();
    return std::string(value);
  }
  return {};
}

}  // namespace

Builder::Builder(std::string source, Inventory::Format format, const Limits& limits)
    : source_(std::move(source)), format_(format), limits_(limits) {
  group("all", 0);
  group("ungrouped", 0);
}

void Builder::fail(std::size_t line, std::string reason) const {
  // One line whatever the reason quotes (yaml-cpp's messages quote raw characters).
  for (auto& c : reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  throw InventoryError(source_, line == 0 ? 1 : line, std::move(reason));
}

std::size_t Builder::group(std::string_view name, std::size_t line, bool declared) {
  if (auto it = group_index_.find(name); it != group_index_.end()) {
    groups_[it->second].declared = groups_[it->second].declared || declared;
    return it->second;
  }
  if (name.empty()) fail(line, "empty group name");
  const std::size_t id = groups_.size();
  groups_.push_back(Group{.name = std::string(name), .line = line, .declared = declared || id < 2});
  group_index_.emplace(std::string(name), id);
  return id;
}

std::size_t Builder::host(std::string_view name, std::size_t line) {
  if (auto it = host_index_.find(name); it != host_index_.end()) return it->second;
  if (name.empty()) fail(line, "empty host name");
  if (hosts_.size() >= limits_.max_hosts) {
    fail(line, fmt::format("more than {} hosts", limits_.max_hosts));
  }
  const std::size_t id = hosts_.size();
  hosts_.push_back(Host{.name = std::string(name)});
  host_index_.emplace(std::string(name), id);
  return id;
}

void Builder::add_member(std::size_t group, std::size_t host) {
  auto& gs = hosts_[host].groups;
  if (std::find(gs.begin(), gs.end(), group) == gs.end()) gs.push_back(group);
}

void Builder::add_child(std::size_t parent, std::size_t child, std::size_t line) {
  if (child == kAll)
    fail(line, fmt::format("group all cannot be a child of {}", printable(groups_[parent].name)));
  if (!edges_.emplace(parent, child).second) return;
  groups_[parent].children.push_back(child);
  groups_[parent].child_lines.push_back(line);
  groups_[child].parents.push_back(parent);
}

void Builder::set_group_var(std::size_t group, std::string key, std::string value,
                            std::size_t line) {
  groups_[group].vars.insert_or_assign(std::move(key), Var{std::move(value), line});
}

void Builder::set_host_var(std::size_t host, std::string key, std::string value, std::size_t line) {
  hosts_[host].vars.insert_or_assign(std::move(key), Var{std::move(value), line});
}

void Builder::check_cycles() const {
  // Iterative depth-first search; a child edge back to a group on the stack closes a cycle.
  enum : unsigned char { kWhite, kGrey, kBlack };
  std::vector<unsigned char> color(groups_.size(), kWhite);
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // group, next child index
  for (std::size_t root = 0; root < groups_.size(); ++root) {
    if (color[root] != kWhite) continue;
    stack.emplace_back(root, 0);
    color[root] = kGrey;
    while (!stack.empty()) {
      auto& [g, next] = stack.back();
      if (next == groups_[g].children.size()) {
        color[g] = kBlack;
        stack.pop_back();
        continue;
      }
      const std::size_t child = groups_[g].children[next];
      const std::size_t line = groups_[g].child_lines[next];
      ++next;
      if (color[child] == kGrey) {
        std::string path;
        bool on = false;
        for (const auto& frame : stack) {
          on = on || frame.first == child;
          if (on) path += printable(groups_[frame.first].name) + " -> ";
        }
        fail(line, "group cycle: " + path + printable(groups_[child].name));
      }
      if (color[child] == kWhite) {
        color[child] = kGrey;
        stack.emplace_back(child, 0);
      }
    }
  }
}

std::vector<std::size_t> Builder::topological_order() const {
  // Kahn's algorithm over child edges: parents before children.
  std::vector<std::size_t> indegree(groups_.size());
  for (const auto& g : groups_) {
    for (auto c : g.children) ++indegree[c];
  }
  std::vector<std::size_t> order;
  order.reserve(groups_.size());
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    if (indegree[i] == 0) order.push_back(i);
  }
  for (std::size_t at = 0; at < order.size(); ++at) {
    for (auto c : groups_[order[at]].children) {
      if (--indegree[c] == 0) order.push_back(c);
    }
  }
  return order;
}

HostSpec Builder::make_spec(const Host& h, const MergedVars& vars) const {
  HostSpec spec;
  spec.name = h.name;
  auto text = [&](const std::string_view(&names)[3]) -> std::optional<std::string> {
    const Var* v = first_set(vars, names);
    if (v == nullptr || v->value.empty()) return std::nullopt;
    return v->value;
  };
  spec.hostname = text(kHostVars);
  spec.user = text(kUserVars);
  if (auto key = text(kKeyVars)) spec.identity_files.push_back(std::move(*key));
  if (const Var* p = first_set(vars, kPasswordVars)) spec.password = p->value;
  if (const Var* p = first_set(vars, kPortVars)) {
    const std::string_view s = trim(p->value);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || port == 0 || port > 65535) {
      fail(p->line, fmt::format("bad port \"{}\" for {}", printable(p->value), printable(h.name)));
    }
    spec.port = static_cast<std::uint16_t>(port);
  }
  // herd_proxy_jump, else a jump in the ssh argument vars, whichever is set more specifically.
  const Merged* jump_var = nullptr;
  std::string jump;
  if (auto it = vars.find("herd_proxy_jump"); it != vars.end() && !it->second.var->value.empty()) {
    jump_var = &it->second;
    jump = it->second.var->value;
  }
  for (auto name : kSshArgVars) {
    auto a = vars.find(name);
    if (a == vars.end() || (jump_var && a->second.rank <= jump_var->rank)) continue;
    if (auto j = proxy_jump_from_args(a->second.var->value); !j.empty()) {
      jump_var = &a->second;
      jump = std::move(j);
    }
  }
  if (jump_var) spec.proxy_jump = std::move(jump);
  for (const auto& [key, merged] : vars) {
    if (std::find(std::begin(kPasswordVars), std::end(kPasswordVars), key) ==
        std::end(kPasswordVars)) {
      spec.vars.emplace_hint(spec.vars.end(), key, merged.var->value);
    }
  }
  return spec;
}

Inventory Builder::finish() {
  for (const auto& g : groups_) {
    if (!g.declared)
      fail(g.line, fmt::format("section [{}:vars] for undefined group {}", printable(g.name),
                               printable(g.name)));
  }
  check_cycles();

  // Depth: longest path from `all`; groups nobody names as a child hang under `all`.
  const auto order = topological_order();
  std::vector<std::size_t> depth(groups_.size(), 0);
  for (auto g : order) {
    if (g != kAll && groups_[g].parents.empty()) depth[g] = 1;
    for (auto c : groups_[g].children) depth[c] = std::max(depth[c], depth[g] + 1);
  }
  // Ancestors of each group (itself included), sorted by var precedence: depth, then name.
  auto weaker = [&](std::size_t a, std::size_t b) {
    return depth[a] != depth[b] ? depth[a] < depth[b] : groups_[a].name < groups_[b].name;
  };
  std::vector<std::vector<std::size_t>> ancestors(groups_.size());
  for (auto g : order) {
    auto& anc = ancestors[g];
    anc.push_back(g);
    for (auto p : groups_[g].parents)
      anc.insert(anc.end(), ancestors[p].begin(), ancestors[p].end());
    std::sort(anc.begin(), anc.end());
    anc.erase(std::unique(anc.begin(), anc.end()), anc.end());
  }

  Inventory inv;
  inv.source_ = source_;
  inv.format_ = format_;
  inv.group_names_.clear();
  for (const auto& g : groups_) inv.group_names_.push_back(g.name);
  inv.group_index_ = std::move(group_index_);  // same names, same indices
  inv.host_index_ = std::move(host_index_);
  inv.group_hosts_.assign(groups_.size(), {});
  inv.hosts_.reserve(hosts_.size());

  std::vector<std::size_t> mine;
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    Host& host = hosts_[h];
    // Ansible: a host in no group but `all` is in `ungrouped`, and only such hosts are.
    auto& direct = host.groups;
    direct.erase(std::remove_if(direct.begin(), direct.end(),
                                [](std::size_t g) { return g == kAll || g == kUngrouped; }),
                 direct.end());
    if (direct.empty()) direct.push_back(kUngrouped);
    mine.assign(1, kAll);
    for (auto g : direct) mine.insert(mine.end(), ancestors[g].begin(), ancestors[g].end());
    std::sort(mine.begin(), mine.end());
    mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    for (auto g : mine) inv.group_hosts_[g].push_back(h);

    std::sort(mine.begin(), mine.end(), weaker);
    MergedVars vars;
    for (std::size_t rank = 0; rank < mine.size(); ++rank) {
      for (const auto& [k, v] : groups_[mine[rank]].vars)
        vars.insert_or_assign(k, Merged{&v, rank});
    }
    for (const auto& [k, v] : host.vars) vars.insert_or_assign(k, Merged{&v, mine.size()});
    inv.hosts_.push_back(make_spec(host, vars));
  }
  return inv;
}

}  // namespace herd::inventory_detail

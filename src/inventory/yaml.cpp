// Ansible's YAML inventory format:
//   all:
//     vars: {ansible_user: ops}
//     hosts:
//       bastion: {ansible_host: 203.0.113.7}
//     children:
//       web:
//         hosts:
//           web[01:20]:
//         vars: {http_port: 8080}
// Top-level keys are groups (usually just `all`); a group is a mapping of `hosts`, `vars` and
// `children` (any other key is an error), or empty. Non-scalar var values are kept as flow YAML.
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "inventory/builder.hpp"

namespace herd::inventory_detail {

namespace {

std::size_t line_of(const YAML::Node& n, std::size_t fallback) {
  const auto m = n.Mark();
  return m.line >= 0 ? static_cast<std::size_t>(m.line) + 1 : fallback;
}

class Walker {
 public:
  explicit Walker(Builder& b) : b_(b) {}

  void top(const YAML::Node& root) {
    if (!root || root.IsNull()) return;
    if (!root.IsMap()) b_.fail(line_of(root, 1), "a YAML inventory is a mapping of groups");
    for (const auto& kv : root) {
      const std::size_t g = b_.group(name(kv.first, "group"), line_of(kv.first, 1));
      group(g, kv.second, line_of(kv.first, 1), 1);
    }
  }

 private:
  std::string name(const YAML::Node& key, std::string_view what) {
    if (!key.IsScalar() || key.Scalar().empty()) {
      b_.fail(line_of(key, 1), fmt::format("a {} name must be a non-empty string", what));
    }
    return key.Scalar();
  }

  std::string value(const YAML::Node& n) {
    if (!n || n.IsNull()) return {};
    if (n.IsScalar()) return n.Scalar();
    YAML::Emitter out;
    out << YAML::Flow << n;
    return out.c_str();
  }

  void visit(std::size_t line) {
    if (++visits_ > b_.limits().max_yaml_visits) {
      b_.fail(line, fmt::format("more than {} YAML nodes walked (aliases?)",
                                b_.limits().max_yaml_visits));
    }
  }

  void vars(const YAML::Node& node, std::size_t line, auto&& set) {
    if (node.IsNull()) return;
    if (!node.IsMap()) b_.fail(line_of(node, line), "vars must be a mapping");
    for (const auto& kv : node) {
      set(name(kv.first, "variable"), value(kv.second), line_of(kv.first, line));
    }
  }

  void group(std::size_t g, const YAML::Node& node, std::size_t line, std::size_t depth) {
    visit(line);
    if (depth > b_.limits().max_yaml_depth) b_.fail(line, "groups nested too deep");
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      b_.fail(line_of(node, line), "a group is a mapping of hosts, vars and children");
    }
    for (const auto& kv : node) {
      const std::size_t key_line = line_of(kv.first, line);
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const YAML::Node& v = kv.second;
      if (key == "hosts") {
        hosts(g, v, key_line);
      } else if (key == "vars") {
        vars(v, key_line, [&](std::string k, std::string val, std::size_t l) {
          b_.set_group_var(g, std::move(k), std::move(val), l);
        });
      } else if (key == "children") {
        if (v.IsNull()) continue;
        if (!v.IsMap()) b_.fail(line_of(v, key_line), "children must be a mapping of groups");
        for (const auto& child : v) {
          const std::size_t child_line = line_of(child.first, key_line);
          const std::size_t c = b_.group(name(child.first, "group"), child_line);
          b_.add_child(g, c, child_line);
          group(c, child.second, child_line, depth + 1);
        }
      } else {
        b_.fail(key_line, fmt::format("unknown key \"{}\" in a group (hosts, vars or children)",
                                      printable(key)));
      }
    }
  }

  void hosts(std::size_t g, const YAML::Node& node, std::size_t line) {
    if (node.IsNull()) return;
    if (!node.IsMap()) b_.fail(line_of(node, line), "hosts must be a mapping of host names");
    std::vector<std::string> names;
    for (const auto& kv : node) {
      const std::size_t host_line = line_of(kv.first, line);
      visit(host_line);
      std::string port;
      const std::string text = name(kv.first, "host");
      const std::string_view pattern = split_host_port(text, port);
      names.clear();
      if (auto why = expand_host_pattern(pattern, b_.limits().max_range_hosts, names);
          !why.empty()) {
        b_.fail(host_line, fmt::format("{}: \"{}\"", why, printable(pattern)));
      }
      if (!kv.second.IsNull() && !kv.second.IsMap()) {
        b_.fail(line_of(kv.second, host_line), "host vars must be a mapping");
      }
      for (const auto& n : names) {
        const std::size_t h = b_.host(n, host_line);
        b_.add_member(g, h);
        if (!port.empty()) b_.set_host_var(h, "ansible_port", port, host_line);
        vars(kv.second, host_line, [&](std::string k, std::string val, std::size_t l) {
          b_.set_host_var(h, std::move(k), std::move(val), l);
        });
      }
    }
  }

  Builder& b_;
  std::size_t visits_ = 0;
};

}  // namespace

void parse_yaml(std::string_view text, Builder& b) {
  // yaml-cpp recurses while parsing; its DepthGuard (since 0.7) stops at 500 levels, which is
  // safe on the stack even under AddressSanitizer (checked by the fuzz target).
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    b.fail(e.mark.line >= 0 ? static_cast<std::size_t>(e.mark.line) + 1 : 1,
           "YAML nested too deep");
  } catch (const YAML::Exception& e) {
    b.fail(e.mark.line >= 0 ? static_cast<std::size_t>(e.mark.line) + 1 : 1, e.msg);
  }
  try {
    Walker(b).top(root);
  } catch (const YAML::Exception& e) {
    b.fail(e.mark.line >= 0 ? static_cast<std::size_t>(e.mark.line) + 1 : 1, e.msg);
  }
}

}  // namespace herd::inventory_detail

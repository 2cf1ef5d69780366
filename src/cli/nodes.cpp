// `herd nodes PATTERN...`: fold, expand or count host patterns, like ClusterShell's `nodeset`.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/targets.hpp"

namespace herd::cli {
namespace {

/// "\n", "\t" and "\\" in a -S separator, as a shell user would type them.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

CLI::App* setup_nodes(CLI::App& app, NodesOptions& o) {
  auto* cmd = app.add_subcommand("nodes", "Fold, expand or count host patterns (like nodeset)");
  auto* e = cmd->add_flag("-e,--expand", o.expand, "Print every node name");
  auto* f = cmd->add_flag("-f,--fold", o.fold, "Print the folded pattern (default)");
  auto* c = cmd->add_flag("-c,--count", o.count, "Print the number of nodes");
  e->excludes(f, c);
  f->excludes(c);
  cmd->add_option("-S,--separator", o.separator, "Separator between expanded names (e.g. '\\n')");
  cmd->add_option("-x,--exclude", o.exclude, "Remove the nodes of this pattern (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--inventory", o.inventory,
                  "Inventory for @group (default $HERD_INVENTORY, ./herd.ini)")
      ->check(CLI::ExistingFile);
  // The patterns are the subcommand's extra arguments: a CLI11 positional would read "[1-5]" as
  // a bracketed list of values. Anything that looks like an option is still refused.
  cmd->allow_extras();
  cmd->callback([cmd, &o] {
    for (const auto& arg : cmd->remaining()) {
      if (arg.size() > 1 && arg[0] == '-') throw CLI::ExtrasError({arg});
      o.patterns.push_back(arg);
    }
  });
  cmd->footer(
      "Patterns follow the options (their union; none: read stdin).\nExample: herd nodes -e "
      "'rack[1-2]-node[01-04]' -x rack2-node03");
  return cmd;
}

std::string nodes_output(const NodesOptions& o, const GroupResolver& groups) {
  std::vector<NodeSet> parts;
  parts.reserve(o.patterns.size());
  for (const auto& p : o.patterns) parts.push_back(NodeSet::parse(p, groups));
  NodeSet set = NodeSet::union_of(std::move(parts));
  for (const auto& x : o.exclude) set -= NodeSet::parse(x, groups);
  if (o.count) return std::to_string(set.size()) + "\n";
  if (!o.expand) return set.fold() + "\n";
  std::string sep = unescape(o.separator);
  std::string out;
  for (auto it = set.begin(); it != set.end(); ++it) {
    if (it != set.begin()) out += sep;
    out += *it;
  }
  return out + "\n";
}

int run_nodes(const NodesOptions& o) {
  NodesOptions opts = o;
  if (opts.patterns.empty()) {  // like nodeset: whitespace-separated patterns on stdin
    opts.patterns.assign(std::istream_iterator<std::string>(std::cin),
                         std::istream_iterator<std::string>());
  }
  // @group terms come from the inventory (--inventory, $HERD_INVENTORY or ./herd.ini).
  CommonOptions common;
  common.inventory = o.inventory;
  auto inventory = load_inventory(common);
  if (!inventory) return report(inventory.error());
  const GroupResolver groups = group_resolver(*inventory ? &**inventory : nullptr);
  try {
    std::string out = nodes_output(opts, groups);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return std::fflush(stdout) == 0 ? as_int(ExitCode::ok) : as_int(ExitCode::local);
  } catch (const PatternError& e) {
    fmt::print(stderr, "herd: {}\n", e.what());
    return as_int(ExitCode::usage);
  }
}

}  // namespace herd::cli

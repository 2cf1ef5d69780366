#include "cli/targets.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace herd::cli {
namespace {

/// Split on commas that are not inside brackets.
std::vector<std::string> split_terms(const std::string& pattern) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : pattern) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::vector<std::string> expand_hosts(const std::string& pattern,
                                      const std::vector<std::string>& excludes) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::set<std::string> excluded;
  for (const auto& x : excludes) {
    for (auto& n : split_terms(x)) excluded.insert(n);
  }
  for (auto& n : split_terms(pattern)) {
    if (excluded.count(n) || !seen.insert(n).second) continue;
    names.push_back(n);
  }
  if (names.empty()) throw std::invalid_argument("no hosts match '" + pattern + "'");
  return names;
}

std::string fold_hosts(const std::vector<std::string>& hosts) {
  std::string out;
  for (const auto& h : hosts) out += (out.empty() ? "" : ",") + h;
  return out;
}

Result<std::vector<HostTarget>> build_targets(const std::vector<std::string>& names,
                                              const CommonOptions& common) {
  std::vector<HostTarget> targets;
  targets.reserve(names.size());
  for (const auto& name : names) {
    auto options = session_options(common, name);
    if (!options) return std::unexpected(options.error());
    targets.push_back(HostTarget{name, std::move(*options)});
  }
  return targets;
}

}  // namespace herd::cli

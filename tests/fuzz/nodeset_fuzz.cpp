// Fuzz target for the host-pattern parser (NodeSet::parse, RangeSet::parse). Only PatternError
// may escape the parser; every set that parses must satisfy the invariants below, or we abort.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "herd/nodeset.hpp"

namespace {

constexpr std::size_t kExpandChecks = 20000;  // nodes; bigger sets skip the per-name checks

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "nodeset invariant broken: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

std::optional<std::vector<std::string>> groups(std::string_view name) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> kGroups = {
      {"a", {"n[1-3]", "m1"}}, {"b", {"@a", "x[01-05]"}},
      {"c", {"@d"}},           {"d", {"@c"}},
      {"e", {"@missing"}},     {"f", {"r[1-2]-s[1-2]", "@b!m1"}},
      {"g", {"n[1-20000]"}},   {"h", {}},
  };
  auto it = kGroups.find(name);
  if (it == kGroups.end()) return std::nullopt;
  return it->second;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

void check_nodeset(std::string_view input) {
  herd::NodeSet s;
  try {
    s = herd::NodeSet::parse(input, groups);
  } catch (const herd::PatternError&) {
    return;
  }
  check(s.size() <= herd::kMaxNodes, "size over the limit", input);
  const std::string folded = s.fold();
  herd::NodeSet again = herd::NodeSet::parse(folded);
  check(again == s, "fold does not parse back to the same set", input);
  check(again.fold() == folded, "fold is not stable", input);
  check((s | s) == s && (s & s) == s, "union/intersection with itself", input);
  check((s - s).empty() && (s ^ s).empty(), "difference with itself not empty", input);
  check(s.contains(s) && s.contains(herd::NodeSet()), "does not contain itself", input);
  if (s.size() > kExpandChecks) return;
  const auto names = s.expand();
  check(names.size() == s.size(), "size != number of expanded names", input);
  std::size_t iterated = 0;
  for (auto it = s.begin(); it != s.end(); ++it) ++iterated;
  check(iterated == s.size(), "iteration count != size", input);
  for (const auto& n : names) check(s.contains(n), "does not contain an expanded name", input);
  check(herd::NodeSet::parse(join(names)) == s, "expanded names parse to another set", input);
}

void check_rangeset(std::string_view input) {
  herd::RangeSet r;
  try {
    r = herd::RangeSet::parse(input);
  } catch (const herd::PatternError&) {
    return;
  }
  check(herd::RangeSet::parse(r.fold()) == r, "range fold does not parse back", input);
  if (r.size() > kExpandChecks) return;
  const auto items = r.expand();
  check(items.size() == r.size(), "range size != expanded count", input);
  check(herd::RangeSet::parse(join(items)) == r, "expanded indexes parse to another set", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_nodeset(input);
  check_rangeset(input);
  return 0;
}

// Fuzz target for the inventory parsers. The first byte picks the format (detect, INI, YAML,
// plain config.ini), the rest is the inventory text. A malformed inventory must end as an
// InventoryError (any other exception escapes and is reported as a crash); a parsed one must
// be consistent: unique host names, every group member a host, `all` every host.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "herd/inventory.hpp"
#include "inventory/builder.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_invariants(const herd::Inventory& inv) {
  std::set<std::string_view> names;
  for (const auto& h : inv.hosts()) {
    check(!h.name.empty());
    check(names.insert(h.name).second);
    check(inv.host(h.name) == &h);
    check(!h.port || *h.port != 0);
    check(!h.vars.contains("ansible_password") && !h.vars.contains("herd_password"));
  }
  const auto all = inv.group_members("all");
  check(all && all->size() == inv.hosts().size());
  check(inv.group_names().size() >= 2 && inv.group_names()[0] == "all");
  std::set<std::string_view> groups;
  for (const auto& g : inv.group_names()) {
    check(groups.insert(g).second);
    const auto members = inv.group_members(g);
    check(members.has_value());
    std::set<std::string> seen;
    for (const auto& m : *members) {
      check(inv.host(m) != nullptr);
      check(seen.insert(m).second);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using Format = herd::Inventory::Format;
  constexpr Format kFormats[] = {Format::detect, Format::ini, Format::yaml, Format::plain};
  const Format format = kFormats[data[0] % 4];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  herd::inventory_detail::Limits limits;  // small: keep each input fast
  limits.max_hosts = 20'000;
  limits.max_range_hosts = 5'000;
  limits.max_yaml_visits = 50'000;
  try {
    check_invariants(herd::inventory_detail::parse(text, "fuzz.ini", format, limits));
  } catch (const herd::InventoryError& e) {
    check(std::string_view(e.what()).find('\n') == std::string_view::npos);
  }
  return 0;
}

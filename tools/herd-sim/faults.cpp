#include "faults.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <utility>

namespace herd::sim {
namespace {

constexpr std::array kNames = {
    std::pair{Fault::refused, "refused"},   std::pair{Fault::blackhole, "blackhole"},
    std::pair{Fault::stall, "stall"},       std::pair{Fault::hostkey, "hostkey"},
    std::pair{Fault::authfail, "authfail"}, std::pair{Fault::drop, "drop"},
    std::pair{Fault::slow, "slow"},         std::pair{Fault::huge, "huge"},
    std::pair{Fault::early, "early"},
};

// splitmix64: a tiny generator with the same sequence on every platform and library.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto c = s.find(',');
    auto part = s.substr(0, c);
    if (!part.empty()) out.emplace_back(part);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

std::optional<double> parse_percent(std::string_view s) {
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < 0 || v > 100) return std::nullopt;
  return v;
}

}  // namespace

std::string_view fault_name(Fault f) {
  for (auto [k, n] : kNames) {
    if (k == f) return n;
  }
  return "none";
}

std::optional<Fault> parse_fault(std::string_view name) {
  for (auto [k, n] : kNames) {
    if (name == n) return k;
  }
  return std::nullopt;
}

std::vector<Fault> assign_faults(const std::vector<std::string>& names,
                                 const std::vector<std::string>& specs, std::uint64_t seed,
                                 std::string& error) {
  std::vector<Fault> faults(names.size(), Fault::none);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < names.size(); ++i) index[names[i]] = i;

  std::vector<std::pair<Fault, double>> percentages;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    auto kind = parse_fault(std::string_view(spec).substr(0, eq));
    if (eq == std::string::npos || !kind) {
      error = fmt::format("--fault {}: expected KIND=PERCENT or KIND=host1,host2", spec);
      return {};
    }
    auto value = std::string_view(spec).substr(eq + 1);
    if (auto pct = parse_percent(value)) {
      percentages.emplace_back(*kind, *pct);
      continue;
    }
    for (const auto& host : split_commas(value)) {
      auto it = index.find(host);
      if (it == index.end()) {
        error = fmt::format("--fault {}: no host named {}", spec, host);
        return {};
      }
      if (faults[it->second] != Fault::none && faults[it->second] != *kind) {
        error = fmt::format("--fault {}: {} already has fault {}", spec, host,
                            fault_name(faults[it->second]));
        return {};
      }
      faults[it->second] = *kind;
    }
  }

  // The hosts still free, in an order shuffled by the seed (Fisher-Yates).
  std::vector<std::size_t> free_hosts;
  for (std::size_t i = 0; i < faults.size(); ++i) {
    if (faults[i] == Fault::none) free_hosts.push_back(i);
  }
  std::uint64_t state = seed;
  for (std::size_t i = free_hosts.size(); i > 1; --i) {
    std::swap(free_hosts[i - 1], free_hosts[next_random(state) % i]);
  }
  std::size_t next = 0;
  for (auto [kind, pct] : percentages) {
    auto count =
        static_cast<std::size_t>(std::llround(static_cast<double>(names.size()) * pct / 100.0));
    if (count > free_hosts.size() - next) {
      error = fmt::format("--fault {}={}: not enough hosts left without a fault", fault_name(kind),
                          pct);
      return {};
    }
    for (std::size_t k = 0; k < count; ++k) faults[free_hosts[next++]] = kind;
  }
  return faults;
}

}  // namespace herd::sim

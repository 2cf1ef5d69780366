// Fault kinds and how they are assigned to hosts (deterministically from the seed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herd::sim {

enum class Fault {
  none,
  refused,    ///< port bound but never listened on: connect gets RST
  blackhole,  ///< accept queue kept full: SYNs are dropped, connect times out
  stall,      ///< TCP accepted, no SSH banner ever sent
  hostkey,    ///< presents a different host key than known_hosts holds
  authfail,   ///< every authentication attempt is refused
  drop,       ///< TCP connection cut after the first output of a command
  slow,       ///< each output chunk delayed (--slow-ms)
  huge,       ///< command output followed by --huge-mb MiB of extra stdout
  early,      ///< a line of stdout sent before the reply to the exec request
};

std::string_view fault_name(Fault f);
std::optional<Fault> parse_fault(std::string_view name);

/// One fault per host (index i is host i), from `specs` (KIND=PERCENT or KIND=h1,h2).
/// Explicit host lists are applied first; percentages then pick, in the order given, among the
/// hosts still without a fault, using a shuffle seeded by `seed`. On a bad spec `error` is set.
std::vector<Fault> assign_faults(const std::vector<std::string>& names,
                                 const std::vector<std::string>& specs, std::uint64_t seed,
                                 std::string& error);

}  // namespace herd::sim

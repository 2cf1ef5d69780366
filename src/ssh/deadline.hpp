// Deadlines shared by the SSH flows.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

#include "herd/flow.hpp"

namespace herd::ssh {

using Clock = FlowClock;
using Deadline = Clock::time_point;

/// A deadline `d` from now, never later than `cap` (the caller's total deadline) when given.
inline Deadline deadline_after(std::chrono::milliseconds d,
                               std::optional<Deadline> cap = std::nullopt) {
  Deadline own = Clock::now() + d;
  return cap ? std::min(own, *cap) : own;
}

/// Milliseconds left until `d` (0 when passed), capped for poll().
int remaining_ms(Deadline d);

}  // namespace herd::ssh

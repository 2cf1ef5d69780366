// Deadlines and socket waits shared by the non-blocking SSH steps.
#pragma once

#include <chrono>

namespace herd::ssh {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

/// A deadline `d` from now.
inline Deadline deadline_after(std::chrono::milliseconds d) { return Clock::now() + d; }

/// Milliseconds left until `d` (0 when passed), capped for poll().
int remaining_ms(Deadline d);

enum class WaitResult { ready, timeout, error };

/// Wait until `fd` is readable (or writable too, when `want_write`) or `d` passes.
WaitResult wait_fd(int fd, bool want_write, Deadline d);

}  // namespace herd::ssh

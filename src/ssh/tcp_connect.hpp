// TCP connect with a deadline and typed errors (refused / unreachable / DNS / timeout).
#pragma once

#include <cstdint>
#include <string>

#include "herd/error.hpp"
#include "ssh/deadline.hpp"

namespace herd::ssh {

/// Resolve `host` and connect to the first address that accepts before `deadline`. Returns a
/// connected, non-blocking, close-on-exec socket. `who` names the target in messages.
Flow<Result<int>> tcp_connect(const std::string& host, std::uint16_t port, Deadline deadline,
                        const std::string& who);

}  // namespace herd::ssh

// One host's whole run as a Flow: connect, authenticate, run the command, classify the end.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "herd/engine.hpp"
#include "herd/flow.hpp"

namespace herd::engine {

/// Receives the host's output chunks as they arrive.
using OutputFn = HostOutput;

/// Connect to `target` and run `request` (or `work` when set); never throws for host failures.
/// `host_timeout` is the total deadline for this host, counted from the start of the flow.
Flow<HostResult> run_host(std::size_t index, HostTarget target, ExecRequest request,
                          HostWork work, std::optional<std::chrono::milliseconds> host_timeout,
                          OutputFn output);

}  // namespace herd::engine

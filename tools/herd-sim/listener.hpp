// The listening side of one simulated host: a TCP socket on 127.0.0.1 with a port of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "faults.hpp"

namespace herd::sim {

struct Listener {
  int fd = -1;          ///< bound to 127.0.0.1:port; listening unless the fault is `refused`
  std::uint16_t port = 0;
  int filler_fd = -1;   ///< `blackhole`: our own connection that keeps the accept queue full
};

/// Open the socket for a host with fault `fault`:
/// - refused: bound, never listened on, so connects are answered with RST and the port stays ours;
/// - blackhole: listen() with backlog 0 and one connection of our own that is never accepted:
///   the accept queue is full, so the kernel drops further SYNs and clients' connects time out;
/// - otherwise: listening, non-blocking.
/// nullopt with `error` set on failure.
std::optional<Listener> open_listener(Fault fault, std::string& error);

void close_listener(Listener& l);

}  // namespace herd::sim

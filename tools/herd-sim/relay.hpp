// --latency-ms: relays bytes between the client's TCP socket and one end of a socketpair whose
// other end libssh owns, holding each chunk for the latency before passing it on, in each
// direction. Buffers are bounded: a side is not read while its queue holds kMaxQueuedBytes.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "loop.hpp"

namespace herd::sim {

class Relay {
 public:
  /// Takes ownership of both descriptors (non-blocking). `on_done` runs (deferred) once both
  /// directions are finished or either side failed; the Relay may then be destroyed.
  Relay(Loop& loop, int client_fd, int inner_fd, std::chrono::milliseconds latency,
        std::function<void()> on_done);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

 private:
  struct Chunk {
    Loop::Clock::time_point due;
    std::string bytes;  // empty: end of stream
  };
  struct Direction {
    int from = -1, to = -1;
    std::deque<Chunk> queue;
    std::size_t queued_bytes = 0;
    bool read_eof = false;   // `from` reached EOF (queued as an empty chunk)
    bool write_done = false; // `to` was shut down for writing
    bool timer_armed = false;
    bool want_write = false;  // `to` would block
  };
  void on_event(int fd, std::uint32_t ev);
  void on_readable(Direction& d);
  void flush(Direction& d);
  void update(int fd);
  void fail();
  void maybe_done();

  Loop& loop_;
  int client_fd_, inner_fd_;
  std::chrono::milliseconds latency_;
  std::function<void()> on_done_;
  Direction up_;    // client -> libssh
  Direction down_;  // libssh -> client
  bool done_ = false;
  std::vector<Loop::TimerId> timers_;
};

}  // namespace herd::sim

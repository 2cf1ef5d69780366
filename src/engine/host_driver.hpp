// HostDriver: drives one host's Flow on a worker's io_context (see engine.hpp).
//
// Each time the flow suspends on an IoWait, the driver registers the descriptor(s) with the
// loop afresh (assign), waits for readiness or the deadline, then deregisters (release) and
// resumes the flow. Registering per wait keeps epoll's edge-triggered reporting exact: a socket
// that was already readable reports at once, and a descriptor number the flow closed and reused
// can never linger registered. A generation counter makes late completions harmless.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>

#include "herd/engine.hpp"
#include "herd/flow.hpp"

namespace herd::engine {

class HostDriver : public std::enable_shared_from_this<HostDriver> {
 public:
  using Done = std::function<void(HostResult)>;

  HostDriver(boost::asio::io_context& io, Flow<HostResult> flow, Done done);
  ~HostDriver();

  /// Run the flow until it first waits. Call once, on the loop's thread.
  void start();
  /// Deliver `cancelled` to the flow at its current (or next) wait. Loop thread only.
  void cancel();

 private:
  void step_done();
  void arm();
  void wake(std::uint64_t generation, WaitResult result);
  void release_descriptors();

  boost::asio::io_context& io_;
  FlowRoot root_;
  Flow<HostResult> flow_;
  Done done_;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::posix::stream_descriptor extra_;
  boost::asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
  bool waiting_ = false;
  bool cancel_pending_ = false;
};

}  // namespace herd::engine

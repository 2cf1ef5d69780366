#include "engine/host_driver.hpp"

#include <boost/asio/post.hpp>

namespace herd::engine {

namespace asio = boost::asio;

HostDriver::HostDriver(asio::io_context& io, Flow<HostResult> flow, Done done)
    : io_(io), flow_(std::move(flow)), done_(std::move(done)), socket_(io), extra_(io), timer_(io) {}

HostDriver::~HostDriver() { release_descriptors(); }

void HostDriver::start() {
  flow_.start(root_);
  step_done();
}

void HostDriver::cancel() {
  if (waiting_) {
    wake(generation_, WaitResult::cancelled);
  } else {
    cancel_pending_ = true;
  }
}

void HostDriver::step_done() {
  if (flow_.done()) {
    auto done = std::move(done_);
    done(flow_.take());
    return;
  }
  arm();
}

void HostDriver::arm() {
  const IoWait w = root_.wait;
  const std::uint64_t g = ++generation_;
  waiting_ = true;
  auto self = shared_from_this();
  if (cancel_pending_) {
    cancel_pending_ = false;
    asio::post(io_, [self, g] { self->wake(g, WaitResult::cancelled); });
    return;
  }
  boost::system::error_code ec;
  socket_.assign(w.fd, ec);
  if (ec) {
    asio::post(io_, [self, g] { self->wake(g, WaitResult::error); });
    return;
  }
  auto on_ready = [self, g](const boost::system::error_code& e) {
    if (!e) self->wake(g, WaitResult::ready);
  };
  socket_.async_wait(asio::posix::stream_descriptor::wait_read, on_ready);
  if (w.write) socket_.async_wait(asio::posix::stream_descriptor::wait_write, on_ready);
  if (w.extra_fd >= 0) {
    extra_.assign(w.extra_fd, ec);
    if (!ec) extra_.async_wait(asio::posix::stream_descriptor::wait_read, on_ready);
  }
  if (w.deadline != FlowClock::time_point::max()) {
    timer_.expires_at(w.deadline);
    timer_.async_wait([self, g](const boost::system::error_code& e) {
      if (!e) self->wake(g, WaitResult::timeout);
    });
  }
}

void HostDriver::wake(std::uint64_t generation, WaitResult result) {
  if (generation != generation_ || !waiting_) return;  // a late completion of an older wait
  ++generation_;
  waiting_ = false;
  timer_.cancel();
  release_descriptors();
  root_.resume(result);
  step_done();
}

void HostDriver::release_descriptors() {
  // release() deregisters from the loop (pending waits complete as aborted) without closing:
  // the descriptors belong to libssh or to the flow.
  if (socket_.is_open()) socket_.release();
  if (extra_.is_open()) extra_.release();
}

}  // namespace herd::engine

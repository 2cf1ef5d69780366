#include "relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace herd::sim {
namespace {

constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr std::size_t kMaxQueuedBytes = 1024 * 1024;

}  // namespace

Relay::Relay(Loop& loop, int client_fd, int inner_fd, std::chrono::milliseconds latency,
             std::function<void()> on_done)
    : loop_(loop), client_fd_(client_fd), inner_fd_(inner_fd), latency_(latency),
      on_done_(std::move(on_done)) {
  up_.from = client_fd_, up_.to = inner_fd_;
  down_.from = inner_fd_, down_.to = client_fd_;
  loop_.add(client_fd_, EPOLLIN, [this](std::uint32_t ev) { on_event(client_fd_, ev); });
  loop_.add(inner_fd_, EPOLLIN, [this](std::uint32_t ev) { on_event(inner_fd_, ev); });
}

void Relay::on_event(int fd, std::uint32_t ev) {
  // A socket is read by the direction it feeds and written by the other.
  Direction& reader = fd == client_fd_ ? up_ : down_;
  Direction& writer = fd == client_fd_ ? down_ : up_;
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(reader);
  if (done_) return;
  if ((ev & (EPOLLHUP | EPOLLERR)) && reader.read_eof) {
    // Hung up both ways (hangups cannot be masked): stop watching it, nothing more goes in.
    loop_.remove(fd);
    writer.queue.clear();
    writer.queued_bytes = 0;
    writer.want_write = false;
    writer.write_done = true;
    return maybe_done();
  }
  if (ev & EPOLLOUT) flush(writer);
}

Relay::~Relay() {
  for (auto& t : timers_) loop_.cancel(t);
  loop_.remove(client_fd_);
  loop_.remove(inner_fd_);
  ::close(client_fd_);
  ::close(inner_fd_);
}

void Relay::on_readable(Direction& d) {
  if (done_ || d.read_eof || d.queued_bytes >= kMaxQueuedBytes) return update(d.from);
  std::array<char, kReadChunkBytes> buf;
  ssize_t n = ::read(d.from, buf.data(), buf.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return fail();
  }
  auto due = Loop::Clock::now() + latency_;
  if (n == 0) {
    d.read_eof = true;
    d.queue.push_back({due, {}});
  } else {
    d.queue.push_back({due, std::string(buf.data(), static_cast<std::size_t>(n))});
    d.queued_bytes += static_cast<std::size_t>(n);
  }
  update(d.from);
  flush(d);
}

// Write what is due; arm a timer for the next chunk, or EPOLLOUT if the socket is full.
void Relay::flush(Direction& d) {
  if (done_) return;
  d.want_write = false;
  auto now = Loop::Clock::now();
  while (!d.queue.empty() && d.queue.front().due <= now) {
    auto& c = d.queue.front();
    if (c.bytes.empty()) {
      shutdown(d.to, SHUT_WR);
      d.write_done = true;
      d.queue.pop_front();
      continue;
    }
    ssize_t n = ::send(d.to, c.bytes.data(), c.bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        d.want_write = true;
        break;
      }
      return fail();
    }
    d.queued_bytes -= static_cast<std::size_t>(n);
    c.bytes.erase(0, static_cast<std::size_t>(n));
    if (c.bytes.empty()) d.queue.pop_front();
  }
  if (!d.want_write && !d.queue.empty() && !d.timer_armed) {
    d.timer_armed = true;
    timers_.push_back(loop_.at(d.queue.front().due, [this, &d] {
      d.timer_armed = false;
      flush(d);
    }));
    if (timers_.size() > 64) {  // forget ids of timers that have run
      std::erase_if(timers_, [now](const Loop::TimerId& t) { return t.first < now; });
    }
  }
  update(d.to);
  update(d.from);
  maybe_done();
}

void Relay::update(int fd) {
  if (done_) return;
  Direction& reader = fd == client_fd_ ? up_ : down_;
  Direction& writer = fd == client_fd_ ? down_ : up_;
  std::uint32_t ev = 0;
  if (!reader.read_eof && reader.queued_bytes < kMaxQueuedBytes) ev |= EPOLLIN;
  if (writer.want_write) ev |= EPOLLOUT;
  loop_.modify(fd, ev);
}

void Relay::fail() {
  if (done_) return;
  done_ = true;
  loop_.modify(client_fd_, 0);
  loop_.modify(inner_fd_, 0);
  loop_.defer(on_done_);
}

void Relay::maybe_done() {
  if (up_.write_done && down_.write_done) fail();
}

}  // namespace herd::sim

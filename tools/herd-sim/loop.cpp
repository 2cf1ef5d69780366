#include "loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

namespace herd::sim {
namespace {

constexpr int kMaxEventsPerWait = 256;
constexpr int kIdleWaitMs = 1000;  // ms; bounded so stop() is seen even if a wakeup is lost

std::uint64_t pack(int fd, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | static_cast<std::uint32_t>(fd);
}

}  // namespace

Loop::Loop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll");
  add(wake_fd_, EPOLLIN, [this](std::uint32_t) {
    std::uint64_t v = 0;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
    drain_posted();
  });
}

Loop::~Loop() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void Loop::add(int fd, std::uint32_t events, Handler handler) {
  Entry e{next_generation_++, events, std::make_shared<Handler>(std::move(handler))};
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, e.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl add");
  }
  entries_[fd] = std::move(e);
}

void Loop::modify(int fd, std::uint32_t events) {
  auto it = entries_.find(fd);
  if (it == entries_.end() || it->second.events == events) return;
  it->second.events = events;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, it->second.generation);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void Loop::remove(int fd) {
  auto it = entries_.find(fd);
  if (it == entries_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  entries_.erase(it);
}

Loop::TimerId Loop::at(Clock::time_point when, std::function<void()> fn) {
  TimerId id{when, next_timer_++};
  timers_.emplace(id, std::move(fn));
  return id;
}

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Loop::stop() {
  stopping_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void Loop::drain_posted() {
  std::vector<std::function<void()>> fns;
  {
    std::lock_guard lock(posted_mutex_);
    fns.swap(posted_);
  }
  for (auto& fn : fns) fn();
}

void Loop::run_timers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto fn = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    fn();
  }
}

void Loop::run_deferred() {
  while (!deferred_.empty()) {
    auto fns = std::move(deferred_);
    deferred_.clear();
    for (auto& fn : fns) fn();
  }
}

void Loop::run() {
  std::array<epoll_event, kMaxEventsPerWait> events{};
  while (!stopping_) {
    int wait_ms = kIdleWaitMs;
    if (!timers_.empty()) {
      auto until = timers_.begin()->first.first - Clock::now();
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(until).count();
      wait_ms = static_cast<int>(std::clamp<long>(ms, 0, kIdleWaitMs));
    }
    int n = epoll_wait(epoll_fd_, events.data(), kMaxEventsPerWait, wait_ms);
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
    for (int i = 0; i < n; ++i) {
      int fd = static_cast<int>(events[i].data.u64 & 0xffffffffU);
      auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
      auto it = entries_.find(fd);
      if (it == entries_.end() || it->second.generation != generation) continue;
      auto handler = it->second.handler;  // keeps the handler alive if it removes itself
      (*handler)(events[i].events);
    }
    run_timers();
    run_deferred();
  }
  drain_posted();
  run_deferred();
}

}  // namespace herd::sim

// One worker's event loop: level-triggered epoll over file descriptors, a timer map, and a
// thread-safe post() (eventfd). Handlers may add/remove descriptors and timers while running;
// a descriptor removed (or closed and reused) is never dispatched to its old handler.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace herd::sim {

class Loop {
 public:
  using Clock = std::chrono::steady_clock;
  using Handler = std::function<void(std::uint32_t events)>;  // EPOLLIN / EPOLLOUT / ...
  using TimerId = std::pair<Clock::time_point, std::uint64_t>;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  /// Watch `fd` for `events` (EPOLLIN, EPOLLOUT; errors and hangups always reported).
  void add(int fd, std::uint32_t events, Handler handler);
  /// Change what `fd` is watched for (no system call if unchanged).
  void modify(int fd, std::uint32_t events);
  /// Stop watching `fd` (call before closing it).
  void remove(int fd);

  TimerId at(Clock::time_point when, std::function<void()> fn);
  TimerId after(std::chrono::milliseconds delay, std::function<void()> fn) {
    return at(Clock::now() + delay, std::move(fn));
  }
  /// Cancel a timer; harmless if it already ran.
  void cancel(const TimerId& id) { timers_.erase(id); }

  /// Run `fn` on the loop's thread at the end of the current iteration (deferred destruction).
  void defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

  /// Thread-safe: run `fn` on the loop's thread soon.
  void post(std::function<void()> fn);

  /// Run until stop() (thread-safe).
  void run();
  void stop();

 private:
  struct Entry {
    std::uint32_t generation;
    std::uint32_t events;
    std::shared_ptr<Handler> handler;
  };
  void run_timers();
  void run_deferred();
  void drain_posted();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::uint32_t next_generation_ = 1;
  std::unordered_map<int, Entry> entries_;
  std::map<TimerId, std::function<void()>> timers_;
  std::uint64_t next_timer_ = 1;
  std::vector<std::function<void()>> deferred_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stopping_{false};
};

}  // namespace herd::sim

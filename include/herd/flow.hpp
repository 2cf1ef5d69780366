// Flows: resumable SSH work that can be driven by a blocking poll() or by an event loop.
//
// Theory of operation: every multi-step SSH operation (connect, authenticate, run a command) is
// written once, as a C++20 coroutine returning Flow<T>. Where libssh answers "again" (the socket
// is not ready), the flow does `co_await wait_io(IoWait{...})`: it names the file descriptor(s)
// it needs and its deadline, and suspends. Whoever drives the outermost flow (its *root*) reads
// that IoWait, waits however it likes, and resumes the flow with a WaitResult:
//   - run_blocking() waits with poll(): this is what Session::connect/exec do for one host;
//   - the fleet engine waits with Boost.Asio (async_wait on the descriptors plus a timer), so one
//     thread drives thousands of hosts, each suspended in its own flow.
// Flows nest: a flow may co_await another Flow<U>; the innermost one's IoWait is what the root
// sees. A flow runs only when resumed; nothing here starts threads or touches libssh.
#pragma once

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

namespace herd {

using FlowClock = std::chrono::steady_clock;

/// What a suspended flow waits for: `fd` readable (and writable when `write`), or `extra_fd`
/// readable (when >= 0), or `deadline`. `news`, when set, counts what has been read from `fd`
/// by anyone (the session's socket byte counter); it stood at `news_seen` when the flow parked.
/// A sibling flow on the same socket may read bytes meant for this one (see both()), so a
/// changed count means "look again" even though the socket itself stays quiet.
struct IoWait {
  int fd = -1;
  bool write = false;
  int extra_fd = -1;
  FlowClock::time_point deadline = FlowClock::time_point::max();
  const std::uint64_t* news = nullptr;
  std::uint64_t news_seen = 0;

  /// Something was read from the socket since the flow parked.
  bool has_news() const { return news != nullptr && *news != news_seen; }
};

/// How a wait ended. `cancelled` is delivered once when the driver is asked to stop the work
/// (Ctrl-C): flows then end what they started (a running command is signalled) and return.
enum class WaitResult { ready, timeout, cancelled, error };

/// Shared by every flow in one tree: where the innermost one parked, and how to resume it.
struct FlowRoot {
  IoWait wait;
  WaitResult result = WaitResult::ready;
  std::coroutine_handle<> suspended;

  /// Resume the parked flow with `r`.
  void resume(WaitResult r) {
    result = r;
    auto h = std::exchange(suspended, {});
    h.resume();
  }
};

namespace detail {

struct PromiseBase {
  std::coroutine_handle<> continuation;
  FlowRoot* root = nullptr;
  std::exception_ptr error;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() { error = std::current_exception(); }
};

}  // namespace detail

/// A lazily started coroutine producing a T. Move-only; owns its frame.
template <class T>
class [[nodiscard]] Flow {
 public:
  struct promise_type : detail::PromiseBase {
    std::optional<T> value;
    Flow get_return_object() {
      return Flow(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    template <class U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
  };

  Flow(Flow&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Flow& operator=(Flow&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Flow(const Flow&) = delete;
  Flow& operator=(const Flow&) = delete;
  ~Flow() {
    if (h_) h_.destroy();
  }

  // Awaited by a parent flow: run this one on the parent's root.
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    h_.promise().continuation = parent;
    h_.promise().root = parent.promise().root;
    return h_;
  }
  T await_resume() { return take(); }

  /// Driven as a root: start it; it runs until it first waits (see FlowRoot) or finishes.
  void start(FlowRoot& root) {
    h_.promise().root = &root;
    h_.resume();
  }
  /// True once the flow has produced its value (or thrown).
  bool done() const { return h_.done(); }
  /// The value of a finished flow (rethrows what it threw).
  T take() {
    auto& p = h_.promise();
    if (p.error) std::rethrow_exception(p.error);
    return std::move(*p.value);
  }

 private:
  explicit Flow(std::coroutine_handle<promise_type> h) : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

/// Suspend the current flow until its root's driver resumes it; see IoWait.
struct wait_io {
  IoWait wait;
  FlowRoot* root = nullptr;

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    root = h.promise().root;
    root->wait = wait;
    root->suspended = h;
  }
  WaitResult await_resume() const noexcept { return root->result; }
};

namespace detail {

/// One wait covering two children's: their descriptors (the second one's in `extra_fd` when
/// it differs and that slot is free), write interest if either has it, the earlier deadline.
inline IoWait merge_waits(const IoWait* a, const IoWait* b) {
  if (a == nullptr) return *b;
  if (b == nullptr) return *a;
  IoWait w = *a;
  w.write = a->write || b->write;
  w.deadline = std::min(a->deadline, b->deadline);
  if (b->fd != a->fd && w.extra_fd < 0) w.extra_fd = b->fd;
  if (b->extra_fd >= 0 && w.extra_fd < 0) w.extra_fd = b->extra_fd;
  return w;
}

/// Resume a parked child with the shared wait's result: a timeout only reaches a child whose
/// own deadline has passed; the others see a (possibly spurious) `ready` and wait again.
inline void resume_child(FlowRoot& root, WaitResult r, FlowClock::time_point now) {
  if (r == WaitResult::timeout && now < root.wait.deadline) r = WaitResult::ready;
  root.resume(r);
}

}  // namespace detail

/// Run `a` and `b` interleaved until both have finished, and return both values. Meant for two
/// flows on one SSH session (say an SFTP transfer and a command on another channel): each is
/// driven on a root of its own, and this flow parks on the union of their waits. A wake-up may
/// be spurious for one of them, which flows tolerate (they retry and park again). Only one
/// extra descriptor is waited on: give a descriptor of its own to at most one of the two.
///
/// Two flows reading one SSH socket: when one runs, libssh may read packets for the other's
/// channel and hand them to it, and the socket then stays quiet although the other has work.
/// So before parking, a child whose wait has news (bytes were read since it parked) is resumed.
template <class A, class B>
Flow<std::pair<A, B>> both(Flow<A> a, Flow<B> b) {
  FlowRoot ra;
  FlowRoot rb;
  a.start(ra);
  b.start(rb);
  while (!a.done() || !b.done()) {
    if (!a.done() && ra.wait.has_news()) {
      ra.resume(WaitResult::ready);
      continue;
    }
    if (!b.done() && rb.wait.has_news()) {
      rb.resume(WaitResult::ready);
      continue;
    }
    const IoWait merged =
        detail::merge_waits(a.done() ? nullptr : &ra.wait, b.done() ? nullptr : &rb.wait);
    const WaitResult r = co_await wait_io{merged};
    const auto now = FlowClock::now();
    if (!a.done()) detail::resume_child(ra, r, now);
    if (!b.done()) detail::resume_child(rb, r, now);
  }
  A first = a.take();
  B second = b.take();
  co_return std::pair<A, B>(std::move(first), std::move(second));
}

/// Wait for `w` with poll() in this thread (EINTR retried; deadline honoured exactly).
WaitResult poll_wait(const IoWait& w);

/// Drive `flow` to completion in this thread, waiting with poll_wait().
template <class T>
T run_blocking(Flow<T> flow) {
  FlowRoot root;
  flow.start(root);
  while (!flow.done()) root.resume(poll_wait(root.wait));
  return flow.take();
}

}  // namespace herd

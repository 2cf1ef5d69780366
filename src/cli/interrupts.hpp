// Ctrl-C during a fleet run: the first SIGINT/SIGTERM prints a notice and calls `on_interrupt`
// (the engine then starts no new host and signals running commands), a second one exits at
// once with 130.
#pragma once

#include <functional>
#include <string_view>
#include <thread>

#include <signal.h>

namespace herd::cli {

/// While alive, SIGINT and SIGTERM are blocked in this thread and in threads it starts later,
/// and a watcher thread takes them with sigwait(). Construct before starting worker threads.
/// Their dispositions are reset to default meanwhile: a shell starts background jobs with
/// SIGINT ignored, and an ignored signal would never reach sigwait().
class InterruptGuard {
 public:
  /// `notify` prints the one-line notice of the first signal (default: on stderr, after a
  /// newline that ends the line the terminal echoed "^C" on).
  explicit InterruptGuard(std::function<void()> on_interrupt,
                          std::function<void(std::string_view)> notify = {});
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  sigset_t old_mask_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  std::thread watcher_;
};

}  // namespace herd::cli

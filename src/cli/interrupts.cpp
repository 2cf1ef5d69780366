#include "cli/interrupts.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

namespace herd::cli {
namespace {

constexpr int kStopSignal = SIGUSR1;  // sent by the guard's destructor to end the watcher

sigset_t watched() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kStopSignal);
  return set;
}

}  // namespace

InterruptGuard::InterruptGuard(std::function<void()> on_interrupt,
                               std::function<void(std::string_view)> notify) {
  if (!notify) {
    notify = [](std::string_view line) {
      (void)!::write(STDERR_FILENO, "\n", 1);
      (void)!::write(STDERR_FILENO, line.data(), line.size());
    };
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, &old_int_);
  sigaction(SIGTERM, &dfl, &old_term_);
  sigset_t set = watched();
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  watcher_ = std::thread([set, cb = std::move(on_interrupt), notify = std::move(notify)] {
    int seen = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == kStopSignal) return;
      if (++seen == 1) {
        notify(
            "herd: interrupted: starting no new hosts, ending running commands "
            "(Ctrl-C again to quit now)\n");
        cb();
      } else {
        // At once: no summary, no waiting for a lock. On a terminal, end the "^C" line first.
        if (::isatty(STDERR_FILENO) != 0) (void)!::write(STDERR_FILENO, "\n", 1);
        ::_exit(130);
      }
    }
  });
}

InterruptGuard::~InterruptGuard() {
  pthread_kill(watcher_.native_handle(), kStopSignal);
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

}  // namespace herd::cli

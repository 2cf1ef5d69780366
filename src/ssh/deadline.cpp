#include "ssh/deadline.hpp"

#include <poll.h>

#include <cerrno>

namespace herd {

namespace ssh {
int remaining_ms(Deadline d) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - Clock::now()).count();
  if (left <= 0) return 0;
  constexpr long long kMaxPollMs = 1000LL * 60 * 60;  // ms; poll() takes an int
  return static_cast<int>(left > kMaxPollMs ? kMaxPollMs : left);
}
}  // namespace ssh

WaitResult poll_wait(const IoWait& w) {
  for (;;) {
    pollfd p[2] = {{w.fd, static_cast<short>(POLLIN | (w.write ? POLLOUT : 0)), 0},
                   {w.extra_fd, POLLIN, 0}};
    nfds_t n = w.extra_fd >= 0 ? 2 : 1;
    int rc = ::poll(p, n, ssh::remaining_ms(w.deadline));
    if (rc > 0) return WaitResult::ready;
    if (rc == 0) {
      if (ssh::Clock::now() >= w.deadline) return WaitResult::timeout;
      continue;  // poll's cap (not the deadline) ran out
    }
    if (errno != EINTR) return WaitResult::error;
  }
}

}  // namespace herd

#include "ssh/deadline.hpp"

#include <poll.h>

#include <cerrno>

namespace herd::ssh {

int remaining_ms(Deadline d) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - Clock::now()).count();
  if (left <= 0) return 0;
  constexpr long long kMaxPollMs = 1000LL * 60 * 60;  // ms; poll() takes an int
  return static_cast<int>(left > kMaxPollMs ? kMaxPollMs : left);
}

WaitResult wait_fd(int fd, bool want_write, Deadline d) {
  for (;;) {
    pollfd p{fd, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
    int left = remaining_ms(d);
    int rc = ::poll(&p, 1, left);
    if (rc > 0) return WaitResult::ready;
    if (rc == 0) {
      if (Clock::now() >= d) return WaitResult::timeout;
      continue;  // poll's cap (not the deadline) ran out
    }
    if (errno != EINTR) return WaitResult::error;
  }
}

}  // namespace herd::ssh

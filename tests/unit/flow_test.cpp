// herd::both(): two flows interleaved on one root, each woken by its own descriptor and
// timed out only by its own deadline. Pipes stand in for sockets.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>

#include "herd/flow.hpp"

namespace {

using namespace std::chrono_literals;
using herd::Flow;
using herd::FlowClock;
using herd::IoWait;
using herd::WaitResult;

struct Pipe {
  std::array<int, 2> fd{-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fd.data()), 0); }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

/// Waits until `fd` has a byte, then returns it; "timeout" once `deadline` passes. Then, if
/// `then_write` >= 0, writes "n" there (an event for the other flow). Counts the wake-ups that
/// found nothing (spurious ones, from the other flow's events).
Flow<std::string> read_one(int fd, FlowClock::time_point deadline, int* spurious,
                           int then_write = -1) {
  std::string got;
  for (;;) {
    IoWait w;
    w.fd = fd;
    w.deadline = deadline;
    WaitResult r = co_await herd::wait_io{w};
    if (r == WaitResult::timeout) {
      got = "timeout";
      break;
    }
    char c = 0;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && ::read(fd, &c, 1) == 1) {
      got = std::string(1, c);
      break;
    }
    ++*spurious;
  }
  if (then_write >= 0) {
    EXPECT_EQ(::write(then_write, "n", 1), 1);
  }
  co_return got;
}

TEST(FlowBoth, EachFlowFinishesOnItsOwnDescriptor) {
  Pipe a, b;
  int spurious_a = 0, spurious_b = 0;
  const auto far = FlowClock::now() + 30s;
  // Only a has data; b's byte is written by a when it is done: the combined flow must keep
  // waiting on b's descriptor after a has finished.
  ASSERT_EQ(::write(a.fd[1], "a", 1), 1);
  auto r = herd::run_blocking(herd::both(read_one(a.fd[0], far, &spurious_a, b.fd[1]),
                                         read_one(b.fd[0], far, &spurious_b)));
  EXPECT_EQ(r.first, "a");
  EXPECT_EQ(r.second, "n");
  EXPECT_EQ(spurious_a, 0);
}

TEST(FlowBoth, ATimeoutReachesOnlyTheFlowWhoseDeadlinePassed) {
  Pipe a, b;
  int spurious_a = 0, spurious_b = 0;
  const auto start = FlowClock::now();
  const auto soon = start + 50ms;
  const auto far = start + 30s;
  // a is never answered and times out; only then does it write b's byte. b, woken by that
  // same timeout, must not be told "timeout": its own deadline is far.
  auto r = herd::run_blocking(herd::both(read_one(a.fd[0], soon, &spurious_a, b.fd[1]),
                                         read_one(b.fd[0], far, &spurious_b)));
  EXPECT_EQ(r.first, "timeout");
  EXPECT_EQ(r.second, "n");
  EXPECT_GE(FlowClock::now() - start, 50ms);
  EXPECT_LT(FlowClock::now() - start, 10s);
}

TEST(FlowBoth, BothTimeOutOnTheirOwnDeadlines) {
  Pipe a, b;
  int spurious_a = 0, spurious_b = 0;
  const auto start = FlowClock::now();
  auto r = herd::run_blocking(herd::both(read_one(a.fd[0], start + 20ms, &spurious_a),
                                         read_one(b.fd[0], start + 80ms, &spurious_b)));
  EXPECT_EQ(r.first, "timeout");
  EXPECT_EQ(r.second, "timeout");
  EXPECT_GE(FlowClock::now() - start, 80ms);  // b was not ended by a's earlier deadline
  EXPECT_GE(spurious_b, 1);                   // it was woken by it, found nothing, waited on
}

}  // namespace

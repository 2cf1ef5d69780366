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

/// Waits on `fd` (which never becomes readable) until `mailbox` holds something, which the
/// other flow puts there while "reading the shared socket": it bumps `reads` as a session's
/// socket counter would. "timeout" once `deadline` passes.
Flow<std::string> wait_for_mail(int fd, const std::uint64_t* reads, const std::string* mailbox,
                                FlowClock::time_point deadline) {
  for (;;) {
    if (!mailbox->empty()) co_return *mailbox;
    IoWait w;
    w.fd = fd;
    w.deadline = deadline;
    w.news = reads;
    w.news_seen = *reads;
    WaitResult r = co_await herd::wait_io{w};
    if (r == WaitResult::timeout) co_return std::string("timeout");
  }
}

/// Waits for a byte on `fd`, then, as if its read of the shared socket brought a packet for the
/// other flow's channel, fills `mailbox` and bumps `reads`.
Flow<std::string> read_for_both(int fd, std::uint64_t* reads, std::string* mailbox,
                                FlowClock::time_point deadline) {
  int spurious = 0;
  std::string got = co_await read_one(fd, deadline, &spurious);
  *mailbox = "mail";
  ++*reads;
  co_return got;
}

TEST(FlowBoth, AFlowWhoseSocketWasReadByTheOtherLooksAgainAtOnce) {
  Pipe quiet, b;
  std::uint64_t reads = 0;
  std::string mailbox;
  const auto start = FlowClock::now();
  const auto deadline = start + 20s;
  ASSERT_EQ(::write(b.fd[1], "b", 1), 1);
  // a's own descriptor never wakes it: only the news that b read the socket can.
  auto r = herd::run_blocking(herd::both(wait_for_mail(quiet.fd[0], &reads, &mailbox, deadline),
                                         read_for_both(b.fd[0], &reads, &mailbox, deadline)));
  EXPECT_EQ(r.first, "mail");
  EXPECT_EQ(r.second, "b");
  EXPECT_LT(FlowClock::now() - start, 10s);
}

TEST(FlowBoth, WaitsWithoutNewsAreNotResumedEarly) {
  IoWait w;
  EXPECT_FALSE(w.has_news());
  std::uint64_t reads = 7;
  w.news = &reads;
  w.news_seen = 7;
  EXPECT_FALSE(w.has_news());
  ++reads;
  EXPECT_TRUE(w.has_news());
}

}  // namespace

#include "ssh/tcp_connect.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace herd::ssh {
namespace {

Errc errc_for_connect_errno(int err) {
  switch (err) {
    case ECONNREFUSED: return Errc::connection_refused;
    case ETIMEDOUT: return Errc::connect_timeout;
    default: return Errc::host_unreachable;
  }
}

constexpr int kCancelled = -1;  // pseudo errno: the wait was cancelled

/// Try one address; returns the socket, or -1 with `err` set.
Flow<int> try_address(const addrinfo* ai, Deadline deadline, int& err) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    err = errno;
    co_return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) co_return fd;
  if (errno != EINPROGRESS) {
    err = errno;
    ::close(fd);
    co_return -1;
  }
  // A non-blocking connect reports completion (or failure) as writability.
  WaitResult w = co_await wait_io{IoWait{.fd = fd, .write = true, .deadline = deadline}};
  int so_error = 0;
  if (w == WaitResult::timeout) {
    so_error = ETIMEDOUT;
  } else if (w == WaitResult::cancelled) {
    so_error = kCancelled;
  } else if (w == WaitResult::error) {
    so_error = errno;
  } else {
    socklen_t len = sizeof so_error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0) so_error = errno;
  }
  if (so_error == 0) co_return fd;
  err = so_error;
  ::close(fd);
  co_return -1;
}

}  // namespace

Flow<Result<int>> tcp_connect(const std::string& host, std::uint16_t port, Deadline deadline,
                              const std::string& who) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    co_return fail(Errc::dns_failure, Phase::resolve, who,
                fmt::format("{}: cannot resolve '{}': {}", who, host, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  int last_err = EHOSTUNREACH;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    int fd = co_await try_address(ai, deadline, last_err);
    if (fd >= 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      co_return fd;
    }
    if (last_err == kCancelled) co_return fail(Errc::cancelled, Phase::connect, who, who + ": interrupted");
    if (last_err == ETIMEDOUT) break;  // the deadline is shared by all addresses
  }
  Errc code = errc_for_connect_errno(last_err);
  std::string what = code == Errc::connect_timeout ? std::string("connect timed out")
                                                   : std::string(std::strerror(last_err));
  co_return fail(code, Phase::connect, who, fmt::format("{}: {}", who, what));
}

}  // namespace herd::ssh

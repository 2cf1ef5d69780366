#include "listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace herd::sim {
namespace {

constexpr int kBacklog = 4096;
constexpr int kFillerConnectTimeoutMs = 2000;  // ms

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::optional<Listener> failed(Listener& l, std::string& error, const char* what) {
  error = fmt::format("{}: {}", what, std::strerror(errno));
  close_listener(l);
  return std::nullopt;
}

}  // namespace

std::optional<Listener> open_listener(Fault fault, std::string& error) {
  Listener l;
  l.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l.fd < 0) return failed(l, error, "socket");
  auto addr = loopback(0);
  if (bind(l.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return failed(l, error, "bind");
  socklen_t len = sizeof addr;
  if (getsockname(l.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return failed(l, error, "getsockname");
  }
  l.port = ntohs(addr.sin_port);
  if (fault == Fault::refused) return l;
  if (listen(l.fd, fault == Fault::blackhole ? 0 : kBacklog) != 0) return failed(l, error, "listen");
  if (fault != Fault::blackhole) return l;

  l.filler_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l.filler_fd < 0) return failed(l, error, "socket");
  auto to = loopback(l.port);
  if (connect(l.filler_fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    return failed(l, error, "connect (blackhole filler)");
  }
  pollfd p{l.filler_fd, POLLOUT, 0};
  int soerr = 0;
  socklen_t soerr_len = sizeof soerr;
  if (poll(&p, 1, kFillerConnectTimeoutMs) != 1 ||
      getsockopt(l.filler_fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) != 0 || soerr != 0) {
    if (soerr != 0) errno = soerr;
    return failed(l, error, "connect (blackhole filler)");
  }
  return l;
}

void close_listener(Listener& l) {
  if (l.filler_fd >= 0) ::close(l.filler_fd);
  if (l.fd >= 0) ::close(l.fd);
  l.fd = l.filler_fd = -1;
}

}  // namespace herd::sim

#include "worker.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

namespace herd::sim {
namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(100);  // after EMFILE / ENFILE

ssh_bind make_bind(ssh_key key) {
  ssh_bind b = ssh_bind_new();
  if (b == nullptr) throw std::runtime_error("ssh_bind_new failed");
  if (const char* v = std::getenv("HERD_SIM_LIBSSH_VERBOSITY")) {
    int level = std::atoi(v);
    ssh_bind_options_set(b, SSH_BIND_OPTIONS_LOG_VERBOSITY, &level);
  }
  bool no = false;
  ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
  // The bind takes ownership of the key it is given.
  if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, ssh_key_dup(key)) != SSH_OK) {
    throw std::runtime_error(fmt::format("ssh_bind: {}", ssh_get_error(b)));
  }
  return b;
}

}  // namespace

Worker::Worker(const SessionConfig& config, ssh_key good_key, ssh_key bad_key,
               std::chrono::milliseconds latency)
    : reaper_(loop_), config_(config), latency_(latency), good_bind_(make_bind(good_key)),
      bad_bind_(make_bind(bad_key)) {}

Worker::~Worker() {
  stop();
  for (auto& [fd, unused] : stalled_) ::close(fd);
  stalled_.clear();
  connections_.clear();
  reaper_.finish();
  ssh_bind_free(good_bind_);
  ssh_bind_free(bad_bind_);
}

void Worker::add_host(Host& host) {
  hosts_.push_back(&host);
  if (host.fault == Fault::refused || host.fault == Fault::blackhole) return;  // never accepted
  loop_.add(host.listener.fd, EPOLLIN, [this, &host](std::uint32_t) { on_acceptable(host); });
}

void Worker::start() {
  thread_ = std::thread([this] { loop_.run(); });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  loop_.stop();
  thread_.join();
}

void Worker::on_acceptable(Host& host) {
  while (true) {
    int fd = accept4(host.listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_one(host, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: stop watching this listener for a moment instead of spinning.
      loop_.modify(host.listener.fd, 0);
      loop_.after(kAcceptRetry, [this, &host] { loop_.modify(host.listener.fd, EPOLLIN); });
    }
    return;
  }
}

void Worker::accept_one(Host& host, int fd) {
  if (host.fault == Fault::stall) return hold_stalled(fd);
  auto conn = std::make_unique<Connection>();
  Connection* c = conn.get();
  int ssh_fd = fd;
  if (latency_.count() > 0) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
      ::close(fd);
      return;
    }
    c->relay = std::make_unique<Relay>(loop_, fd, pair[0], latency_, [this, c] {
      c->relay.reset();
      maybe_erase(c);
    });
    ssh_fd = pair[1];
  }
  ssh_bind bind = host.fault == Fault::hostkey ? bad_bind_ : good_bind_;
  c->session = std::make_unique<Session>(loop_, reaper_, config_, host.fault, bind, ssh_fd, [this, c] {
    c->session.reset();
    maybe_erase(c);
  });
  connections_.emplace(c, std::move(conn));
  c->session->start();  // on failure it closes itself (deferred)
}

void Worker::maybe_erase(Connection* c) {
  if (!c->session && !c->relay) connections_.erase(c);
}

// `stall`: the TCP connection is accepted and then nothing is ever sent. What the client sends
// is read and dropped; the socket is closed when the client goes away.
void Worker::hold_stalled(int fd) {
  stalled_[fd] = true;
  loop_.add(fd, EPOLLIN, [this, fd](std::uint32_t) {
    std::array<char, 4096> buf;
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
    loop_.remove(fd);
    ::close(fd);
    stalled_.erase(fd);
  });
}

}  // namespace herd::sim

// ProxyJump through direct-tcpip channels; see jump.hpp for the theory of operation.
#include "ssh/jump.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "ssh/session_impl.hpp"

namespace herd {

namespace ssh {
namespace {

constexpr std::size_t kChunk = 64 * 1024;  // bytes read at once from either side
constexpr std::size_t kMaxHops = 8;        // a longer chain is a configuration loop
constexpr std::size_t kMaxStatusLine = 1024;

std::string join_hops(const std::vector<JumpHop>& hops, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    const JumpHop& h = hops[i];
    if (!out.empty()) out += ',';
    if (!h.user.empty()) out += h.user + '@';
    out += h.host.find(':') != std::string::npos ? '[' + h.host + ']' : h.host;
    if (h.port != 0) out += ':' + std::to_string(h.port);
  }
  return out;
}

/// What a hop is reached with: the target's credentials and files, the hop's own name, user
/// and port (or what ssh_config says of the hop), and the hops before it as its ProxyJump. A
/// jump host's own ProxyJump in ssh_config is not followed: the chain names every hop.
SessionOptions hop_options(const SessionOptions& target, const std::vector<JumpHop>& hops,
                           std::size_t i) {
  SessionOptions o = target;
  o.host = hops[i].host;
  o.hostname.reset();
  o.port.reset();
  if (hops[i].port != 0) o.port = hops[i].port;
  o.user.reset();
  if (!hops[i].user.empty()) o.user = hops[i].user;
  o.proxy_jump = i == 0 ? std::string("none") : join_hops(hops, i);
  o.deadline.reset();  // a shared jump connection is not bound to one target's deadline
  return o;
}

/// Relays are shared by targets whose hop would be connected the same way.
std::string registry_key(const SessionOptions& o) {
  std::string key =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n", o.host, o.port.value_or(0), o.user.value_or(""),
                  o.proxy_jump.value_or(""), o.ssh_config ? o.ssh_config->string() : "",
                  o.known_hosts ? o.known_hosts->string() : "");
  for (const auto& k : o.key_files) key += k.string() + '\n';
  for (const auto& k : o.private_keys) key += std::to_string(std::hash<std::string>{}(k)) + '\n';
  key += fmt::format("{}{}{}{}", o.allow_agent, o.look_for_keys,
                     o.host_key_policy ? static_cast<int>(*o.host_key_policy) : -1,
                     o.password ? std::hash<std::string>{}(*o.password) : 0);
  return key;
}

/// The status line a relay writes before stream bytes: "ok" or "err CODE MESSAGE".
std::string status_line(const Error* e) {
  if (e == nullptr) return "ok\n";
  std::string message = e->message;
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (message.size() > kMaxStatusLine - 32) message.resize(kMaxStatusLine - 32);
  return fmt::format("err {} {}\n", static_cast<int>(e->code), message);
}

/// One stream through the jump host: a direct-tcpip channel and our end of a socketpair.
struct Link {
  std::string host;
  std::uint16_t port = 0;
  int fd = -1;
  ssh_channel ch = nullptr;
  bool open = false;  // the channel is open and "ok" was sent
  std::string to_fd;  // from the channel, not yet written to fd
  std::size_t to_fd_at = 0;
  std::string to_ch;  // from fd, not yet taken by the channel's window
  std::size_t to_ch_at = 0;
  bool done = false;

  ~Link() {
    if (ch != nullptr) {
      if (ssh_channel_is_open(ch) != 0) ssh_channel_close(ch);
      ssh_channel_free(ch);
    }
    if (fd >= 0) ::close(fd);
  }
};

/// Write the whole (short) status line on a fresh socketpair end; its buffer is empty.
void send_status(int fd, const Error* e) {
  const std::string line = status_line(e);
  (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

/// A connection to one jump host carrying direct-tcpip streams; see jump.hpp.
class JumpRelay {
 public:
  explicit JumpRelay(SessionOptions hop) : hop_(std::move(hop)) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      wake_[0] = wake_[1] = -1;
      return;
    }
    thread_ = std::thread([this] { run(); });
  }

  ~JumpRelay() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
    for (auto& r : queue_) ::close(r.fd);
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }
  JumpRelay(const JumpRelay&) = delete;
  JumpRelay& operator=(const JumpRelay&) = delete;

  /// A socketpair end that will carry a stream to host:port after the status line.
  Result<int> open(const std::string& host, std::uint16_t port, const std::string& who) {
    int sv[2];
    if (wake_[0] < 0 || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
      return fail(Errc::local_io, Phase::connect, who,
                  fmt::format("{}: cannot make a socket pair for the jump host: {}", who,
                              std::strerror(errno)));
    }
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(Request{host, port, sv[1]});
    }
    wake();
    return sv[0];
  }

 private:
  struct Request {
    std::string host;
    std::uint16_t port;
    int fd;
  };

  void wake() {
    if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  }
  void drain_wake() {
    std::array<char, 64> buf{};
    while (::read(wake_[0], buf.data(), buf.size()) > 0) {
    }
  }
  bool stopping() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

  void run() {
    connect_hop();
    if (session_) serve();
    // Failed (or stopped): answer every request with the error until the last user lets go.
    while (!stopping()) {
      answer_failed();
      pollfd p{wake_[0], POLLIN, 0};
      ::poll(&p, 1, -1);
      drain_wake();
    }
    links_.clear();
    session_.reset();
  }

  /// Connect the jump host's Session, waking up early when the relay is stopped.
  void connect_hop() {
    FlowRoot root;
    auto flow = Session::connect_async(hop_);
    flow.start(root);
    while (!flow.done()) {
      const IoWait& w = root.wait;
      pollfd p[3] = {{w.fd, static_cast<short>(POLLIN | (w.write ? POLLOUT : 0)), 0},
                     {w.extra_fd, POLLIN, 0},
                     {wake_[0], POLLIN, 0}};
      int rc = ::poll(p, 3, remaining_ms(w.deadline));
      if (p[2].revents != 0) drain_wake();
      if (stopping()) {
        root.resume(WaitResult::cancelled);
      } else if (rc > 0 && (p[0].revents != 0 || p[1].revents != 0)) {
        root.resume(WaitResult::ready);
      } else if (rc == 0 && Clock::now() >= w.deadline) {
        root.resume(WaitResult::timeout);
      } else if (rc < 0 && errno != EINTR) {
        root.resume(WaitResult::error);
      }
    }
    auto s = flow.take();
    if (s) {
      session_.emplace(std::move(*s));
    } else {
      error_ = s.error();
      error_->message = fmt::format("jump host {}", error_->message);
    }
  }

  std::vector<Request> take_queue() {
    std::lock_guard lock(mutex_);
    return std::exchange(queue_, {});
  }

  void answer_failed() {
    for (auto& r : take_queue()) {
      send_status(r.fd, &*error_);
      ::close(r.fd);
    }
  }

  void serve() {
    ssh_session s = SessionAccess::of(*session_).s;
    ssh_set_blocking(s, 0);
    const std::string jump_name = session_->target().display();
    while (!stopping()) {
      for (auto& r : take_queue()) {
        auto link = std::make_unique<Link>();
        link->host = std::move(r.host);
        link->port = r.port;
        link->fd = r.fd;
        link->ch = ssh_channel_new(s);
        if (link->ch == nullptr) link->done = true;
        links_.push_back(std::move(link));
      }
      if (ssh_blocking_flush(s, 0) == SSH_ERROR || ssh_is_connected(s) == 0) {
        error_ = Error{Errc::protocol_error, Phase::connect, jump_name,
                       fmt::format("jump host {}: connection lost: {}", jump_name,
                                   SessionAccess::of(*session_).ssh_error())};
        for (auto& l : links_) {
          if (!l->open) send_status(l->fd, &*error_);
        }
        links_.clear();
        return;
      }
      for (bool progress = true; progress;) {
        progress = false;
        for (auto& l : links_) progress = step(*l, jump_name) || progress;
      }
      std::erase_if(links_, [](const auto& l) { return l->done; });

      std::vector<pollfd> fds;
      fds.reserve(links_.size() + 2);
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back(
          {ssh_get_fd(s),
           static_cast<short>(POLLIN | ((ssh_get_poll_flags(s) & SSH_WRITE_PENDING) ? POLLOUT : 0)),
           0});
      for (const auto& l : links_) {
        short events = 0;
        if (l->open && l->to_ch_at == l->to_ch.size()) events |= POLLIN;
        if (l->to_fd_at < l->to_fd.size()) events |= POLLOUT;
        fds.push_back({l->fd, events, 0});
      }
      ::poll(fds.data(), fds.size(), -1);
      if (fds[0].revents != 0) drain_wake();
      // A session that closed its socket while we hold bytes for its channel (window full,
      // so POLLIN was not asked) would report POLLHUP on every poll: it is gone, end its link.
      for (std::size_t i = 0; i < links_.size(); ++i) {
        const pollfd& p = fds[i + 2];
        if ((p.revents & (POLLHUP | POLLERR)) != 0 && (p.events & POLLIN) == 0) {
          links_[i]->done = true;
        }
      }
    }
  }

  /// Move what can be moved for one link without blocking; true if anything moved.
  bool step(Link& l, const std::string& jump_name) {
    if (l.done) return false;
    if (!l.open) {
      int rc = ssh_channel_open_forward(l.ch, l.host.c_str(), l.port, "127.0.0.1", 0);
      if (rc == SSH_AGAIN) return false;
      if (rc != SSH_OK) {
        Error e{Errc::connection_refused, Phase::connect, jump_name,
                fmt::format("jump host {} cannot open a connection to {}:{}: {}", jump_name, l.host,
                            l.port, SessionAccess::of(*session_).ssh_error())};
        send_status(l.fd, &e);
        l.done = true;
        return true;
      }
      send_status(l.fd, nullptr);
      l.open = true;
    }
    bool moved = false;
    // channel -> fd
    if (l.to_fd_at == l.to_fd.size()) {
      std::array<char, kChunk> buf{};
      int n = ssh_channel_read_nonblocking(l.ch, buf.data(), buf.size(), 0);
      if (n > 0) {
        l.to_fd.assign(buf.data(), static_cast<std::size_t>(n));
        l.to_fd_at = 0;
        moved = true;
      } else if (n == SSH_ERROR || n == SSH_EOF || ssh_channel_is_eof(l.ch) != 0 ||
                 ssh_channel_is_closed(l.ch) != 0) {
        l.done = true;  // the far end closed: the session on fd sees EOF
        return true;
      }
    }
    if (l.to_fd_at < l.to_fd.size()) {
      ssize_t n = ::send(l.fd, l.to_fd.data() + l.to_fd_at, l.to_fd.size() - l.to_fd_at,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        l.to_fd_at += static_cast<std::size_t>(n);
        moved = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        l.done = true;
        return true;
      }
    }
    // fd -> channel
    if (l.to_ch_at == l.to_ch.size()) {
      std::array<char, kChunk> buf{};
      ssize_t n = ::recv(l.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) {
        l.to_ch.assign(buf.data(), static_cast<std::size_t>(n));
        l.to_ch_at = 0;
        moved = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        ssh_channel_send_eof(l.ch);  // the session closed its socket
        l.done = true;
        return true;
      }
    }
    if (l.to_ch_at < l.to_ch.size()) {
      int n = ssh_channel_write(l.ch, l.to_ch.data() + l.to_ch_at,
                                static_cast<std::uint32_t>(l.to_ch.size() - l.to_ch_at));
      if (n < 0) {
        l.done = true;
        return true;
      }
      if (n > 0) {
        l.to_ch_at += static_cast<std::size_t>(n);
        moved = true;
      }
    }
    return moved;
  }

  SessionOptions hop_;
  int wake_[2] = {-1, -1};
  std::mutex mutex_;
  std::vector<Request> queue_;
  bool stop_ = false;
  std::thread thread_;
  // Relay thread only:
  std::optional<Session> session_;
  std::optional<Error> error_;
  std::vector<std::unique_ptr<Link>> links_;
};

namespace {

/// The relay for `hop`, shared with every other user of the same hop.
std::shared_ptr<JumpRelay> relay_for(const SessionOptions& hop) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<JumpRelay>> relays;
  const std::string key = registry_key(hop);
  std::lock_guard lock(mutex);
  std::erase_if(relays, [](const auto& kv) { return kv.second.expired(); });
  auto& slot = relays[key];
  if (auto r = slot.lock()) return r;
  auto r = std::make_shared<JumpRelay>(hop);
  slot = r;
  return r;
}

Result<std::uint16_t> parse_port(std::string_view text, const std::string& value) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
    return fail(Errc::bad_config, Phase::resolve, "",
                fmt::format("ProxyJump '{}': bad port '{}'", value, text));
  }
  return static_cast<std::uint16_t>(port);
}

}  // namespace

Result<std::vector<JumpHop>> parse_proxy_jump(const std::string& value) {
  std::vector<JumpHop> hops;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    std::string_view item(value.data() + start, end - start);
    start = end + 1;
    if (item.starts_with("ssh://")) item.remove_prefix(6);
    if (item.empty()) {
      return fail(Errc::bad_config, Phase::resolve, "",
                  fmt::format("ProxyJump '{}': empty hop", value));
    }
    JumpHop hop;
    if (auto at = item.rfind('@'); at != std::string_view::npos) {
      hop.user = item.substr(0, at);
      item.remove_prefix(at + 1);
    }
    std::string_view port;
    if (item.starts_with('[')) {
      auto close = item.find(']');
      if (close == std::string_view::npos) {
        return fail(Errc::bad_config, Phase::resolve, "",
                    fmt::format("ProxyJump '{}': unclosed '['", value));
      }
      hop.host = item.substr(1, close - 1);
      auto rest = item.substr(close + 1);
      if (rest.starts_with(':')) port = rest.substr(1);
    } else if (auto colon = item.find(':');
               colon != std::string_view::npos && item.find(':', colon + 1) == item.npos) {
      hop.host = item.substr(0, colon);
      port = item.substr(colon + 1);
    } else {
      hop.host = item;
    }
    if (!port.empty()) {
      auto p = parse_port(port, value);
      if (!p) return std::unexpected(p.error());
      hop.port = *p;
    }
    if (hop.host.empty()) {
      return fail(Errc::bad_config, Phase::resolve, "",
                  fmt::format("ProxyJump '{}': a hop has no host", value));
    }
    hops.push_back(std::move(hop));
  }
  if (hops.size() > kMaxHops) {
    return fail(Errc::bad_config, Phase::resolve, "",
                fmt::format("ProxyJump '{}': more than {} hops", value, kMaxHops));
  }
  return hops;
}

Flow<Result<int>> jump_connect(const SessionOptions& target, const std::string& jump,
                               const std::string& host, std::uint16_t port, Deadline deadline,
                               const std::string& who, std::shared_ptr<void>& keepalive) {
  auto hops = parse_proxy_jump(jump);
  if (!hops) {
    auto e = hops.error();
    e.host = who;
    e.message = fmt::format("{}: {}", who, e.message);
    co_return std::unexpected(e);
  }
  auto relay = relay_for(hop_options(target, *hops, hops->size() - 1));
  auto opened = relay->open(host, port, who);
  if (!opened) co_return std::unexpected(opened.error());
  const int fd = *opened;

  // The status line, one byte at a time so no stream byte is taken from libssh.
  std::string line;
  for (;;) {
    char c = 0;
    ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
    if (n == 1) {
      if (c == '\n') break;
      line += c;
      if (line.size() <= kMaxStatusLine) continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      WaitResult w = co_await wait_io{IoWait{.fd = fd, .deadline = deadline}};
      if (w == WaitResult::ready) continue;
      ::close(fd);
      if (w == WaitResult::cancelled) {
        co_return fail(Errc::cancelled, Phase::connect, who, who + ": interrupted");
      }
      co_return fail(Errc::timeout, Phase::connect, who,
                     fmt::format("{}: timed out connecting through jump host {}", who, jump));
    }
    ::close(fd);
    co_return fail(Errc::protocol_error, Phase::connect, who,
                   fmt::format("{}: the jump relay for {} ended without a status", who, jump));
  }
  if (line == "ok") {
    keepalive = std::move(relay);
    co_return fd;
  }
  ::close(fd);
  // "err CODE MESSAGE"
  int code = static_cast<int>(Errc::protocol_error);
  std::string message = line;
  if (line.starts_with("err ")) {
    auto space = line.find(' ', 4);
    std::from_chars(line.data() + 4, line.data() + std::min(space, line.size()), code);
    message = space == std::string::npos ? "" : line.substr(space + 1);
  }
  co_return fail(static_cast<Errc>(code), Phase::connect, who,
                 fmt::format("{}: via {}", who, message));
}

}  // namespace ssh
}  // namespace herd

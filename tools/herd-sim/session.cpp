#include "session.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "channel.hpp"
#include "child.hpp"

namespace herd::sim {
namespace {

constexpr auto kLoginGraceTime = std::chrono::seconds(60);
constexpr auto kReapInterval = std::chrono::milliseconds(100);

}  // namespace

void Reaper::add(int pid) {
  pids_.push_back(pid);
  if (!armed_) {
    armed_ = true;
    loop_.after(kReapInterval, [this] { check(); });
  }
}

void Reaper::check() {
  armed_ = false;
  std::erase_if(pids_, [](int pid) { return try_reap(pid).has_value(); });
  if (!pids_.empty()) {
    armed_ = true;
    loop_.after(kReapInterval, [this] { check(); });
  }
}

void Reaper::finish() {
  for (int pid : pids_) {
    killpg(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pids_.clear();
}

Session::Session(Loop& loop, Reaper& reaper, const SessionConfig& config, Fault fault,
                 ssh_bind bind, int fd, std::function<void()> on_closed)
    : loop_(loop), reaper_(reaper), config_(config), fault_(fault), bind_(bind), fd_(fd),
      on_closed_(std::move(on_closed)) {}

Session::~Session() {
  channels_.clear();
  if (event_ != nullptr) {
    ssh_event_remove_session(event_, session_);
    ssh_event_free(event_);
  }
  if (session_ != nullptr) {
    ssh_free(session_);  // closes fd_
  } else {
    ::close(fd_);
  }
}

bool Session::start() {
  session_ = ssh_new();
  if (session_ == nullptr || ssh_bind_accept_fd(bind_, session_, fd_) != SSH_OK) {
    fmt::print(stderr, "herd-sim: accept: {}\n", ssh_get_error(bind_));
    close();
    return false;
  }
  ssh_set_blocking(session_, 0);
  ssh_callbacks_init(&server_callbacks_);
  server_callbacks_.userdata = this;
  server_callbacks_.auth_pubkey_function = &Session::on_auth_pubkey;
  server_callbacks_.auth_password_function = &Session::on_auth_password;
  server_callbacks_.channel_open_request_session_function = &Session::on_channel_open;
  ssh_set_server_callbacks(session_, &server_callbacks_);
  ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_PASSWORD);
  // The first call sends our banner and KEXINIT, and creates the session's poll context, which
  // ssh_event_add_session then moves into the session's event.
  int rc = ssh_handle_key_exchange(session_);
  if (rc == SSH_ERROR) {
    close();
    return false;
  }
  kex_done_ = rc == SSH_OK;
  event_ = ssh_event_new();
  if (event_ == nullptr || ssh_event_add_session(event_, session_) != SSH_OK) {
    close();
    return false;
  }
  loop_.add(fd_, EPOLLIN, [this](std::uint32_t events) { pump(events); });
  login_timer_ = loop_.after(kLoginGraceTime, [this] {
    login_timer_.reset();
    if (!authenticated_) close();
  });
  after_activity();
  return !closed_;
}

int Session::on_auth_pubkey(ssh_session, const char*, ssh_key key, char state, void* self) {
  auto& s = *static_cast<Session*>(self);
  if (s.fault_ == Fault::authfail) return SSH_AUTH_DENIED;
  bool known = std::any_of(s.config_.authorized_keys.begin(), s.config_.authorized_keys.end(),
                           [key](ssh_key k) { return ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0; });
  if (!known) return SSH_AUTH_DENIED;
  if (state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;  // probe: "this key would do"
  if (state != SSH_PUBLICKEY_STATE_VALID) return SSH_AUTH_DENIED;  // libssh checked the signature
  s.authenticated_ = true;
  return SSH_AUTH_SUCCESS;
}

int Session::on_auth_password(ssh_session, const char*, const char* password, void* self) {
  auto& s = *static_cast<Session*>(self);
  if (s.fault_ == Fault::authfail || !s.config_.password || *s.config_.password != password) {
    return SSH_AUTH_DENIED;
  }
  s.authenticated_ = true;
  return SSH_AUTH_SUCCESS;
}

ssh_channel Session::on_channel_open(ssh_session session, void* self) {
  auto& s = *static_cast<Session*>(self);
  if (!s.authenticated_ || s.closed_) return nullptr;
  ssh_channel ch = ssh_channel_new(session);
  if (ch == nullptr) return nullptr;
  s.channels_.push_back(std::make_unique<Channel>(s, ch));
  return ch;
}

void Session::pump(std::uint32_t events) {
  if (closed_) return;
  // Channels finished in an earlier round are dropped here, outside any of their callbacks.
  std::erase_if(channels_, [](const std::unique_ptr<Channel>& c) { return c->released(); });
  if (!kex_done_) {
    int rc = ssh_handle_key_exchange(session_);
    if (rc == SSH_ERROR) {
      if (std::getenv("HERD_SIM_DEBUG")) fmt::print(stderr, "herd-sim: key exchange: {}\n", ssh_get_error(session_));
      return close();
    }
    kex_done_ = rc == SSH_OK;
  }
  if (kex_done_ && ssh_event_dopoll(event_, 0) == SSH_ERROR) return close();
  after_activity();
  if (!closed_ && (events & (EPOLLHUP | EPOLLERR)) != 0 &&
      (ssh_get_poll_flags(session_) & SSH_WRITE_PENDING) == 0) {
    close();  // hung up and nothing left to send
  }
}

void Session::after_activity() {
  if (closed_) return;
  for (auto& c : channels_) c->service();
  int flags = ssh_get_poll_flags(session_);
  if (drop_pending_ && (flags & SSH_WRITE_PENDING) == 0) {
    shutdown(fd_, SHUT_RDWR);  // mid-command, no exit status, no SSH disconnect
    return close();
  }
  if ((ssh_get_status(session_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0) {
    if (std::getenv("HERD_SIM_DEBUG")) fmt::print(stderr, "herd-sim: closed: status {} {}\n", ssh_get_status(session_), ssh_get_error(session_));
    return close();
  }
  loop_.modify(fd_, EPOLLIN | ((flags & SSH_WRITE_PENDING) != 0 ? EPOLLOUT : 0U));
}

void Session::request_drop() { drop_pending_ = true; }

void Session::close() {
  if (closed_) return;
  closed_ = true;
  if (login_timer_) loop_.cancel(*login_timer_), login_timer_.reset();
  for (auto& c : channels_) c->kill_child();
  loop_.remove(fd_);
  loop_.defer(on_closed_);
}

}  // namespace herd::sim

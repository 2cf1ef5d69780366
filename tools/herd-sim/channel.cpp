#include "channel.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "session.hpp"

namespace herd::sim {
namespace {

constexpr std::size_t kReadChunkBytes = 32 * 1024;
constexpr std::size_t kSlowChunkBytes = 1024;  // `slow`: bytes per delayed chunk
constexpr std::size_t kMaxStdinBytes = 8 * 1024 * 1024;
constexpr auto kWaitPollInterval = std::chrono::milliseconds(20);
constexpr std::string_view kEarlyLine = "herd-sim: early output\n";  // the `early` fault's line

// The `huge` fault's filler: numbered 64-byte lines.
const std::string& filler() {
  static const std::string text = [] {
    std::string t;
    for (int i = 0; t.size() < kReadChunkBytes; ++i) {
      std::string line = "herd-sim huge output line " + std::to_string(i) + " ";
      line.resize(63, '.');
      t += line + "\n";
    }
    return t;
  }();
  return text;
}

}  // namespace

Channel::Channel(Session& session, ssh_channel channel) : session_(session), channel_(channel) {
  err_.is_stderr = true;
  ssh_callbacks_init(&callbacks_);
  callbacks_.userdata = this;
  callbacks_.channel_data_function = &Channel::on_data;
  callbacks_.channel_eof_function = &Channel::on_eof;
  callbacks_.channel_close_function = &Channel::on_close;
  callbacks_.channel_signal_function = &Channel::on_signal;
  callbacks_.channel_pty_request_function = &Channel::on_pty;
  callbacks_.channel_exec_request_function = &Channel::on_exec;
  callbacks_.channel_env_request_function = &Channel::on_env;
  ssh_set_channel_callbacks(channel_, &callbacks_);
}

Channel::~Channel() {
  kill_child();
  close_stream(out_);
  close_stream(err_);
  close_stdin();
  // The session frees libssh's channel (ssh_free); it must not call back into us.
  if (channel_ != nullptr) ssh_remove_channel_callbacks(channel_, &callbacks_);
}

int Channel::on_exec(ssh_session, ssh_channel, const char* command, void* self) {
  auto& c = *static_cast<Channel*>(self);
  if (c.child_ || c.remote_closed_) return -1;
  auto child = spawn_child(command, c.env_);
  if (!child) return -1;
  c.child_ = *child;
  if (c.session_.fault_ == Fault::huge) c.huge_left_ = c.session_.config_.huge_bytes;
  auto& loop = c.session_.loop_;
  c.out_.fd = child->stdout_fd;
  c.err_.fd = child->stderr_fd;
  for (Stream* s : {&c.out_, &c.err_}) {
    loop.add(s->fd, EPOLLIN, [&c](std::uint32_t) { c.session_.after_activity(); });
  }
  loop.add(child->stdin_fd, 0, [&c](std::uint32_t) {
    c.write_stdin();
    c.session_.after_activity();
  });
  if (child->pidfd >= 0) {
    loop.add(child->pidfd, EPOLLIN, [&c](std::uint32_t) {
      c.on_child_exit();
      c.session_.after_activity();
    });
  } else {
    c.poll_timer_ = loop.after(kWaitPollInterval, [&c] {
      c.on_child_exit();
      c.session_.after_activity();
    });
  }
  c.write_stdin();
  if (c.session_.fault_ == Fault::early) {
    // Queued now, so it goes out ahead of the success reply libssh sends when we return.
    ssh_channel_write(c.channel_, kEarlyLine.data(), static_cast<std::uint32_t>(kEarlyLine.size()));
  }
  return 0;
}

int Channel::on_env(ssh_session, ssh_channel, const char* name, const char* value, void* self) {
  static_cast<Channel*>(self)->env_[name] = value;
  return 0;
}

int Channel::on_pty(ssh_session, ssh_channel, const char*, int, int, int, int, void*) {
  return 0;  // accepted and ignored: the command still runs on pipes
}

int Channel::on_data(ssh_session, ssh_channel, void* data, std::uint32_t len, int is_stderr,
                     void* self) {
  auto& c = *static_cast<Channel*>(self);
  if (is_stderr != 0) return static_cast<int>(len);
  if (c.stdin_buffer_.size() >= kMaxStdinBytes) return 0;  // leave it in libssh for now
  c.stdin_buffer_.append(static_cast<const char*>(data), len);
  c.write_stdin();
  return static_cast<int>(len);
}

void Channel::on_eof(ssh_session, ssh_channel, void* self) {
  auto& c = *static_cast<Channel*>(self);
  c.stdin_eof_ = true;
  c.write_stdin();
}

void Channel::on_close(ssh_session, ssh_channel, void* self) {
  // Freed after libssh has marked the close as received (service -> release), so that freeing
  // sends our close in reply.
  auto& c = *static_cast<Channel*>(self);
  c.remote_closed_ = true;
  c.kill_child();
}

void Channel::on_signal(ssh_session, ssh_channel, const char* signal, void* self) {
  auto& c = *static_cast<Channel*>(self);
  int sig = signal_from_ssh_name(signal);
  if (sig != 0 && c.child_ && !c.child_exited_) killpg(c.child_->pid, sig);
}

void Channel::write_stdin() {
  if (!child_ || child_->stdin_fd < 0) return;
  while (!stdin_buffer_.empty()) {
    ssize_t n = ::write(child_->stdin_fd, stdin_buffer_.data(), stdin_buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      stdin_buffer_.clear();  // EPIPE: the command does not read its stdin
      return close_stdin();
    }
    stdin_buffer_.erase(0, static_cast<std::size_t>(n));
  }
  if (stdin_buffer_.empty() && stdin_eof_) return close_stdin();
  session_.loop_.modify(child_->stdin_fd, stdin_buffer_.empty() ? 0U : std::uint32_t{EPOLLOUT});
}

void Channel::close_stdin() {
  if (!child_ || child_->stdin_fd < 0) return;
  session_.loop_.remove(child_->stdin_fd);
  ::close(child_->stdin_fd);
  child_->stdin_fd = -1;
}

void Channel::close_stream(Stream& s) {
  if (s.fd < 0) return;
  session_.loop_.remove(s.fd);
  ::close(s.fd);
  s.fd = -1;
}

void Channel::watch_stream(Stream& s) {
  if (s.fd < 0) return;
  bool want = s.pending.empty() && !paused_ && !remote_closed_;
  session_.loop_.modify(s.fd, want ? std::uint32_t{EPOLLIN} : 0U);
}

void Channel::on_child_exit() {
  if (!child_ || child_exited_) return;
  auto status = try_reap(child_->pid);
  if (!status) {
    if (child_->pidfd < 0) {
      poll_timer_ = session_.loop_.after(kWaitPollInterval, [this] {
        on_child_exit();
        session_.after_activity();
      });
    }
    return;
  }
  child_exited_ = true;
  wait_status_ = *status;
  if (child_->pidfd >= 0) {
    session_.loop_.remove(child_->pidfd);
    ::close(child_->pidfd);
    child_->pidfd = -1;
  }
}

void Channel::kill_child() {
  if (poll_timer_) session_.loop_.cancel(*poll_timer_), poll_timer_.reset();
  if (slow_timer_) session_.loop_.cancel(*slow_timer_), slow_timer_.reset();
  if (!child_) return;
  if (!child_exited_) {
    killpg(child_->pid, SIGKILL);
    session_.reaper_.add(child_->pid);
    child_exited_ = true;
    wait_status_ = SIGKILL;  // as if killed; only reported if the channel is still open
  }
  if (child_->pidfd >= 0) {
    session_.loop_.remove(child_->pidfd);
    ::close(child_->pidfd);
    child_->pidfd = -1;
  }
  close_stream(out_);
  close_stream(err_);
  close_stdin();
}

// Returns false when pumping must stop for this round.
bool Channel::pump_stream(Stream& s) {
  std::array<char, kReadChunkBytes> buf;
  const bool slow = session_.fault_ == Fault::slow;
  while (true) {
    if (!s.pending.empty()) {
      std::uint32_t window = ssh_channel_window_size(channel_);
      if (window == 0) return true;  // the client's window is full: wait for it to grow
      auto n = std::min<std::size_t>({window, s.pending.size(), kReadChunkBytes});
      int rc =
          s.is_stderr
              ? ssh_channel_write_stderr(channel_, s.pending.data(), static_cast<std::uint32_t>(n))
              : ssh_channel_write(channel_, s.pending.data(), static_cast<std::uint32_t>(n));
      if (rc < 0) return false;
      if (rc == 0) return true;  // libssh is busy (key re-exchange): retry later
      s.pending.erase(0, static_cast<std::size_t>(rc));
      if (session_.fault_ == Fault::drop) {  // after the first packet (at most drop_after_bytes)
        session_.request_drop();
        return false;
      }
      if (slow) {
        paused_ = true;
        slow_timer_ = session_.loop_.after(session_.config_.slow_delay, [this] {
          paused_ = false;
          slow_timer_.reset();
          session_.after_activity();
        });
        return false;
      }
      continue;
    }
    if (paused_) return false;
    if (s.fd < 0) {
      if (!s.is_stderr && s.eof && huge_left_ > 0) {
        auto n = std::min<std::uint64_t>(huge_left_, filler().size());
        s.pending.assign(filler(), 0, static_cast<std::size_t>(n));
        huge_left_ -= n;
        continue;
      }
      return true;
    }
    std::size_t want = slow ? kSlowChunkBytes : buf.size();
    if (session_.fault_ == Fault::drop) {
      want = static_cast<std::size_t>(
          std::clamp<std::uint64_t>(session_.config_.drop_after_bytes, 1, want));
    }
    ssize_t n = ::read(s.fd, buf.data(), want);
    if (n > 0) {
      s.pending.assign(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    s.eof = true;  // EOF (or an error, treated alike)
    close_stream(s);
  }
}

void Channel::service() {
  if (channel_ == nullptr) return;
  if (remote_closed_) return release();
  if (!child_ || session_.drop_pending_) return;
  if (pump_stream(out_) && !session_.drop_pending_) pump_stream(err_);
  if (session_.drop_pending_) return;
  watch_stream(out_);
  watch_stream(err_);
  bool output_done =
      out_.eof && err_.eof && out_.pending.empty() && err_.pending.empty() && huge_left_ == 0;
  if (output_done && child_exited_) finish();
}

void Channel::finish() {
  if (session_.fault_ == Fault::drop) {
    session_.request_drop();  // short output: cut right after it instead of reporting a status
    return;
  }
  if (WIFSIGNALED(wait_status_)) {
    std::string name = ssh_name_of_signal(WTERMSIG(wait_status_));
    ssh_channel_request_send_exit_signal(channel_, name.empty() ? "KILL" : name.c_str(),
                                         WCOREDUMP(wait_status_) ? 1 : 0, "", "");
  } else {
    ssh_channel_request_send_exit_status(channel_, WEXITSTATUS(wait_status_));
  }
  ssh_channel_send_eof(channel_);
  ssh_channel_close(channel_);
  release();
}

void Channel::release() {
  kill_child();
  ssh_remove_channel_callbacks(channel_, &callbacks_);
  ssh_channel_free(channel_);  // sends our close if not yet sent; freed once both sides closed
  channel_ = nullptr;
}

}  // namespace herd::sim

#include "ssh/channel.hpp"

#include <fmt/format.h>

namespace herd::ssh {
namespace {

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
  static_cast<ChannelState*>(userdata)->exit_status = status;
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int core, const char*,
                    const char*, void* userdata) {
  auto* c = static_cast<ChannelState*>(userdata);
  c->exit_signal = signal != nullptr ? signal : "UNKNOWN";
  c->core_dumped = core != 0;
}

int on_channel_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                    void* userdata) {
  static_cast<ChannelState*>(userdata)->deliver(
      std::string_view(static_cast<const char*>(data), len), is_stderr != 0);
  return static_cast<int>(len);
}

}  // namespace

ChannelState::~ChannelState() {
  if (ch != nullptr) {
    // libssh keeps a freed channel that the peer has not closed yet and still runs its
    // callbacks for packets that arrive later (an SFTP server's exit-status after our close):
    // they must not reach this object once it is gone.
    ssh_remove_channel_callbacks(ch, &callbacks);
    if (ssh_channel_is_open(ch) != 0) ssh_channel_close(ch);
    ssh_channel_free(ch);
  }
}

bool ChannelState::finished() const {
  if (ssh_channel_is_closed(ch) != 0) return true;
  return ssh_channel_is_eof(ch) != 0 && (exit_status || exit_signal);
}

void ChannelState::set_on_data(DataFn fn) {
  on_data_ = std::move(fn);
  auto early = std::move(early_);
  early_.clear();
  for (const auto& [is_stderr, data] : early) on_data_(data, is_stderr);
}

void ChannelState::deliver(std::string_view data, bool is_stderr) {
  if (on_data_) {
    on_data_(data, is_stderr);
  } else if (!early_.empty() && early_.back().first == is_stderr) {
    early_.back().second.append(data);
  } else {
    early_.emplace_back(is_stderr, std::string(data));
  }
}

Flow<Result<std::unique_ptr<ChannelState>>> open_channel(Session::Impl& impl, Deadline d) {
  auto c = std::make_unique<ChannelState>();
  c->ch = ssh_channel_new(impl.s);
  c->socket_reads = &impl.socket_counter.in_bytes;
  if (c->ch == nullptr) {
    co_return impl.error(Errc::channel_error, Phase::channel,
                         fmt::format("cannot create a channel: {}", impl.ssh_error()));
  }
  c->callbacks.userdata = c.get();
  c->callbacks.channel_exit_status_function = on_exit_status;
  c->callbacks.channel_exit_signal_function = on_exit_signal;
  c->callbacks.channel_data_function = on_channel_data;
  ssh_callbacks_init(&c->callbacks);
  ssh_set_channel_callbacks(c->ch, &c->callbacks);
  ssh_channel ch = c->ch;
  int rc = co_await drive(impl, d, SSH_AGAIN, [ch] { return ssh_channel_open_session(ch); });
  if (rc == SSH_AGAIN)
    co_return impl.wait_error(Phase::channel, "timed out opening a session channel");
  if (rc != SSH_OK) {
    co_return impl.error(Errc::channel_error, Phase::channel,
                         fmt::format("cannot open a session channel: {}", impl.ssh_error()));
  }
  co_return std::move(c);
}

Flow<Result<void>> request_pty(Session::Impl& impl, ChannelState& c, const PtyOptions& pty,
                               Deadline d) {
  int rc = co_await drive(impl, d, SSH_AGAIN, [&c, &pty] {
    return ssh_channel_request_pty_size(c.ch, pty.term.c_str(), pty.cols, pty.rows);
  });
  if (rc == SSH_AGAIN) co_return impl.wait_error(Phase::channel, "timed out requesting a PTY");
  if (rc != SSH_OK) {
    co_return impl.error(Errc::channel_error, Phase::channel,
                         fmt::format("the server refused a PTY: {}", impl.ssh_error()));
  }
  co_return Result<void>{};
}

Flow<Result<void>> request_subsystem(Session::Impl& impl, ChannelState& c, std::string name,
                                     Deadline d) {
  int rc = co_await drive(impl, d, SSH_AGAIN, [&c, &name] {
    return ssh_channel_request_subsystem(c.ch, name.c_str());
  });
  if (rc == SSH_AGAIN) {
    co_return impl.wait_error(Phase::channel,
                              fmt::format("timed out starting the {} subsystem", name));
  }
  if (rc != SSH_OK) {
    co_return impl.error(
        Errc::channel_error, Phase::channel,
        fmt::format("the server refused the {} subsystem: {}", name, impl.ssh_error()));
  }
  co_return Result<void>{};
}

bool widen_window(ChannelState& c, std::uint32_t bytes) {
  if (ssh_channel_is_open(c.ch) == 0 || ssh_channel_is_eof(c.ch) != 0) return true;
  // Nothing must sit in libssh's buffer: the read would copy it out, up to `bytes`.
  if (ssh_channel_poll(c.ch, 0) != 0) return ssh_is_connected(ssh_channel_get_session(c.ch)) != 0;
  char none = 0;
  return ssh_channel_read_timeout(c.ch, &none, bytes, 0, 0) != SSH_ERROR;
}

/// Socket bytes one pump() takes at most before it lets the loop serve other hosts.
constexpr std::uint64_t kPumpBytes = 1 << 20;

bool pump(ChannelState& c) {
  // Before EOF, ssh_channel_poll processes incoming packets (our buffers are always empty).
  // After EOF it no longer does; in a non-blocking session ssh_channel_get_exit_status then
  // processes what has arrived without waiting, which brings exit-status and close.
  if (ssh_channel_is_eof(c.ch) == 0) {
    const std::uint64_t start = c.socket_reads != nullptr ? *c.socket_reads : 0;
    for (;;) {
      const std::uint64_t before = c.socket_reads != nullptr ? *c.socket_reads : 0;
      if (ssh_channel_poll(c.ch, 0) == SSH_ERROR) return false;
      if (c.socket_reads == nullptr || *c.socket_reads == before) return true;  // dry
      if (*c.socket_reads - start >= kPumpBytes || ssh_channel_is_eof(c.ch) != 0) return true;
    }
  }
  if (ssh_channel_is_closed(c.ch) == 0) ssh_channel_get_exit_status(c.ch);
  return ssh_is_connected(ssh_channel_get_session(c.ch)) != 0 || ssh_channel_is_closed(c.ch) != 0;
}

}  // namespace herd::ssh

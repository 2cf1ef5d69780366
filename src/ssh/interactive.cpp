// InteractiveChannel: a PTY shell driven by the caller's own poll loop (herd shell, web terminal).
#include <fmt/format.h>

#include <utility>

#include "ssh/channel.hpp"

namespace herd {

namespace {
constexpr std::chrono::milliseconds kSetupTimeout{30000};  // ms to open the shell
}  // namespace

struct InteractiveChannel::Impl {
  Session::Impl* session = nullptr;  // the Session outlives its channels (documented)
  std::unique_ptr<ssh::ChannelState> channel;
  std::string unsent;  ///< keystrokes the window has not taken yet
  std::string inbox;   ///< output received since the last read_some()
  bool closed = false;

  Result<void> flush() {
    while (!unsent.empty()) {
      int n = ssh_channel_write(channel->ch, unsent.data(), static_cast<uint32_t>(unsent.size()));
      if (n < 0) return session->error(Errc::protocol_error, Phase::command, "write failed");
      if (n == 0) break;
      unsent.erase(0, static_cast<std::size_t>(n));
    }
    return {};
  }
};

InteractiveChannel::InteractiveChannel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InteractiveChannel::InteractiveChannel(InteractiveChannel&&) noexcept = default;
InteractiveChannel& InteractiveChannel::operator=(InteractiveChannel&&) noexcept = default;
InteractiveChannel::~InteractiveChannel() = default;

int InteractiveChannel::fd() const {
  return ssh_get_fd(impl_->session->s);
}

bool InteractiveChannel::wants_write() const {
  return !impl_->unsent.empty() || (ssh_get_poll_flags(impl_->session->s) & SSH_WRITE_PENDING);
}

Result<std::string> InteractiveChannel::read_some() {
  if (!ssh::pump(*impl_->channel)) {
    return impl_->session->error(Errc::protocol_error, Phase::command,
                                 fmt::format("connection lost: {}", impl_->session->ssh_error()));
  }
  if (auto r = impl_->flush(); !r) return std::unexpected(r.error());
  if (impl_->channel->finished()) impl_->closed = true;
  return std::exchange(impl_->inbox, {});
}

Result<void> InteractiveChannel::write(std::string_view bytes) {
  impl_->unsent.append(bytes);
  return impl_->flush();
}

void InteractiveChannel::send_eof() {
  ssh_channel_send_eof(impl_->channel->ch);
}

Result<void> InteractiveChannel::resize(int cols, int rows) {
  if (ssh_channel_change_pty_size(impl_->channel->ch, cols, rows) != SSH_OK) {
    return impl_->session->error(Errc::channel_error, Phase::command, "window resize refused");
  }
  return {};
}

bool InteractiveChannel::is_closed() const {
  return impl_->closed;
}
std::optional<int> InteractiveChannel::exit_status() const {
  return impl_->channel->exit_status;
}
std::optional<std::string> InteractiveChannel::exit_signal() const {
  return impl_->channel->exit_signal;
}

namespace {

/// Open a channel with a PTY and start the shell (or `command`) on it.
Flow<Result<std::unique_ptr<ssh::ChannelState>>> start_interactive(Session::Impl& impl,
                                                                   PtyOptions pty,
                                                                   std::string command) {
  auto d = impl.phase_deadline(kSetupTimeout);
  auto opened = co_await ssh::open_channel(impl, d);
  if (!opened) co_return std::unexpected(opened.error());
  ssh::ChannelState& c = **opened;
  auto pty_ok = co_await ssh::request_pty(impl, c, pty, d);
  if (!pty_ok) co_return std::unexpected(pty_ok.error());
  int rc = co_await ssh::drive(impl, d, SSH_AGAIN, [&c, &command] {
    return command.empty() ? ssh_channel_request_shell(c.ch)
                           : ssh_channel_request_exec(c.ch, command.c_str());
  });
  if (rc == SSH_AGAIN) co_return impl.wait_error(Phase::channel, "timed out starting the shell");
  if (rc != SSH_OK) {
    co_return impl.error(Errc::channel_error, Phase::channel,
                         fmt::format("the server refused a shell: {}", impl.ssh_error()));
  }
  co_return std::move(*opened);
}

}  // namespace

Result<InteractiveChannel> Session::open_interactive(const PtyOptions& pty,
                                                     const std::string& command) {
  Impl& impl = *impl_;
  auto opened = run_blocking(start_interactive(impl, pty, command));
  if (!opened) return std::unexpected(opened.error());
  auto ic = std::make_unique<InteractiveChannel::Impl>();
  ic->session = &impl;
  ic->channel = std::move(*opened);
  ic->channel->set_on_data(
      [inbox = &ic->inbox](std::string_view data, bool) { inbox->append(data); });
  return InteractiveChannel(std::move(ic));
}

}  // namespace herd

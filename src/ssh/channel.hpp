// A session channel with its exit-status / exit-signal callbacks.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ssh/session_impl.hpp"

namespace herd::ssh {

/// Lives on the heap: libssh keeps a pointer to `callbacks` and to this object.
///
/// Channel data is taken in the data callback as libssh processes each packet and handed to
/// `on_data` at once, so nothing waits in libssh's per-stream buffers (where it could sit
/// unseen while we wait on the socket, with the sender stalled on a window we never reopen).
/// libssh reopens the window as the callback consumes data. Data that arrives before a consumer
/// is set (output can come in the same read as the reply to the exec request) is kept here and
/// handed over by set_on_data: left in libssh's buffer, it would make ssh_channel_poll report
/// data forever without reading the socket.
struct ChannelState {
  using DataFn = std::function<void(std::string_view data, bool is_stderr)>;

  ssh_channel ch = nullptr;
  ssh_channel_callbacks_struct callbacks{};
  std::optional<int> exit_status;
  std::optional<std::string> exit_signal;
  bool core_dumped = false;
  /// The session's count of bytes read from the socket (Session::Impl::socket_counter).
  const std::uint64_t* socket_reads = nullptr;

  ChannelState() = default;
  ChannelState(const ChannelState&) = delete;
  ChannelState& operator=(const ChannelState&) = delete;
  ~ChannelState();

  /// The remote sent EOF and an exit status/signal, or closed the channel.
  bool finished() const;

  /// Send channel data to `fn` from now on, starting with what arrived before.
  void set_on_data(DataFn fn);
  /// The data callback's target: the consumer, or the early buffer.
  void deliver(std::string_view data, bool is_stderr);

 private:
  DataFn on_data_;
  std::vector<std::pair<bool, std::string>> early_;  ///< (is_stderr, data) before set_on_data
};

/// Open a "session" channel before `d`.
Flow<Result<std::unique_ptr<ChannelState>>> open_channel(Session::Impl& impl, Deadline d);

/// Request a PTY of the given size.
Flow<Result<void>> request_pty(Session::Impl& impl, ChannelState& c, const PtyOptions& pty,
                               Deadline d);

/// Start subsystem `name` (e.g. "sftp") on the channel.
Flow<Result<void>> request_subsystem(Session::Impl& impl, ChannelState& c, std::string name,
                                     Deadline d);

/// Let the peer send up to `bytes` ahead of what we have consumed. libssh keeps a channel's
/// receive window near 1.28 MB, which a fast bulk stream drains faster than a window adjust
/// comes back; asking ssh_channel_read for `bytes` grows it (one WINDOW_ADJUST). The data
/// callback takes everything, so the read itself returns nothing. False when the connection
/// is lost.
bool widen_window(ChannelState& c, std::uint32_t bytes);

/// Process whatever packets have arrived, without blocking: data goes to `on_data`, exit status
/// and signal to the state. libssh reads 4 KiB per call, so this reads until the socket is dry
/// or kPumpBytes have come (one wake-up of the loop takes a burst, and no host hogs it).
/// Returns false when the connection is lost.
bool pump(ChannelState& c);

}  // namespace herd::ssh

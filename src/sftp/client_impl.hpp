// The SFTP protocol engine behind SftpClient: request ids, the send queue, reply matching.
//
// Requests are framed into `out_` and written to the channel as its window allows, but only
// while libssh's own socket buffer is empty, so memory stays at about one request beyond what
// the kernel holds. Replies arrive through the channel's data callback, are split into packets
// and parked in `ready_` by id until their requester takes them. A reply whose id nobody asked
// for, a packet over kMaxPacketBytes or a lost channel breaks the client: every wait then fails
// with the same error.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "herd/sftp.hpp"
#include "sftp/packet.hpp"
#include "ssh/channel.hpp"

namespace herd {

struct SftpClient::Impl {
  Session::Impl& session;
  SftpOptions options;
  std::unique_ptr<ssh::ChannelState> channel;
  std::string host;  ///< for messages
  std::vector<std::pair<std::string, std::string>> extensions;
  std::uint32_t request_bytes = sftp::kDefaultRequestBytes;
  std::optional<std::string> cwd;

  Impl(Session::Impl& s, SftpOptions o);

  /// Start the subsystem and exchange versions (and limits, where offered).
  Flow<Result<void>> start();

  /// A packet of `type` with a fresh request id as its first field; `id` receives the id.
  sftp::PacketWriter request(sftp::Type type, std::uint32_t& id, std::size_t reserve = 64);
  /// Queue a finished packet; it is sent as the channel allows. Waits register `id`.
  void send(std::string packet, std::uint32_t id);
  /// The reply to request `id`, waiting for it (idle timeout, cancellation).
  Flow<Result<sftp::Reply>> wait(std::uint32_t id);
  /// The reply to `id` if it has arrived, without waiting or I/O.
  std::optional<sftp::Reply> take(std::uint32_t id);
  /// Send what the window takes and process what has arrived, without blocking: the socket
  /// is read until it runs dry (libssh takes 4 KiB per read) or kPollBytes have come, so one
  /// wake-up of the loop handles a burst rather than one read. False once the client is broken.
  bool poll();
  /// Wait (once) for the socket to make progress, up to the idle deadline.
  Flow<Result<void>> wait_progress();
  /// Bytes queued and not yet handed to the channel.
  std::size_t unsent() const { return out_.size() - out_pos_; }

  /// Receives the reply to a request sent with a handler (or the error that broke the client).
  using Handler = std::function<void(Result<sftp::Reply>)>;
  /// Queue a request whose reply goes to `h`, called from dispatch().
  void send(std::string packet, std::uint32_t id, Handler h);
  /// Requests sent with a handler and not yet answered.
  std::size_t outstanding() const { return handlers_.size(); }
  /// Call the handlers of replies that have arrived; when none has, wait once for the socket
  /// first. Fails (after failing every outstanding handler) when the client breaks.
  Flow<Result<void>> dispatch();
  /// dispatch() until no request with a handler is outstanding.
  Flow<Result<void>> drain();

  /// Convenience: send and wait.
  Flow<Result<sftp::Reply>> call(std::string packet, std::uint32_t id);

  // Reply checkers: the expected reply, or the Error its STATUS (or malformed body) means.
  Result<void> expect_ok(const sftp::Reply& r, const std::string& path, std::string_view op);
  Result<std::string> expect_handle(const sftp::Reply& r, const std::string& path,
                                    std::string_view op);
  Result<FileAttributes> expect_attrs(const sftp::Reply& r, const std::string& path,
                                      std::string_view op);
  Result<std::vector<DirEntry>> expect_names(const sftp::Reply& r, const std::string& path,
                                             std::string_view op);

  /// An error for a STATUS reply to `op` on `path`.
  std::unexpected<Error> status_error(const sftp::StatusReply& s, const std::string& path,
                                      std::string_view op) const;
  /// A protocol error (and the client is broken from now on).
  std::unexpected<Error> protocol_error(std::string what);
  /// An error of `code` naming the host and `path`.
  std::unexpected<Error> error(Errc code, const std::string& path, std::string what) const;

  /// `path` made absolute against cwd when one was set (paramiko's _adjust_cwd).
  std::string resolve(const std::string& path) const;

  bool broken() const { return broken_.has_value(); }

 private:
  void on_data(std::string_view data, bool is_stderr);
  void flush();

  std::uint32_t next_id_ = 1;
  std::string out_;
  std::size_t out_pos_ = 0;
  sftp::PacketSplitter in_;
  std::unordered_map<std::uint32_t, sftp::Reply> ready_;
  std::unordered_set<std::uint32_t> pending_;  ///< ids sent and not yet answered
  std::unordered_map<std::uint32_t, Handler> handlers_;
  std::deque<std::uint32_t> arrived_;        ///< answered ids that have a handler, in order
  std::optional<std::string> version_body_;  ///< the VERSION reply, during start()
  std::optional<Error> broken_;
  FlowClock::time_point last_activity_;
  std::uint64_t received_ = 0;    ///< channel bytes taken by on_data, ever
  std::uint64_t widened_at_ = 0;  ///< received_ when the receive window was last widened
};

namespace sftp {

/// Bytes of the server's per-request limits, from limits@openssh.com (0 = no limit).
struct Limits {
  std::uint64_t max_packet = 0, max_read = 0, max_write = 0, max_handles = 0;
};

}  // namespace sftp
}  // namespace herd

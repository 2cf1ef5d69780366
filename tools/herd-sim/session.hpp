// One SSH connection on a worker: libssh's server side driven non-blocking from the worker's
// Loop, authentication, and session channels that run exec requests as child processes.
#pragma once

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "faults.hpp"
#include "loop.hpp"

namespace herd::sim {

/// Read-only settings shared by every session.
struct SessionConfig {
  std::vector<ssh_key> authorized_keys;  ///< public keys accepted for any user
  std::optional<std::string> password;   ///< accepted password, if any
  std::chrono::milliseconds slow_delay{200};
  std::uint64_t huge_bytes = 20ULL << 20;
  std::uint64_t drop_after_bytes = 1024;  ///< `drop`: size of the one packet sent before the cut
};

/// Reaps children that were killed after their channel went away (checked on a timer).
class Reaper {
 public:
  explicit Reaper(Loop& loop) : loop_(loop) {}
  void add(int pid);
  /// Kill and reap everything still pending (at shutdown).
  void finish();

 private:
  void check();
  Loop& loop_;
  std::vector<int> pids_;
  bool armed_ = false;
};

class Channel;

class Session {
 public:
  /// `fd` is the socket libssh speaks on (the client's, or the relay's inner end); libssh owns
  /// it from here on. `on_closed` runs (deferred) when the session is over; it may destroy it.
  Session(Loop& loop, Reaper& reaper, const SessionConfig& config, Fault fault, ssh_bind bind,
          int fd, std::function<void()> on_closed);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Begin the key exchange; false if the session could not be set up (it is then closed).
  bool start();

 private:
  friend class Channel;
  static int on_auth_pubkey(ssh_session, const char* user, ssh_key key, char state, void* self);
  static int on_auth_password(ssh_session, const char* user, const char* password, void* self);
  static ssh_channel on_channel_open(ssh_session, void* self);

  void pump(std::uint32_t events);
  void after_activity();
  void close();
  /// The `drop` fault: cut the connection once what was written has left libssh.
  void request_drop();

  Loop& loop_;
  Reaper& reaper_;
  const SessionConfig& config_;
  Fault fault_;
  ssh_bind bind_;
  int fd_;
  ssh_session session_ = nullptr;
  ssh_event event_ = nullptr;
  ssh_server_callbacks_struct server_callbacks_{};
  std::vector<std::unique_ptr<Channel>> channels_;
  std::function<void()> on_closed_;
  std::optional<Loop::TimerId> login_timer_;
  bool kex_done_ = false;
  bool authenticated_ = false;
  bool drop_pending_ = false;
  bool closed_ = false;
};

}  // namespace herd::sim

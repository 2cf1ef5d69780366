// Private state of a Session and the non-blocking step driver used by every phase.
#pragma once

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <optional>
#include <string>
#include <vector>

#include "herd/flow.hpp"

#include "herd/session.hpp"
#include "ssh/deadline.hpp"

namespace herd {

struct Session::Impl {
  ssh_session s = nullptr;
  ResolvedTarget target;
  HostKey server_key;
  std::vector<std::string> attempts;
  std::function<void(std::string_view)> warn;
  std::optional<ssh::Deadline> total_deadline;  ///< no phase waits past it (SessionOptions)
  WaitResult last_wait = WaitResult::ready;     ///< how the last unfinished wait ended
  /// What the socket depends on: the jump relay when the session goes through ProxyJump. A
  /// member, so it is released only after the destructor has freed the libssh session.
  std::shared_ptr<void> transport;
  /// Bytes libssh has read from and written to the socket (ssh_set_counters). A read that
  /// adds nothing means the socket is dry; waits carry the read count as their `news`.
  ssh_counter_struct socket_counter{};

  ~Impl();
  /// The last libssh error text for this session.
  std::string ssh_error() const;
  /// What to wait for on the session's socket until `d`.
  IoWait io_wait(ssh::Deadline d) const;
  /// A phase deadline `d` from now, capped by the total deadline.
  ssh::Deadline phase_deadline(std::chrono::milliseconds d) const {
    return ssh::deadline_after(d, total_deadline);
  }
  /// A one-line Error naming this host.
  std::unexpected<Error> error(Errc code, Phase phase, std::string what) const;
  /// The error for a wait that did not end in `ready`: cancelled, or a timeout of `phase`.
  std::unexpected<Error> wait_error(Phase phase, std::string what) const;
};

/// The way code inside src/ssh and src/sftp reaches a Session's libssh state (the jump relay
/// drives its jump host's session; SFTP opens its channel on it).
struct SessionAccess {
  static Session::Impl& of(Session& s) { return *s.impl_; }
};

namespace ssh {

/// Run a non-blocking libssh call until it stops answering `again` or `d` passes.
/// Returns the call's final result, or `again` when the wait ended otherwise (impl.last_wait
/// says how: timeout, cancelled, error).
template <class Step>
Flow<int> drive(Session::Impl& impl, Deadline d, int again, Step step) {
  for (;;) {
    int rc = step();
    if (rc != again) co_return rc;
    WaitResult w = co_await wait_io{impl.io_wait(d)};
    if (w != WaitResult::ready) {
      impl.last_wait = w;
      co_return again;
    }
  }
}

/// Authenticate (paramiko's order). Fills impl.attempts.
Flow<Result<void>> authenticate(Session::Impl& impl, const SessionOptions& options, Deadline d);

/// Check the server's key against `known` (the target's known_hosts, loaded before the
/// handshake) under the target's policy; record it if allowed.
Result<void> verify_host_key(Session::Impl& impl, const KnownHosts& known);

}  // namespace ssh
}  // namespace herd

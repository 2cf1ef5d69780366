// Private state of a Session and the non-blocking step driver used by every phase.
#pragma once

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <string>
#include <vector>

#include "herd/session.hpp"
#include "ssh/deadline.hpp"

namespace herd {

struct Session::Impl {
  ssh_session s = nullptr;
  ResolvedTarget target;
  HostKey server_key;
  std::vector<std::string> attempts;
  std::function<void(std::string_view)> warn;

  ~Impl();
  /// The last libssh error text for this session.
  std::string ssh_error() const;
  /// Wait for the session's socket until `d`; false when the deadline passed or poll failed.
  bool wait(ssh::Deadline d) const;
  /// A one-line Error naming this host.
  std::unexpected<Error> error(Errc code, Phase phase, std::string what) const;
};

namespace ssh {

/// Run a non-blocking libssh call until it stops answering `again` or `d` passes.
/// Returns the call's final result, or `again` when the deadline passed.
template <class Step>
int drive(const Session::Impl& impl, Deadline d, int again, Step step) {
  for (;;) {
    int rc = step();
    if (rc != again) return rc;
    if (!impl.wait(d)) return again;
  }
}

/// Authenticate (paramiko's order). Fills impl.attempts.
Result<void> authenticate(Session::Impl& impl, const SessionOptions& options, Deadline d);

/// Check the server's key against `known` (the target's known_hosts, loaded before the
/// handshake) under the target's policy; record it if allowed.
Result<void> verify_host_key(Session::Impl& impl, const KnownHosts& known);

}  // namespace ssh
}  // namespace herd

// ProxyJump done natively: sessions that reach their host through direct-tcpip channels of
// other SSH sessions, with no external `ssh` process.
//
// Theory of operation: a jump host is one authenticated Session owned by a JumpRelay, which
// runs it on a thread of its own with a poll() loop. A session that must go through the jump
// asks the relay for a stream to host:port and gets one end of a socketpair at once; the relay
// opens a direct-tcpip channel to host:port and pumps bytes between the channel and the other
// end, both ways, as each side can take them (so memory per stream is bounded by one chunk
// each way plus libssh's window). The target's libssh session runs on its socketpair end
// exactly as on a TCP socket (SSH_OPTIONS_FD), in the engine's loop or in run_blocking.
//
// Before any stream bytes, the relay writes one status line on the socketpair: `ok`, or the
// Error (code and one-line message) of the jump connection or of the channel open, so a target
// behind a dead jump host fails as unreachable / auth / host_key naming the jump host, not as
// a vague handshake error.
//
// Chains (`ProxyJump a,b`): the relay for hop b connects its Session with ProxyJump `a`, so it
// goes through a's relay; each hop is an ordinary Session with its own ssh_config lookup,
// host-key check and authentication. Relays are shared: every target that names the same
// chain with the same credentials uses one jump connection (a registry of weak references), so
// a fleet of 1000 hosts behind one bastion opens one connection to it, plus 1000 channels. A
// relay lives while a session (or a relay further down the chain) uses it, then disconnects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "herd/flow.hpp"
#include "herd/session.hpp"
#include "ssh/deadline.hpp"

namespace herd::ssh {

/// One hop of a ProxyJump value: `[user@]host[:port]`, `ssh://[user@]host[:port]`, IPv6 as
/// `[addr]:port`.
struct JumpHop {
  std::string user;        ///< empty: from ssh_config, else the local user
  std::string host;        ///< an alias (looked up in ssh_config) or an address
  std::uint16_t port = 0;  ///< 0: from ssh_config, else 22
};

/// Split a ProxyJump value into hops, in connection order. Throws nothing; a malformed hop is
/// a bad_config Error.
Result<std::vector<JumpHop>> parse_proxy_jump(const std::string& value);

/// A stream to `host:port` through the jump chain `jump` (a ProxyJump value), for a session
/// whose other settings are `target` (credentials, known_hosts and ssh_config are reused for
/// the hops). Waits for the relay's status until `deadline`. On success: a connected,
/// non-blocking socket and, in `keepalive`, what must live as long as the socket is used.
Flow<Result<int>> jump_connect(const SessionOptions& target, const std::string& jump,
                               const std::string& host, std::uint16_t port, Deadline deadline,
                               const std::string& who, std::shared_ptr<void>& keepalive);

}  // namespace herd::ssh

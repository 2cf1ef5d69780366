// herd error model.
//
// Every fallible call in libherd returns herd::Result<T>, a std::expected whose error is a
// herd::Error: a std::error_code from herd_category() (what went wrong, machine-readable), the
// phase it happened in, the host, and one human line that says what happened and, where we
// can tell, what to do about it. Exceptions are reserved for misuse and parse errors.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>

namespace herd {

/// The families of failure a caller (and the CLI's exit codes) distinguish.
enum class ErrorKind {
  connect,   ///< could not reach the host (refused, unreachable, DNS, connect timeout)
  host_key,  ///< the host's key is unknown (strict), changed, or revoked
  auth,      ///< no authentication method succeeded
  protocol,  ///< the SSH conversation failed after it started
  timeout,   ///< a deadline passed (the phase says which)
  remote,    ///< the remote command failed (non-zero exit or signal)
  local,     ///< local I/O or configuration problem
  cancelled, ///< stopped on request (Ctrl-C) before it finished
};

/// Fine-grained error codes; each belongs to one ErrorKind (see kind_of).
enum class Errc {
  ok = 0,
  connection_refused = 1,
  host_unreachable,
  dns_failure,
  connect_timeout,
  host_key_unknown,
  host_key_changed,
  host_key_revoked,
  auth_failed,
  protocol_error,
  channel_error,
  timeout,
  remote_failed,
  local_io,
  bad_config,
  cancelled,
  file_error,       ///< a remote file operation failed (Error::sftp_status says how)
  verify_failed,    ///< a transferred file's checksum did not match
  unsupported,      ///< the server lacks the operation or extension
};

/// The std::error_category of herd::Errc.
const std::error_category& herd_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), herd_category()};
}

/// The family an error code belongs to.
ErrorKind kind_of(Errc e) noexcept;

/// Stable lower-case name of a kind ("connect", "host_key", ...), used in output and JSON.
std::string_view to_string(ErrorKind k) noexcept;

/// The phases of a session; a timeout or failure names the one it happened in.
enum class Phase {
  resolve, connect, handshake, host_key, auth, channel, command, close,
  transfer,  ///< moving file data (SFTP)
  verify,    ///< comparing checksums after a transfer
};

/// Stable lower-case name of a phase ("connect", "handshake", ...).
std::string_view to_string(Phase p) noexcept;

/// A failure: what (code), where (phase, host), and one line for a person.
struct Error {
  Errc code = Errc::ok;
  Phase phase = Phase::connect;
  std::string host;     ///< "user@host:port" or the alias the caller used
  std::string message;  ///< one line, no trailing newline
  std::uint32_t sftp_status = 0;  ///< the server's SFTP status code (file_error), else 0
  std::string path;               ///< the file concerned, when there is one

  ErrorKind kind() const noexcept { return kind_of(code); }
};

/// The result of every fallible libherd call.
template <class T>
using Result = std::expected<T, Error>;

/// Shorthand to build an unexpected Error.
inline std::unexpected<Error> fail(Errc code, Phase phase, std::string host, std::string message) {
  return std::unexpected<Error>(Error{code, phase, std::move(host), std::move(message)});
}

}  // namespace herd

template <>
struct std::is_error_code_enum<herd::Errc> : std::true_type {};

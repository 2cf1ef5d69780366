#include "herd/error.hpp"

namespace herd {
namespace {

class HerdCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "herd"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "success";
      case Errc::connection_refused: return "connection refused";
      case Errc::host_unreachable: return "host unreachable";
      case Errc::dns_failure: return "name resolution failed";
      case Errc::connect_timeout: return "connect timed out";
      case Errc::host_key_unknown: return "host key unknown";
      case Errc::host_key_changed: return "host key changed";
      case Errc::host_key_revoked: return "host key revoked";
      case Errc::auth_failed: return "authentication failed";
      case Errc::protocol_error: return "SSH protocol error";
      case Errc::channel_error: return "channel error";
      case Errc::timeout: return "timed out";
      case Errc::remote_failed: return "remote command failed";
      case Errc::local_io: return "local I/O error";
      case Errc::bad_config: return "bad configuration";
      case Errc::cancelled: return "cancelled";
      case Errc::file_error: return "remote file operation failed";
      case Errc::verify_failed: return "checksum mismatch";
      case Errc::unsupported: return "not supported by the server";
    }
    return "unknown herd error";
  }
};

}  // namespace

const std::error_category& herd_category() noexcept {
  static const HerdCategory category;
  return category;
}

ErrorKind kind_of(Errc e) noexcept {
  switch (e) {
    case Errc::connection_refused:
    case Errc::host_unreachable:
    case Errc::dns_failure:
    case Errc::connect_timeout: return ErrorKind::connect;
    case Errc::host_key_unknown:
    case Errc::host_key_changed:
    case Errc::host_key_revoked: return ErrorKind::host_key;
    case Errc::auth_failed: return ErrorKind::auth;
    case Errc::protocol_error:
    case Errc::channel_error: return ErrorKind::protocol;
    case Errc::timeout: return ErrorKind::timeout;
    case Errc::remote_failed:
    case Errc::file_error:
    case Errc::verify_failed: return ErrorKind::remote;
    case Errc::unsupported: return ErrorKind::protocol;
    case Errc::cancelled: return ErrorKind::cancelled;
    case Errc::ok:
    case Errc::local_io:
    case Errc::bad_config: return ErrorKind::local;
  }
  return ErrorKind::local;
}

std::string_view to_string(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::connect: return "connect";
    case ErrorKind::host_key: return "host_key";
    case ErrorKind::auth: return "auth";
    case ErrorKind::protocol: return "protocol";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::remote: return "remote";
    case ErrorKind::local: return "local";
    case ErrorKind::cancelled: return "cancelled";
  }
  return "local";
}

std::string_view to_string(Phase p) noexcept {
  switch (p) {
    case Phase::resolve: return "resolve";
    case Phase::connect: return "connect";
    case Phase::handshake: return "handshake";
    case Phase::host_key: return "host_key";
    case Phase::auth: return "auth";
    case Phase::channel: return "channel";
    case Phase::command: return "command";
    case Phase::close: return "close";
    case Phase::transfer: return "transfer";
    case Phase::verify: return "verify";
  }
  return "connect";
}

}  // namespace herd

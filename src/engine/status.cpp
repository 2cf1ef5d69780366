#include "herd/engine.hpp"

namespace herd {

std::string_view to_string(HostStatus s) {
  switch (s) {
    case HostStatus::ok: return "ok";
    case HostStatus::failed: return "failed";
    case HostStatus::unreachable: return "unreachable";
    case HostStatus::auth: return "auth";
    case HostStatus::host_key: return "host_key";
    case HostStatus::timed_out: return "timed_out";
    case HostStatus::error: return "error";
    case HostStatus::cancelled: return "cancelled";
  }
  return "error";
}

HostStatus status_for(const Error& error) {
  if (error.code == Errc::connect_timeout) return HostStatus::timed_out;  // phase: connect
  switch (error.kind()) {
    case ErrorKind::connect: return HostStatus::unreachable;
    case ErrorKind::auth: return HostStatus::auth;
    case ErrorKind::host_key: return HostStatus::host_key;
    case ErrorKind::timeout: return HostStatus::timed_out;
    case ErrorKind::remote: return HostStatus::failed;
    case ErrorKind::cancelled: return HostStatus::cancelled;
    case ErrorKind::protocol:
    case ErrorKind::local: return HostStatus::error;
  }
  return HostStatus::error;
}

}  // namespace herd

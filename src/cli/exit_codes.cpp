#include "cli/exit_codes.hpp"

namespace herd::cli {

ExitCode exit_code_for(const Error& error) {
  if (error.code == Errc::bad_config) return ExitCode::usage;
  switch (error.kind()) {
    case ErrorKind::connect: return ExitCode::unreachable;
    case ErrorKind::host_key: return ExitCode::host_key;
    case ErrorKind::auth: return ExitCode::auth;
    case ErrorKind::timeout: return ExitCode::timeout;
    case ErrorKind::protocol: return ExitCode::protocol;
    case ErrorKind::remote: return ExitCode::remote_failed;
    case ErrorKind::local: return ExitCode::local;
    case ErrorKind::cancelled: return ExitCode::interrupted;
  }
  return ExitCode::local;
}

ExitCode fleet_exit_code(const std::vector<HostResult>& results, bool cancelled) {
  if (cancelled) return ExitCode::interrupted;
  bool not_reached = false;
  bool failed = false;
  for (const auto& r : results) {
    switch (r.status) {
      case HostStatus::ok: break;
      case HostStatus::failed: failed = true; break;
      case HostStatus::unreachable:
      case HostStatus::auth:
      case HostStatus::host_key: not_reached = true; break;
      case HostStatus::timed_out:
      case HostStatus::error:
      case HostStatus::cancelled:
        if (r.phase == Phase::command) {
          failed = true;
        } else {
          not_reached = true;
        }
        break;
    }
  }
  if (not_reached) return ExitCode::unreachable;
  if (failed) return ExitCode::remote_failed;
  return ExitCode::ok;
}

}  // namespace herd::cli

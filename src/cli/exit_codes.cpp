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

}  // namespace herd::cli

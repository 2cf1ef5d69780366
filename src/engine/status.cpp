#include <fmt/format.h>

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

void apply_exec_result(const ExecResult& e, HostResult& r) {
  r.exit_code = e.exit_status;
  r.signal = e.exit_signal;
  if (e.cancelled) {
    r.status = HostStatus::cancelled;
    r.phase = Phase::command;
    r.message = "cancelled; the command was signalled";
  } else if (e.timed_out) {
    r.status = HostStatus::timed_out;
    r.phase = Phase::command;
    r.message = fmt::format("command timed out after {:.1f} s and was ended",
                            static_cast<double>(e.duration.count()) / 1000.0);
  } else if (e.exit_signal) {
    r.status = HostStatus::failed;
    r.phase = Phase::command;
    r.message =
        fmt::format("killed by signal {}{}", *e.exit_signal, e.core_dumped ? " (core dumped)" : "");
  } else if (!e.exit_status) {
    r.status = HostStatus::error;
    r.phase = Phase::command;
    r.message = "the command ended without an exit status";
  } else if (*e.exit_status != 0) {
    r.status = HostStatus::failed;
    r.phase = Phase::command;
    r.message = fmt::format("exit status {}", *e.exit_status);
  } else {
    r.status = HostStatus::ok;
  }
}

ExecSink counting_sink(HostResult& result, const HostOutput& output) {
  return ExecSink{[&output, &result](std::string_view d) {
                    result.stdout_bytes += d.size();
                    output(Stream::out, d);
                  },
                  [&output, &result](std::string_view d) {
                    result.stderr_bytes += d.size();
                    output(Stream::err, d);
                  }};
}

}  // namespace herd

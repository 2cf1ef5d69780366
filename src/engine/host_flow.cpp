#include "engine/host_flow.hpp"

#include <fmt/format.h>

namespace herd::engine {
namespace {

using Clock = FlowClock;

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

/// A failed connect or exec as a result.
void set_failure(HostResult& r, const Error& e) {
  r.status = status_for(e);
  r.phase = e.phase;
  r.message = e.message;
}

}  // namespace

Flow<HostResult> run_host(std::size_t index, HostTarget target, ExecRequest request,
                          HostWork work, std::optional<std::chrono::milliseconds> host_timeout,
                          OutputFn output) {
  const auto started = Clock::now();
  HostResult r;
  r.host = target.name;
  if (host_timeout) target.options.deadline = started + *host_timeout;

  auto session = co_await Session::connect_async(std::move(target.options));
  r.connect_time = since(started);
  if (!session) {
    set_failure(r, session.error());
    r.total_time = since(started);
    co_return r;
  }
  if (work) {
    r.status = HostStatus::ok;
    auto done = co_await work(index, *session, r, output);
    r.total_time = since(started);
    if (!done) set_failure(r, done.error());
    co_return r;
  }
  // Counted here, not taken from the ExecResult: a connection lost mid-command has no result,
  // but the output it delivered was seen and must be counted.
  ExecSink sink{[&output, &r](std::string_view d) {
                  r.stdout_bytes += d.size();
                  output(Stream::out, d);
                },
                [&output, &r](std::string_view d) {
                  r.stderr_bytes += d.size();
                  output(Stream::err, d);
                }};
  auto ran = co_await session->exec_async(std::move(request), std::move(sink));
  r.total_time = since(started);
  if (!ran) {
    set_failure(r, ran.error());
    co_return r;
  }
  const ExecResult& e = *ran;
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
    r.message =
        fmt::format("killed by signal {}{}", *e.exit_signal, e.core_dumped ? " (core dumped)" : "");
  } else if (!e.exit_status) {
    r.status = HostStatus::error;
    r.phase = Phase::command;
    r.message = fmt::format("{}: the command ended without an exit status", r.host);
  } else if (*e.exit_status != 0) {
    r.status = HostStatus::failed;
    r.message = fmt::format("exit status {}", *e.exit_status);
  } else {
    r.status = HostStatus::ok;
  }
  co_return r;
}

}  // namespace herd::engine

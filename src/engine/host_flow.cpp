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
  ExecSink sink = counting_sink(r, output);  // named: GCC 12 and temporaries in co_await
  auto ran = co_await session->exec_async(std::move(request), std::move(sink));
  r.total_time = since(started);
  if (!ran) {
    set_failure(r, ran.error());
    co_return r;
  }
  apply_exec_result(*ran, r);
  co_return r;
}

}  // namespace herd::engine

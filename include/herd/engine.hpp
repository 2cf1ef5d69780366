// The fleet engine: one command on many hosts at once.
//
// Theory of operation: the engine owns one coordinator (the caller's thread) and a few worker
// loops (one Boost.Asio io_context and thread per core). Each host is a Flow (flow.hpp) that
// connects, authenticates and runs the command, suspended whenever libssh would block; its
// worker loop waits on the socket with async_wait plus a deadline timer and resumes it. A host
// lives on one worker for its whole life. The coordinator keeps a fan-out window: it starts a
// pending host each time one finishes, so only `fanout` connections exist at a time however
// large the fleet.
//
// Every phase has a deadline (SessionOptions' connect/banner/auth timeouts, the command
// timeout) and each host has a total deadline; a host that reaches one ends as `timed_out` with
// the phase named, its remote command signalled (TERM, grace, KILL). A failed host is a
// HostResult, never an exception.
//
// The engine never prints: observers receive events on the coordinator thread, in order per
// host (started, output chunks, finished). cancel() (e.g. from SIGINT) starts no new host and
// ends the running ones as `cancelled`, their commands signalled.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "herd/error.hpp"
#include "herd/session.hpp"

namespace herd {

/// How one host's run ended. Stable lower-case names via to_string (used in output and JSON).
enum class HostStatus {
  ok,           ///< the command exited 0
  failed,       ///< the command exited non-zero or was killed by a signal
  unreachable,  ///< refused, unreachable, DNS failure, connect timeout
  auth,         ///< authentication failed
  host_key,     ///< host key unknown (strict), changed or revoked
  timed_out,    ///< a phase deadline or the total deadline passed (phase says which)
  error,        ///< SSH protocol failure, dropped connection, local error
  cancelled,    ///< the run was cancelled before this host finished
};

/// "ok", "failed", "unreachable", "auth", "host_key", "timed_out", "error", "cancelled".
std::string_view to_string(HostStatus s);

/// The outcome of one host.
struct HostResult {
  std::string host;                      ///< the name as given (alias, pattern member)
  HostStatus status = HostStatus::error;
  std::optional<int> exit_code;          ///< when the command exited
  std::optional<std::string> signal;     ///< when the command was killed by a signal
  std::optional<Phase> phase;            ///< where a failure or timeout happened
  std::string message;                   ///< one line for a person, empty when ok
  std::chrono::milliseconds connect_time{0};  ///< start until authenticated
  std::chrono::milliseconds total_time{0};    ///< start until the end
  std::uint64_t stdout_bytes = 0;
  std::uint64_t stderr_bytes = 0;
  std::string step;  ///< tasks: the step the host ended in ("deploy/3 restart"), else empty
};

/// One host to run on: its name and how to reach it.
struct HostTarget {
  std::string name;
  SessionOptions options;  ///< options.host is what ssh_config is matched against
};

/// Which stream a chunk of output came from.
enum class Stream { out, err };

/// Receives a host's output as it arrives.
using HostOutput = std::function<void(Stream, std::string_view)>;

/// Per-host work other than one command (file transfers, tasks). It runs on a worker loop once
/// the host is connected: it works on `session`, fills `result` (bytes, message; status ok
/// unless it sets `failed`), and returns an Error for a failure that ends the host. Hosts run
/// concurrently on several threads: shared state it touches must be thread-safe.
using HostWork = std::function<Flow<Result<void>>(std::size_t index, Session& session,
                                                   HostResult& result, const HostOutput& output)>;

/// What to run and how widely.
struct FleetJob {
  ExecRequest request;        ///< command, env, stdin_data, pty, command timeout
  HostWork work;              ///< when set, runs instead of `request`
  int fanout = 256;           ///< hosts in flight at once (see docs/architecture.md)
  int loops = 0;              ///< worker loops; 0 = one per core
  std::optional<std::chrono::milliseconds> host_timeout;  ///< total deadline per host
};

/// Receives the engine's events, all on the coordinator thread.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  /// Host `index` (into the target list) starts connecting.
  virtual void on_host_started(std::size_t index, const std::string& host) {
    (void)index;
    (void)host;
  }
  /// A chunk of output, as it arrived (not line-aligned).
  virtual void on_output(std::size_t index, Stream stream, std::string_view data) {
    (void)index;
    (void)stream;
    (void)data;
  }
  /// Host `index` is done.
  virtual void on_host_finished(std::size_t index, const HostResult& result) {
    (void)index;
    (void)result;
  }
};

/// Runs a FleetJob over a list of hosts.
class Engine {
 public:
  Engine(FleetJob job, std::vector<HostTarget> targets);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Run to completion (or cancellation); results in target order. Call once.
  std::vector<HostResult> run(EngineObserver& observer);

  /// Stop: start no new host, cancel the running ones. Safe from any thread (not from a signal
  /// handler: use a self-pipe or asio::signal_set and call it from there).
  void cancel();

  /// True once cancel() was called.
  bool cancelled() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The HostStatus a failed connect/exec Error maps to.
HostStatus status_for(const Error& error);

/// Record a finished command on `result` as `herd run` reports it: the exit code or signal, and
/// the status with a one-line message (ok; failed, "exit status 3" or "killed by signal KILL";
/// timed_out; cancelled; error when the command ended without a status).
void apply_exec_result(const ExecResult& e, HostResult& result);

/// A sink that hands a command's output to `output`, counting the bytes on `result` (as they
/// arrive: a connection lost mid-command has no ExecResult, but its output was seen).
ExecSink counting_sink(HostResult& result, const HostOutput& output);

}  // namespace herd

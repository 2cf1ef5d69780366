// The job store: every run herd makes, kept in one SQLite file.
//
// A JobStore is one connection to the database at a path (by default
// $XDG_DATA_HOME/herd/herd.db). Opening it creates the parent directories (0700) and the file
// (0600), switches to WAL with a busy timeout so several herd processes can record at once, and
// brings the schema up to date with forward-only migrations (PRAGMA user_version). A database
// newer than this binary understands is refused, never downgraded. See docs/store.md.
//
// Every failure is a herd::Error (Errc::local_io) whose message is one line naming the path:
// "job store /path/herd.db: database is locked".
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "herd/engine.hpp"
#include "herd/error.hpp"

namespace herd {

using JobId = std::int64_t;
using StoreClock = std::chrono::system_clock;

/// What a run is, as known when it starts.
struct NewJob {
  std::string command;              ///< the remote command line as sent
  std::string pattern;              ///< the host pattern as given (or folded, for a rerun)
  std::vector<std::string> argv;    ///< herd's own command line, secrets already removed
  std::string options_json = "{}";  ///< a JSON object of the options that shaped the run
  std::size_t host_count = 0;
  StoreClock::time_point started_at = StoreClock::now();
};

/// How a run ended.
struct JobEnd {
  StoreClock::time_point ended_at = StoreClock::now();
  int exit_code = 0;  ///< herd's process exit code for the run
  bool cancelled = false;
};

/// One host's row: its result and (the first cap bytes of) its interleaved output.
struct JobHost {
  std::size_t position = 0;  ///< index in the run's target list
  HostResult result;
  std::string output;  ///< stdout and stderr as they arrived, capped
  bool output_truncated = false;
};

/// A job's header row.
struct JobSummary {
  JobId id = 0;
  StoreClock::time_point started_at;
  std::optional<StoreClock::time_point> ended_at;  ///< unset while running (or if herd died)
  std::string command;
  std::string pattern;
  std::vector<std::string> argv;
  std::string options_json;
  std::size_t host_count = 0;
  std::map<HostStatus, std::size_t> counts;  ///< hosts per status (zero counts left out)
  std::optional<int> exit_code;
  bool cancelled = false;
};

/// A job with its hosts (in target order).
struct JobDetail {
  JobSummary job;
  std::vector<JobHost> hosts;
};

/// The parse of a status name ("ok", "timed_out", ...); nullopt if unknown.
std::optional<HostStatus> host_status_from(std::string_view name);

class JobStore {
 public:
  /// The schema version this binary writes (and the newest it can read).
  static constexpr int kSchemaVersion = 2;

  /// $XDG_DATA_HOME/herd/herd.db, or ~/.local/share/herd/herd.db when XDG_DATA_HOME is unset
  /// or not absolute. Empty if neither XDG_DATA_HOME nor HOME is usable.
  static std::filesystem::path default_path();

  /// Open (creating if needed) and migrate the store at `path`.
  static Result<JobStore> open(const std::filesystem::path& path);

  JobStore(JobStore&&) noexcept;
  JobStore& operator=(JobStore&&) noexcept;
  ~JobStore();

  const std::filesystem::path& path() const;
  /// The database's PRAGMA user_version after opening.
  int schema_version() const;

  /// Insert the job row (ended_at unset) and return its id.
  Result<JobId> begin_job(const NewJob& job);
  /// Insert host rows, all in one transaction.
  Result<void> record_hosts(JobId job, std::span<const JobHost> hosts);
  Result<void> record_host(JobId job, const JobHost& host) { return record_hosts(job, {&host, 1}); }
  /// Set the end, exit code and per-status counts (counted from the host rows).
  Result<void> finish_job(JobId job, const JobEnd& end);

  /// The newest `limit` jobs, newest first.
  Result<std::vector<JobSummary>> list_jobs(std::size_t limit);
  /// One job with its hosts; nullopt if there is no such job.
  Result<std::optional<JobDetail>> get_job(JobId id);

 private:
  struct Impl;
  explicit JobStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Records a run into a JobStore as the engine reports it: keeps each host's interleaved output
/// (capped at `output_cap` bytes per host) and writes host rows in batches (every
/// kBatchHosts hosts or kBatchInterval, whichever comes first) so a large fleet costs a few
/// transactions, not one per host. A store error is reported once through `on_error` and
/// recording stops; the run itself goes on.
class JobRecorder : public EngineObserver {
 public:
  static constexpr std::size_t kBatchHosts = 256;
  static constexpr std::chrono::milliseconds kBatchInterval{100};

  JobRecorder(JobStore& store, JobId job, std::size_t host_count, std::size_t output_cap,
              std::function<void(const Error&)> on_error);

  void on_output(std::size_t index, Stream stream, std::string_view data) override;
  void on_host_finished(std::size_t index, const HostResult& result) override;

  /// Write the remaining host rows and the job's end. Call once after the run.
  void finish(const JobEnd& end);

  JobId job() const { return job_; }

 private:
  void flush();
  void failed(const Error& e);

  JobStore& store_;
  JobId job_;
  std::size_t cap_;
  std::function<void(const Error&)> on_error_;
  std::vector<std::string> output_;
  std::vector<bool> truncated_;
  std::vector<JobHost> pending_;
  std::chrono::steady_clock::time_point last_flush_;
  bool broken_ = false;
};

}  // namespace herd

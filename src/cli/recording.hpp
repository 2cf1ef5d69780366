// Job history for `herd run`: opening the store, recording a run, and --rerun.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "herd/store.hpp"

namespace herd::cli {

/// Open the job store at `explicit_path`, or the default one (JobStore::default_path()).
Result<JobStore> open_job_store(const std::string& explicit_path);

/// One run being recorded.
class Recording {
 public:
  Recording(JobStore store, JobId id, std::size_t host_count, std::size_t output_cap);
  EngineObserver& observer() { return recorder_; }
  JobId id() const { return recorder_.job(); }
  void finish(ExitCode code, bool cancelled);

 private:
  JobStore store_;
  JobRecorder recorder_;
};

/// Begin recording a run of `command` on `host_count` hosts. Null when not recording
/// (--no-record, or the default store could not be opened: warned on stderr). An error only
/// when --store was given and cannot be used: then the run must not start.
Result<std::unique_ptr<Recording>> start_recording(const RunOptions& o, const std::string& command,
                                                   std::size_t host_count);

/// herd's command line with every -e/--env value replaced by "<redacted>".
std::vector<std::string> redacted_argv(const RunOptions& o);

/// For `herd run --rerun ID`: the hosts to run on and `o` completed from the job (its command,
/// --script and --stdin unless a new command is given; the folded host list as the pattern).
/// An unknown ID or --only value is a usage error (bad_config).
Result<std::vector<std::string>> prepare_rerun(RunOptions& o);

}  // namespace herd::cli

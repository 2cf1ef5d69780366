// The job store's schema as an ordered list of forward-only migrations (docs/store.md).
//
// Migration N takes a database at user_version N-1 to N. A migration is never edited once it
// has shipped: a change to the schema is a new entry at the end, and JobStore::kSchemaVersion
// is the number of entries.
#pragma once

#include <array>
#include <string_view>

namespace herd::store {

inline constexpr std::array<std::string_view, 2> kMigrations = {
    // 1: jobs and their per-host results.
    R"sql(
CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at    INTEGER NOT NULL,            -- ms since the Unix epoch (UTC)
  ended_at      INTEGER,                     -- ms; NULL while running or if herd died
  command       TEXT NOT NULL,
  pattern       TEXT NOT NULL,
  argv          TEXT NOT NULL,               -- JSON array, secrets removed
  options       TEXT NOT NULL,               -- JSON object
  host_count    INTEGER NOT NULL,
  n_ok          INTEGER NOT NULL DEFAULT 0,
  n_failed      INTEGER NOT NULL DEFAULT 0,
  n_unreachable INTEGER NOT NULL DEFAULT 0,
  n_auth        INTEGER NOT NULL DEFAULT 0,
  n_host_key    INTEGER NOT NULL DEFAULT 0,
  n_timed_out   INTEGER NOT NULL DEFAULT 0,
  n_error       INTEGER NOT NULL DEFAULT 0,
  n_cancelled   INTEGER NOT NULL DEFAULT 0,
  exit_code     INTEGER,
  cancelled     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_started_at ON jobs(started_at);
CREATE TABLE job_hosts (
  job_id           INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  position         INTEGER NOT NULL,         -- index in the run's target list
  host             TEXT NOT NULL,
  status           TEXT NOT NULL,            -- HostStatus name
  exit_code        INTEGER,
  signal           TEXT,
  phase            TEXT,
  message          TEXT NOT NULL,
  connect_ms       INTEGER NOT NULL,
  total_ms         INTEGER NOT NULL,
  stdout_bytes     INTEGER NOT NULL,
  stderr_bytes     INTEGER NOT NULL,
  output           BLOB NOT NULL,            -- interleaved stdout+stderr, capped
  output_truncated INTEGER NOT NULL,
  PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
CREATE INDEX job_hosts_host ON job_hosts(host);
CREATE INDEX job_hosts_status ON job_hosts(job_id, status);
)sql",
    // 2: the task step each host ended in (herd task), empty for other runs.
    R"sql(
ALTER TABLE job_hosts ADD COLUMN step TEXT NOT NULL DEFAULT '';
)sql",
};

}  // namespace herd::store

// JobStore: one SQLite connection, prepared statements, forward-only migrations.
#include "herd/store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "store/schema.hpp"

namespace herd {
namespace {

constexpr int kBusyTimeoutMs = 10000;  // ms a writer waits for another herd's transaction

static_assert(JobStore::kSchemaVersion == static_cast<int>(store::kMigrations.size()));

constexpr HostStatus kStatuses[] = {
    HostStatus::ok,       HostStatus::failed,    HostStatus::unreachable, HostStatus::auth,
    HostStatus::host_key, HostStatus::timed_out, HostStatus::error,       HostStatus::cancelled};

std::optional<Phase> phase_from(std::string_view name) {
  for (auto p : {Phase::resolve, Phase::connect, Phase::handshake, Phase::host_key, Phase::auth,
                 Phase::channel, Phase::command, Phase::close, Phase::transfer, Phase::verify}) {
    if (to_string(p) == name) return p;
  }
  return std::nullopt;
}

std::int64_t to_ms(StoreClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

StoreClock::time_point from_ms(std::int64_t ms) {
  return StoreClock::time_point(
      std::chrono::duration_cast<StoreClock::duration>(std::chrono::milliseconds(ms)));
}

/// A prepared statement, reset (not finalized) after each use.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }

  int prepare(sqlite3* db, std::string_view sql) {
    return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &s_, nullptr);
  }
  sqlite3_stmt* get() const { return s_; }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  int step() { return sqlite3_step(s_); }

  std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(s_, col));
  }
  std::string blob(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(s_, col));
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

/// mkdir -p with mode 0700 for the directories it creates (existing ones are left alone).
bool make_parents(const std::filesystem::path& dir, std::string& why) {
  if (dir.empty()) return true;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    why = fmt::format("{} is not a directory", dir.string());
    return false;
  }
  if (dir.has_parent_path() && dir.parent_path() != dir && !make_parents(dir.parent_path(), why)) {
    return false;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    why = fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno));
    return false;
  }
  return true;
}

constexpr std::string_view kJobColumns =
    "id, started_at, ended_at, command, pattern, argv, options, host_count, n_ok, n_failed, "
    "n_unreachable, n_auth, n_host_key, n_timed_out, n_error, n_cancelled, exit_code, cancelled";

JobSummary read_job(const Stmt& s) {
  JobSummary j;
  j.id = s.i64(0);
  j.started_at = from_ms(s.i64(1));
  if (!s.is_null(2)) j.ended_at = from_ms(s.i64(2));
  j.command = s.text(3);
  j.pattern = s.text(4);
  auto argv = nlohmann::json::parse(s.text(5), nullptr, false);
  if (argv.is_array()) {
    for (const auto& a : argv) {
      if (a.is_string()) j.argv.push_back(a.get<std::string>());
    }
  }
  j.options_json = s.text(6);
  j.host_count = static_cast<std::size_t>(s.i64(7));
  for (int i = 0; i < 8; ++i) {
    if (auto n = s.i64(8 + i); n > 0) j.counts[kStatuses[i]] = static_cast<std::size_t>(n);
  }
  if (!s.is_null(16)) j.exit_code = static_cast<int>(s.i64(16));
  j.cancelled = s.i64(17) != 0;
  return j;
}

}  // namespace

std::optional<HostStatus> host_status_from(std::string_view name) {
  for (auto s : kStatuses) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

struct JobStore::Impl {
  /// Closes the connection after the statements below are finalized (members are destroyed in
  /// reverse order).
  struct Connection {
    sqlite3* p = nullptr;
    ~Connection() { sqlite3_close_v2(p); }
  };

  std::filesystem::path path;
  Connection conn;
  sqlite3*& db = conn.p;
  int version = 0;
  Stmt insert_job, insert_host, finish_job, list_jobs, get_job, get_hosts;

  std::unexpected<Error> error(std::string_view why) const {
    return fail(Errc::local_io, Phase::command, "",
                fmt::format("job store {}: {}", path.string(), why));
  }
  std::unexpected<Error> db_error() const { return error(sqlite3_errmsg(db)); }

  Result<void> exec(std::string_view sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string why = msg != nullptr ? msg : sqlite3_errmsg(db);
      sqlite3_free(msg);
      return error(why);
    }
    return {};
  }

  /// Run `body` in a write transaction (BEGIN IMMEDIATE takes the write lock up front, so the
  /// busy timeout applies instead of a deadlock between two upgrading readers).
  template <class F>
  Result<void> write_transaction(F&& body) {
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    Result<void> r = body();
    if (r) r = exec("COMMIT");
    if (!r) (void)exec("ROLLBACK");
    return r;
  }

  Result<int> user_version() {
    Stmt s;
    if (s.prepare(db, "PRAGMA user_version") != SQLITE_OK || s.step() != SQLITE_ROW) {
      return db_error();
    }
    return static_cast<int>(s.i64(0));
  }

  Result<void> migrate() {
    auto v = user_version();
    if (!v) return std::unexpected(v.error());
    if (*v > kSchemaVersion) return too_new(*v);
    if (*v == kSchemaVersion) {
      version = *v;
      return {};
    }
    return write_transaction([this]() -> Result<void> {
      // Read again under the write lock: another herd may have migrated meanwhile.
      auto cur = user_version();
      if (!cur) return std::unexpected(cur.error());
      if (*cur > kSchemaVersion) return too_new(*cur);
      for (int next = *cur + 1; next <= kSchemaVersion; ++next) {
        if (auto r = exec(store::kMigrations[static_cast<std::size_t>(next - 1)]); !r) return r;
        if (auto r = exec(fmt::format("PRAGMA user_version = {}", next)); !r) return r;
      }
      version = kSchemaVersion;
      return {};
    });
  }

  std::unexpected<Error> too_new(int v) const {
    return error(
        fmt::format("schema version {} is newer than this herd understands ({}); use a newer herd",
                    v, kSchemaVersion));
  }

  Result<void> prepare_all() {
    const std::string jobs_select = fmt::format("SELECT {} FROM jobs", kJobColumns);
    struct {
      Stmt* stmt;
      std::string sql;
    } all[] = {
        {&insert_job,
         "INSERT INTO jobs (started_at, command, pattern, argv, options, host_count) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {&insert_host,
         "INSERT OR REPLACE INTO job_hosts (job_id, position, host, status, exit_code, signal, "
         "phase, message, connect_ms, total_ms, stdout_bytes, stderr_bytes, output, "
         "output_truncated, step) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
         "?14, ?15)"},
        {&finish_job,
         "UPDATE jobs SET ended_at = ?2, exit_code = ?3, cancelled = ?4, "
         "n_ok          = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = 'ok'), "
         "n_failed      = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = "
         "'failed'), "
         "n_unreachable = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = "
         "'unreachable'), "
         "n_auth        = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = 'auth'), "
         "n_host_key    = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = "
         "'host_key'), "
         "n_timed_out   = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = "
         "'timed_out'), "
         "n_error       = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = 'error'), "
         "n_cancelled   = (SELECT count(*) FROM job_hosts WHERE job_id = ?1 AND status = "
         "'cancelled') "
         "WHERE id = ?1"},
        {&list_jobs, jobs_select + " ORDER BY id DESC LIMIT ?1"},
        {&get_job, jobs_select + " WHERE id = ?1"},
        {&get_hosts,
         "SELECT position, host, status, exit_code, signal, phase, message, connect_ms, total_ms, "
         "stdout_bytes, stderr_bytes, output, output_truncated, step FROM job_hosts WHERE job_id = ?1 "
         "ORDER BY position"},
    };
    for (auto& [stmt, sql] : all) {
      if (stmt->prepare(db, sql) != SQLITE_OK) return db_error();
    }
    return {};
  }
};

JobStore::JobStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JobStore::JobStore(JobStore&&) noexcept = default;
JobStore& JobStore::operator=(JobStore&&) noexcept = default;
JobStore::~JobStore() = default;

const std::filesystem::path& JobStore::path() const {
  return impl_->path;
}
int JobStore::schema_version() const {
  return impl_->version;
}

std::filesystem::path JobStore::default_path() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::filesystem::path(xdg) / "herd" / "herd.db";
  std::string home;
  if (const char* h = std::getenv("HOME"); h != nullptr && h[0] == '/') {
    home = h;
  } else if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    home = pw->pw_dir;
  }
  if (home.empty()) return {};
  return std::filesystem::path(home) / ".local" / "share" / "herd" / "herd.db";
}

Result<JobStore> JobStore::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  if (path.empty()) return impl->error("no path (set XDG_DATA_HOME or HOME, or give --store)");
  std::string why;
  if (!make_parents(path.parent_path(), why)) return impl->error(why);
  // Create the file ourselves so it is 0600 from the start (SQLite gives -wal and -shm the
  // database file's mode).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return impl->error(std::strerror(errno));
  ::close(fd);

  if (sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    if (impl->db == nullptr) return impl->error("out of memory");
    return impl->db_error();
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);
  // journal_mode=WAL is persistent in the file; synchronous=NORMAL is durable enough for a
  // history (a power cut may lose the last transactions, never corrupt the file).
  for (auto pragma :
       {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"}) {
    if (auto r = impl->exec(pragma); !r) return std::unexpected(r.error());
  }
  if (auto r = impl->migrate(); !r) return std::unexpected(r.error());
  if (auto r = impl->prepare_all(); !r) return std::unexpected(r.error());
  return JobStore(std::move(impl));
}

Result<JobId> JobStore::begin_job(const NewJob& job) {
  auto& s = impl_->insert_job;
  s.reset();
  s.bind(1, to_ms(job.started_at));
  s.bind(2, job.command);
  s.bind(3, job.pattern);
  s.bind(4,
         nlohmann::json(job.argv).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  s.bind(5, job.options_json);
  s.bind(6, static_cast<std::int64_t>(job.host_count));
  int rc = s.step();
  s.reset();
  if (rc != SQLITE_DONE) return impl_->db_error();
  return sqlite3_last_insert_rowid(impl_->db);
}

Result<void> JobStore::record_hosts(JobId job, std::span<const JobHost> hosts) {
  if (hosts.empty()) return {};
  return impl_->write_transaction([&]() -> Result<void> {
    auto& s = impl_->insert_host;
    for (const auto& h : hosts) {
      const auto& r = h.result;
      s.reset();
      s.bind(1, job);
      s.bind(2, static_cast<std::int64_t>(h.position));
      s.bind(3, r.host);
      s.bind(4, to_string(r.status));
      if (r.exit_code) s.bind(5, static_cast<std::int64_t>(*r.exit_code));
      if (r.signal) s.bind(6, *r.signal);
      if (r.phase) s.bind(7, to_string(*r.phase));
      s.bind(8, r.message);
      s.bind(9, static_cast<std::int64_t>(r.connect_time.count()));
      s.bind(10, static_cast<std::int64_t>(r.total_time.count()));
      s.bind(11, static_cast<std::int64_t>(r.stdout_bytes));
      s.bind(12, static_cast<std::int64_t>(r.stderr_bytes));
      s.bind_blob(13, h.output);
      s.bind(14, std::int64_t{h.output_truncated ? 1 : 0});
      s.bind(15, r.step);
      int rc = s.step();
      if (rc != SQLITE_DONE) {
        auto e = impl_->db_error();
        s.reset();
        return e;
      }
    }
    s.reset();
    return {};
  });
}

Result<void> JobStore::finish_job(JobId job, const JobEnd& end) {
  return impl_->write_transaction([&]() -> Result<void> {
    auto& s = impl_->finish_job;
    s.reset();
    s.bind(1, job);
    s.bind(2, to_ms(end.ended_at));
    s.bind(3, std::int64_t{end.exit_code});
    s.bind(4, std::int64_t{end.cancelled ? 1 : 0});
    int rc = s.step();
    if (rc != SQLITE_DONE) {
      auto e = impl_->db_error();
      s.reset();
      return e;
    }
    s.reset();
    if (sqlite3_changes(impl_->db) == 0) return impl_->error(fmt::format("no job {}", job));
    return {};
  });
}

Result<std::vector<JobSummary>> JobStore::list_jobs(std::size_t limit) {
  auto& s = impl_->list_jobs;
  s.reset();
  s.bind(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  std::vector<JobSummary> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_job(s));
  if (rc != SQLITE_DONE) {
    auto e = impl_->db_error();
    s.reset();
    return e;
  }
  s.reset();
  return out;
}

Result<std::optional<JobDetail>> JobStore::get_job(JobId id) {
  // One read transaction so the header and the hosts agree.
  if (auto r = impl_->exec("BEGIN"); !r) return std::unexpected(r.error());
  auto done = [this](auto value) {
    (void)impl_->exec("COMMIT");
    return value;
  };
  auto& j = impl_->get_job;
  j.reset();
  j.bind(1, id);
  int rc = j.step();
  if (rc == SQLITE_DONE) {
    j.reset();
    return done(Result<std::optional<JobDetail>>(std::nullopt));
  }
  if (rc != SQLITE_ROW) {
    auto e = impl_->db_error();
    j.reset();
    return done(Result<std::optional<JobDetail>>(e));
  }
  JobDetail d;
  d.job = read_job(j);
  j.reset();

  auto& h = impl_->get_hosts;
  h.reset();
  h.bind(1, id);
  while ((rc = h.step()) == SQLITE_ROW) {
    JobHost host;
    host.position = static_cast<std::size_t>(h.i64(0));
    auto& r = host.result;
    r.host = h.text(1);
    r.status = host_status_from(h.text(2)).value_or(HostStatus::error);
    if (!h.is_null(3)) r.exit_code = static_cast<int>(h.i64(3));
    if (!h.is_null(4)) r.signal = h.text(4);
    if (!h.is_null(5)) r.phase = phase_from(h.text(5));
    r.message = h.text(6);
    r.connect_time = std::chrono::milliseconds(h.i64(7));
    r.total_time = std::chrono::milliseconds(h.i64(8));
    r.stdout_bytes = static_cast<std::uint64_t>(h.i64(9));
    r.stderr_bytes = static_cast<std::uint64_t>(h.i64(10));
    host.output = h.blob(11);
    host.output_truncated = h.i64(12) != 0;
    r.step = h.text(13);
    d.hosts.push_back(std::move(host));
  }
  if (rc != SQLITE_DONE) {
    auto e = impl_->db_error();
    h.reset();
    return done(Result<std::optional<JobDetail>>(e));
  }
  h.reset();
  return done(Result<std::optional<JobDetail>>(std::move(d)));
}

}  // namespace herd

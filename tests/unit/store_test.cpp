// JobStore and JobRecorder against temporary databases.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/recording.hpp"
#include "herd/store.hpp"

namespace herd {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/herd-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path db() const { return dir_ / "data" / "herd" / "herd.db"; }

  JobStore open() {
    auto s = JobStore::open(db());
    if (!s) throw std::runtime_error(s.error().message);
    return std::move(*s);
  }

  fs::path dir_;
};

HostResult result(std::string host, HostStatus status, std::optional<int> exit = std::nullopt) {
  HostResult r;
  r.host = std::move(host);
  r.status = status;
  r.exit_code = exit;
  r.connect_time = std::chrono::milliseconds(12);
  r.total_time = std::chrono::milliseconds(34);
  return r;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

void set_user_version(const fs::path& p, int v) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("PRAGMA user_version = " + std::to_string(v)).c_str(), nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(StoreTest, MigratesFromEmptyWithPrivateFiles) {
  auto s = open();
  EXPECT_EQ(s.schema_version(), JobStore::kSchemaVersion);
  EXPECT_EQ(mode_of(db()), 0600U);
  EXPECT_EQ(mode_of(db().parent_path()), 0700U);
  EXPECT_EQ(mode_of(db().parent_path().parent_path()), 0700U);
  EXPECT_TRUE(s.list_jobs(10)->empty());
}

TEST_F(StoreTest, ReopenKeepsJobs) {
  JobId id;
  {
    auto s = open();
    id = *s.begin_job(NewJob{.command = "uptime", .pattern = "web[01-02]", .host_count = 2});
  }
  auto s = open();
  EXPECT_EQ(s.schema_version(), JobStore::kSchemaVersion);
  auto jobs = s.list_jobs(10);
  ASSERT_TRUE(jobs) << jobs.error().message;
  ASSERT_EQ(jobs->size(), 1U);
  EXPECT_EQ((*jobs)[0].id, id);
  EXPECT_FALSE((*jobs)[0].ended_at);
}

TEST_F(StoreTest, NewerSchemaIsRefusedNotDowngraded) {
  { open(); }
  set_user_version(db(), JobStore::kSchemaVersion + 5);
  auto s = JobStore::open(db());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::local_io);
  EXPECT_NE(s.error().message.find(db().string()), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), JobStore::kSchemaVersion + 5);
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

TEST_F(StoreTest, NotADatabaseNamesThePath) {
  fs::create_directories(db().parent_path());
  std::ofstream(db()) << std::string(4096, 'x');
  auto s = JobStore::open(db());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message.rfind("job store " + db().string() + ": ", 0), 0U)
      << s.error().message;
}

TEST_F(StoreTest, RecordListGetRoundTrip) {
  auto s = open();
  const auto t0 = StoreClock::now();
  auto id = s.begin_job(NewJob{.command = "echo hi",
                               .pattern = "web[01-03]",
                               .argv = {"herd", "run", "web[01-03]", "--", "echo hi"},
                               .options_json = R"({"fanout":3})",
                               .host_count = 3,
                               .started_at = t0});
  ASSERT_TRUE(id) << id.error().message;
  auto bad = result("web03", HostStatus::unreachable);
  bad.phase = Phase::connect;
  bad.message = "web03: connection refused";
  auto killed = result("web02", HostStatus::failed);
  killed.signal = "KILL";
  std::vector<JobHost> hosts{{.position = 2, .result = bad},
                             {.position = 0,
                              .result = result("web01", HostStatus::ok, 0),
                              .output = std::string("hi\n\0\xff", 5)},
                             {.position = 1, .result = killed, .output_truncated = true}};
  hosts[1].result.stdout_bytes = 5;
  ASSERT_TRUE(s.record_hosts(*id, hosts));
  ASSERT_TRUE(
      s.finish_job(*id, JobEnd{.ended_at = t0 + std::chrono::milliseconds(1500), .exit_code = 3}));
  auto second = s.begin_job(NewJob{.command = "true", .pattern = "web01", .host_count = 1});
  ASSERT_TRUE(second);

  auto jobs = s.list_jobs(10);
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 2U);
  EXPECT_EQ((*jobs)[0].id, *second);  // newest first
  EXPECT_EQ(s.list_jobs(1)->size(), 1U);

  auto got = s.get_job(*id);
  ASSERT_TRUE(got && *got);
  const auto& j = (*got)->job;
  EXPECT_EQ(j.command, "echo hi");
  EXPECT_EQ(j.pattern, "web[01-03]");
  EXPECT_EQ(j.argv.size(), 5U);
  EXPECT_EQ(j.options_json, R"({"fanout":3})");
  EXPECT_EQ(j.host_count, 3U);
  EXPECT_EQ(j.exit_code, 3);
  ASSERT_TRUE(j.ended_at);
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::milliseconds>(*j.ended_at - j.started_at).count(),
      1500);
  EXPECT_EQ(j.counts.at(HostStatus::ok), 1U);
  EXPECT_EQ(j.counts.at(HostStatus::failed), 1U);
  EXPECT_EQ(j.counts.at(HostStatus::unreachable), 1U);
  EXPECT_EQ(j.counts.count(HostStatus::auth), 0U);

  const auto& h = (*got)->hosts;
  ASSERT_EQ(h.size(), 3U);  // in target order
  EXPECT_EQ(h[0].result.host, "web01");
  EXPECT_EQ(h[0].output, std::string("hi\n\0\xff", 5));
  EXPECT_EQ(h[0].result.exit_code, 0);
  EXPECT_EQ(h[0].result.stdout_bytes, 5U);
  EXPECT_EQ(h[0].result.connect_time.count(), 12);
  EXPECT_EQ(h[0].result.total_time.count(), 34);
  EXPECT_EQ(h[1].result.signal, "KILL");
  EXPECT_FALSE(h[1].result.exit_code);
  EXPECT_TRUE(h[1].output_truncated);
  EXPECT_EQ(h[2].result.status, HostStatus::unreachable);
  EXPECT_EQ(h[2].result.phase, Phase::connect);
  EXPECT_EQ(h[2].result.message, "web03: connection refused");

  auto none = s.get_job(9999);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(StoreTest, RecorderCapsOutputPerHost) {
  auto s = open();
  auto id = *s.begin_job(NewJob{.command = "x", .pattern = "a,b", .host_count = 2});
  int errors = 0;
  JobRecorder rec(s, id, 2, 10, [&errors](const Error&) { ++errors; });
  rec.on_output(0, Stream::out, "123456");
  rec.on_output(1, Stream::out, "ab");
  rec.on_output(0, Stream::err, "789012");
  rec.on_output(1, Stream::err, "cd");
  rec.on_host_finished(1, result("b", HostStatus::ok, 0));
  rec.on_host_finished(0, result("a", HostStatus::failed, 1));
  rec.finish(JobEnd{.exit_code = 1});
  EXPECT_EQ(errors, 0);
  auto got = s.get_job(id);
  ASSERT_TRUE(got && *got);
  const auto& h = (*got)->hosts;
  ASSERT_EQ(h.size(), 2U);
  EXPECT_EQ(h[0].output, "1234567890");
  EXPECT_TRUE(h[0].output_truncated);
  EXPECT_EQ(h[1].output, "abcd");
  EXPECT_FALSE(h[1].output_truncated);
  EXPECT_EQ((*got)->job.exit_code, 1);
}

TEST_F(StoreTest, TwoThousandHostsRecordQuickly) {
  auto s = open();
  constexpr std::size_t kHosts = 2000;
  auto id = *s.begin_job(NewJob{.command = "x", .pattern = "h[1-2000]", .host_count = kHosts});
  JobRecorder rec(s, id, kHosts, 64 << 10, [](const Error& e) { FAIL() << e.message; });
  const std::string chunk(1024, 'o');
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < kHosts; ++i) {
    rec.on_output(i, Stream::out, chunk);
    rec.on_host_finished(i, result("h" + std::to_string(i + 1), HostStatus::ok, 0));
  }
  rec.finish(JobEnd{});
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("recorded %zu hosts (1 KiB output each) in %lld ms\n", kHosts,
              static_cast<long long>(ms));
  EXPECT_LT(ms, 2000);
  auto got = s.get_job(id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->hosts.size(), kHosts);
  EXPECT_EQ((*got)->job.counts.at(HostStatus::ok), kHosts);
}

TEST_F(StoreTest, TwoConnectionsInterleave) {
  auto a = open();
  auto b = open();
  auto ja = *a.begin_job(NewJob{.command = "a", .pattern = "a", .host_count = 1});
  auto jb = *b.begin_job(NewJob{.command = "b", .pattern = "b", .host_count = 1});
  ASSERT_TRUE(b.record_host(jb, JobHost{.result = result("b", HostStatus::ok, 0)}));
  ASSERT_TRUE(a.record_host(ja, JobHost{.result = result("a", HostStatus::ok, 0)}));
  ASSERT_TRUE(a.finish_job(ja, JobEnd{}));
  ASSERT_TRUE(b.finish_job(jb, JobEnd{}));
  EXPECT_EQ(a.list_jobs(10)->size(), 2U);
  EXPECT_EQ((*b.get_job(ja))->hosts.size(), 1U);
}

TEST_F(StoreTest, TwoProcessesRecordAtOnce) {
  { open(); }
  constexpr int kJobs = 100;
  constexpr int kHostsPerJob = 20;
  auto writer = [this](const std::string& name) -> int {
    auto s = JobStore::open(db());
    if (!s) return 10;
    for (int j = 0; j < kJobs; ++j) {
      auto id = s->begin_job(NewJob{.command = name, .pattern = name, .host_count = kHostsPerJob});
      if (!id) return 11;
      for (int h = 0; h < kHostsPerJob; ++h) {
        JobHost host{.position = static_cast<std::size_t>(h),
                     .result = result(name + std::to_string(h), HostStatus::ok, 0),
                     .output = std::string(200, 'x')};
        if (!s->record_host(*id, host)) return 12;
      }
      if (!s->finish_job(*id, JobEnd{})) return 13;
    }
    return 0;
  };
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = ::fork();
    ASSERT_GE(kids[k], 0);
    if (kids[k] == 0) ::_exit(writer(k == 0 ? "p" : "q"));
  }
  for (pid_t kid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(kid, &status, 0), kid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto s = open();
  auto jobs = s.list_jobs(1000);
  ASSERT_TRUE(jobs);
  EXPECT_EQ(jobs->size(), 2U * kJobs);
  for (const auto& j : *jobs) EXPECT_EQ(j.counts.at(HostStatus::ok), std::size_t{kHostsPerJob});
}

TEST_F(StoreTest, DefaultPathFollowsXdg) {
  const char* old_xdg = std::getenv("XDG_DATA_HOME");
  const char* old_home = std::getenv("HOME");
  std::string saved_xdg = old_xdg ? old_xdg : "", saved_home = old_home ? old_home : "";
  ::setenv("XDG_DATA_HOME", "/x/data", 1);
  EXPECT_EQ(JobStore::default_path(), fs::path("/x/data/herd/herd.db"));
  ::setenv("XDG_DATA_HOME", "relative", 1);  // not absolute: ignored, as the spec says
  ::setenv("HOME", "/home/h", 1);
  EXPECT_EQ(JobStore::default_path(), fs::path("/home/h/.local/share/herd/herd.db"));
  ::unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(JobStore::default_path(), fs::path("/home/h/.local/share/herd/herd.db"));
  if (old_xdg) ::setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
  if (old_home)
    ::setenv("HOME", saved_home.c_str(), 1);
  else
    ::unsetenv("HOME");
}

TEST(Recording, ArgvKeepsEnvNamesOnly) {
  cli::RunOptions o;
  o.env = {"TOKEN=s3cret", "MODE=a=b"};
  o.argv = {"herd", "run", "-e", "TOKEN=s3cret", "--env=MODE=a=b", "web01", "--", "true"};
  auto argv = cli::redacted_argv(o);
  ASSERT_EQ(argv.size(), o.argv.size());
  EXPECT_EQ(argv[3], "TOKEN=<redacted>");
  EXPECT_EQ(argv[4], "--env=MODE=<redacted>");
  for (const auto& a : argv) {
    EXPECT_EQ(a.find("s3cret"), std::string::npos);
    EXPECT_EQ(a.find("a=b"), std::string::npos);
  }
}

}  // namespace
}  // namespace herd

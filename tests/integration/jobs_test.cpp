// Job history: `herd run` records into the job store, `herd jobs` reads it, `--rerun` replays.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lab.hpp"

namespace herd::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> run_args(std::vector<std::string> rest, const std::string& config) {
  std::vector<std::string> args{"run", "-F", config, "--no-agent", "--no-default-keys"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

/// The lab's ssh_config plus an unreachable host `dead`. Host keys go to a private known_hosts
/// (accept-new): an earlier test may have rekeyed a lab server (HostKey.ChangedKeyIsRefused).
std::string lab_config() {
  auto dir = Lab::get().temp_dir("jobs-config");
  std::ofstream(dir / "ssh_config")
      << "Host *\n  UserKnownHostsFile " << (dir / "known_hosts").string()
      << "\n  StrictHostKeyChecking accept-new\n\n"
      << "Host dead\n  HostName 127.0.0.1\n  Port 1\n\nInclude "
      << Lab::get().env("HERD_LAB_SSH_CONFIG") << "\n";
  return (dir / "ssh_config").string();
}

std::vector<nlohmann::json> json_lines(const std::string& s) {
  std::vector<nlohmann::json> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

nlohmann::json event(const std::string& out, const std::string& type) {
  for (auto& e : json_lines(out)) {
    if (e.at("event") == type) return e;
  }
  return nullptr;
}

std::set<std::string> started_hosts(const std::string& out) {
  std::set<std::string> hosts;
  for (const auto& e : json_lines(out)) {
    if (e.at("event") == "host_started") hosts.insert(e.at("host").get<std::string>());
  }
  return hosts;
}

/// The newest job's id in `store`.
std::string newest_job(const std::string& store) {
  auto r = run_herd({"jobs", "--store", store, "--json", "-n", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto jobs = json_lines(r.out);
  if (jobs.size() != 1) return "0";
  return std::to_string(jobs[0].at("id").get<long>());
}

nlohmann::json show(const std::string& store, const std::string& id) {
  auto r = run_herd({"jobs", "show", id, "--store", store, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

/// web02 is the one alias on server 2: the command fails there and only there.
std::string fails_on_server2() {
  return "test \"${SSH_CONNECTION##* }\" = " + std::to_string(Lab::get().port(1));
}

TEST(Jobs, FleetRunIsRecordedListedAndShown) {
  const auto config = lab_config();
  const auto store = (Lab::get().temp_dir("jobs-record") / "herd.db").string();
  auto run = run_herd(run_args({"--store", store, "--json", "web01,web02,web03,dead", "--",
                                "echo out-$((6*7)); " + fails_on_server2()},
                               config));
  ASSERT_EQ(run.exit_code, 3) << run.err;
  auto summary = event(run.out, "summary");
  ASSERT_FALSE(summary.is_null()) << run.out;

  auto list = run_herd({"jobs", "--store", store});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("2 ok, 1 failed, 1 unreachable"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("echo out-"), std::string::npos) << list.out;

  const auto id = newest_job(store);
  auto job = show(store, id);
  EXPECT_EQ(job.at("counts"), summary.at("counts"));
  EXPECT_EQ(job.at("host_count"), summary.at("hosts"));
  EXPECT_EQ(job.at("exit_code"), 3);
  EXPECT_EQ(job.at("pattern"), "web01,web02,web03,dead");
  EXPECT_EQ(job.at("cancelled"), false);
  EXPECT_GE(job.at("elapsed_ms").get<long>(), 0);
  std::map<std::string, nlohmann::json> hosts;
  for (const auto& h : job.at("hosts")) hosts[h.at("host")] = h;
  ASSERT_EQ(hosts.size(), 4U) << job.dump();
  EXPECT_EQ(job.at("hosts")[0].at("host"), "dead");  // target order: the pattern's, sorted
  EXPECT_EQ(hosts["web01"].at("status"), "ok");
  EXPECT_EQ(hosts["web01"].at("exit_code"), 0);
  EXPECT_EQ(hosts["web01"].at("stdout_bytes"), 7);
  EXPECT_EQ(hosts["web02"].at("status"), "failed");
  EXPECT_EQ(hosts["web02"].at("exit_code"), 1);
  EXPECT_EQ(hosts["web03"].at("status"), "ok");
  EXPECT_EQ(hosts["dead"].at("status"), "unreachable");
  EXPECT_EQ(hosts["dead"].at("phase"), "connect");
  EXPECT_FALSE(hosts["dead"].at("message").get<std::string>().empty());
  // Every host_finished event is in the store as it was reported.
  for (const auto& e : json_lines(run.out)) {
    if (e.at("event") != "host_finished") continue;
    const auto& h = hosts[e.at("host")];
    for (auto key : {"status", "exit_code", "signal", "phase", "message", "connect_ms", "total_ms",
                     "stdout_bytes", "stderr_bytes"}) {
      EXPECT_EQ(h.at(key), e.at(key)) << e.at("host") << " " << key;
    }
  }

  auto text = run_herd({"jobs", "show", id, "--store", store, "--output"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("HOST"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("unreachable"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("out-42\n"), std::string::npos) << text.out;

  auto missing = run_herd({"jobs", "show", "9999", "--store", store});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

TEST(Jobs, RerunOnlyFailedRunsTheHostsThatDidNotSucceed) {
  const auto config = lab_config();
  const auto store = (Lab::get().temp_dir("jobs-rerun") / "herd.db").string();
  auto first = run_herd(run_args(
      {"--store", store, "--json", "web01,web02,web03,dead", "--", fails_on_server2()}, config));
  ASSERT_EQ(first.exit_code, 3) << first.err;
  const auto id = newest_job(store);

  // Same command, only the failed and unreachable hosts.
  auto again =
      run_herd(run_args({"--store", store, "--json", "--rerun", id, "--only", "failed"}, config));
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_EQ(started_hosts(again.out), (std::set<std::string>{"web02", "dead"})) << again.out;
  auto rerun_job = show(store, newest_job(store));
  EXPECT_EQ(rerun_job.at("command"), fails_on_server2());
  EXPECT_EQ(rerun_job.at("options").at("rerun_of").dump(), id);
  EXPECT_EQ(rerun_job.at("host_count"), 2);

  // --only failed is the default; a new command replaces the recorded one.
  auto fixed =
      run_herd(run_args({"--store", store, "--json", "--rerun", id, "--", "true"}, config));
  EXPECT_EQ(fixed.exit_code, 3) << fixed.err;
  EXPECT_EQ(started_hosts(fixed.out), (std::set<std::string>{"web02", "dead"})) << fixed.out;
  EXPECT_EQ(show(store, newest_job(store)).at("counts").at("ok"), 1);

  auto all =
      run_herd(run_args({"--store", store, "--json", "--rerun", id, "--only", "all"}, config));
  EXPECT_EQ(started_hosts(all.out).size(), 4U) << all.out;

  auto unknown = run_herd(run_args({"--store", store, "--rerun", "4242"}, config));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("4242"), std::string::npos) << unknown.err;
  EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1) << unknown.err;
}

TEST(Jobs, DefaultStoreFollowsXdgDataHome) {
  const auto config = lab_config();
  const auto xdg = Lab::get().temp_dir("jobs-xdg") / "data";
  const std::map<std::string, std::string> env{{"XDG_DATA_HOME", xdg.string()}};
  auto r = run_herd(run_args({"web01,web02", "--", "true"}, config), "", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto db = xdg / "herd" / "herd.db";
  ASSERT_TRUE(fs::exists(db));
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto list = run_herd({"jobs", "--json"}, "", env);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto jobs = json_lines(list.out);
  ASSERT_EQ(jobs.size(), 1U) << list.out;
  EXPECT_EQ(jobs[0].at("counts").at("ok"), 2);

  auto unrecorded = run_herd(run_args({"--no-record", "web01", "--", "true"}, config), "", env);
  EXPECT_EQ(unrecorded.exit_code, 0) << unrecorded.err;
  EXPECT_EQ(json_lines(run_herd({"jobs", "--json"}, "", env).out).size(), 1U);
}

TEST(Jobs, EnvValuesNeverReachTheStore) {
  const auto config = lab_config();
  const auto dir = Lab::get().temp_dir("jobs-secret");
  const auto store = (dir / "herd.db").string();
  const std::string secret = "herd-secret-" + std::to_string(::getpid()) + "-q7Zx";
  auto r = run_herd(run_args({"--store", store, "-e", "TOKEN=" + secret, "--env=OTHER=" + secret,
                              "web01,web02", "--", "test -n \"$TOKEN\" && test -n \"$OTHER\""},
                             config));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& f : fs::directory_iterator(dir)) {
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(secret), std::string::npos) << f.path() << " holds the -e value";
  }
  auto job = show(store, newest_job(store));
  EXPECT_EQ(job.at("options").at("env_names"), nlohmann::json({"TOKEN", "OTHER"}));
  EXPECT_NE(job.at("argv").dump().find("TOKEN=<redacted>"), std::string::npos) << job.dump();
}

TEST(Jobs, UnusableStore) {
  const auto config = lab_config();
  const auto dir = Lab::get().temp_dir("jobs-unusable");
  std::ofstream(dir / "file") << "not a directory\n";
  const auto under_file = (dir / "file" / "herd.db").string();

  // --store given: fail before running anything.
  auto r =
      run_herd(run_args({"--store", under_file, "--json", "web01,web02", "--", "true"}, config));
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(r.err.rfind("herd: job store " + under_file + ": ", 0), 0U) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(started_hosts(r.out).empty()) << r.out;

  // The default store: warn once and run anyway.
  auto d = run_herd(run_args({"web01,web02", "--", "true"}, config), "",
                    {{"XDG_DATA_HOME", (dir / "file").string()}});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.err.find("this run is not recorded"), std::string::npos) << d.err;
  EXPECT_NE(d.err.find("2 ok"), std::string::npos) << d.err;
}

}  // namespace
}  // namespace herd::test

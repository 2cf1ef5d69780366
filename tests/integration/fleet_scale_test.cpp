// The fleet engine at scale against herd-sim (tools/herd-sim): 1000 hosts with five kinds of
// fault, first contact with 1000 new hosts under accept-new, changed host keys. Faulty hosts are
// chosen by herd-sim's seeded percentage mode and read back from its faults.json, so every host's
// expected outcome is known. No lab (sshd) is needed.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim_fleet.hpp"

extern char** environ;

namespace herd::test {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kHosts = 1000;
constexpr int kFanout = 128;
constexpr long kConnectTimeoutMs = 2000;  // --connect-timeout: ends the black-holed hosts
constexpr long kHostTimeoutMs = 10000;    // --host-timeout: no host may run longer
constexpr long kSlackMs = 5000;           // process start/exit, a loaded 2-core machine

long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<json> events_of(const std::string& s) {
  std::vector<json> out;
  for (const auto& line : lines_of(s)) out.push_back(json::parse(line));
  return out;
}

std::string sim_name(int i) {
  std::string n = std::to_string(i);
  return "sim" + std::string(4 - n.size(), '0') + n;
}

/// docs/json.md's field tables: event name (a "### `name`" heading) -> field names (the
/// first column of its table).
std::map<std::string, std::set<std::string>> documented_fields() {
  const auto doc =
      fs::path(HERD_LAB_SCRIPT).parent_path().parent_path().parent_path() / "docs" / "json.md";
  std::map<std::string, std::set<std::string>> out;
  std::string event;
  for (const auto& line : lines_of(read_file(doc))) {
    if (line.rfind("## ", 0) == 0) event.clear();
    if (line.rfind("### `", 0) == 0) {
      event = line.substr(5, line.find('`', 5) - 5);
      out[event];
    } else if (!event.empty() && line.rfind("| `", 0) == 0) {
      out[event].insert(line.substr(3, line.find('`', 3) - 3));
    }
  }
  return out;
}

/// What each fault must end as in herd: status and phase (null: none).
struct Expected {
  std::string status;
  json phase;
};

const std::map<std::string, Expected>& expected_outcomes() {
  static const std::map<std::string, Expected> m = {
      {"", {"ok", nullptr}},
      {"refused", {"unreachable", "connect"}},
      {"blackhole", {"timed_out", "connect"}},  // SYNs dropped: the connect deadline ends it
      {"hostkey", {"host_key", "host_key"}},
      {"authfail", {"auth", "auth"}},
      {"drop", {"error", "command"}},  // connection lost while the command ran
  };
  return m;
}

// One faulty fleet for the suite: 5% of the hosts for each of five faults (seeded).
class FleetScale : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    faulty_ = std::make_unique<SimFleet>(
        std::vector<std::string>{"--hosts", std::to_string(kHosts), "--threads", "2", "--seed", "7",
                                 "--fault", "refused=5%", "--fault", "blackhole=5%", "--fault",
                                 "hostkey=5%", "--fault", "authfail=5%", "--fault", "drop=5%"});
  }
  static void TearDownTestSuite() { faulty_.reset(); }
  static std::unique_ptr<SimFleet> faulty_;
};
std::unique_ptr<SimFleet> FleetScale::faulty_;

const char* kAllHosts = "sim[0001-1000]";

TEST_F(FleetScale, EveryHostEndsWithItsFaultsStatusWithinTheDeadlines) {
  const auto faults = faulty_->faults();
  std::map<std::string, int> per_kind;
  for (const auto& [host, kind] : faults) ++per_kind[kind];
  for (const char* kind : {"refused", "blackhole", "hostkey", "authfail", "drop"}) {
    EXPECT_EQ(per_kind[kind], kHosts / 20) << kind;  // 5% each
  }
  ASSERT_EQ(faults.size(), 5U * kHosts / 20);

  std::string want_out = "hello\n";
  for (int i = 1; i <= 2000; ++i) want_out += std::to_string(i) + "\n";
  const auto store = (faulty_->dir() / "herd.db").string();

  const auto events_file = faulty_->dir() / "events.json";
  const auto started = Clock::now();
  auto r = faulty_->run_to_file({"--json", "-f", std::to_string(kFanout), "--connect-timeout",
                                 std::to_string(kConnectTimeoutMs / 1000), "--host-timeout",
                                 std::to_string(kHostTimeoutMs / 1000), "--store", store, kAllHosts,
                                 "--", "echo hello; seq 1 2000"},
                                events_file);
  const long wall_ms = ms_since(started);
  ASSERT_FALSE(r.killed) << "herd hung";
  EXPECT_EQ(r.exit_code, 3) << r.err;  // some hosts were not reached

  std::map<std::string, int> started_count;
  std::map<std::string, std::string> output;
  std::map<std::string, json> finished;
  json summary;
  long sum_total_ms = 0, max_total_ms = 0;
  std::map<std::string, std::set<std::set<std::string>>> fields_seen;  // event -> key sets
  for (const auto& e : events_of(read_file(events_file))) {
    const auto type = e.at("event").get<std::string>();
    std::set<std::string> keys;
    for (const auto& [key, value] : e.items()) keys.insert(key);
    fields_seen[type].insert(keys);
    if (type == "summary") {
      EXPECT_TRUE(summary.is_null()) << "two summaries";
      summary = e;
      continue;
    }
    const auto host = e.at("host").get<std::string>();
    EXPECT_FALSE(finished.contains(host)) << host << ": an event after host_finished: " << e;
    if (type == "host_started") ++started_count[host];
    if (type == "output") {
      EXPECT_EQ(started_count[host], 1) << host << ": output before host_started";
      EXPECT_EQ(e.at("stream"), "stdout") << host;
      output[host] += e.at("data").get<std::string>();
    }
    if (type == "host_finished") {
      EXPECT_EQ(started_count[host], 1) << host;
      finished[host] = e;
      const long total = e.at("total_ms").get<long>();
      sum_total_ms += total;
      max_total_ms = std::max(max_total_ms, total);
    }
  }
  ASSERT_EQ(finished.size(), static_cast<std::size_t>(kHosts)) << r.err;
  // Every event carries exactly the fields docs/json.md lists for it, and it lists no other
  // event.
  const auto documented = documented_fields();
  EXPECT_EQ(documented.size(), fields_seen.size());
  for (const auto& [type, fields] : fields_seen) {
    ASSERT_TRUE(documented.contains(type)) << type << " is not in docs/json.md";
    for (const auto& f : fields) {
      EXPECT_EQ(f, documented.at(type)) << "fields of " << type << " vs docs/json.md";
    }
  }
  EXPECT_EQ(started_count.size(), static_cast<std::size_t>(kHosts));

  std::map<std::string, int> counted;
  for (int i = 1; i <= kHosts; ++i) {
    const auto host = sim_name(i);
    const auto& e = finished[host];
    const auto fault = faults.contains(host) ? faults.at(host) : std::string();
    const auto& want = expected_outcomes().at(fault);
    ++counted[want.status];
    EXPECT_EQ(e.at("status"), want.status) << host << " (" << fault << "): " << e;
    EXPECT_EQ(e.at("phase"), want.phase) << host << " (" << fault << "): " << e;
    const long total = e.at("total_ms").get<long>();
    EXPECT_LE(total, kHostTimeoutMs + 1000) << host << " ran past its deadline";
    if (fault.empty()) {
      EXPECT_EQ(e.at("exit_code"), 0) << host;
      EXPECT_EQ(e.at("message"), "") << host;
      EXPECT_EQ(e.at("stdout_bytes"), want_out.size()) << host;
      EXPECT_EQ(output[host], want_out) << host;
    } else {
      EXPECT_EQ(e.at("exit_code"), nullptr) << host;
      EXPECT_NE(e.at("message").get<std::string>().find(host), std::string::npos) << e;
    }
    if (fault == "blackhole") {
      // Ended by the connect deadline, not by the (later) host deadline.
      EXPECT_GE(total, kConnectTimeoutMs - 100) << host;
      EXPECT_LE(total, kConnectTimeoutMs + kSlackMs / 2) << host;
    }
    if (fault == "drop") {
      // One packet of at most --drop-after-bytes (1024) arrives, then the cut.
      const auto& got = output[host];
      EXPECT_GT(got.size(), 0U) << host;
      EXPECT_LE(got.size(), 1024U) << host;
      EXPECT_EQ(want_out.compare(0, got.size(), got), 0) << host << ": not a prefix";
      EXPECT_EQ(e.at("stdout_bytes"), got.size()) << host << ": delivered bytes not counted";
    }
    if (fault != "" && fault != "drop") {
      EXPECT_EQ(output[host], "") << host;
    }
  }

  // The wall time is bounded by the deadlines: at most ceil(hosts / fanout) rounds of the host
  // deadline. And the fan-out window keeps every slot busy while hosts are pending, so the
  // run ends within (sum of host times) / fanout + the longest host (list scheduling).
  const long rounds = (kHosts + kFanout - 1) / kFanout;
  EXPECT_LE(wall_ms, rounds * kHostTimeoutMs + kSlackMs);
  EXPECT_LE(wall_ms, sum_total_ms / kFanout + max_total_ms + kSlackMs)
      << "sum " << sum_total_ms << " ms, longest " << max_total_ms << " ms";

  // The summary agrees with the events and with the job store.
  ASSERT_FALSE(summary.is_null()) << r.out.substr(r.out.size() -
                                                  std::min<size_t>(500, r.out.size()));
  EXPECT_EQ(summary.at("hosts"), kHosts);
  EXPECT_LE(summary.at("elapsed_ms").get<long>(), wall_ms);
  json want_counts = json::object();
  for (const auto& [status, n] : counted) want_counts[status] = n;
  EXPECT_EQ(summary.at("counts"), want_counts);

  auto list = run_herd({"jobs", "--store", store, "--json", "-n", "1"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const auto id = std::to_string(json::parse(list.out).at("id").get<long>());
  auto shown = run_herd({"jobs", "show", id, "--store", store, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto job = json::parse(shown.out);
  EXPECT_EQ(job.at("counts"), summary.at("counts"));
  EXPECT_EQ(job.at("host_count"), kHosts);
  EXPECT_EQ(job.at("exit_code"), r.exit_code);
  EXPECT_EQ(job.at("cancelled"), false);
  ASSERT_EQ(job.at("hosts").size(), static_cast<std::size_t>(kHosts));
  for (const auto& h : job.at("hosts")) {
    const auto host = h.at("host").get<std::string>();
    ASSERT_TRUE(finished.contains(host)) << host;
    for (const char* key : {"status", "phase", "exit_code", "signal", "message", "connect_ms",
                            "total_ms", "stdout_bytes", "stderr_bytes"}) {
      EXPECT_EQ(h.at(key), finished[host].at(key)) << host << " " << key;
    }
  }
}

TEST_F(FleetScale, ChangedHostKeysFailThoseHostsAndAreListed) {
  // The first 200 hosts (about ten have a changed key), under accept-new, which must still
  // refuse a key that differs from the recorded one.
  const auto faults = faulty_->faults();
  std::set<std::string> changed;
  for (int i = 1; i <= 200; ++i) {
    if (faults.contains(sim_name(i)) && faults.at(sim_name(i)) == "hostkey") {
      changed.insert(sim_name(i));
    }
  }
  ASSERT_GE(changed.size(), 2U);
  const auto known_hosts = faulty_->fleet() / "known_hosts";
  const auto before = read_file(known_hosts);

  auto r = faulty_->run({"--no-record", "--host-key-policy", "accept-new", "--connect-timeout", "2",
                         "sim[0001-0200]", "--", "true"});
  ASSERT_FALSE(r.killed);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(read_file(known_hosts), before) << "known_hosts was changed";
  for (const auto& host : changed) {
    EXPECT_NE(r.err.find(host + ": herd: host_key: " + host), std::string::npos) << host;
  }
  // The summary has one host_key line: its count and folded hosts are exactly the changed ones.
  std::string pattern;
  for (const auto& line : lines_of(r.err)) {
    std::istringstream words(line);
    std::string label, count, hosts, rest;
    words >> label >> count >> hosts;
    if (label != "host_key" || line.rfind("  ", 0) != 0) continue;
    EXPECT_TRUE(pattern.empty()) << "two host_key lines";
    EXPECT_EQ(count, std::to_string(changed.size())) << line;
    pattern = hosts;
  }
  ASSERT_FALSE(pattern.empty()) << r.err;
  auto expanded = run_herd({"nodes", "-e", "-S", " ", pattern});
  ASSERT_EQ(expanded.exit_code, 0) << expanded.err;
  std::set<std::string> listed;
  std::istringstream words(expanded.out);
  for (std::string w; words >> w;) listed.insert(w);
  EXPECT_EQ(listed, changed) << pattern;
  EXPECT_NE(r.err.find("herd: 200 hosts in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(changed.size()) + " host_key"), std::string::npos) << r.err;
}

TEST_F(FleetScale, DefaultWindowIs256AndIsRefilledAsHostsFinish) {
  // 300 healthy hosts whose command lasts 1 s: at the default window exactly 256 are in flight
  // at once, and the other 44 start as the first ones finish.
  const auto faults = faulty_->faults();
  std::string pattern;
  int count = 0;
  for (int i = 1; count < 300; ++i) {
    if (faults.contains(sim_name(i))) continue;
    pattern += (pattern.empty() ? "" : ",") + sim_name(i);
    ++count;
  }
  const auto file = faulty_->dir() / "window.json";
  auto r =
      faulty_->run_to_file({"--json", "--no-record", pattern, "--", "sleep 1; echo done"}, file);
  ASSERT_FALSE(r.killed);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  int in_flight = 0, most = 0, ok = 0, started_after_a_finish = 0, finished = 0;
  for (const auto& e : events_of(read_file(file))) {
    if (e.at("event") == "host_started") {
      most = std::max(most, ++in_flight);
      if (finished > 0) ++started_after_a_finish;
    }
    if (e.at("event") == "host_finished") {
      --in_flight;
      ++finished;
      if (e.at("status") == "ok") ++ok;
    }
  }
  EXPECT_EQ(most, 256);
  EXPECT_EQ(started_after_a_finish, 44);
  EXPECT_EQ(ok, 300);
}

TEST_F(FleetScale, JsonOutputNeverSplitsAUtf8Character) {
  // 333333 lines of "é\n" (3 bytes each) cross many chunk boundaries; the lone lead byte on
  // stderr never completes and must come out as one U+FFFD before host_finished.
  const auto faults = faulty_->faults();
  std::vector<std::string> hosts;
  for (int i = 1; hosts.size() < 2; ++i) {
    if (!faults.contains(sim_name(i))) hosts.push_back(sim_name(i));
  }
  const auto file = faulty_->dir() / "utf8.json";
  auto r = faulty_->run_to_file({"--json", "--no-record", hosts[0] + "," + hosts[1], "--",
                                 "yes é | head -c 999999; printf '\\303' >&2"},
                                file);
  ASSERT_FALSE(r.killed);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string want;
  for (int i = 0; i < 333333; ++i) want += "\xc3\xa9\n";
  std::map<std::string, std::string> out, err;
  std::map<std::string, int> chunks;
  std::set<std::string> finished;
  for (const auto& e : events_of(read_file(file))) {
    if (e.at("event") == "host_finished") {
      finished.insert(e.at("host").get<std::string>());
      EXPECT_EQ(e.at("stdout_bytes"), want.size());
      EXPECT_EQ(e.at("stderr_bytes"), 1);
    }
    if (e.at("event") != "output") continue;
    const auto host = e.at("host").get<std::string>();
    EXPECT_FALSE(finished.contains(host)) << "output after host_finished";
    (e.at("stream") == "stdout" ? out : err)[host] += e.at("data").get<std::string>();
    ++chunks[host];
  }
  for (const auto& host : hosts) {
    EXPECT_GT(chunks[host], 2) << host << ": too few chunks to test anything";
    EXPECT_TRUE(out[host] == want)
        << host << ": " << out[host].size() << " bytes, "
        << (out[host].find("\xef\xbf\xbd") == std::string::npos ? "no U+FFFD" : "with U+FFFD");
    EXPECT_EQ(err[host], "\xef\xbf\xbd") << host;
  }
  EXPECT_EQ(finished.size(), 2U);
}

TEST(FleetScaleFirstContact, AcceptNewRecordsEveryHostOnceThenStrictSucceeds) {
  SimFleet fleet({"--hosts", std::to_string(kHosts), "--threads", "2"});
  const auto kh = fleet.dir() / "known_hosts.new";
  std::ofstream(kh).close();  // empty: every host is new
  const std::vector<std::string> common{"--json", "--no-record", "--known-hosts", kh.string(),
                                        "--host-key-policy"};
  auto count_ok = [](const ProcessResult& r) {
    int ok = 0;
    for (const auto& e : events_of(r.out)) {
      if (e.at("event") == "host_finished" && e.at("status") == "ok") ++ok;
    }
    return ok;
  };

  auto args = common;
  args.insert(args.end(), {"accept-new", kAllHosts, "--", "true"});
  // The inventory, not the 1000-block ssh_config: herd parses ssh_config once per host.
  auto first = fleet.run(args, true);  // stdin is closed: a prompt could only fail
  ASSERT_FALSE(first.killed);
  EXPECT_EQ(first.exit_code, 0) << first.err.substr(0, 2000);
  EXPECT_EQ(count_ok(first), kHosts);
  EXPECT_EQ(first.err, "") << "no prompt, no warning";

  // Exactly one line per host, each as herd-sim's own known_hosts records it.
  const auto recorded = lines_of(read_file(kh));
  EXPECT_EQ(recorded.size(), static_cast<std::size_t>(kHosts));
  std::multiset<std::string> got(recorded.begin(), recorded.end());
  const auto reference = lines_of(read_file(fleet.fleet() / "known_hosts"));
  std::multiset<std::string> want;
  for (const auto& line : reference) {
    if (!line.empty() && line[0] != '#') want.insert(line);
  }
  EXPECT_EQ(want.size(), static_cast<std::size_t>(kHosts));
  EXPECT_TRUE(got == want) << "recorded known_hosts differs from the hosts' keys";
  std::set<std::string> distinct(recorded.begin(), recorded.end());
  EXPECT_EQ(distinct.size(), recorded.size()) << "a host was recorded twice";
  // OpenSSH parses the file: one fingerprint per line.
  auto fingerprints = run_shell("ssh-keygen -l -f '" + kh.string() + "' | wc -l");
  EXPECT_EQ(fingerprints.out, std::to_string(kHosts) + "\n") << fingerprints.err;

  const auto after_first = read_file(kh);
  args = common;
  args.insert(args.end(), {"strict", kAllHosts, "--", "true"});
  auto second = fleet.run(args, true);
  ASSERT_FALSE(second.killed);
  EXPECT_EQ(second.exit_code, 0) << second.err.substr(0, 2000);
  EXPECT_EQ(count_ok(second), kHosts);
  EXPECT_EQ(read_file(kh), after_first);
}

}  // namespace
}  // namespace herd::test

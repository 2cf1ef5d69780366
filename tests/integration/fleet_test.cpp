// `herd run PATTERN` through the fleet engine, against the OpenSSH lab (20 aliases over 2 sshd).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "lab.hpp"

namespace herd::test {
namespace {

const char* kAll = "web01,web02,web03,web04,web05,web06,web07,web08,web09,web10,"
                   "web11,web12,web13,web14,web15,web16,web17,web18,web19,web20";

std::vector<std::string> fleet(std::vector<std::string> rest,
                               const std::string& config = Lab::get().env("HERD_LAB_SSH_CONFIG")) {
  std::vector<std::string> args{"run", "-F", config, "--no-agent", "--no-default-keys"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<nlohmann::json> events_of(const std::string& s) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(s)) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string fmt_host(int i) { return (i < 10 ? "web0" : "web") + std::to_string(i); }

/// An ssh_config with `blocks` first, then everything from the lab's config.
std::string config_with(const std::string& name, const std::string& blocks) {
  auto path = Lab::get().temp_dir(name) / "ssh_config";
  std::ofstream(path) << blocks << "\nInclude " << Lab::get().env("HERD_LAB_SSH_CONFIG") << "\n";
  return path.string();
}

/// A listening socket that accepts TCP connections (the kernel does) but never speaks SSH.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("silent server: bind/listen failed");
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(Fleet, LiveLinesArePrefixedAndNeverInterleaved) {
  // Each line is written in three pieces, so chunks end mid-line on the wire.
  auto r = run_herd(fleet({kAll, "--",
                           "for i in $(seq 50); do printf 'line-%s-' $i; printf '%0300d' 0; echo; "
                           "done; echo oops >&2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::regex line_re(R"((web\d\d): line-(\d+)-(0{300}))");
  std::map<std::string, int> next;  // host -> next expected line number
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, line_re)) << line.substr(0, 120);
    int n = std::stoi(m[2]);
    EXPECT_EQ(n, ++next[m[1]]) << "lines of " << m[1] << " out of order";
  }
  EXPECT_EQ(next.size(), 20U);
  for (const auto& [host, n] : next) EXPECT_EQ(n, 50) << host;
  for (int i = 1; i <= 20; ++i) {
    EXPECT_NE(r.err.find(fmt_host(i) + ": oops\n"), std::string::npos) << r.err;
  }
  EXPECT_NE(r.err.find("herd: 20 hosts in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("20 ok"), std::string::npos) << r.err;
}

TEST(Fleet, GatherCoalescesIdenticalOutput) {
  // The two lab servers listen on different ports: two distinct outputs, ten hosts each.
  auto r = run_herd(fleet({"-b", kAll, "--", "echo port ${SSH_CONNECTION##* }"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4U) << r.out;
  const std::regex header(R"(-+ (\S+) \((\d+)\) -+)");
  int total = 0;
  std::set<std::string> bodies;
  for (std::size_t i = 0; i < lines.size(); i += 2) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, header)) << lines[i];
    total += std::stoi(m[2]);
    bodies.insert(lines[i + 1]);
  }
  EXPECT_EQ(total, 20);
  EXPECT_EQ(bodies.size(), 2U);
}

TEST(Fleet, SummaryAndExitCodeTellFailuresFromUnreachable) {
  auto failing = run_herd(fleet({"web01,web02,web03", "--", "test \"${SSH_CONNECTION##* }\" = " +
                                                                 std::to_string(Lab::get().port(1))}));
  // web01 and web03 reach server 1 (exit 0); web02 reaches server 2 (exit 1).
  EXPECT_EQ(failing.exit_code, 1) << failing.err;
  EXPECT_NE(failing.err.find("failed (exit 1)"), std::string::npos) << failing.err;
  EXPECT_NE(failing.err.find("web02"), std::string::npos) << failing.err;

  auto config = config_with("fleet-dead", "Host dead\n  HostName 127.0.0.1\n  Port 1\n");
  auto dead = run_herd(fleet({"web01,dead", "--", "true"}, config));
  EXPECT_EQ(dead.exit_code, 3) << dead.err;
  EXPECT_NE(dead.err.find("dead: herd: unreachable:"), std::string::npos) << dead.err;
  EXPECT_NE(dead.err.find("1 ok, 1 unreachable"), std::string::npos) << dead.err;
}

TEST(Fleet, JsonEventsCarryStatusAndFanoutIsRespected) {
  auto r = run_herd(fleet({"--json", "-f", "3", kAll, "--", "echo hi; exit 4"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  int in_flight = 0, max_in_flight = 0, finished = 0;
  bool summary = false;
  for (const auto& e : events_of(r.out)) {
    const auto type = e.at("event").get<std::string>();
    if (type == "host_started") max_in_flight = std::max(max_in_flight, ++in_flight);
    if (type == "host_finished") {
      --in_flight;
      ++finished;
      EXPECT_EQ(e.at("status"), "failed");
      EXPECT_EQ(e.at("exit_code"), 4);
      EXPECT_EQ(e.at("stdout_bytes"), 3);
    }
    if (type == "output") {
      EXPECT_EQ(e.at("data"), "hi\n");
    }
    if (type == "summary") {
      summary = true;
      EXPECT_EQ(e.at("hosts"), 20);
      EXPECT_EQ(e.at("counts").at("failed"), 20);
    }
  }
  EXPECT_EQ(finished, 20);
  EXPECT_LE(max_in_flight, 3);
  EXPECT_TRUE(summary);
}

TEST(Fleet, SilentHostEndsAtItsDeadlineWithoutDelayingOthers) {
  SilentServer silent;
  auto config = config_with("fleet-silent", "Host silent\n  HostName 127.0.0.1\n  Port " +
                                                std::to_string(silent.port()) + "\n");
  auto r = run_herd(fleet({"--json", "--host-timeout", "2", "web01,silent,web02,web03", "--",
                           "true"},
                          config));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  for (const auto& e : events_of(r.out)) {
    if (e.at("event") != "host_finished") continue;
    if (e.at("host") == "silent") {
      EXPECT_EQ(e.at("status"), "timed_out");
      EXPECT_EQ(e.at("phase"), "handshake");
      EXPECT_GE(e.at("total_ms").get<int>(), 1900);
      EXPECT_LE(e.at("total_ms").get<int>(), 5000);
    } else {
      EXPECT_EQ(e.at("status"), "ok");
      EXPECT_LT(e.at("total_ms").get<int>(), 1900) << "a good host waited for the silent one";
    }
  }
}

TEST(Fleet, CommandTimeoutEndsEveryRemoteCommand) {
  const std::string marker = "herd-fleet-timeout-" + std::to_string(::getpid());
  auto r = run_herd(fleet({"--command-timeout", "1", kAll, "--",
                           "exec sh -c 'sleep 30; : " + marker + "'"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("20 timed_out"), std::string::npos) << r.err;
  EXPECT_NE(run_shell("pgrep -f '[h]" + marker.substr(1) + "'").exit_code, 0) << "remote commands still running";
}

TEST(Fleet, ScriptRunsInOneShellAndStdinReachesEveryHost) {
  auto dir = Lab::get().temp_dir("fleet-script");
  std::ofstream(dir / "s.sh") << "cd /tmp\nX=seven\necho \"$(pwd) $X\"\n";
  auto s = run_herd(fleet({"-b", "--script", (dir / "s.sh").string(), "web01,web02,web03"}));
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("(3) ----"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("\n/tmp seven\n"), std::string::npos) << s.out;

  std::ofstream(dir / "in.txt") << "12345\n";
  auto i = run_herd(fleet({"--stdin", (dir / "in.txt").string(), "web01,web02", "--", "wc -c"}));
  EXPECT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("web01: 6"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("web02: 6"), std::string::npos) << i.out;
}

TEST(Fleet, ChangedHostKeyFailsOnlyThoseHostsAndKeepsKnownHosts) {
  auto& lab = Lab::get();
  auto dir = lab.temp_dir("fleet-hostkey");
  // known_hosts where server 2 has some other key: its ten aliases must fail as host_key.
  ASSERT_EQ(run_shell("ssh-keygen -q -t ed25519 -N '' -f " + (dir / "other").string()).exit_code, 0);
  std::string other = run_shell("cut -d' ' -f1,2 " + (dir / "other.pub").string()).out;
  other.pop_back();
  std::ofstream(dir / "known_hosts") << "[127.0.0.1]:" << lab.port(2) << " " << other << "\n";
  run_shell("grep -F '[127.0.0.1]:" + std::to_string(lab.port(1)) + "' " +
            lab.env("HERD_LAB_KNOWN_HOSTS") + " >> " + (dir / "known_hosts").string());
  std::string before = run_shell("cat " + (dir / "known_hosts").string()).out;

  auto r = run_herd(fleet({"--json", "--known-hosts", (dir / "known_hosts").string(), kAll, "--",
                           "true"}));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  int host_key = 0, ok = 0;
  for (const auto& e : events_of(r.out)) {
    if (e.at("event") != "host_finished") continue;
    if (e.at("status") == "host_key") ++host_key;
    if (e.at("status") == "ok") ++ok;
  }
  EXPECT_EQ(host_key, 10);
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(run_shell("cat " + (dir / "known_hosts").string()).out, before);
}

TEST(Fleet, FirstContactRecordsEachHostOnce) {
  auto dir = Lab::get().temp_dir("fleet-tofu");
  auto kh = dir / "known_hosts";
  auto r = run_herd(fleet({"--host-key-policy", "accept-new", "--known-hosts", kh.string(), kAll,
                           "--", "true"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Twenty aliases, two servers: exactly one line per server's [host]:port.
  auto lines = lines_of(run_shell("cut -d' ' -f1 " + kh.string() + " | sort").out);
  std::vector<std::string> expected = {"[127.0.0.1]:" + std::to_string(Lab::get().port(1)),
                                       "[127.0.0.1]:" + std::to_string(Lab::get().port(2))};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(lines, expected);
}

TEST(Fleet, InterruptSignalsRunningCommandsAndReports) {
  auto dir = Lab::get().temp_dir("fleet-int");
  const std::string marker = "herd-fleet-int-" + std::to_string(::getpid());
  std::string herd = std::string(HERD_BINARY) + " run --json -F " +
                     Lab::get().env("HERD_LAB_SSH_CONFIG") +
                     " --no-agent --no-default-keys web01,web02,web03,web04,web05 -- " +
                     "'echo ready; exec sh -c \"sleep 30; : " + marker + "\"'";
  // Read the JSON events as they come; once all five commands run, send SIGINT.
  // (A background job of a non-interactive sh starts with SIGINT ignored; herd must still
  // take Ctrl-C during a fleet run.)
  std::string script = "cd " + dir.string() + " && mkfifo ev && { " + herd +
                       " > ev & pid=$!; n=0; while read -r line; do "
                       "printf '%s\\n' \"$line\"; case $line in *'\"ready\\n\"'*) n=$((n+1)); "
                       "[ $n -eq 5 ] && kill -INT $pid;; esac; done < ev; wait $pid; echo $?; }";
  auto r = run_shell(script);
  auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "130") << r.out << r.err;
  int cancelled = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto e = nlohmann::json::parse(lines[i]);
    if (e.at("event") == "host_finished" && e.at("status") == "cancelled") ++cancelled;
  }
  EXPECT_EQ(cancelled, 5) << r.out;
  EXPECT_NE(run_shell("pgrep -f '[h]" + marker.substr(1) + "'").exit_code, 0) << "remote commands still running";
}

}  // namespace
}  // namespace herd::test

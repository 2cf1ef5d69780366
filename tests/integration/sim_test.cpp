// herd-sim, the fleet simulator (tools/herd-sim): exec, env, stdin, signals and every fault
// kind, seen through herd's single-host CLI and OpenSSH's ssh. Each test is bounded; the
// simulator is stopped by RAII.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
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

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// One fleet for the suite; the fault hosts are named explicitly.
class Sim : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("HERD_SIM_TEST_PASSWORD", "sim secret", 1);
    fleet_ = std::make_unique<SimFleet>(
        std::vector<std::string>{"--password-env", "HERD_SIM_TEST_PASSWORD",
                                 "--hosts",        "20",
                                 "--threads",      "2",
                                 "--huge-mb",      "20",
                                 "--fault",        "refused=sim0002",
                                 "--fault",        "blackhole=sim0003",
                                 "--fault",        "stall=sim0004",
                                 "--fault",        "hostkey=sim0005",
                                 "--fault",        "authfail=sim0006",
                                 "--fault",        "drop=sim0007",
                                 "--fault",        "slow=sim0008",
                                 "--fault",        "huge=sim0009",
                                 "--fault",        "early=sim0010"});
  }
  static void TearDownTestSuite() { fleet_.reset(); }
  static std::unique_ptr<SimFleet> fleet_;
};
std::unique_ptr<SimFleet> Sim::fleet_;

TEST_F(Sim, WritesClientFiles) {
  auto dir = fleet_->fleet();
  for (const char* f : {"ssh_config", "known_hosts", "inventory.ini", "faults.json", "ready"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  std::ifstream faults(dir / "faults.json");
  std::string text((std::istreambuf_iterator<char>(faults)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"sim0007\": \"drop\""), std::string::npos) << text;
  EXPECT_EQ(text.find("sim0001"), std::string::npos) << text;
  EXPECT_GT(fleet_->port("sim0020"), 0);
}

TEST_F(Sim, ExecStreamsAndExitStatus) {
  auto r = fleet_->herd("sim0001", "echo out; echo err >&2; exit 4");
  EXPECT_EQ(r.exit_code, 1);  // remote command failed
  EXPECT_EQ(r.out, "out\n");
  EXPECT_NE(r.err.find("err\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("status 4"), std::string::npos) << r.err;

  auto s = run_shell(fleet_->ssh() + " sim0001 'echo out; echo err >&2; exit 7'");
  EXPECT_EQ(s.exit_code, 7);
  EXPECT_EQ(s.out, "out\n");
  EXPECT_EQ(s.err, "err\n");
}

TEST_F(Sim, EnvAndStdin) {
  auto r =
      fleet_->herd("sim0017", "printf '%s' \"$SIM_GREETING\"", {"-e", "SIM_GREETING=hello there"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello there");

  TempDir tmp;
  auto in = tmp.path() / "input";
  std::ofstream(in) << std::string(300000, 'x');
  auto c = fleet_->herd("sim0011", "wc -c", {"--stdin", in.string()});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "300000\n");

  auto s = run_shell("printf 'a\\nb\\n' | " + fleet_->ssh() + " sim0012 'cat; echo end'");
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "a\nb\nend\n");
}

TEST_F(Sim, ExitSignalReported) {
  auto s = run_shell(fleet_->ssh() + " sim0001 'kill -TERM $$'");
  EXPECT_EQ(s.exit_code, 255);  // OpenSSH: remote command killed by a signal
  auto r = fleet_->herd("sim0001", "kill -USR1 $$");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("USR1"), std::string::npos) << r.err;
}

TEST_F(Sim, PasswordAuth) {
  auto args = [&](const char* var) {
    return std::vector<std::string>{
        "run",     "-F", fleet_->config(), "--no-agent", "--no-default-keys", "--password-env", var,
        "sim0016", "--", "echo in"};
  };
  auto ok = run_herd(args("HERD_SIM_TEST_PASSWORD"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "in\n");
  auto bad = run_herd(args("WRONG_PASSWORD"), {}, {{"WRONG_PASSWORD", "not it"}});
  EXPECT_EQ(bad.exit_code, 5) << bad.err;
}

TEST_F(Sim, CommandTimeoutKillsTheChild) {
  std::string marker = "herd-sim-timeout-" + std::to_string(getpid());
  auto start = Clock::now();
  auto r = fleet_->herd("sim0013", "sleep 30 # " + marker, {"--command-timeout", "1"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_LT(seconds_since(start), 10.0);
  // "[h]" keeps the pattern from matching the shell that runs pgrep.
  EXPECT_TRUE(wait_until(
      [&] { return run_shell("pgrep -f 'sleep 30 # [h]" + marker.substr(1) + "'").exit_code == 1; },
      std::chrono::seconds(5)))
      << "the remote sleep survived";
}

TEST_F(Sim, LargeOutputIsComplete) {
  auto r = fleet_->herd("sim0014", "head -c 30000000 /dev/zero; head -c 1000000 /dev/zero >&2");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out_bytes, 30000000U);
  EXPECT_GE(r.err_bytes, 1000000U);
}

TEST_F(Sim, FaultRefused) {
  auto start = Clock::now();
  auto r = fleet_->herd("sim0002", "true");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_LT(seconds_since(start), 3.0);
}

TEST_F(Sim, FaultBlackhole) {
  // The SYN is dropped: the TCP connect times out instead of being refused.
  auto t = run_shell("timeout 3 bash -c '</dev/tcp/127.0.0.1/" +
                     std::to_string(fleet_->port("sim0003")) + "'");
  EXPECT_EQ(t.exit_code, 124) << t.err;
  auto start = Clock::now();
  auto r = fleet_->herd("sim0003", "true", {"--connect-timeout", "2"});
  EXPECT_TRUE(r.exit_code == 3 || r.exit_code == 6) << r.exit_code << " " << r.err;
  EXPECT_GE(seconds_since(start), 1.5);
  EXPECT_LT(seconds_since(start), 4.0);
}

TEST_F(Sim, FaultStall) {
  auto start = Clock::now();
  auto s = run_shell(fleet_->ssh() + " -o ConnectTimeout=2 sim0004 true");
  EXPECT_EQ(s.exit_code, 255);
  EXPECT_NE(s.err.find("timed out"), std::string::npos) << s.err;
  EXPECT_LT(seconds_since(start), 5.0);
  // herd's handshake deadline (15 s) ends it as a timeout.
  auto r = fleet_->herd("sim0004", "true");
  EXPECT_EQ(r.exit_code, 6) << r.err;
}

TEST_F(Sim, FaultHostKey) {
  auto r = fleet_->herd("sim0005", "true");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  auto s = run_shell(fleet_->ssh() + " sim0005 true");
  EXPECT_EQ(s.exit_code, 255);
  EXPECT_NE(s.err.find("REMOTE HOST IDENTIFICATION HAS CHANGED"), std::string::npos) << s.err;
}

TEST_F(Sim, FaultAuthFail) {
  auto r = fleet_->herd("sim0006", "true");
  EXPECT_EQ(r.exit_code, 5) << r.err;
}

TEST_F(Sim, FaultDrop) {
  auto start = Clock::now();
  auto r = fleet_->herd("sim0007", "seq 1 1000000");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 1);  // not a command status: the connection was lost
  EXPECT_GT(r.out_bytes, 0U);
  EXPECT_LT(r.out_bytes, 100000U);
  EXPECT_LT(seconds_since(start), 10.0);
  auto s = fleet_->herd("sim0007", "echo short; sleep 20; echo never");
  EXPECT_EQ(s.out, "short\n");
  EXPECT_NE(s.exit_code, 0);
  EXPECT_LT(seconds_since(start), 15.0);
}

TEST_F(Sim, FaultSlow) {
  auto start = Clock::now();
  auto r = fleet_->herd("sim0008", "seq 1 2000");  // 8893 bytes: 9 chunks of at most 1 KiB
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out_bytes, 8893U);
  EXPECT_GE(seconds_since(start), 1.5);
}

TEST_F(Sim, FaultHuge) {
  auto r = fleet_->herd("sim0009", "echo first");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 6), "first\n");
  EXPECT_EQ(r.out_bytes, 6U + (20U << 20));
}

// Output that arrives in the same read as the reply to the exec request (here: before it) was
// once left in libssh's channel buffer, where the exec loop never took it and spun forever.
TEST_F(Sim, OutputBeforeTheExecReply) {
  auto single = fleet_->herd("sim0010", "echo late");
  EXPECT_FALSE(single.killed);
  EXPECT_EQ(single.exit_code, 0) << single.err;
  EXPECT_EQ(single.out, "herd-sim: early output\nlate\n");
  auto fleet = fleet_->herd("sim0010,sim0011", "echo late", {"-b", "--no-summary", "--no-record"});
  EXPECT_FALSE(fleet.killed);
  EXPECT_EQ(fleet.exit_code, 0) << fleet.err;
  EXPECT_NE(fleet.out.find(" sim0010 (1) ----------------\nherd-sim: early output\nlate\n"),
            std::string::npos)
      << fleet.out;
}

TEST_F(Sim, NoDescriptorLeakOver300Connections) {
  // Warm up, then count the simulator's descriptors around 300 sequential connections.
  ASSERT_EQ(run_shell(fleet_->ssh() + " sim0015 true").exit_code, 0);
  std::size_t before = 0;
  ASSERT_TRUE(
      wait_until([&] { return (before = open_fds(fleet_->pid())) > 0; }, std::chrono::seconds(2)));
  auto loop = run_shell("for i in $(seq 1 300); do " + fleet_->ssh() +
                        " sim0015 'echo x' >/dev/null || exit 1; done");
  ASSERT_EQ(loop.exit_code, 0) << loop.err;
  std::size_t after = 0;
  EXPECT_TRUE(wait_until([&] { return (after = open_fds(fleet_->pid())) <= before; },
                         std::chrono::seconds(5)))
      << before << " descriptors before, " << after << " after";
}

TEST(SimLatency, EveryRoundTripIsDelayed) {
  constexpr int kLatencyMs = 100;
  SimFleet fleet({"--hosts", "2", "--latency-ms", std::to_string(kLatencyMs)});
  auto start = Clock::now();
  auto r = fleet.herd("sim0001", "echo hi");
  double took = seconds_since(start);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  // SSH needs several round trips (banner, key exchange, auth, channel, exec): >= 4 of them.
  EXPECT_GE(took, 4 * 2 * kLatencyMs / 1000.0);
  EXPECT_LT(took, 30.0);
}

}  // namespace
}  // namespace herd::test

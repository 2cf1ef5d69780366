// ProxyJump against real OpenSSH: a target sshd in a network namespace the test creates, so it
// is reachable only through the jump host. The jump host is an sshd started per connection in
// inetd mode (`sshd -i`) inside that namespace, on a socket accepted on the lab's loopback: the
// client reaches the jump host, and only the jump host reaches the target.
//
//   herd --tcp--> 127.0.0.1:JUMP (root ns) == sshd -i (namespace) --tcp--> 127.0.0.1:TARGET
//
// Two-hop chains go through the lab's own server 1 first (lab1 -> jump -> target).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "lab.hpp"

extern char** environ;

namespace herd::test {
namespace {

namespace fs = std::filesystem;

/// A loopback listening socket (port chosen by the kernel).
int listen_loopback(std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("listen on loopback failed");
  }
  port = ntohs(a.sin_port);
  return fd;
}

/// A port nothing listens on in this namespace (bound, then released).
std::uint16_t unused_port() {
  std::uint16_t port = 0;
  ::close(listen_loopback(port));
  return port;
}

/// Lab server `i`'s sshd_config with another port and pid file.
void write_sshd_config(const fs::path& to, int server, std::uint16_t port, const fs::path& pid) {
  std::ifstream in(Lab::get().dir() / ("sshd_config." + std::to_string(server)));
  std::ofstream out(to);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Port ")) line = "Port " + std::to_string(port);
    if (line.starts_with("PidFile ")) line = "PidFile " + pid.string();
    out << line << "\n";
  }
}

/// known_hosts lines of lab server `server` (from the lab's file) re-labelled for `port`.
std::string host_keys_for(int server, std::uint16_t port) {
  const std::string tag = "[127.0.0.1]:" + std::to_string(Lab::get().port(server)) + " ";
  std::ifstream in(Lab::get().env("HERD_LAB_KNOWN_HOSTS"));
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(tag)) {
      out += "[127.0.0.1]:" + std::to_string(port) + " " + line.substr(tag.size()) + "\n";
    }
  }
  return out;
}

/// The namespace, the target sshd in it, and the inetd-style jump host; one per suite.
class HiddenNet {
 public:
  HiddenNet() {
    auto& lab = Lab::get();
    dir_ = lab.temp_dir("jump");
    ns_ = "herd-jump-" + std::to_string(::getpid());
    if (run_shell("ip netns add " + ns_ + " && ip -n " + ns_ + " link set lo up").exit_code != 0) {
      throw std::runtime_error("cannot create network namespace " + ns_);
    }
    target_port_ = unused_port();
    write_sshd_config(dir_ / "target_config", 2, target_port_, dir_ / "target.pid");
    write_sshd_config(dir_ / "jump_config", 1, 22, dir_ / "jump.pid");
    auto started =
        run_shell("ip netns exec " + ns_ + " /usr/sbin/sshd -f " +
                  (dir_ / "target_config").string() + " -E " + (dir_ / "target.log").string());
    if (started.exit_code != 0) throw std::runtime_error("target sshd: " + started.err);
    // Bounded readiness check, as the lab does for its own servers.
    auto ready = run_shell("ip netns exec " + ns_ + " sh -c 'for i in $(seq 200); do ss -ltnH " +
                           "\"sport = :" + std::to_string(target_port_) +
                           "\" | grep -q . && exit 0; sleep 0.05; done; exit 1'");
    if (ready.exit_code != 0) throw std::runtime_error("target sshd does not listen");

    listen_fd_ = listen_loopback(jump_port_);
    acceptor_ = std::thread([this] { accept_loop(); });

    closed_port_ = unused_port();
    const std::string key = lab.env("HERD_LAB_KEY_ED25519");
    std::ofstream(dir_ / "known_hosts")
        << host_keys_for(1, jump_port_) << host_keys_for(2, target_port_)
        << std::ifstream(lab.env("HERD_LAB_KNOWN_HOSTS")).rdbuf();
    auto block = [](const std::string& name, std::uint16_t port, const std::string& jump) {
      std::string b =
          "Host " + name + "\n  HostName 127.0.0.1\n  Port " + std::to_string(port) + "\n";
      if (!jump.empty()) b += "  ProxyJump " + jump + "\n";
      return b + "\n";
    };
    std::ofstream(dir_ / "ssh_config")
        << block("jump", jump_port_, "") << block("hidden", target_port_, "jump")
        << block("hidden2", target_port_, "lab1,jump") << block("direct", target_port_, "")
        << block("node*", target_port_, "jump") << block("closed", closed_port_, "jump")
        << block("deadjump", 1, "") << "Host *\n  User " << lab.user() << "\n  IdentityFile " << key
        << "\n  IdentitiesOnly yes\n  UserKnownHostsFile " << (dir_ / "known_hosts").string()
        << "\n  StrictHostKeyChecking yes\n\nInclude " << lab.env("HERD_LAB_SSH_CONFIG") << "\n";
  }

  ~HiddenNet() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listen_fd_);
    std::lock_guard lock(mutex_);
    for (pid_t pid : children_) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
    run_shell("kill $(cat " + (dir_ / "target.pid").string() + ") 2>/dev/null; ip netns del " +
              ns_);
  }

  /// `herd run -F <config> ARGS...` without agent or default keys.
  std::vector<std::string> run(std::vector<std::string> rest) const {
    std::vector<std::string> args{"run", "-F", (dir_ / "ssh_config").string(), "--no-agent",
                                  "--no-default-keys"};
    args.insert(args.end(), rest.begin(), rest.end());
    return args;
  }
  int jump_connections() const { return accepted_.load(); }
  std::uint16_t target_port() const { return target_port_; }
  std::uint16_t closed_port() const { return closed_port_; }
  std::uint16_t jump_port() const { return jump_port_; }
  const fs::path& dir() const { return dir_; }
  const std::string& ns() const { return ns_; }

 private:
  void accept_loop() {
    for (;;) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // shut down
      }
      ++accepted_;
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, c, 0);
      posix_spawn_file_actions_adddup2(&fa, c, 1);
      const std::string config = (dir_ / "jump_config").string();
      const std::string log = (dir_ / "jump.log").string();
      std::vector<std::string> argv{"ip", "netns", "exec", ns_,  "/usr/sbin/sshd",
                                    "-i", "-f",    config, "-E", log};
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      pid_t pid = -1;
      if (posix_spawnp(&pid, "ip", &fa, nullptr, args.data(), environ) == 0) {
        std::lock_guard lock(mutex_);
        children_.push_back(pid);
      }
      posix_spawn_file_actions_destroy(&fa);
      ::close(c);
    }
  }

  fs::path dir_;
  std::string ns_;
  std::uint16_t target_port_ = 0;
  std::uint16_t jump_port_ = 0;
  std::uint16_t closed_port_ = 0;
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::vector<pid_t> children_;
};

class Jump : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Lab::get().is_root()) net_ = new HiddenNet();
  }
  static void TearDownTestSuite() {
    delete net_;
    net_ = nullptr;
  }
  void SetUp() override {
    if (!Lab::get().is_root()) GTEST_SKIP() << "network namespaces need root";
    ASSERT_NE(net_, nullptr) << "the namespace, target or jump host could not be set up";
  }
  static HiddenNet* net_;
};
HiddenNet* Jump::net_ = nullptr;

std::string port_line(std::uint16_t port) {
  return "127.0.0.1 " + std::to_string(port);
}

TEST_F(Jump, TargetIsReachableOnlyThroughTheJumpHost) {
  const std::string where = "echo \"${SSH_CONNECTION#* * }\"";
  auto direct = run_herd(net_->run({"direct", "--", "true"}));
  EXPECT_EQ(direct.exit_code, 3) << direct.err;  // nothing listens there outside the namespace

  const int before = net_->jump_connections();
  auto r = run_herd(net_->run({"hidden", "--", where}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, port_line(net_->target_port()) + "\n");
  EXPECT_EQ(net_->jump_connections(), before + 1);

  // -J on the command line beats ssh_config (here: turns a direct host into a jumped one).
  auto j = run_herd(net_->run({"-J", "jump", "direct", "--", where}));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(j.out, port_line(net_->target_port()) + "\n");
}

/// Logins lab server 1 has accepted so far.
int lab1_logins() {
  auto log =
      run_shell("grep -c '^Accepted publickey' " + (Lab::get().dir() / "sshd.1.log").string());
  return std::atoi(log.out.c_str());
}

TEST_F(Jump, TwoHopChain) {
  const int before = net_->jump_connections();
  const int logins = lab1_logins();
  auto r = run_herd(net_->run({"hidden2", "--", "echo \"${SSH_CONNECTION#* * }\""}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, port_line(net_->target_port()) + "\n");
  EXPECT_EQ(net_->jump_connections(), before + 1);
  EXPECT_EQ(lab1_logins(), logins + 1);  // the first hop
}

TEST_F(Jump, FleetSharesOneJumpConnection) {
  const int before = net_->jump_connections();
  auto r = run_herd(net_->run({"--json", "node[01-20]", "--", "echo ok"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int ok = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"host_finished\"") != std::string::npos &&
        line.find("\"status\":\"ok\"") != std::string::npos) {
      ++ok;
    }
  }
  EXPECT_EQ(ok, 20) << r.out;
  EXPECT_EQ(net_->jump_connections(), before + 1) << "every host should share one jump session";
}

TEST_F(Jump, InventoryNamesTheJumpHost) {
  auto inv = net_->dir() / "hosts.ini";
  std::ofstream(inv) << "[hidden]\ninv1 ansible_host=127.0.0.1 ansible_port=" << net_->target_port()
                     << " herd_proxy_jump=jump\n"
                     << "inv2 ansible_host=127.0.0.1 ansible_port=" << net_->target_port()
                     << " ansible_ssh_common_args='-o ProxyJump=jump'\n";
  auto r = run_herd(net_->run({"-i", inv.string(), "@hidden", "--", "echo up"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("inv1: up\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inv2: up\n"), std::string::npos) << r.out;
}

TEST_F(Jump, FailuresNameTheJumpHostAndTheirKind) {
  // The jump host refuses: the target is unreachable, and the message says why.
  auto dead = run_herd(net_->run({"-J", "deadjump", "hidden", "--", "true"}));
  EXPECT_EQ(dead.exit_code, 3) << dead.err;
  EXPECT_NE(dead.err.find("jump host deadjump"), std::string::npos) << dead.err;
  EXPECT_NE(dead.err.find("refused"), std::string::npos) << dead.err;

  // The jump host is fine but cannot reach the target port.
  auto closed = run_herd(net_->run({"closed", "--", "true"}));
  EXPECT_EQ(closed.exit_code, 3) << closed.err;
  EXPECT_NE(closed.err.find("cannot open a connection to 127.0.0.1:" +
                            std::to_string(net_->closed_port())),
            std::string::npos)
      << closed.err;

  // The jump host presents a key other than the recorded one: host_key, and known_hosts kept.
  auto kh = net_->dir() / "known_hosts.wrong";
  ASSERT_EQ(
      run_shell("ssh-keygen -q -t ed25519 -N '' -f " + (net_->dir() / "other").string()).exit_code,
      0);
  std::string other = run_shell("cut -d' ' -f1,2 " + (net_->dir() / "other.pub").string()).out;
  std::ofstream(kh) << "[127.0.0.1]:" << net_->jump_port() << " " << other
                    << host_keys_for(2, net_->target_port());
  const std::string before = run_shell("cat " + kh.string()).out;
  auto changed = run_herd(net_->run({"--known-hosts", kh.string(), "hidden", "--", "true"}));
  EXPECT_EQ(changed.exit_code, 4) << changed.err;
  EXPECT_NE(changed.err.find("jump host jump"), std::string::npos) << changed.err;
  EXPECT_EQ(run_shell("cat " + kh.string()).out, before);
}

TEST_F(Jump, SilentJumpHostEndsAtTheDeadline) {
  // A jump host that accepts TCP but never speaks: the target ends at its own deadline.
  std::uint16_t port = 0;
  int fd = listen_loopback(port);
  auto start = std::chrono::steady_clock::now();
  auto r =
      run_herd(net_->run({"--json", "--host-timeout", "2", "-J",
                          "127.0.0.1:" + std::to_string(port), "hidden,direct", "--", "true"}));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(seconds, 8.0) << r.err;
  const std::regex finished(R"("event":"host_finished".*"host":"hidden".*"status":"timed_out")");
  EXPECT_TRUE(std::regex_search(r.out, finished)) << r.out;
}

}  // namespace
}  // namespace herd::test

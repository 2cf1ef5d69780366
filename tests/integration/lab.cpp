#include "lab.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace herd::test {
namespace {

std::string unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          const std::map<std::string, std::string>& extra_env) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (!extra_env.contains(entry.substr(0, entry.find('=')))) envs.push_back(std::move(entry));
  }
  for (const auto& [k, v] : extra_env) envs.push_back(k + "=" + v);  // these override
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    for (auto& e : envs) env.push_back(e.data());
    env.push_back(nullptr);
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ProcessResult r;
  std::size_t written = 0;
  int in_fd = in[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  int fds_open[2] = {out[0], err[0]};
  std::array<char, 65536> buf{};
  // No test process may hang the suite: past the limit it is killed and the result says so.
  const auto deadline = std::chrono::steady_clock::now() + kProcessTimeLimit;
  while (fds_open[0] >= 0 || fds_open[1] >= 0 || in_fd >= 0) {
    pollfd p[3] = {{fds_open[0], POLLIN, 0}, {fds_open[1], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      r.killed = true;
      r.err += "[test harness: killed after the time limit]\n";
      for (int& fd : fds_open) {
        if (fd >= 0) ::close(fd);
        fd = -1;
      }
      if (in_fd >= 0) ::close(in_fd);
      break;
    }
    int ready = ::poll(p, 3, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      ssize_t n = ::read(fds_open[i], buf.data(), buf.size());
      if (n > 0) {
        constexpr std::size_t kKeepBytes = 1 << 20;  // bytes of each stream kept for asserts
        std::string& keep = i == 0 ? r.out : r.err;
        (i == 0 ? r.out_bytes : r.err_bytes) += static_cast<std::uint64_t>(n);
        if (keep.size() < kKeepBytes) keep.append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds_open[i]);
        fds_open[i] = -1;
      }
    }
    if (in_fd >= 0 && p[2].revents != 0) {
      ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
      if (written == input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.max_rss_kb = ru.ru_maxrss;
  return r;
}

Lab* g_lab = nullptr;

// The lab is started by the first test that asks for it (Lab::get()), so tests that need no
// sshd (herd-sim's) run without one, and stopped once at the end of the test program.
class LabEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_lab != nullptr) g_lab->down();
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new LabEnvironment);

}  // namespace

Lab& Lab::get() {
  static Lab lab;
  if (g_lab == nullptr) {
    try {
      lab.up();
    } catch (...) {
      lab.down();
      throw;
    }
    g_lab = &lab;
  }
  return *g_lab;
}

void Lab::up() {
  char tmpl[] = "/tmp/herd-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  scratch_ = tmpl;
  // sshd reads authorized_keys as the lab user, who must be able to traverse every parent.
  std::filesystem::permissions(scratch_, std::filesystem::perms(0755));
  dir_ = scratch_ / "lab";
  // Every herd the tests start records its runs in the scratch directory, not in the home of
  // whoever runs the tests (a test that needs another store passes XDG_DATA_HOME or --store).
  ::setenv("XDG_DATA_HOME", (scratch_ / "xdg-data").c_str(), 1);
  int rc = lab_command({"up", dir_.string(), "--servers", "2", "--aliases", "20"});
  if (rc != 0) throw std::runtime_error("tests/lab/lab up failed");
  std::ifstream in(dir_ / "env");
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos || line.starts_with('#')) continue;
    env_[line.substr(0, eq)] = unquote(line.substr(eq + 1));
  }
}

void Lab::down() {
  if (!dir_.empty()) lab_command({"down", dir_.string()});
  std::error_code ec;
  if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ec);
  dir_.clear();
}

int Lab::lab_command(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{HERD_LAB_SCRIPT};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process(argv, {}, {});
  if (r.exit_code != 0)
    std::fprintf(stderr, "lab %s: %s%s", args[0].c_str(), r.out.c_str(), r.err.c_str());
  return r.exit_code;
}

std::string Lab::env(const std::string& key) const {
  auto it = env_.find(key);
  return it == env_.end() ? std::string() : it->second;
}

std::uint16_t Lab::port(int server) const {
  std::string ports = env("HERD_LAB_PORTS");
  std::size_t pos = 0;
  for (int i = 1; i < server; ++i) pos = ports.find(' ', pos) + 1;
  return static_cast<std::uint16_t>(std::stoi(ports.substr(pos)));
}

bool Lab::is_root() const {
  return ::geteuid() == 0;
}

std::filesystem::path Lab::temp_dir(const std::string& name) const {
  static int counter = 0;
  auto d = scratch_ / (name + "-" + std::to_string(++counter));
  std::filesystem::create_directories(d);
  return d;
}

SessionOptions Lab::options(int server) const {
  SessionOptions o;
  o.host = env("HERD_LAB_HOST");
  o.port = port(server);
  o.user = user();
  o.key_files = {env("HERD_LAB_KEY_ED25519")};
  o.allow_agent = false;
  o.look_for_keys = false;
  o.read_default_ssh_config = false;
  o.host_key_policy = HostKeyPolicy::strict;
  auto kh = temp_dir("known_hosts") / "known_hosts";
  std::filesystem::copy_file(env("HERD_LAB_KNOWN_HOSTS"), kh);
  o.known_hosts = kh;
  return o;
}

ProcessResult run_herd(const std::vector<std::string>& args, const std::string& input,
                       const std::map<std::string, std::string>& extra_env) {
  std::vector<std::string> argv{HERD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input, extra_env);
}

ProcessResult run_shell(const std::string& script) {
  return run_process({"/bin/sh", "-c", script}, {}, {});
}

}  // namespace herd::test

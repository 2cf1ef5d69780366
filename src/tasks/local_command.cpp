#include "tasks/local_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace herd::tasks {
namespace {

constexpr std::chrono::milliseconds kKillGrace{2000};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

/// Read what is there; false at EOF (the fd is then closed).
bool drain(Fd& f, Stream stream, const HostOutput& output, std::uint64_t& count) {
  std::array<char, 16384> buf{};
  for (;;) {
    ssize_t n = ::read(f.fd, buf.data(), buf.size());
    if (n > 0) {
      count += static_cast<std::uint64_t>(n);
      if (output) output(stream, std::string_view(buf.data(), static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    f.reset();
    return false;
  }
}

}  // namespace

Flow<Result<ExecResult>> run_local(std::string command, std::map<std::string, std::string> env,
                                   std::optional<std::chrono::milliseconds> timeout,
                                   HostOutput output) {
  const auto started = FlowClock::now();
  std::array<int, 2> out_pipe{-1, -1};
  std::array<int, 2> err_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) ::close(fd);
    }
    co_return fail(Errc::local_io, Phase::command, "local",
                   fmt::format("local: cannot make a pipe: {}", std::strerror(errno)));
  }
  Fd out{out_pipe[0]};
  Fd err{err_pipe[0]};
  ::fcntl(out.fd, F_SETFL, O_NONBLOCK);
  ::fcntl(err.fd, F_SETFL, O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  // The environment: this process's, with the step's variables set over it.
  std::vector<std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto name = kv.substr(0, kv.find('='));
    if (env.count(std::string(name)) == 0) vars.emplace_back(kv);
  }
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::array<char*, 4> argv{sh.data(), dash_c.data(), command.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    co_return fail(Errc::local_io, Phase::command, "local",
                   fmt::format("local: cannot start /bin/sh: {}", std::strerror(rc)));
  }

  ExecResult result;
  const auto deadline = timeout ? started + *timeout : FlowClock::time_point::max();
  auto kill_at = FlowClock::time_point::max();
  bool termed = false;
  bool killed = false;
  int status = 0;
  bool reaped = false;
  for (;;) {
    if (out.fd >= 0) drain(out, Stream::out, output, result.stdout_bytes);
    if (err.fd >= 0) drain(err, Stream::err, output, result.stderr_bytes);
    if (out.fd < 0 && err.fd < 0) {
      // Both pipes closed: the shell (and what kept them open) is done; reap it.
      if (::waitpid(pid, &status, 0) == pid) reaped = true;
      break;
    }
    const auto now = FlowClock::now();
    if (!termed && now >= deadline) {
      result.timed_out = true;
    }
    if (!termed && (result.timed_out || result.cancelled)) {
      ::kill(-pid, SIGTERM);
      termed = true;
      kill_at = now + kKillGrace;
    } else if (termed && !killed && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    IoWait w;
    w.fd = out.fd >= 0 ? out.fd : err.fd;
    w.extra_fd = out.fd >= 0 && err.fd >= 0 ? err.fd : -1;
    w.deadline = termed ? (killed ? FlowClock::time_point::max() : kill_at) : deadline;
    WaitResult r = co_await wait_io{w};
    if (r == WaitResult::cancelled) result.cancelled = true;
  }
  if (!reaped) ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    result.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_signal = ::sigabbrev_np(WTERMSIG(status)) != nullptr
                             ? ::sigabbrev_np(WTERMSIG(status))
                             : std::to_string(WTERMSIG(status));
    result.core_dumped = WCOREDUMP(status) != 0;
  }
  result.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(FlowClock::now() - started);
  co_return result;
}

}  // namespace herd::tasks

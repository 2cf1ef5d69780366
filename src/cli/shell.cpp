// `herd shell HOST`: an interactive login like `ssh HOST`.
//
// Theory of operation: the local terminal goes into raw mode (every key, Ctrl-C included, goes
// to the remote PTY), and one poll() loop moves bytes between stdin, the SSH socket and stdout.
// SIGWINCH, SIGTERM and SIGHUP are turned into bytes on a self-pipe so the loop handles them in
// order: a resize is sent to the remote PTY; TERM/HUP end the session. RawTerminal restores the
// terminal on every way out of this function. The exit code is the remote shell's.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/targets.hpp"
#include "cli/terminal.hpp"

namespace herd::cli {
namespace {

int g_signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int sig) {
  int saved = errno;
  char c = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &c, 1);
  errno = saved;
}

/// Installs the self-pipe handlers for the lifetime of the shell, then puts the old ones back.
class SignalPipe {
 public:
  SignalPipe() {
    if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~SignalPipe() {
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
    for (int& fd : g_signal_pipe) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
  int fd() const { return g_signal_pipe[0]; }

 private:
  static constexpr int kSignals[3] = {SIGWINCH, SIGTERM, SIGHUP};
  struct sigaction old_[3]{};
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

int signal_number(const std::string& name) {
  static const std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"ABRT", SIGABRT},
      {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"SEGV", SIGSEGV}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
      {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
  for (const auto& [n, v] : kNames) {
    if (name == n) return v;
  }
  return 0;
}

}  // namespace

CLI::App* setup_shell(CLI::App& app, ShellOptions& o) {
  auto* cmd = app.add_subcommand("shell", "Open an interactive shell on a host (like ssh HOST)");
  add_common_options(*cmd, o.common);
  cmd->add_option("host", o.host, "Host (alias, address or user@host)")->required();
  cmd->add_option("command", o.command, "Run this on the PTY instead of the login shell");
  return cmd;
}

int run_shell(const ShellOptions& options_in) {
  ShellOptions o = options_in;
  auto inventory = load_inventory(o.common);
  if (!inventory) return report(inventory.error());
  auto options = host_options(o.common, o.host, *inventory ? &**inventory : nullptr);
  if (!options) return report(options.error());
  auto session = Session::connect(*options);
  if (!session) return report(session.error());

  PtyOptions pty;
  const char* term = std::getenv("TERM");
  if (term != nullptr && *term != '\0') pty.term = term;
  TerminalSize size = terminal_size(STDIN_FILENO);
  pty.cols = size.cols;
  pty.rows = size.rows;
  auto channel = session->open_interactive(pty, o.command);
  if (!channel) return report(channel.error());

  SignalPipe signals;
  RawTerminal raw(STDIN_FILENO);
  bool stdin_open = true;
  std::array<char, 16 * 1024> buf{};
  std::string failure;

  while (!channel->is_closed()) {
    pollfd fds[3] = {
        {channel->fd(), static_cast<short>(POLLIN | (channel->wants_write() ? POLLOUT : 0)), 0},
        {signals.fd(), POLLIN, 0},
        {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0 && errno != EINTR) {
      failure = fmt::format("poll: {}", std::strerror(errno));
      break;
    }
    if (fds[1].revents & POLLIN) {
      char sig = 0;
      bool quit = false;
      while (::read(signals.fd(), &sig, 1) == 1) {
        if (sig == SIGWINCH) {
          TerminalSize s = terminal_size(STDIN_FILENO);
          (void)channel->resize(s.cols, s.rows);
        } else {
          quit = true;
        }
      }
      if (quit) {
        failure = "terminated by a signal";
        break;
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n > 0) {
        if (auto w = channel->write(std::string_view(buf.data(), static_cast<std::size_t>(n)));
            !w) {
          failure = w.error().message;
          break;
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = false;
        channel->send_eof();
      }
    }
    auto out = channel->read_some();
    if (!out) {
      failure = out.error().message;
      break;
    }
    if (!out->empty() && !write_all(STDOUT_FILENO, *out)) break;
  }
  raw.restore();
  if (!failure.empty()) {
    fmt::print(stderr, "herd: {}\n", failure);
    return as_int(ExitCode::protocol);
  }
  if (auto status = channel->exit_status()) return *status;
  if (auto sig = channel->exit_signal()) return 128 + signal_number(*sig);
  return as_int(ExitCode::protocol);
}

}  // namespace herd::cli

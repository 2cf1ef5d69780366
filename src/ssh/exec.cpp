// Session::exec: one remote command with live, separate stdout/stderr.
//
// Theory of operation: after the exec request, one loop (a) drains both streams as far as
// libssh has data, handing each chunk to the sink at once, (b) feeds stdin as the channel window
// allows, keeping at most one chunk in hand, and (c) waits in poll() on the SSH socket (and the
// stdin fd when it needs input) until the next deadline. Memory is bounded by libssh's channel
// window (about 1.3 MB) plus one chunk, however much the command prints, and the two streams can
// never block each other.
//
// Command timeout: herd sends the SSH "signal" request TERM (OpenSSH's sshd delivers it with
// killpg() to the process group of the command, so children in that group die too), waits
// kill_grace, sends KILL, then closes the channel; with a PTY, the close also hangs up the
// terminal (SIGHUP to its foreground process group). The result is timed_out = true.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "herd/shell_quote.hpp"
#include "ssh/channel.hpp"

namespace herd {
namespace {

using ssh::Clock;
using ssh::Deadline;

constexpr std::size_t kChunkBytes = 64 * 1024;               // bytes per read/write
constexpr std::chrono::milliseconds kChannelTimeout{30000};  // ms to open and start a channel
constexpr std::chrono::milliseconds kCloseWait{3000};        // ms to wait for close after KILL

bool valid_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

/// Where stdin bytes come from: a string, or a file descriptor read as it becomes ready.
class StdinFeed {
 public:
  explicit StdinFeed(const ExecRequest& r) {
    if (r.stdin_data) {
      pending_ = *r.stdin_data;
      exhausted_ = true;
      active_ = true;
    } else if (r.stdin_file || r.stdin_fd >= 0) {
      active_ = true;
    }
  }
  ~StdinFeed() {
    if (owned_fd_ >= 0) ::close(owned_fd_);
  }

  Result<void> open(const ExecRequest& r, const std::string& who) {
    if (r.stdin_file) {
      owned_fd_ = ::open(r.stdin_file->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (owned_fd_ < 0) {
        return fail(Errc::local_io, Phase::command, who,
                    fmt::format("{}: cannot open stdin file {}: {}", who, r.stdin_file->string(),
                                std::strerror(errno)));
      }
      fd_ = owned_fd_;
    } else if (r.stdin_fd >= 0) {
      fd_ = r.stdin_fd;
    }
    return {};
  }

  /// Type `bytes` now (after what is pending), keeping stdin open afterwards.
  void inject(std::string_view bytes) {
    pending_.append(bytes);
    active_ = true;
    exhausted_ = true;
    keep_open_ = true;
  }

  bool active() const { return active_; }
  /// The fd to poll for more input, or -1.
  int wants_fd() const { return active_ && pending_.empty() && !exhausted_ ? fd_ : -1; }

  /// Read what is ready and write what the channel takes. Returns false on a local read error.
  Result<void> pump(ssh_channel ch, const std::string& who) {
    if (!active_) return {};
    if (pending_.empty() && !exhausted_) {
      std::array<char, kChunkBytes> buf{};
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n > 0) {
        pending_.assign(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0) {
        exhausted_ = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail(Errc::local_io, Phase::command, who,
                    fmt::format("{}: reading stdin: {}", who, std::strerror(errno)));
      }
    }
    while (offset_ < pending_.size()) {
      int n = ssh_channel_write(ch, pending_.data() + offset_,
                                static_cast<uint32_t>(pending_.size() - offset_));
      if (n < 0) {
        return fail(Errc::protocol_error, Phase::command, who,
                    fmt::format("{}: writing stdin failed", who));
      }
      if (n == 0) break;  // window full: wait for the remote to adjust it
      offset_ += static_cast<std::size_t>(n);
    }
    if (offset_ == pending_.size()) {
      pending_.clear();
      offset_ = 0;
    }
    if (exhausted_ && pending_.empty()) {
      if (!keep_open_) ssh_channel_send_eof(ch);
      active_ = false;
    }
    return {};
  }

 private:
  std::string pending_;
  std::size_t offset_ = 0;
  int fd_ = -1;
  int owned_fd_ = -1;
  bool exhausted_ = false;
  bool active_ = false;
  bool keep_open_ = false;
};

/// Finds a prompt in one output stream and takes it out; a tail that could be the start of
/// the prompt is held back until the next chunk shows whether it is.
class PromptWatch {
 public:
  explicit PromptWatch(std::string prompt) : prompt_(std::move(prompt)) {}

  /// `chunk` without the prompts in it (and without a held-back tail).
  std::string filter(std::string_view chunk) {
    std::string data = std::move(held_);
    held_.clear();
    data.append(chunk);
    std::string out;
    std::size_t pos = 0;
    for (std::size_t k; (k = data.find(prompt_, pos)) != std::string::npos;) {
      out.append(data, pos, k - pos);
      ++seen_;
      pos = k + prompt_.size();
    }
    std::size_t keep = 0;
    for (std::size_t n = std::min(prompt_.size() - 1, data.size() - pos); n > 0; --n) {
      if (data.compare(data.size() - n, n, prompt_, 0, n) == 0) {
        keep = n;
        break;
      }
    }
    out.append(data, pos, data.size() - pos - keep);
    held_ = data.substr(data.size() - keep);
    return out;
  }
  /// What is held back, at the end of the output.
  std::string rest() { return std::exchange(held_, std::string()); }
  int seen() const { return seen_; }

 private:
  std::string prompt_;
  std::string held_;
  int seen_ = 0;
};

enum class Ending { running, terminating, killing };

}  // namespace

Result<ExecResult> Session::exec(const ExecRequest& req, const ExecSink& sink) {
  return run_blocking(exec_async(req, sink));
}

Flow<Result<ExecResult>> Session::exec_async(ExecRequest req, ExecSink sink) {
  Impl& impl = *impl_;
  const std::string who = impl.target.display();
  const auto started = Clock::now();
  auto setup_deadline = impl.phase_deadline(kChannelTimeout);

  for (const auto& [name, value] : req.env) {
    if (!valid_env_name(name)) {
      co_return fail(Errc::bad_config, Phase::command, who,
                     fmt::format("{}: invalid environment variable name '{}'", who, name));
    }
  }
  StdinFeed feed(req);
  if (auto r = feed.open(req, who); !r) co_return std::unexpected(r.error());

  auto opened = co_await ssh::open_channel(impl, setup_deadline);
  if (!opened) co_return std::unexpected(opened.error());
  ssh::ChannelState& c = **opened;

  // Environment: an env request where the server accepts it (AcceptEnv), else exported in the
  // command itself, quoted, so the variable is set either way.
  std::string prefix;
  for (const auto& [name, value] : req.env) {
    const char* n = name.c_str();
    const char* v = value.c_str();
    int rc = co_await ssh::drive(impl, setup_deadline, SSH_AGAIN,
                                 [&c, n, v] { return ssh_channel_request_env(c.ch, n, v); });
    if (rc == SSH_AGAIN) co_return impl.wait_error(Phase::channel, "timed out setting env");
    if (rc != SSH_OK) {
      if (ssh_is_connected(impl.s) == 0) {
        co_return impl.error(Errc::protocol_error, Phase::channel, impl.ssh_error());
      }
      prefix += fmt::format("{}={}; export {}; ", name, shell_quote(value), name);
    }
  }
  if (req.pty) {
    auto pty_ok = co_await ssh::request_pty(impl, c, *req.pty, setup_deadline);
    if (!pty_ok) co_return std::unexpected(pty_ok.error());
  }
  const std::string command = prefix + req.command;
  int rc = co_await ssh::drive(impl, setup_deadline, SSH_AGAIN, [&c, &command] {
    return ssh_channel_request_exec(c.ch, command.c_str());
  });
  if (rc == SSH_AGAIN) co_return impl.wait_error(Phase::channel, "timed out starting the command");
  if (rc != SSH_OK) {
    co_return impl.error(
        Errc::channel_error, Phase::channel,
        fmt::format("the server refused to run the command: {}", impl.ssh_error()));
  }
  // Without input to give, close stdin at once (like ssh -n) so readers of stdin do not hang;
  // not when an answer to a prompt may still have to be typed.
  const bool answers = req.answer_prompt && !req.answer_prompt->answer.empty();
  if (!feed.active() && !req.pty && !answers) ssh_channel_send_eof(c.ch);

  ExecResult result;
  std::optional<PromptWatch> watch_out, watch_err;
  if (req.answer_prompt && !req.answer_prompt->prompt.empty()) {
    watch_out.emplace(req.answer_prompt->prompt);
    watch_err.emplace(req.answer_prompt->prompt);
  }
  c.set_on_data([&result, &sink, &watch_out, &watch_err](std::string_view chunk, bool is_stderr) {
    std::string filtered;
    if (watch_out) {
      filtered = is_stderr ? watch_err->filter(chunk) : watch_out->filter(chunk);
      chunk = filtered;
    }
    if (chunk.empty()) return;
    if (is_stderr) {
      result.stderr_bytes += chunk.size();
      if (sink.on_stderr) sink.on_stderr(chunk);
    } else {
      result.stdout_bytes += chunk.size();
      if (sink.on_stdout) sink.on_stdout(chunk);
    }
  });
  bool answered = false;
  Deadline command_deadline = req.timeout ? started + *req.timeout : Deadline::max();
  if (impl.total_deadline) command_deadline = std::min(command_deadline, *impl.total_deadline);
  Deadline ending_deadline = Deadline::max();
  Ending ending = Ending::running;
  bool stop_now = false;  // a cancellation or deadline asks to end the command

  for (;;) {
    if (!ssh::pump(c)) {
      co_return impl.error(
          Errc::protocol_error, Phase::command,
          fmt::format("connection lost while the command ran: {}", impl.ssh_error()));
    }
    if (watch_out) {
      result.prompts = watch_out->seen() + watch_err->seen();
      if (result.prompts == 1 && answers && !answered) {
        feed.inject(req.answer_prompt->answer);
        answered = true;
      }
      // Asked again: the answer was refused. End the command instead of leaving it waiting.
      if (result.prompts >= 2 && ending == Ending::running) stop_now = true;
    }
    if (ending == Ending::running) {
      if (auto r = feed.pump(c.ch, who); !r) co_return std::unexpected(r.error());
    }
    if (c.finished()) break;

    auto now = Clock::now();
    if (ending == Ending::running && (stop_now || now >= command_deadline)) {
      if (!result.cancelled && result.prompts < 2) result.timed_out = true;
      ssh_channel_request_send_signal(c.ch, "TERM");
      ending = Ending::terminating;
      ending_deadline = now + req.kill_grace;
    } else if (ending == Ending::terminating && now >= ending_deadline) {
      ssh_channel_request_send_signal(c.ch, "KILL");
      ssh_channel_close(c.ch);
      ending = Ending::killing;
      ending_deadline = now + kCloseWait;
    } else if (ending == Ending::killing && now >= ending_deadline) {
      break;
    }

    Deadline wake = ending == Ending::running ? command_deadline : ending_deadline;
    IoWait w = impl.io_wait(wake);
    w.extra_fd = feed.wants_fd();
    WaitResult waited = co_await wait_io{w};
    if (waited == WaitResult::cancelled && ending == Ending::running) {
      result.cancelled = true;
      stop_now = true;
    } else if (waited == WaitResult::error) {
      co_return impl.error(Errc::local_io, Phase::command, "waiting on the socket failed");
    }
  }
  if (watch_out) {
    const std::string out_rest = watch_out->rest();
    const std::string err_rest = watch_err->rest();
    if (!out_rest.empty() && sink.on_stdout) sink.on_stdout(out_rest);
    if (!err_rest.empty() && sink.on_stderr) sink.on_stderr(err_rest);
    result.stdout_bytes += out_rest.size();
    result.stderr_bytes += err_rest.size();
  }
  result.exit_status = c.exit_status;
  result.exit_signal = c.exit_signal;
  result.core_dumped = c.core_dumped;
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  co_return result;
}

}  // namespace herd

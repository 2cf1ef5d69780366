// libherd sessions: one authenticated SSH connection to one host.
//
// Theory of operation: Session::connect() resolves the options against ssh_config, opens a TCP
// socket itself (so "refused", "unreachable", "DNS" and "timeout" are told apart and the connect
// deadline is exact), hands the socket to libssh in non-blocking mode, and drives each phase
// (handshake, host-key check, authentication) as a sequence of non-blocking steps that wait on
// the socket with poll() until that phase's deadline. A phase that runs out of time fails with
// Errc::timeout naming the phase. The same step functions are what the fleet engine drives from
// its event loop; the blocking calls here are a convenience over them.
//
// Host keys are checked against OpenSSH known_hosts by herd (see known_hosts.hpp), never by
// libssh, so a changed key can name the file and line that disagree and new keys are recorded
// under a lock. Authentication follows paramiko's order: explicit keys (files, then in-memory),
// the agent, the default ~/.ssh/id_* keys (look_for_keys), then the password (also offered to
// keyboard-interactive). An auth failure lists every method tried.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "herd/error.hpp"
#include "herd/flow.hpp"
#include "herd/known_hosts.hpp"

namespace herd {

/// What to do with a host whose key is not in known_hosts (a *changed* key is always refused).
enum class HostKeyPolicy {
  strict,      ///< refuse unknown hosts
  accept_new,  ///< trust on first use and record the key (default)
  auto_add,    ///< paramiko's AutoAddPolicy: record the key, with a warning
  off,         ///< do not check at all (only when asked for by name)
};

/// Parse "strict" | "accept-new" | "auto-add" | "off" (also ssh_config's yes/no/ask).
std::optional<HostKeyPolicy> parse_host_key_policy(std::string_view text);
/// The canonical name of a policy ("accept-new", ...).
std::string_view to_string(HostKeyPolicy policy);

/// Algorithm preferences; each list is comma-separated as in ssh_config. Empty = libssh default.
struct AlgorithmOptions {
  std::string ciphers;
  std::string kex;
  std::string macs;
  std::string host_keys;
  /// Names to remove from whatever would be offered (paramiko's disabled_algorithms).
  std::vector<std::string> disabled;
};

/// Everything needed to reach and log in to one host. Unset optionals fall back to ssh_config,
/// then to defaults, like paramiko's SSHClient.connect() plus OpenSSH's config handling.
struct SessionOptions {
  std::string host;                     ///< alias or address (ssh_config Host is matched on it)
  std::optional<std::string> hostname;  ///< connect here instead (beats ssh_config HostName)
  std::optional<std::uint16_t> port;    ///< default 22
  std::optional<std::string> user;      ///< default: the local user
  std::optional<std::string> password;  ///< for password and keyboard-interactive auth
  std::vector<std::filesystem::path> key_files;  ///< private key files, tried first
  std::optional<std::string> passphrase;         ///< decrypts encrypted key files
  std::vector<std::string> private_keys;         ///< in-memory private keys (OpenSSH or PEM text)
  bool allow_agent = true;                       ///< use $SSH_AUTH_SOCK
  bool look_for_keys = true;                     ///< try ~/.ssh/id_ed25519, id_ecdsa, id_rsa
  /// Jump hosts, as ssh's ProxyJump (`[user@]host[:port],...`; beats ssh_config). "none" turns
  /// off a ProxyJump from ssh_config. Each hop is reached with the same credentials and files.
  std::optional<std::string> proxy_jump;
  std::optional<std::chrono::milliseconds> connect_timeout;  ///< TCP connect; default 10 s
  std::chrono::milliseconds banner_timeout{15000};  ///< SSH handshake (banner + key exchange)
  std::chrono::milliseconds auth_timeout{30000};    ///< all authentication attempts together
  /// Total deadline: no phase of connect (nor of exec, see ExecRequest::timeout) waits past it.
  std::optional<FlowClock::time_point> deadline;
  std::optional<bool> compression;  ///< zlib compression
  AlgorithmOptions algorithms;
  std::optional<std::filesystem::path> ssh_config;   ///< explicit file (like ssh -F): only it
  bool read_default_ssh_config = true;               ///< else ~/.ssh/config when no file is given
  std::optional<HostKeyPolicy> host_key_policy;      ///< default accept-new
  std::optional<std::filesystem::path> known_hosts;  ///< default ~/.ssh/known_hosts
  std::optional<bool> hash_known_hosts;              ///< record new hosts hashed
  /// Receives warnings meant for a person (auto-add, ignored settings); may be empty.
  std::function<void(std::string_view)> on_warning;
};

/// The settings a session actually used after merging options, ssh_config and defaults.
struct ResolvedTarget {
  std::string alias;     ///< the name the caller gave
  std::string hostname;  ///< where we connect (ssh_config HostName or the alias)
  std::uint16_t port = 22;
  std::string user;
  std::vector<std::filesystem::path> key_files;
  bool identities_only = false;
  std::chrono::milliseconds connect_timeout{10000};
  HostKeyPolicy host_key_policy = HostKeyPolicy::accept_new;
  std::filesystem::path known_hosts;
  bool hash_known_hosts = false;
  std::optional<std::string> proxy_jump;  ///< options, else ssh_config; unset for "none"
  AlgorithmOptions algorithms;            ///< options first, then ssh_config
  bool compression = false;
  bool password_auth = true;                  ///< ssh_config PasswordAuthentication
  bool pubkey_auth = true;                    ///< ssh_config PubkeyAuthentication
  std::optional<std::string> identity_agent;  ///< ssh_config IdentityAgent ("none" disables)

  /// "user@hostname:port", or "alias (user@hostname:port)" when the alias differs; for messages.
  std::string display() const;
};

/// Merge options with ssh_config and defaults (no I/O besides reading ssh_config).
Result<ResolvedTarget> resolve_target(const SessionOptions& options);

/// A pseudo-terminal request.
struct PtyOptions {
  std::string term = "xterm-256color";
  int cols = 80;
  int rows = 24;
};

/// One remote command.
struct ExecRequest {
  std::string command;
  std::map<std::string, std::string> env;  ///< sent as env requests (AcceptEnv), else exported
  std::optional<PtyOptions> pty;           ///< allocate a PTY (stdout and stderr merge)
  std::optional<std::string> stdin_data;   ///< bytes fed to stdin, then EOF
  std::optional<std::filesystem::path> stdin_file;  ///< or a local file / FIFO, then EOF
  int stdin_fd = -1;  ///< or an open fd (not closed by herd), then EOF
  std::optional<std::chrono::milliseconds> timeout;  ///< command deadline, then the remote is ended
  std::chrono::milliseconds kill_grace{2000};        ///< between TERM and KILL on timeout
  /// A prompt to watch the output for (sudo's password prompt). Each appearance is removed from
  /// the output and counted in ExecResult::prompts; the first one types `answer` into stdin
  /// when it is not empty. A second appearance means the answer was refused: the command is
  /// ended rather than left waiting for input. The answer is never logged.
  struct PromptAnswer {
    std::string prompt;
    std::string answer;
  };
  std::optional<PromptAnswer> answer_prompt;
};

/// Receives output as it arrives. Chunks are not line-aligned.
struct ExecSink {
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
};

/// How a remote command ended.
struct ExecResult {
  std::optional<int> exit_status;          ///< when the command exited
  std::optional<std::string> exit_signal;  ///< e.g. "TERM" when killed by a signal
  bool core_dumped = false;
  bool timed_out = false;  ///< herd ended it at the command deadline
  bool cancelled = false;  ///< herd ended it because the run was cancelled
  std::chrono::milliseconds duration{0};
  std::uint64_t stdout_bytes = 0;
  std::uint64_t stderr_bytes = 0;
  int prompts = 0;  ///< times ExecRequest::answer_prompt's prompt appeared

  /// True for exit status 0 without a signal or timeout.
  bool ok() const { return exit_status == 0 && !exit_signal && !timed_out && !cancelled; }
};

class Session;

/// An interactive channel: a shell (or command) with a PTY, for `herd shell` and web terminals.
/// Non-blocking: poll fd() for readability, then call read_some() until it returns empty.
class InteractiveChannel {
 public:
  InteractiveChannel(InteractiveChannel&&) noexcept;
  InteractiveChannel& operator=(InteractiveChannel&&) noexcept;
  ~InteractiveChannel();

  /// Socket to poll for readability (and for writability when wants_write()).
  int fd() const;
  /// True when libssh has unsent data queued (poll for POLLOUT too).
  bool wants_write() const;
  /// Output received so far (stdout and stderr, PTY merges them anyway); empty when none.
  /// After the remote closes, is_closed() becomes true.
  Result<std::string> read_some();
  /// Send keystrokes; queues what the window does not take yet.
  Result<void> write(std::string_view bytes);
  /// No more input will come (local stdin ended).
  void send_eof();
  /// Tell the remote PTY its new size.
  Result<void> resize(int cols, int rows);
  /// The remote side sent EOF or closed the channel.
  bool is_closed() const;
  /// Exit status once closed (nullopt if the remote sent none).
  std::optional<int> exit_status() const;
  /// Exit signal name once closed, if any.
  std::optional<std::string> exit_signal() const;

  struct Impl;  ///< opaque; defined in src/ssh

 private:
  friend class Session;
  explicit InteractiveChannel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// An authenticated SSH connection.
class Session {
 public:
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  /// Connect, check the host key, and authenticate (blocking: run_blocking(connect_async)).
  static Result<Session> connect(const SessionOptions& options);
  /// The same as a resumable flow, for event loops (see flow.hpp).
  static Flow<Result<Session>> connect_async(SessionOptions options);

  /// Run one command; output goes to `sink` as it arrives. Fails only on transport errors or
  /// timeouts; a non-zero exit is a normal ExecResult. (Blocking: run_blocking(exec_async).)
  Result<ExecResult> exec(const ExecRequest& request, const ExecSink& sink = {});
  /// The same as a resumable flow; the Session must outlive it. A `cancelled` wake-up ends the
  /// command like a timeout (TERM, grace, KILL) and sets ExecResult::cancelled.
  Flow<Result<ExecResult>> exec_async(ExecRequest request, ExecSink sink);

  /// Open a PTY and start the login shell (or `command` when non-empty).
  Result<InteractiveChannel> open_interactive(const PtyOptions& pty,
                                              const std::string& command = {});

  /// The host key the server presented.
  const HostKey& server_key() const;
  /// Where and as whom we are connected.
  const ResolvedTarget& target() const;
  /// The negotiated client-to-server cipher, e.g. "aes256-gcm@openssh.com".
  std::string cipher() const;
  /// Authentication methods that were tried, in order (e.g. "publickey(/path)", "password").
  const std::vector<std::string>& auth_attempts() const;

  /// Disconnect politely. Also done by the destructor.
  void close();

  struct Impl;  ///< opaque; defined in src/ssh (the only place that sees libssh)

 private:
  friend struct SessionAccess;  // src/ssh, src/sftp: the libssh session behind it
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd

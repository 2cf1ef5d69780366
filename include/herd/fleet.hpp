// The embedding API: what Fabric's Connection and Group give Python users, for C++ programs.
//
//   herd::Fleet fleet(options);                     // how to reach hosts (keys, ssh_config, ...)
//   herd::Group web = fleet.group("web[01-40]");    // many hosts, one call each
//   auto up = web.run("uptime");                    // in parallel on the engine, results per host
//   for (const auto& r : up) std::cout << r.host << ": " << r.stdout_text;
//   web.sudo("systemctl restart app");              // password from FleetOptions, never in argv
//   web.put("app.tar.gz", "/opt/releases/");        // verified, atomic, read once for all hosts
//   auto c = fleet.connect("web01");                // one host, kept connected (Fabric's
//   c->run("cd /srv && git pull");                  //  Connection): run, sudo, put, get
//
// Theory of operation: a Group call is one engine run (engine.hpp) over its hosts with the
// fleet's fan-out and deadlines; a failed host is a result (status, exit code, message), never
// an exception. Output is collected per host (up to FleetOptions::max_output bytes each) and,
// when Group::on_output is set, handed over live as it arrives, on the calling thread. sudo is
// the same as `herd task`'s sudo steps (docs/tasks.md): the password goes on stdin or is typed
// at a PTY's prompt. A Connection is one Session (session.hpp) with blocking calls.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "herd/engine.hpp"
#include "herd/session.hpp"

namespace herd {

/// How a Fleet reaches its hosts.
struct FleetOptions {
  /// Settings every host starts from (user, port, keys, known_hosts, ssh_config, timeouts);
  /// `host` is replaced by each host's name, which ssh_config then resolves.
  SessionOptions defaults;
  int fanout = 256;                                       ///< hosts in flight at once
  std::optional<std::chrono::milliseconds> host_timeout;  ///< total per host and call
  std::optional<std::string> sudo_password;               ///< for sudo(); secret, never logged
  std::size_t max_output = 1 << 20;  ///< bytes of stdout and of stderr kept per host
};

/// What a command does besides its text.
struct CommandOptions {
  std::string cwd;                                   ///< run in this directory (`cd` first)
  std::map<std::string, std::string> env;            ///< exported for the command
  std::optional<std::chrono::milliseconds> timeout;  ///< then the command is ended
  bool pty = false;                                  ///< allocate a PTY (run only)
  std::string user = "root";                         ///< sudo only: as whom
};

/// One host's outcome of a call.
struct CommandResult {
  std::string host;
  HostStatus status = HostStatus::error;
  std::optional<int> exit_code;
  std::optional<std::string> signal;
  std::string stdout_text;  ///< at most FleetOptions::max_output bytes
  std::string stderr_text;
  std::string message;  ///< why it failed, one line; empty when ok

  bool ok() const { return status == HostStatus::ok; }
};

/// The results of one Group call, in the group's host order.
class GroupResult {
 public:
  explicit GroupResult(std::vector<CommandResult> results) : results_(std::move(results)) {}
  /// Every host ok.
  bool ok() const;
  /// The hosts that were not ok.
  std::vector<std::string> failed() const;
  /// The result of `host`; throws std::out_of_range for a host not in the group.
  const CommandResult& at(const std::string& host) const;
  std::size_t size() const { return results_.size(); }
  auto begin() const { return results_.begin(); }
  auto end() const { return results_.end(); }

 private:
  std::vector<CommandResult> results_;
};

/// Receives output as it arrives: the host, the stream and a chunk (not line-aligned).
using OutputCallback = std::function<void(const std::string& host, Stream, std::string_view)>;

class Fleet;

/// Many hosts, each call run on all of them in parallel (Fabric's ThreadingGroup).
class Group {
 public:
  /// The group's hosts, in order.
  const std::vector<std::string>& hosts() const { return hosts_; }
  /// Live output of the following calls.
  Group& on_output(OutputCallback cb);

  /// Run a shell command on every host.
  GroupResult run(const std::string& command, const CommandOptions& options = {}) const;
  /// Run the command `command_for(host)` on each host (say, paths with the host's name).
  GroupResult run(const std::function<std::string(const std::string& host)>& command_for,
                  const CommandOptions& options = {}) const;
  /// Run a shell command through sudo (as options.user) on every host.
  GroupResult sudo(const std::string& command, const CommandOptions& options = {}) const;
  /// Upload the local file `local` to `remote` on every host (`remote` ending in '/' is a
  /// directory: the file keeps its name). Verified by SHA-256 and renamed into place.
  GroupResult put(const std::filesystem::path& local, const std::string& remote) const;
  /// Download `remote` from every host into `local_dir`/HOST/NAME.
  GroupResult get(const std::string& remote, const std::filesystem::path& local_dir) const;

 private:
  friend class Fleet;
  Group(std::shared_ptr<const FleetOptions> options, std::vector<std::string> hosts);
  GroupResult execute(FleetJob job) const;

  std::shared_ptr<const FleetOptions> options_;
  std::vector<std::string> hosts_;
  OutputCallback on_output_;
};

/// One host, connected once and used for many calls (Fabric's Connection). Blocking.
class Connection {
 public:
  const std::string& host() const { return host_; }
  /// Run a shell command; a non-zero exit is a result, not an error.
  Result<CommandResult> run(const std::string& command, const CommandOptions& options = {});
  /// Run it through sudo.
  Result<CommandResult> sudo(const std::string& command, const CommandOptions& options = {});
  /// Upload / download one file, verified (as Group::put / Group::get, get into `local`).
  Result<void> put(const std::filesystem::path& local, const std::string& remote);
  Result<void> get(const std::string& remote, const std::filesystem::path& local);
  /// The session, for everything else libherd does (SFTP, interactive channels).
  Session& session() { return session_; }

 private:
  friend class Fleet;
  Connection(std::shared_ptr<const FleetOptions> options, std::string host, Session session);
  std::shared_ptr<const FleetOptions> options_;
  std::string host_;
  Session session_;
};

/// Where hosts come from and how they are reached.
class Fleet {
 public:
  explicit Fleet(FleetOptions options = {});
  /// The hosts of a pattern (`web[01-40]`, `a,b`, `web[01-10]!web03`). Throws PatternError.
  Group group(const std::string& pattern) const;
  /// These hosts, as given.
  Group group(std::vector<std::string> hosts) const;
  /// Connect to one host.
  Result<Connection> connect(const std::string& host) const;

 private:
  std::shared_ptr<const FleetOptions> options_;
};

}  // namespace herd

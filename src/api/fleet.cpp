// herd::Fleet, Group and Connection (include/herd/fleet.hpp) over the engine, the SFTP
// transfers and task sudo.
#include "herd/fleet.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "herd/nodeset.hpp"
#include "herd/sftp.hpp"
#include "herd/transfer.hpp"
#include "tasks/runner.hpp"
#include "tasks/sudo.hpp"

namespace herd {
namespace {

/// The command with its directory and environment applied (as task steps do).
std::string command_text(const std::string& command, const CommandOptions& o) {
  std::optional<std::string> cd;
  if (!o.cwd.empty()) cd = o.cwd;
  std::vector<std::pair<std::string, std::string>> env(o.env.begin(), o.env.end());
  return tasks::wrap_command(command, cd, env, {});
}

/// The remote name of an upload: `remote`, or `remote` + the file's name when it ends in '/'.
std::string upload_name(const std::filesystem::path& local, const std::string& remote) {
  if (!remote.empty() && remote.back() == '/') return remote + local.filename().string();
  return remote;
}

/// The first failure of a report, one line; empty when every file went through.
std::string first_failure(const TransferReport& report) {
  if (report.fatal) return report.fatal->message;
  for (const auto& f : report.files) {
    if (!f.ok) return f.error ? f.error->message : f.path + ": failed";
  }
  return {};
}

/// A transfer's report as a host's result (the first failed file's error names it).
void settle(const TransferReport& report, HostResult& result) {
  result.stdout_bytes = report.bytes;
  if (report.fatal) {
    result.status = status_for(*report.fatal);
    result.phase = report.fatal->phase;
    result.message = report.fatal->message;
  } else if (std::string why = first_failure(report); !why.empty()) {
    result.status = HostStatus::failed;
    result.phase = Phase::transfer;
    result.message = std::move(why);
  }
}

/// Collects each host's output for the results, and passes it on live.
class Collector : public EngineObserver {
 public:
  Collector(std::vector<CommandResult>& results, std::size_t cap, const OutputCallback& cb)
      : results_(results), cap_(cap), cb_(cb) {}
  void on_output(std::size_t index, Stream stream, std::string_view data) override {
    CommandResult& r = results_[index];
    std::string& kept = stream == Stream::out ? r.stdout_text : r.stderr_text;
    if (kept.size() < cap_) kept.append(data.substr(0, cap_ - kept.size()));
    if (cb_) cb_(r.host, stream, data);
  }

 private:
  std::vector<CommandResult>& results_;
  std::size_t cap_;
  const OutputCallback& cb_;
};

Flow<Result<void>> sudo_on(Session& session, std::string user, std::string inner,
                           std::optional<std::string> password,
                           std::optional<std::chrono::milliseconds> timeout, HostResult& result,
                           const HostOutput& output) {
  ExecSink sink = counting_sink(result, output);
  auto flow = tasks::run_sudo(session, std::move(user), std::move(inner), std::move(password),
                              timeout, std::move(sink));
  auto ran = co_await std::move(flow);
  if (!ran) co_return std::unexpected(ran.error());
  if (const std::string why = ran->why(); !why.empty()) {
    result.status = HostStatus::failed;
    result.phase = Phase::command;
    result.message = why;
  } else {
    apply_exec_result(ran->exec, result);
  }
  co_return Result<void>{};
}

/// One command as a HostWork: the result as the engine would give it for herd run.
Flow<Result<void>> exec_on(Session& session, std::string command,
                           std::optional<std::chrono::milliseconds> timeout, bool pty,
                           HostResult& result, const HostOutput& output) {
  ExecRequest req;
  req.command = std::move(command);
  req.timeout = timeout;
  if (pty) req.pty = PtyOptions{};
  ExecSink sink = counting_sink(result, output);
  auto ran = co_await session.exec_async(std::move(req), std::move(sink));
  if (!ran) co_return std::unexpected(ran.error());
  apply_exec_result(*ran, result);
  co_return Result<void>{};
}

/// One file up, as upload() does it for herd put (verified, atomic).
Flow<Result<void>> put_on(Session& session, std::shared_ptr<LocalSource> source, std::string remote,
                          HostResult& result) {
  auto sftp = co_await SftpClient::open_async(session);
  if (!sftp) co_return std::unexpected(sftp.error());
  std::vector<UploadItem> items{UploadItem{std::move(source), std::move(remote)}};
  auto flow = upload(session, *sftp, std::move(items), TransferSettings{});
  auto report = co_await std::move(flow);
  settle(report, result);
  co_return Result<void>{};
}

/// One file down into `local` (its directory made if missing), as download() does for herd get.
Flow<Result<void>> get_on(Session& session, std::string remote, std::filesystem::path local,
                          HostResult& result) {
  std::error_code ec;
  std::filesystem::create_directories(local.parent_path(), ec);
  if (ec) {
    co_return fail(
        Errc::local_io, Phase::transfer, "",
        fmt::format("{}: cannot create it: {}", local.parent_path().string(), ec.message()));
  }
  auto sftp = co_await SftpClient::open_async(session);
  if (!sftp) co_return std::unexpected(sftp.error());
  std::vector<DownloadItem> items;
  items.push_back(DownloadItem{std::move(remote), std::move(local), std::nullopt});
  auto flow = download(session, *sftp, std::move(items), TransferSettings{});
  auto report = co_await std::move(flow);
  settle(report, result);
  co_return Result<void>{};
}

CommandResult from_host(const HostResult& h) {
  CommandResult r;
  r.host = h.host;
  r.status = h.status;
  r.exit_code = h.exit_code;
  r.signal = h.signal;
  r.message = h.message;
  return r;
}

}  // namespace

bool GroupResult::ok() const {
  for (const auto& r : results_) {
    if (!r.ok()) return false;
  }
  return true;
}

std::vector<std::string> GroupResult::failed() const {
  std::vector<std::string> out;
  for (const auto& r : results_) {
    if (!r.ok()) out.push_back(r.host);
  }
  return out;
}

const CommandResult& GroupResult::at(const std::string& host) const {
  for (const auto& r : results_) {
    if (r.host == host) return r;
  }
  throw std::out_of_range("no host " + host + " in this group");
}

Group::Group(std::shared_ptr<const FleetOptions> options, std::vector<std::string> hosts)
    : options_(std::move(options)), hosts_(std::move(hosts)) {}

Group& Group::on_output(OutputCallback cb) {
  on_output_ = std::move(cb);
  return *this;
}

GroupResult Group::execute(FleetJob job) const {
  job.fanout = options_->fanout;
  job.host_timeout = options_->host_timeout;
  std::vector<HostTarget> targets;
  std::vector<CommandResult> results;
  for (const auto& h : hosts_) {
    SessionOptions o = options_->defaults;
    o.host = h;
    targets.push_back(HostTarget{h, std::move(o)});
    CommandResult r;
    r.host = h;
    results.push_back(std::move(r));
  }
  Collector collect(results, options_->max_output, on_output_);
  Engine engine(std::move(job), std::move(targets));
  auto ended = engine.run(collect);
  for (std::size_t i = 0; i < ended.size(); ++i) {
    CommandResult r = from_host(ended[i]);
    r.stdout_text = std::move(results[i].stdout_text);
    r.stderr_text = std::move(results[i].stderr_text);
    results[i] = std::move(r);
  }
  return GroupResult(std::move(results));
}

GroupResult Group::run(const std::string& command, const CommandOptions& options) const {
  FleetJob job;
  job.request.command = command_text(command, options);
  job.request.timeout = options.timeout;
  if (options.pty) job.request.pty = PtyOptions{};
  return execute(std::move(job));
}

GroupResult Group::run(const std::function<std::string(const std::string& host)>& command_for,
                       const CommandOptions& options) const {
  std::vector<std::string> commands;
  for (const auto& h : hosts_) commands.push_back(command_text(command_for(h), options));
  FleetJob job;
  const auto timeout = options.timeout;
  const bool pty = options.pty;
  job.work = [commands, timeout, pty](std::size_t index, Session& session, HostResult& result,
                                      const HostOutput& output) {
    return exec_on(session, commands[index], timeout, pty, result, output);
  };
  return execute(std::move(job));
}

GroupResult Group::sudo(const std::string& command, const CommandOptions& options) const {
  FleetJob job;
  const std::string inner = command_text(command, options);
  auto fleet = options_;
  const std::string user = options.user;
  const auto timeout = options.timeout;
  job.work = [fleet, inner, user, timeout](std::size_t, Session& session, HostResult& result,
                                           const HostOutput& output) {
    return sudo_on(session, user, inner, fleet->sudo_password, timeout, result, output);
  };
  return execute(std::move(job));
}

GroupResult Group::put(const std::filesystem::path& local, const std::string& remote) const {
  auto source = LocalSource::open(local, Checksum::sha256);
  if (!source) {
    // Nothing can be sent: every host fails with the same local error.
    std::vector<CommandResult> results;
    for (const auto& h : hosts_) {
      CommandResult r;
      r.host = h;
      r.message = source.error().message;
      results.push_back(std::move(r));
    }
    return GroupResult(std::move(results));
  }
  FleetJob job;
  std::shared_ptr<LocalSource> shared = *source;
  const std::string dest = upload_name(local, remote);
  job.work = [shared, dest](std::size_t, Session& session, HostResult& result, const HostOutput&) {
    return put_on(session, shared, dest, result);
  };
  return execute(std::move(job));
}

GroupResult Group::get(const std::string& remote, const std::filesystem::path& local_dir) const {
  FleetJob job;
  const std::vector<std::string> hosts = hosts_;
  job.work = [hosts, local_dir, remote](std::size_t index, Session& session, HostResult& result,
                                        const HostOutput&) {
    return get_on(session, remote,
                  local_dir / hosts[index] / std::filesystem::path(remote).filename(), result);
  };
  return execute(std::move(job));
}

Connection::Connection(std::shared_ptr<const FleetOptions> options, std::string host,
                       Session session)
    : options_(std::move(options)), host_(std::move(host)), session_(std::move(session)) {}

Result<CommandResult> Connection::run(const std::string& command, const CommandOptions& options) {
  ExecRequest req;
  req.command = command_text(command, options);
  req.timeout = options.timeout;
  if (options.pty) req.pty = PtyOptions{};
  CommandResult r;
  r.host = host_;
  ExecSink sink{[&r](std::string_view d) { r.stdout_text.append(d); },
                [&r](std::string_view d) { r.stderr_text.append(d); }};
  auto ran = session_.exec(req, sink);
  if (!ran) return std::unexpected(ran.error());
  HostResult h;
  h.host = host_;
  apply_exec_result(*ran, h);
  CommandResult c = from_host(h);
  c.stdout_text = std::move(r.stdout_text);
  c.stderr_text = std::move(r.stderr_text);
  return c;
}

Result<CommandResult> Connection::sudo(const std::string& command, const CommandOptions& options) {
  HostResult h;
  h.host = host_;
  h.status = HostStatus::ok;
  CommandResult r;
  HostOutput out = [&r](Stream s, std::string_view d) {
    (s == Stream::out ? r.stdout_text : r.stderr_text).append(d);
  };
  auto done = run_blocking(sudo_on(session_, options.user, command_text(command, options),
                                   options_->sudo_password, options.timeout, h, out));
  if (!done) return std::unexpected(done.error());
  CommandResult c = from_host(h);
  c.stdout_text = std::move(r.stdout_text);
  c.stderr_text = std::move(r.stderr_text);
  return c;
}

Result<void> Connection::put(const std::filesystem::path& local, const std::string& remote) {
  auto source = LocalSource::open(local, Checksum::sha256);
  if (!source) return std::unexpected(source.error());
  HostResult h;
  h.status = HostStatus::ok;
  auto done = run_blocking(put_on(session_, *source, upload_name(local, remote), h));
  if (!done) return done;
  if (h.status != HostStatus::ok)
    return std::unexpected(Error{Errc::file_error, Phase::transfer, host_, h.message});
  return {};
}

Result<void> Connection::get(const std::string& remote, const std::filesystem::path& local) {
  HostResult h;
  h.status = HostStatus::ok;
  auto done = run_blocking(get_on(session_, remote, local, h));
  if (!done) return done;
  if (h.status != HostStatus::ok) {
    return std::unexpected(Error{Errc::file_error, Phase::transfer, host_, h.message});
  }
  return {};
}

Fleet::Fleet(FleetOptions options)
    : options_(std::make_shared<const FleetOptions>(std::move(options))) {}

Group Fleet::group(const std::string& pattern) const {
  return Group(options_, NodeSet::parse(pattern).expand());
}

Group Fleet::group(std::vector<std::string> hosts) const {
  return Group(options_, std::move(hosts));
}

Result<Connection> Fleet::connect(const std::string& host) const {
  SessionOptions o = options_->defaults;
  o.host = host;
  auto s = Session::connect(o);
  if (!s) return std::unexpected(s.error());
  return Connection(options_, host, std::move(*s));
}

}  // namespace herd

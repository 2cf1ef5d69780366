#include "tasks/runner.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "files/file_commands.hpp"
#include "herd/shell_quote.hpp"
#include "tasks/expr.hpp"
#include "tasks/local_command.hpp"
#include "tasks/params.hpp"
#include "tasks/sudo.hpp"
#include "tasks/template.hpp"

namespace herd::tasks {

namespace {

constexpr std::size_t kRegisterBytes = 1 << 20;  // bytes of each stream kept for register:
constexpr std::size_t kScriptBytes = 16 << 20;

/// A registered result.
struct Registered {
  std::string stdout_text;
  std::string stderr_text;
  std::optional<int> rc;
  bool ok = false;
  bool skipped = false;
};

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

/// A path for `cd`: `~` and `~/...` stay expandable by the shell, the rest is quoted.
std::string cd_argument(const std::string& dir) {
  if (dir == "~") return "\"$HOME\"";
  if (dir.rfind("~/", 0) == 0) return "\"$HOME\"/" + shell_quote(dir.substr(2));
  return shell_quote(dir);
}

/// Position of a step id ("2.1" -> {2, 1}).
std::vector<int> id_path(const std::string& id) {
  std::vector<int> out;
  std::stringstream in(id);
  std::string part;
  while (std::getline(in, part, '.')) out.push_back(std::atoi(part.c_str()));
  return out;
}

/// True for a failure that leaves the session unusable (lost, timed out, cancelled); a file
/// that could not be read, written or verified fails only its step.
bool ends_the_host(const Error& e) {
  switch (e.code) {
    case Errc::file_error:
    case Errc::verify_failed:
    case Errc::local_io:
    case Errc::bad_config:
    case Errc::unsupported: return false;
    default: return true;
  }
}

/// How a step ended.
struct StepEnd {
  bool ok = true;
  std::optional<int> exit_code;
  std::optional<std::string> signal;
  std::string why;  ///< for a failure: "exit status 3", "command timed out after 5.0 s ...", ...
};

StepEnd from_exec(const ExecResult& e) {
  HostResult as_run;  // as herd run would report the command
  apply_exec_result(e, as_run);
  const bool ok = as_run.status == HostStatus::ok;
  return StepEnd{ok, as_run.exit_code, as_run.signal,
                 ok ? std::string()
                 : as_run.status == HostStatus::cancelled ? std::string("cancelled")
                                                          : as_run.message};
}

class HostRun {
 public:
  HostRun(const RunSettings& settings, const HostFacts& facts, Session* session, HostResult& result,
          const HostOutput& output, std::optional<ResumePoint> resume)
      : settings_(settings),
        facts_(facts),
        session_(session),
        result_(result),
        output_(output),
        resume_(std::move(resume)) {}

  /// Run one task (with its own parameter scope). False when the host must stop.
  Flow<Result<bool>> task(const Task& t, std::map<std::string, Value> params, bool top) {
    Scope scope{&t, std::move(params), {}};
    std::vector<int> resume_at;
    if (top && resume_ && resume_->task == t.name) resume_at = id_path(resume_->step);
    auto r = co_await steps(t.steps, scope, Context{}, resume_at);
    co_return r;
  }

  bool aborted() const { return aborted_; }

 private:
  struct Scope {
    const Task* task;
    std::map<std::string, Value> params;
    std::map<std::string, Registered> registered;
  };

  std::optional<Value> lookup(const Scope& scope, const std::string& name) const {
    auto dot = name.find('.');
    const std::string head = name.substr(0, dot);
    const std::string rest = dot == std::string::npos ? std::string() : name.substr(dot + 1);
    if (head == "host") return host_field(facts_, rest);
    if (auto it = scope.registered.find(head); it != scope.registered.end()) {
      const Registered& r = it->second;
      if (rest.empty() || rest == "stdout") return Value(chomp(r.stdout_text));
      if (rest == "stderr") return Value(chomp(r.stderr_text));
      if (rest == "rc") return r.rc ? Value(static_cast<std::int64_t>(*r.rc)) : Value();
      if (rest == "ok") return Value(r.ok);
      if (rest == "skipped") return Value(r.skipped);
      return std::nullopt;
    }
    if (auto it = scope.params.find(head); it != scope.params.end() && rest.empty()) {
      return it->second;
    }
    return std::nullopt;
  }

  Lookup lookup_fn(const Scope& scope) const {
    return [this, &scope](const std::string& n) { return lookup(scope, n); };
  }

  /// Steps in order; false when the host must stop.
  Flow<Result<bool>> steps(const std::vector<Step>& list, Scope& scope, Context ctx,
                           std::vector<int> resume_at) {
    for (const Step& s : list) {
      // Resuming: pass over what lies wholly before the resume point; enter the block holding it.
      std::vector<int> inner_resume;
      if (!resume_at.empty()) {
        const std::vector<int> here = id_path(s.id);
        const bool holds = here.size() < resume_at.size() &&
                           std::equal(here.begin(), here.end(), resume_at.begin());
        if (holds) {
          inner_resume = resume_at;
        } else if (here < resume_at) {
          if (s.register_as.empty()) continue;  // results are needed later: those run again
        } else {
          resume_at.clear();  // reached it
        }
      }
      auto r = co_await step(s, scope, ctx, inner_resume);
      if (!r) co_return r;
      if (!*r) co_return false;
      if (!inner_resume.empty()) resume_at.clear();
    }
    co_return true;
  }

  Flow<Result<bool>> step(const Step& s, Scope& scope, const Context& outer,
                          std::vector<int> resume_at) {
    const Context ctx = outer.wrap(s.context);
    const Lookup look = lookup_fn(scope);
    if (!s.when.empty()) {
      bool holds = false;
      try {
        holds = Condition::parse(s.when).holds(look);
      } catch (const TemplateError& e) {
        co_return fail(s, scope, StepEnd{false, {}, {}, e.what()}, ctx);
      }
      if (!holds) {
        if (!s.register_as.empty())
          scope.registered[s.register_as] = Registered{{}, {}, {}, false, true};
        co_return true;
      }
    }
    if (s.kind == StepKind::block) {
      auto r = co_await steps(s.steps, scope, ctx, std::move(resume_at));
      co_return r;
    }
    // Kept on the result as the host goes, so a host that ends anywhere names its step.
    result_.step = step_label(*scope.task, s);
    Registered reg;
    StepEnd end;
    try {
      auto ran = co_await action(s, scope, ctx, reg);
      if (!ran) co_return std::unexpected(ran.error());
      end = *ran;
    } catch (const TemplateError& e) {
      end = StepEnd{false, {}, {}, e.what()};
    }
    if (!s.register_as.empty()) {
      reg.rc = end.exit_code;
      reg.ok = end.ok;
      scope.registered[s.register_as] = std::move(reg);
    }
    if (end.ok) co_return true;
    co_return fail(s, scope, end, ctx);
  }

  /// A failed step: note it, and say whether the host goes on.
  bool fail(const Step& s, const Scope& scope, const StepEnd& end, const Context& ctx) {
    const OnFailure how = ctx.on_failure.value_or(OnFailure::skip_host);
    const std::string label = step_label(*scope.task, s);
    if (how == OnFailure::cont) {
      called_failed_ = false;
      result_.status = HostStatus::ok;  // a called task may have marked it
      result_.exit_code.reset();
      result_.message.clear();
      if (output_) {
        output_(Stream::err,
                fmt::format("herd: step {} failed ({}); going on (warn_only)\n", label, end.why));
      }
      return true;
    }
    result_.status = end.why == "cancelled" ? HostStatus::cancelled : HostStatus::failed;
    result_.exit_code = end.exit_code;
    result_.signal = end.signal;
    result_.phase = Phase::command;
    result_.step = label;
    // A called task's failure says where inside it; the call step is where a rerun resumes.
    result_.message = called_failed_ ? fmt::format("step {}: {}", label, result_.message)
                                     : fmt::format("step {}: {}", label, end.why);
    called_failed_ = false;
    if (how == OnFailure::abort && !aborted_) {
      aborted_ = true;
      result_.message += " (on_failure: abort: the run stops)";
      if (settings_.abort) settings_.abort();
    }
    return false;
  }

  ExecSink sink(Registered& reg, bool keep) {
    return ExecSink{[this, &reg, keep](std::string_view d) {
                      result_.stdout_bytes += d.size();
                      if (keep && reg.stdout_text.size() < kRegisterBytes)
                        reg.stdout_text.append(d);
                      if (output_) output_(Stream::out, d);
                    },
                    [this, &reg, keep](std::string_view d) {
                      result_.stderr_bytes += d.size();
                      if (keep && reg.stderr_text.size() < kRegisterBytes)
                        reg.stderr_text.append(d);
                      if (output_) output_(Stream::err, d);
                    }};
  }

  std::string remote_command(const std::string& command, const Scope& scope,
                             const Context& ctx) const {
    return command_in_context(command, ctx, lookup_fn(scope));
  }

  Flow<Result<StepEnd>> exec(ExecRequest req, Registered& reg, bool keep) {
    if (session_ == nullptr) {
      co_return StepEnd{false, {}, {}, "a remote step in a task without hosts"};
    }
    auto s = sink(reg, keep);
    auto ran = co_await session_->exec_async(std::move(req), std::move(s));
    if (!ran) co_return std::unexpected(ran.error());
    co_return from_exec(*ran);
  }

  Flow<Result<StepEnd>> action(const Step& s, Scope& scope, const Context& ctx, Registered& reg) {
    const Lookup look = lookup_fn(scope);
    const bool keep = !s.register_as.empty();
    switch (s.kind) {
      case StepKind::run: {
        ExecRequest req;
        req.command = remote_command(expand(s.command, look, Quoting::shell), scope, ctx);
        req.timeout = ctx.timeout;
        auto r = co_await exec(std::move(req), reg, keep);
        co_return r;
      }
      case StepKind::sudo: {
        auto r = co_await sudo(s, scope, ctx, reg, keep);
        co_return r;
      }
      case StepKind::script: {
        auto body = read_script(expand(s.command, look, Quoting::none));
        if (!body) co_return StepEnd{false, {}, {}, body.error()};
        std::string args;
        for (const auto& a : s.args) args += " " + shell_quote(expand(a, look, Quoting::none));
        ExecRequest req;
        req.command = remote_command("sh -s --" + args, scope, ctx);
        req.stdin_data = std::move(*body);
        req.timeout = ctx.timeout;
        auto r = co_await exec(std::move(req), reg, keep);
        co_return r;
      }
      case StepKind::local: {
        std::map<std::string, std::string> env;
        for (const auto& kv : ctx.env) env[kv.first] = expand(kv.second, look, Quoting::none);
        std::string command = expand(s.command, look, Quoting::shell);
        auto out = [this, &reg, keep](Stream st, std::string_view d) {
          std::string& kept = st == Stream::out ? reg.stdout_text : reg.stderr_text;
          if (keep && kept.size() < kRegisterBytes) kept.append(d);
          (st == Stream::out ? result_.stdout_bytes : result_.stderr_bytes) += d.size();
          if (output_) output_(st, d);
        };
        auto flow = run_local(std::move(command), std::move(env), ctx.timeout, out);
        auto ran = co_await std::move(flow);
        if (!ran) co_return StepEnd{false, {}, {}, ran.error().message};
        co_return from_exec(*ran);
      }
      case StepKind::call: {
        const Task* callee = settings_.file->find(s.task);
        std::vector<std::pair<std::string, std::string>> given;
        for (const auto& kv : s.with)
          given.emplace_back(kv.first, expand(kv.second, look, Quoting::none));
        std::map<std::string, Value> bound;
        try {
          bound = bind_params(*callee, given);
        } catch (const TaskFileError& e) {
          co_return StepEnd{false, {}, {}, e.what()};
        }
        auto r = co_await task(*callee, std::move(bound), false);
        if (!r) co_return std::unexpected(r.error());
        // The called task has recorded its own failure in result_; keep it as it is.
        if (!*r) {
          called_failed_ = true;
          co_return StepEnd{false, result_.exit_code, result_.signal, "the task it called failed"};
        }
        co_return StepEnd{};
      }
      case StepKind::put:
      case StepKind::get:
      case StepKind::sync: {
        auto r = co_await transfer(s, scope, ctx);
        co_return r;
      }
      case StepKind::block: break;
    }
    co_return StepEnd{};
  }

  Flow<Result<StepEnd>> sudo(const Step& s, Scope& scope, const Context& ctx, Registered& reg,
                             bool keep) {
    if (session_ == nullptr) co_return StepEnd{false, {}, {}, "sudo in a task without hosts"};
    const Lookup look = lookup_fn(scope);
    std::string inner = remote_command(expand(s.command, look, Quoting::shell), scope, ctx);
    std::string user = expand(s.user, look, Quoting::none);
    auto flow = run_sudo(*session_, std::move(user), std::move(inner), settings_.sudo_password,
                         ctx.timeout, sink(reg, keep));
    auto ran = co_await std::move(flow);
    if (!ran) co_return std::unexpected(ran.error());
    StepEnd end = from_exec(ran->exec);
    if (const std::string why = ran->why(); !why.empty()) {
      end = StepEnd{false, {}, {}, why};
    }
    co_return end;
  }

  /// A remote path: relative ones are taken in the context's cd.
  std::string remote_path(std::string path, const Scope& scope, const Context& ctx) const {
    if (!ctx.cd || path.empty() || path.front() == '/' || path.front() == '~') return path;
    return expand(*ctx.cd, lookup_fn(scope), Quoting::none) + "/" + path;
  }

  /// A local path of a file step: relative ones are taken beside the task file.
  std::string local_path(std::string path) const {
    std::filesystem::path p(path);
    if (p.is_relative() && settings_.file != nullptr) p = settings_.file->path.parent_path() / p;
    return p.string();
  }

  /// put / get / sync, as the file commands do them (files/file_commands.hpp): put sends local
  /// files (relative to the task file) to a remote path, get brings remote files into
  /// DEST/HOST/, sync makes a remote directory match a local one. A failed file fails the step;
  /// a lost connection ends the host.
  Flow<Result<StepEnd>> transfer(const Step& s, const Scope& scope, const Context& ctx) {
    if (session_ == nullptr)
      co_return StepEnd{false, {}, {}, "a file step in a task without hosts"};
    const Lookup look = lookup_fn(scope);
    const TransferSpec& spec = s.transfer;
    files::FileOptions options;
    options.recursive = spec.recursive;
    options.exclude = spec.exclude;
    options.compare_checksum = spec.compare_checksum;
    options.remove_extra = spec.remove_extra;
    TransferSettings settings;
    settings.preserve = spec.preserve;
    const std::string dest = expand(spec.dest, look, Quoting::none);
    std::vector<std::string> sources;
    for (const auto& src : spec.sources) {
      std::string path = expand(src, look, Quoting::none);
      sources.push_back(s.kind == StepKind::get ? remote_path(std::move(path), scope, ctx)
                                                : local_path(std::move(path)));
    }
    HostResult done;  // the step's own result: the host's is the task's
    Result<void> ran;
    if (s.kind == StepKind::get) {
      auto flow = files::get_host(options, std::move(sources), local_path(dest), facts_.name,
                                  std::move(settings), *session_, done, output_);
      ran = co_await std::move(flow);
    } else {
      Result<files::PutPlan> plan = files::PutPlan{};
      if (s.kind == StepKind::put) {
        plan = files::plan_put(options, settings.checksum, sources, dest);
      } else if (std::filesystem::is_directory(sources.front())) {
        plan->dest_is_dir = true;
        auto added = files::add_local_tree(options, sources.front(), "", settings.checksum, *plan);
        if (!added) plan = std::unexpected(added.error());
      } else {
        co_return StepEnd{false, {}, {}, fmt::format("{}: not a directory", sources.front())};
      }
      if (!plan) co_return StepEnd{false, {}, {}, plan.error().message};
      const std::string remote = remote_path(dest, scope, ctx);
      if (s.kind == StepKind::put) {
        auto flow = files::put_host(*plan, nullptr, remote, std::move(settings), *session_, done,
                                    output_);
        ran = co_await std::move(flow);
      } else {
        auto flow =
            files::sync_host(options, *plan, remote, std::move(settings), *session_, done, output_);
        ran = co_await std::move(flow);
      }
    }
    result_.stdout_bytes += done.stdout_bytes;
    if (!ran) {
      if (ends_the_host(ran.error())) co_return std::unexpected(ran.error());
      co_return StepEnd{false, {}, {}, ran.error().message};
    }
    if (done.status == HostStatus::failed) co_return StepEnd{false, {}, {}, done.message};
    co_return StepEnd{};
  }

  std::expected<std::string, std::string> read_script(const std::string& path) const {
    const std::filesystem::path p = local_path(path);
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::unexpected(fmt::format("cannot read script {}", p.string()));
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() > kScriptBytes)
      return std::unexpected(fmt::format("script {} is over 16 MiB", p.string()));
    return data;
  }

  const RunSettings& settings_;
  const HostFacts& facts_;
  Session* session_;
  HostResult& result_;
  const HostOutput& output_;
  std::optional<ResumePoint> resume_;
  bool aborted_ = false;
  bool called_failed_ = false;
};

}  // namespace

std::optional<Value> host_field(const HostFacts& facts, const std::string& field) {
  if (field == "name") return Value(facts.name);
  auto it = facts.vars.find(field);
  if (it == facts.vars.end()) return std::nullopt;
  return Value(it->second);
}

std::string command_in_context(
    const std::string& expanded, const Context& ctx,
    const std::function<std::optional<Value>(const std::string&)>& lookup) {
  std::optional<std::string> cd;
  if (ctx.cd) cd = expand(*ctx.cd, lookup, Quoting::none);
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& kv : ctx.env)
    env.emplace_back(kv.first, expand(kv.second, lookup, Quoting::none));
  std::vector<std::string> prefix;
  for (const auto& p : ctx.prefix) prefix.push_back(expand(p, lookup, Quoting::shell));
  return wrap_command(expanded, cd, env, prefix);
}

std::string step_label(const Task& task, const Step& step) {
  return fmt::format("{}/{} {}", task.name, step.id, step.name);
}

std::string wrap_command(const std::string& expanded, const std::optional<std::string>& cd,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::vector<std::string>& prefix) {
  if (!cd && env.empty() && prefix.empty()) return expanded;
  std::string out;
  for (const auto& kv : env) {
    out += fmt::format("export {}={} && ", kv.first, shell_quote(kv.second));
  }
  if (cd) out += fmt::format("cd -- {} && ", cd_argument(*cd));
  for (const auto& p : prefix) out += p + " && ";
  // A group, so the whole command (every line of it) runs only after the context succeeded.
  // `; }` would be eaten by a trailing comment or break after `&`: those get a newline instead.
  const bool simple = expanded.find_first_of("\n#") == std::string::npos && !expanded.empty() &&
                      expanded.back() != '&' && expanded.back() != ';';
  out += simple ? "{ " + expanded + "; }" : "{ " + expanded + "\n}";
  return out;
}

Flow<Result<void>> run_task_on_host(const RunSettings& settings, const Task& task,
                                    const std::map<std::string, Value>& params,
                                    const HostFacts& facts, Session* session, HostResult& result,
                                    const HostOutput& output, std::optional<ResumePoint> resume) {
  HostRun run(settings, facts, session, result, output, std::move(resume));
  auto flow = run.task(task, params, true);
  auto r = co_await std::move(flow);
  if (!r) co_return std::unexpected(r.error());
  co_return Result<void>{};
}

}  // namespace herd::tasks

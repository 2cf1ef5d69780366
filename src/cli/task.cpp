// `herd task [NAME[:ARG=VALUE,...]] [ARG=VALUE...]`: run a task of herdfile.yaml on its hosts.
//
// Planning happens here, before anything connects: the task file is read and checked, the
// task and what it `needs` are put in order (each once), parameters are bound (a needed task
// gets the invocation's values for the parameters it shares), and each task's hosts are its
// pattern (or -H), minus -x, within --limit. --dry-run prints the plan per host; otherwise
// task_run.cpp runs it.
#include <fcntl.h>
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/fleet_run.hpp"
#include "cli/recording.hpp"
#include "cli/targets.hpp"
#include "cli/task_run.hpp"
#include "tasks/dry_run.hpp"
#include "tasks/params.hpp"

namespace herd::cli {
namespace {

using tasks::Task;
using tasks::TaskFile;
using tasks::TaskFileError;

int usage(const std::string& message) {
  fmt::print(stderr, "herd: {}\n", message);
  return as_int(ExitCode::usage);
}

std::string task_names(const TaskFile& f) {
  std::string out;
  for (const auto& t : f.tasks) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

/// `NAME[:A=1,B=2]` then `A=1` words: the task's name and its (NAME, VALUE) arguments. A comma
/// starts a new argument only before `IDENT=`, so list values keep theirs (`hosts=a,b`).
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> split_words(
    const std::vector<std::string>& words) {
  std::vector<std::pair<std::string, std::string>> args;
  auto add = [&args](const std::string& kv) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw TaskFileError(fmt::format("'{}': expected NAME=VALUE", kv));
    }
    args.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  };
  std::string name = words.front();
  if (auto colon = name.find(':'); colon != std::string::npos) {
    std::string rest = name.substr(colon + 1);
    name = name.substr(0, colon);
    std::size_t start = 0;
    for (std::size_t i = 0; i <= rest.size(); ++i) {
      if (i < rest.size() && rest[i] != ',') continue;
      bool boundary = i == rest.size();
      if (!boundary) {
        std::size_t j = i + 1;
        while (j < rest.size() &&
               (std::isalnum(static_cast<unsigned char>(rest[j])) || rest[j] == '_'))
          ++j;
        boundary = j > i + 1 && j < rest.size() && rest[j] == '=';
      }
      if (!boundary) continue;
      if (i > start) add(rest.substr(start, i - start));
      start = i + 1;
    }
  }
  for (std::size_t i = 1; i < words.size(); ++i) add(words[i]);
  return {name, args};
}

/// `target` and what it needs, depth first, each once, dependencies first.
void order(const TaskFile& f, const Task& t, std::vector<const Task*>& out) {
  if (std::find(out.begin(), out.end(), &t) != out.end()) return;
  for (const auto& n : t.needs) order(f, *f.find(n), out);
  out.push_back(&t);
}

bool only_local(const TaskFile& f, const std::vector<tasks::Step>& steps) {
  for (const auto& s : steps) {
    if (s.kind == tasks::StepKind::block && !only_local(f, s.steps)) return false;
    if (s.kind == tasks::StepKind::call && !only_local(f, f.find(s.task)->steps)) return false;
    if (s.kind != tasks::StepKind::local && s.kind != tasks::StepKind::block &&
        s.kind != tasks::StepKind::call) {
      return false;
    }
  }
  return true;
}

bool uses_sudo(const TaskFile& f, const std::vector<tasks::Step>& steps) {
  for (const auto& s : steps) {
    if (s.kind == tasks::StepKind::sudo) return true;
    if (uses_sudo(f, s.steps)) return true;
    if (s.kind == tasks::StepKind::call && uses_sudo(f, f.find(s.task)->steps)) return true;
  }
  return false;
}

std::string describe_param(const tasks::ParamSpec& p) {
  std::string out = fmt::format("{} ({})", p.name, tasks::to_string(p.type));
  if (p.required) out += " required";
  if (p.default_value) out += fmt::format(" default {}", tasks::to_text(*p.default_value));
  if (!p.choices.empty()) {
    std::string list;
    for (const auto& c : p.choices) list += (list.empty() ? "" : "|") + c;
    out += " one of " + list;
  }
  if (!p.description.empty()) out += ": " + p.description;
  return out;
}

int list_tasks(const TaskFile& f) {
  std::size_t width = 4;
  for (const auto& t : f.tasks) width = std::max(width, t.name.size());
  for (const auto& t : f.tasks) {
    std::string line = fmt::format("{:{}}  {}", t.name, width, t.description);
    std::string extra;
    if (!t.hosts.empty()) extra += "hosts " + t.hosts;
    if (!t.needs.empty()) {
      std::string needs;
      for (const auto& n : t.needs) needs += (needs.empty() ? "" : ",") + n;
      extra += (extra.empty() ? "" : "; ") + ("needs " + needs);
    }
    if (t.serial) {
      extra += (extra.empty() ? "" : "; ") +
               fmt::format("serial {}{}", t.serial->count, t.serial->percent ? "%" : "");
    }
    if (!extra.empty()) line += (t.description.empty() ? "" : "  ") + ("[" + extra + "]");
    fmt::print("{}\n", line);
    for (const auto& p : t.params) fmt::print("{:{}}    {}\n", "", width, describe_param(p));
  }
  return 0;
}

/// A line typed at the terminal with echo off, or nullopt without one.
std::optional<std::string> ask_terminal(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  termios old{};
  const bool tty = ::tcgetattr(fd, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)::write(fd, prompt.data(), prompt.size());
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  (void)::write(fd, "\n", 1);
  if (tty) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::close(fd);
  return line;
}

/// The sudo password from --sudo-password-env, --sudo-askpass or the terminal (-K).
Result<std::optional<std::string>> sudo_password(const TaskCliOptions& o) {
  if (!o.sudo_password_env.empty()) {
    const char* v = std::getenv(o.sudo_password_env.c_str());
    if (v == nullptr) {
      return fail(
          Errc::bad_config, Phase::command, "",
          fmt::format("--sudo-password-env {}: the variable is not set", o.sudo_password_env));
    }
    return std::optional<std::string>(v);
  }
  if (!o.sudo_askpass.empty()) {
    // The program prints the password on stdout (as ssh-askpass and sudo -A do).
    std::string command = o.sudo_askpass + " 'sudo password for herd task: '";
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) {
      return fail(Errc::bad_config, Phase::command, "",
                  fmt::format("--sudo-askpass {}: cannot run it", o.sudo_askpass));
    }
    std::string out;
    char buf[256];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = ::pclose(p);
    if (rc != 0) {
      return fail(Errc::bad_config, Phase::command, "",
                  fmt::format("--sudo-askpass {}: it failed (status {})", o.sudo_askpass, rc));
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return std::optional<std::string>(out);
  }
  if (o.ask_sudo_password) {
    auto typed = ask_terminal("sudo password: ");
    if (!typed) {
      return fail(Errc::bad_config, Phase::command, "",
                  "-K: no terminal to ask the sudo password on");
    }
    return std::optional<std::string>(*typed);
  }
  return std::optional<std::string>();
}

/// What the job history keeps to rerun the invocation: the file, the task, its arguments.
std::string record_json(const TaskCliOptions& o, const std::string& file, const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& args) {
  nlohmann::json j = {{"file", file}, {"name", name}};
  nlohmann::json a = nlohmann::json::array();
  for (const auto& kv : args) a.push_back({kv.first, kv.second});
  j["args"] = a;
  if (!o.hosts.empty()) j["hosts"] = o.hosts;
  if (!o.limit.empty()) j["limit"] = o.limit;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

CLI::App* setup_task(CLI::App& app, TaskCliOptions& o) {
  auto* cmd = app.add_subcommand("task", "Run a task of herdfile.yaml on its hosts");
  add_common_options(*cmd, o.fleet.common);
  cmd->add_option("-f,--file", o.file, "Task file (default ./herdfile.yaml)");
  cmd->add_flag("--list", o.list, "List the tasks, their descriptions and parameters");
  cmd->add_flag("-n,--dry-run", o.dry_run,
                "Print each host's commands and transfers; connect to nothing");
  cmd->add_option("-H,--hosts", o.hosts, "Run on this host pattern instead of the tasks' hosts");
  cmd->add_option("--limit", o.limit, "Only hosts that also match this pattern");
  cmd->add_option("--sudo-password-env", o.sudo_password_env,
                  "Name of the variable holding the sudo password");
  cmd->add_option("--sudo-askpass", o.sudo_askpass,
                  "Program that prints the sudo password (as ssh-askpass does)");
  cmd->add_flag("-K,--ask-sudo-password", o.ask_sudo_password,
                "Ask the sudo password once, on the terminal");
  cmd->add_option("--rerun", o.fleet.rerun,
                  "Run recorded task job ID again: its failed hosts, from the step they failed in")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--only", o.fleet.only, "With --rerun: failed (default) or all")
      ->check(CLI::IsMember({"failed", "all"}))
      ->needs("--rerun");
  add_fleet_options(*cmd, o.fleet, true, false);
  cmd->add_option("task", o.words, "TASK[:NAME=VALUE,...] [NAME=VALUE...]");
  cmd->footer(
      "Examples:\n"
      "  herd task --list\n"
      "  herd task greet who=world\n"
      "  herd task deploy:version=1.2.3 --dry-run\n"
      "  herd task --rerun 12 --only failed");
  return cmd;
}

int run_task(const TaskCliOptions& options) {
  TaskCliOptions o = options;
  auto inventory = load_inventory(o.fleet.common);
  if (!inventory) return report(inventory.error());
  const Inventory* inv = *inventory ? &**inventory : nullptr;

  std::map<std::string, tasks::ResumePoint> resume;
  std::vector<std::string> rerun_hosts;
  if (o.fleet.rerun != 0) {
    auto store = open_job_store(o.fleet.store);
    if (!store) return report(store.error());
    auto found = store->get_job(o.fleet.rerun);
    if (!found) return report(found.error());
    if (!*found) return usage(fmt::format("--rerun {}: no such job", o.fleet.rerun));
    auto opts = nlohmann::json::parse((*found)->job.options_json, nullptr, false);
    if (!opts.is_object() || !opts.contains("task") || !opts["task"].is_object()) {
      return usage(
          fmt::format("--rerun {}: not a herd task job (use herd run --rerun)", o.fleet.rerun));
    }
    const auto& t = opts["task"];
    if (o.file.empty()) o.file = t.value("file", "");
    if (o.words.empty()) {
      o.words.push_back(t.value("name", ""));
      if (t.contains("args") && t["args"].is_array()) {
        for (const auto& kv : t["args"]) {
          if (kv.is_array() && kv.size() == 2 && kv[0].is_string() && kv[1].is_string()) {
            o.words.push_back(kv[0].get<std::string>() + "=" + kv[1].get<std::string>());
          }
        }
      }
    }
    const bool all = o.fleet.only == "all";
    for (const auto& h : (*found)->hosts) {
      if (!all && h.result.status == HostStatus::ok) continue;
      rerun_hosts.push_back(h.result.host);
      // "TASK/ID NAME": resume there (a host that never got to a step starts over).
      const auto& step = h.result.step;
      auto slash = step.find('/');
      auto space = step.find(' ', slash == std::string::npos ? 0 : slash);
      if (!all && slash != std::string::npos && space != std::string::npos) {
        resume[h.result.host] =
            tasks::ResumePoint{step.substr(0, slash), step.substr(slash + 1, space - slash - 1)};
      }
    }
    if (rerun_hosts.empty()) {
      fmt::print(stderr, "herd: job {}: no host to run on again (--only {})\n", o.fleet.rerun,
                 all ? "all" : "failed");
      return as_int(ExitCode::ok);
    }
  }

  TaskFile file;
  std::string path;
  try {
    path = tasks::find_taskfile(o.file).string();
    file = tasks::load_taskfile(path);
  } catch (const TaskFileError& e) {
    return usage(e.what());
  }
  if (o.list) return list_tasks(file);
  if (o.words.empty())
    return usage(fmt::format("name a task ({}); herd task --list shows them", task_names(file)));

  std::string name;
  std::vector<std::pair<std::string, std::string>> args;
  std::vector<PlannedTask> plan;
  try {
    auto split = split_words(o.words);
    name = split.first;
    args = split.second;
    const Task* target = file.find(name);
    if (target == nullptr) {
      return usage(fmt::format("no task '{}' in {} (tasks: {})", name, path, task_names(file)));
    }
    std::vector<const Task*> tasks_in_order;
    order(file, *target, tasks_in_order);
    for (const Task* t : tasks_in_order) {
      PlannedTask p;
      p.task = t;
      if (t == target) {
        p.params = tasks::bind_params(*t, args);
      } else {
        std::vector<std::pair<std::string, std::string>> shared;
        for (const auto& kv : args) {
          if (t->param(kv.first) != nullptr) shared.push_back(kv);
        }
        p.params = tasks::bind_params(*t, shared);
      }
      std::string pattern = !o.hosts.empty() ? o.hosts : t->hosts;
      if (pattern.empty() && !rerun_hosts.empty()) {
        if (only_local(file, t->steps)) continue;  // ran on this machine: not again
        pattern = fold_hosts(rerun_hosts);
      }
      if (pattern.empty()) {
        if (!only_local(file, t->steps)) {
          return usage(fmt::format("task {} has no hosts: give -H PATTERN (or hosts: in {})",
                                   t->name, path));
        }
        p.controller = true;
      } else {
        try {
          p.hosts = expand_hosts(pattern, o.fleet.excludes, inv);
          // --limit and a rerun narrow the task's own hosts (kept in its order).
          std::set<std::string> keep;
          bool narrow = false;
          if (!o.limit.empty()) {
            for (auto& h : expand_hosts(o.limit, {}, inv)) keep.insert(std::move(h));
            narrow = true;
          }
          if (!rerun_hosts.empty()) {
            std::set<std::string> again(rerun_hosts.begin(), rerun_hosts.end());
            if (narrow) {
              std::erase_if(keep, [&again](const std::string& h) { return again.count(h) == 0; });
            } else {
              keep = std::move(again);
            }
            narrow = true;
          }
          if (narrow)
            std::erase_if(p.hosts, [&keep](const std::string& h) { return keep.count(h) == 0; });
        } catch (const PatternError& e) {
          return usage(fmt::format("task {}: {}", t->name, e.what()));
        }
        if (p.hosts.empty()) {
          if (!rerun_hosts.empty()) continue;  // none of its hosts is run again
          return usage(fmt::format("task {}: no host of {} is within --limit {}", t->name, pattern,
                                   o.limit));
        }
      }
      plan.push_back(std::move(p));
    }
  } catch (const TaskFileError& e) {
    return usage(e.what());
  }

  if (o.dry_run) {
    for (const auto& p : plan) {
      if (p.controller) {
        fmt::print("local (this machine):\n{}",
                   tasks::dry_run(file, *p.task, p.params, {"local", {}}));
        continue;
      }
      for (const auto& h : p.hosts) {
        tasks::HostFacts facts{h, {}};
        if (inv != nullptr) {
          if (const HostSpec* spec = inv->host(h)) facts.vars = spec->vars;
        }
        fmt::print("{}:\n{}", h, tasks::dry_run(file, *p.task, p.params, facts));
      }
    }
    return as_int(ExitCode::ok);
  }

  bool sudo = false;
  for (const auto& p : plan) sudo = sudo || uses_sudo(file, p.task->steps);
  std::optional<std::string> password;
  if (sudo) {
    auto pw = sudo_password(o);
    if (!pw) return report(pw.error());
    password = *pw;
  }
  std::string command = "task " + name;
  for (const auto& kv : args) command += " " + kv.first + "=" + kv.second;
  RunOptions fleet = o.fleet;
  fleet.host = !o.hosts.empty() ? o.hosts : file.find(name)->hosts;
  fleet.task_json = record_json(o, path, name, args);
  return execute_tasks(fleet, file, plan, inv, resume, password, command);
}

}  // namespace herd::cli

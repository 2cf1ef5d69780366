#include "tasks/params.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

#include "tasks/expr.hpp"
#include "tasks/template.hpp"

namespace herd::tasks {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string param_list(const Task& t) {
  if (t.params.empty()) return "it takes none";
  std::string out;
  for (const auto& p : t.params) out += (out.empty() ? "" : ", ") + p.name;
  return "it takes " + out;
}

/// Walks one task's steps in order, knowing which names are defined at each step.
class ReferenceChecker {
 public:
  ReferenceChecker(const TaskFile& f, const Task& t) : file_(f), task_(t) {}

  void check() {
    for (const auto& s : task_.steps) step(s);
  }

 private:
  [[noreturn]] void fail(const Step& s, const std::string& why) const {
    throw TaskFileError(fmt::format("{}:{}: {}", file_.path.string(), s.line, why));
  }

  void name(const Step& s, const std::string& n) const {
    auto dot = n.find('.');
    const std::string head = n.substr(0, dot);
    if (head == "host") {
      if (dot == std::string::npos)
        fail(s, "'host' alone is not a value: use host.name or host.VAR");
      return;
    }
    if (registered_.count(head) != 0) {
      if (dot == std::string::npos) return;
      const std::string field = n.substr(dot + 1);
      const auto& fields = result_fields();
      if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
        fail(s, fmt::format("'{}': a registered result has stdout, stderr, rc, ok and skipped", n));
      }
      return;
    }
    if (task_.param(head) != nullptr) {
      if (dot != std::string::npos)
        fail(s, fmt::format("'{}': parameter {} has no fields", n, head));
      return;
    }
    fail(s, fmt::format(
                "'{}' is not defined in task '{}' (its parameters: {}; results "
                "registered before this step; host.name, host.VAR)",
                n, task_.name, task_.params.empty() ? "none" : [this] {
                  std::string out;
                  for (const auto& p : task_.params) out += (out.empty() ? "" : ", ") + p.name;
                  return out;
                }()));
  }

  void text(const Step& s, const std::string& t) const {
    for (const auto& n : template_names(t)) name(s, n);
  }

  void context(const Step& s, const Context& c) const {
    if (c.cd) text(s, *c.cd);
    for (const auto& [k, v] : c.env) text(s, v);
    for (const auto& p : c.prefix) text(s, p);
  }

  void step(const Step& s) {
    if (!s.when.empty()) {
      const Condition c = Condition::parse(s.when);
      const std::vector<std::string> names = c.names();
      for (const auto& n : names) name(s, n);
    }
    context(s, s.context);
    text(s, s.command);
    text(s, s.user);
    for (const auto& a : s.args) text(s, a);
    for (const auto& src : s.transfer.sources) text(s, src);
    text(s, s.transfer.dest);
    if (s.kind == StepKind::call) {
      const Task* callee = file_.find(s.task);
      if (callee == nullptr) fail(s, fmt::format("task: '{}' is not a task of this file", s.task));
      std::set<std::string> given;
      for (const auto& [k, v] : s.with) {
        if (callee->param(k) == nullptr) {
          fail(s, fmt::format("task {}: no parameter '{}' ({})", s.task, k, param_list(*callee)));
        }
        text(s, v);
        given.insert(k);
      }
      for (const auto& p : callee->params) {
        if (p.required && given.count(p.name) == 0) {
          fail(s, fmt::format("task {}: parameter '{}' is required (with: {{{}: ...}})", s.task,
                              p.name, p.name));
        }
      }
    }
    for (const auto& child : s.steps) step(child);
    if (!s.register_as.empty()) {
      if (task_.param(s.register_as) != nullptr) {
        fail(s, fmt::format("register: '{}' is also a parameter", s.register_as));
      }
      registered_.insert(s.register_as);
    }
  }

  const TaskFile& file_;
  const Task& task_;
  std::set<std::string> registered_;
};

/// Fails on a cycle through `needs` or `task:` steps starting at `t`.
void check_cycles(const TaskFile& f, const Task& t, std::vector<std::string>& path) {
  if (std::find(path.begin(), path.end(), t.name) != path.end()) {
    std::string chain;
    for (const auto& p : path) chain += p + " -> ";
    throw TaskFileError(fmt::format("{}:{}: task '{}' depends on itself: {}{}", f.path.string(),
                                    t.line, t.name, chain, t.name));
  }
  path.push_back(t.name);
  for (const auto& n : t.needs) {
    const Task* dep = f.find(n);
    if (dep == nullptr) {
      throw TaskFileError(fmt::format("{}:{}: task '{}' needs '{}', which is not a task",
                                      f.path.string(), t.line, t.name, n));
    }
    check_cycles(f, *dep, path);
  }
  std::function<void(const std::vector<Step>&)> calls = [&](const std::vector<Step>& steps) {
    for (const auto& s : steps) {
      if (s.kind == StepKind::call) {
        if (const Task* callee = f.find(s.task)) check_cycles(f, *callee, path);
      }
      calls(s.steps);
    }
  };
  calls(t.steps);
  path.pop_back();
}

}  // namespace

std::string_view to_string(ParamType t) {
  switch (t) {
    case ParamType::string: return "string";
    case ParamType::integer: return "int";
    case ParamType::boolean: return "bool";
    case ParamType::list: return "list";
  }
  return "string";
}

std::optional<ParamType> param_type_from(std::string_view name) {
  if (name == "string" || name == "str") return ParamType::string;
  if (name == "int" || name == "integer") return ParamType::integer;
  if (name == "bool" || name == "boolean") return ParamType::boolean;
  if (name == "list") return ParamType::list;
  return std::nullopt;
}

std::optional<Value> parse_param_value(ParamType t, const std::string& text) {
  switch (t) {
    case ParamType::string: return Value(text);
    case ParamType::integer: {
      std::int64_t v = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size())
        return std::nullopt;
      return Value(v);
    }
    case ParamType::boolean: {
      const std::string l = lower(text);
      if (l == "true" || l == "yes" || l == "on" || l == "1") return Value(true);
      if (l == "false" || l == "no" || l == "off" || l == "0") return Value(false);
      return std::nullopt;
    }
    case ParamType::list: {
      std::vector<std::string> items;
      std::size_t start = 0;
      while (!text.empty()) {
        auto comma = text.find(',', start);
        items.push_back(
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      return Value(std::move(items));
    }
  }
  return std::nullopt;
}

std::map<std::string, Value> bind_params(
    const Task& task, const std::vector<std::pair<std::string, std::string>>& given) {
  std::map<std::string, Value> out;
  for (const auto& [name, text] : given) {
    const ParamSpec* p = task.param(name);
    if (p == nullptr) {
      throw TaskFileError(
          fmt::format("task {}: no parameter '{}' ({})", task.name, name, param_list(task)));
    }
    auto v = parse_param_value(p->type, text);
    if (!v) {
      throw TaskFileError(
          fmt::format("task {}: {}={}: not a {}", task.name, name, text, to_string(p->type)));
    }
    if (!p->choices.empty() &&
        std::find(p->choices.begin(), p->choices.end(), text) == p->choices.end()) {
      std::string list;
      for (const auto& c : p->choices) list += (list.empty() ? "" : ", ") + c;
      throw TaskFileError(
          fmt::format("task {}: {}={}: expected one of {}", task.name, name, text, list));
    }
    out[name] = std::move(*v);
  }
  for (const auto& p : task.params) {
    if (out.count(p.name) != 0) continue;
    if (p.required) {
      throw TaskFileError(fmt::format("task {}: parameter '{}' is required ({} {}=VALUE)",
                                      task.name, p.name, task.name, p.name));
    }
    out[p.name] = p.default_value.value_or(Value{});
  }
  return out;
}

const std::vector<std::string>& result_fields() {
  static const std::vector<std::string> fields{"stdout", "stderr", "rc", "ok", "skipped"};
  return fields;
}

void check_references(const TaskFile& file) {
  for (const auto& t : file.tasks) {
    std::vector<std::string> path;
    check_cycles(file, t, path);
    ReferenceChecker(file, t).check();
  }
}

}  // namespace herd::tasks

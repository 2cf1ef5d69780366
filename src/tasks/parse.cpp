// Reading herdfile.yaml into a TaskFile (see taskfile.hpp for the model).
#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>

#include "tasks/expr.hpp"
#include "tasks/params.hpp"
#include "tasks/taskfile.hpp"
#include "tasks/template.hpp"

namespace herd::tasks {
namespace {

constexpr std::size_t kMaxFileBytes = 4 << 20;

const std::set<std::string, std::less<>> kActions = {"run", "script", "sudo",  "put",
                                                     "get", "sync",   "local", "task"};
const std::set<std::string, std::less<>> kContextKeys = {"cd",      "env",       "prefix",
                                                         "timeout", "warn_only", "on_failure"};
const std::set<std::string, std::less<>> kReserved = {"host", "true", "false", "and",
                                                      "or",   "not",  "in"};

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  TaskFile file(const YAML::Node& root, const std::filesystem::path& path) {
    TaskFile f;
    f.path = path;
    if (!root || root.IsNull()) fail(root, "the file is empty: expected 'tasks:'");
    if (!root.IsMap()) fail(root, "a task file is a mapping with a 'tasks:' key");
    for (const auto& kv : root) {
      const std::string key = scalar(kv.first, "key");
      if (key != "tasks")
        fail(kv.first, fmt::format("unknown top-level key '{}' (expected tasks)", key));
    }
    const YAML::Node tasks = root["tasks"];
    if (!tasks || !tasks.IsMap() || tasks.size() == 0) {
      fail(tasks ? tasks : root, "'tasks:' must map task names to tasks");
    }
    for (const auto& kv : tasks) {
      Task t = task(kv.first, kv.second);
      if (f.find(t.name) != nullptr)
        fail(kv.first, fmt::format("task '{}' is defined twice", t.name));
      f.tasks.push_back(std::move(t));
    }
    return f;
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& why) const {
    throw TaskFileError(fmt::format("{}:{}: {}", source_, line(at), why));
  }
  [[noreturn]] void fail_line(int line_no, const std::string& why) const {
    throw TaskFileError(fmt::format("{}:{}: {}", source_, line_no, why));
  }

  static int line(const YAML::Node& n) {
    const auto m = n.Mark();
    return m.line >= 0 ? m.line + 1 : 1;
  }

 private:
  std::string scalar(const YAML::Node& n, std::string_view what) const {
    if (!n || !n.IsScalar()) fail(n, fmt::format("{} must be a string", what));
    return n.Scalar();
  }

  bool boolean(const YAML::Node& n, std::string_view what) const {
    auto v = parse_param_value(ParamType::boolean, scalar(n, what));
    if (!v) fail(n, fmt::format("{} must be true or false", what));
    return std::get<bool>(*v);
  }

  std::vector<std::string> strings(const YAML::Node& n, std::string_view what) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      for (const auto& item : n) out.push_back(scalar(item, what));
    } else {
      fail(n, fmt::format("{} must be a string or a list of strings", what));
    }
    return out;
  }

  std::chrono::milliseconds duration(const YAML::Node& n) const {
    const std::string s = scalar(n, "timeout");
    double value = 0;
    std::size_t used = 0;
    try {
      value = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    std::string unit = s.substr(used);
    double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
    if (used == 0 || scale == 0 || value <= 0) {
      fail(n, fmt::format("timeout '{}': expected seconds, or a number with s, m or h", s));
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(value * scale * 1000));
  }

  Amount amount(const YAML::Node& n, std::string_view what) const {
    std::string s = scalar(n, what);
    Amount a;
    if (!s.empty() && s.back() == '%') {
      a.percent = true;
      s.pop_back();
    }
    auto r = std::from_chars(s.data(), s.data() + s.size(), a.count);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || a.count < 0 ||
        (a.percent && a.count > 100) || (what == "serial" && a.count == 0)) {
      fail(n, fmt::format("{} '{}': expected a number of hosts or a percentage (20%)", what,
                          scalar(n, what)));
    }
    return a;
  }

  void check_template(const YAML::Node& at, const std::string& text) const {
    try {
      (void)template_names(text);
    } catch (const TemplateError& e) {
      fail(at, e.what());
    }
  }

  std::string templ(const YAML::Node& n, std::string_view what) const {
    std::string s = scalar(n, what);
    check_template(n, s);
    return s;
  }

  ParamSpec param(const YAML::Node& key, const YAML::Node& spec) const {
    ParamSpec p;
    p.name = scalar(key, "a parameter name");
    if (!is_identifier(p.name) || kReserved.count(p.name) != 0) {
      fail(key, fmt::format("'{}' cannot name a parameter (letters, digits and _; not {})", p.name,
                            "host/true/false/and/or/not/in"));
    }
    if (!spec || spec.IsNull()) return p;
    if (!spec.IsMap()) {
      // A scalar is the default value (`version: 1.0`).
      p.default_value = parse_param_value(p.type, scalar(spec, "a default"));
      return p;
    }
    std::optional<std::string> default_text;
    std::optional<YAML::Node> default_node;
    bool has_default = false;
    for (const auto& kv : spec) {
      const std::string k = scalar(kv.first, "key");
      if (k == "type") {
        auto t = param_type_from(scalar(kv.second, "type"));
        if (!t) {
          fail(kv.second, fmt::format("parameter '{}': unknown type '{}' (string, int, bool, list)",
                                      p.name, kv.second.Scalar()));
        }
        p.type = *t;
      } else if (k == "default") {
        default_node.emplace(kv.second);
        has_default = true;
        default_text = kv.second.IsSequence() ? std::string() : scalar(kv.second, "default");
      } else if (k == "required") {
        p.required = boolean(kv.second, "required");
      } else if (k == "description" || k == "help") {
        p.description = scalar(kv.second, k);
      } else if (k == "choices") {
        p.choices = strings(kv.second, "choices");
      } else {
        fail(kv.first, fmt::format("parameter '{}': unknown key '{}' (type, default, required, "
                                   "description, choices)",
                                   p.name, k));
      }
    }
    if (has_default) {
      if (default_node->IsSequence()) {
        if (p.type != ParamType::list) {
          fail(*default_node,
               fmt::format("parameter '{}': a list default needs type: list", p.name));
        }
        p.default_value = strings(*default_node, "default");
      } else {
        p.default_value = parse_param_value(p.type, *default_text);
        if (!p.default_value) {
          fail(*default_node, fmt::format("parameter '{}': default '{}' is not a {}", p.name,
                                          *default_text, to_string(p.type)));
        }
      }
      if (!p.choices.empty() &&
          !std::holds_alternative<std::vector<std::string>>(*p.default_value) &&
          std::find(p.choices.begin(), p.choices.end(), to_text(*p.default_value)) ==
              p.choices.end()) {
        fail(*default_node,
             fmt::format("parameter '{}': default is not one of its choices", p.name));
      }
    }
    if (p.required && p.default_value) {
      fail(key, fmt::format("parameter '{}': required and a default cannot go together", p.name));
    }
    return p;
  }

  TransferSpec transfer(const YAML::Node& n, StepKind kind) const {
    TransferSpec t;
    const std::string what(to_string(kind));
    if (n.IsScalar()) {
      // `put: LOCAL... REMOTE`, split on spaces.
      std::vector<std::string> words;
      std::string word;
      for (char c : n.Scalar()) {
        if (std::isspace(static_cast<unsigned char>(c))) {
          if (!word.empty()) words.push_back(std::move(word));
          word.clear();
        } else {
          word += c;
        }
      }
      if (!word.empty()) words.push_back(word);
      if (words.size() < 2) fail(n, fmt::format("{}: expected SOURCE... DEST", what));
      t.dest = words.back();
      words.pop_back();
      t.sources = std::move(words);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        const std::string k = scalar(kv.first, "key");
        if (k == "src" || k == "source" || k == "sources") {
          t.sources = strings(kv.second, k);
        } else if (k == "dest") {
          t.dest = scalar(kv.second, k);
        } else if (k == "recursive") {
          t.recursive = boolean(kv.second, k);
        } else if (k == "preserve") {
          t.preserve = boolean(kv.second, k);
        } else if (k == "exclude") {
          t.exclude = strings(kv.second, k);
        } else if (k == "delete" && kind == StepKind::sync) {
          t.remove_extra = boolean(kv.second, k);
        } else if (k == "checksum" && kind == StepKind::sync) {
          t.compare_checksum = boolean(kv.second, k);
        } else {
          fail(kv.first, fmt::format("{}: unknown key '{}' (src, dest, recursive, preserve, "
                                     "exclude{})",
                                     what, k, kind == StepKind::sync ? ", delete, checksum" : ""));
        }
      }
    } else {
      fail(n, fmt::format("{}: expected 'SOURCE DEST' or a mapping with src and dest", what));
    }
    if (t.sources.empty() || t.dest.empty()) fail(n, fmt::format("{}: needs src and dest", what));
    if (kind == StepKind::sync && t.sources.size() != 1) {
      fail(n, "sync: one source directory");
    }
    for (const auto& s : t.sources) check_template(n, s);
    check_template(n, t.dest);
    return t;
  }

  void context_key(Context& c, const std::string& k, const YAML::Node& v) const {
    if (k == "cd") {
      c.cd = templ(v, "cd");
    } else if (k == "env") {
      if (!v.IsMap()) fail(v, "env: expected a mapping of NAME: value");
      for (const auto& kv : v) {
        const std::string name = scalar(kv.first, "an env name");
        if (!is_identifier(name))
          fail(kv.first, fmt::format("env: '{}' is not a variable name", name));
        c.env.emplace_back(name,
                           kv.second.IsNull() ? std::string() : templ(kv.second, "an env value"));
      }
    } else if (k == "prefix") {
      c.prefix.push_back(templ(v, "prefix"));
    } else if (k == "timeout") {
      c.timeout = duration(v);
    } else if (k == "warn_only") {
      c.on_failure = boolean(v, "warn_only") ? OnFailure::cont : OnFailure::skip_host;
    } else if (k == "on_failure") {
      const std::string s = scalar(v, "on_failure");
      if (s == "abort") {
        c.on_failure = OnFailure::abort;
      } else if (s == "continue") {
        c.on_failure = OnFailure::cont;
      } else if (s == "skip-host" || s == "skip_host") {
        c.on_failure = OnFailure::skip_host;
      } else {
        fail(v, fmt::format("on_failure '{}': expected abort, continue or skip-host", s));
      }
    }
  }

  static std::string shorten(const std::string& s) {
    std::string one = s.substr(0, s.find('\n'));
    if (one.size() > 48) one = one.substr(0, 45) + "...";
    return one;
  }

  Step step(const YAML::Node& n, const std::string& id) const {
    Step s;
    s.id = id;
    s.line = line(n);
    if (n.IsScalar()) {
      // A bare string is a `run:`.
      s.command = templ(n, "a step");
      s.name = "run: " + shorten(s.command);
      return s;
    }
    if (!n.IsMap()) fail(n, "a step is a mapping (run:, sudo:, put:, cd: with steps:, ...)");
    std::string action;
    std::optional<YAML::Node> action_node;
    std::optional<YAML::Node> steps_node;
    for (const auto& kv : n) {
      const std::string k = scalar(kv.first, "key");
      if (kActions.count(k) != 0) {
        if (!action.empty())
          fail(kv.first, fmt::format("a step has one action: '{}' and '{}'", action, k));
        action = k;
        action_node.emplace(kv.second);
      } else if (kContextKeys.count(k) != 0) {
        context_key(s.context, k, kv.second);
      } else if (k == "steps") {
        steps_node.emplace(kv.second);
      } else if (k == "name") {
        s.name = scalar(kv.second, "name");
      } else if (k == "register") {
        s.register_as = scalar(kv.second, "register");
        if (!is_identifier(s.register_as) || kReserved.count(s.register_as) != 0) {
          fail(kv.second, fmt::format("register: '{}' is not a usable name", s.register_as));
        }
      } else if (k == "when") {
        s.when = scalar(kv.second, "when");
        try {
          (void)Condition::parse(s.when);
        } catch (const TemplateError& e) {
          fail(kv.second, e.what());
        }
      } else if (k == "args" || k == "user" || k == "with") {
        // Read with their action below.
      } else {
        fail(kv.first, fmt::format("unknown step key '{}'", k));
      }
    }
    auto only_for = [&](const char* key, std::initializer_list<std::string_view> actions) {
      if (!n[key]) return;
      if (std::find(actions.begin(), actions.end(), action) == actions.end()) {
        fail(n[key], fmt::format("'{}' goes with {}", key, *actions.begin()));
      }
    };
    only_for("args", {"script"});
    only_for("user", {"sudo"});
    only_for("with", {"task"});
    if (steps_node) {
      if (!action.empty())
        fail(*steps_node, fmt::format("a step with steps: is a block; move '{}' into it", action));
      if (!steps_node->IsSequence() || steps_node->size() == 0)
        fail(*steps_node, "steps: must be a list of steps");
      s.kind = StepKind::block;
      std::size_t i = 0;
      for (const auto& child : *steps_node)
        s.steps.push_back(step(child, id + "." + std::to_string(++i)));
      if (!s.register_as.empty()) fail(n, "register: goes with an action, not a block");
      if (s.name.empty()) s.name = "block";
      return s;
    }
    if (action.empty()) {
      fail(n, "a step needs an action (run, script, sudo, put, get, sync, local, task), or steps:");
    }
    if (action == "run" || action == "sudo" || action == "local") {
      s.kind = action == "run"    ? StepKind::run
               : action == "sudo" ? StepKind::sudo
                                  : StepKind::local;
      s.command = templ(*action_node, action);
      if (s.kind == StepKind::sudo) s.user = n["user"] ? templ(n["user"], "user") : "root";
    } else if (action == "script") {
      s.kind = StepKind::script;
      s.command = templ(*action_node, "script");
      if (n["args"]) {
        for (const auto& a : strings(n["args"], "args")) {
          check_template(n["args"], a);
          s.args.push_back(a);
        }
      }
    } else if (action == "put" || action == "get" || action == "sync") {
      s.kind = action == "put" ? StepKind::put : action == "get" ? StepKind::get : StepKind::sync;
      s.transfer = transfer(*action_node, s.kind);
    } else {  // task
      s.kind = StepKind::call;
      s.task = scalar(*action_node, "task");
      if (const auto w = n["with"]) {
        if (!w.IsMap()) fail(w, "with: expected a mapping of parameter: value");
        for (const auto& kv : w) {
          const std::string pname = scalar(kv.first, "a parameter name");
          std::string value;
          if (kv.second.IsSequence()) {
            for (const auto& item : strings(kv.second, pname))
              value += (value.empty() ? "" : ",") + item;
          } else if (!kv.second.IsNull()) {
            value = scalar(kv.second, pname);
          }
          check_template(kv.second, value);
          s.with.emplace_back(pname, value);
        }
      }
    }
    if (s.name.empty()) {
      s.name = s.kind == StepKind::call
                   ? "task: " + s.task
                   : fmt::format("{}: {}", action,
                                 shorten(s.kind == StepKind::put || s.kind == StepKind::get ||
                                                 s.kind == StepKind::sync
                                             ? s.transfer.sources.front() + " -> " + s.transfer.dest
                                             : s.command));
    }
    return s;
  }

  Task task(const YAML::Node& key, const YAML::Node& body) const {
    Task t;
    t.name = scalar(key, "a task name");
    t.line = line(key);
    const bool plain = !t.name.empty() && std::all_of(t.name.begin(), t.name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (!plain)
      fail(key, fmt::format("'{}' cannot name a task (letters, digits, '-', '_', '.')", t.name));
    if (!body || !body.IsMap())
      fail(body ? body : key, fmt::format("task '{}': expected a mapping with steps:", t.name));
    for (const auto& kv : body) {
      const std::string k = scalar(kv.first, "key");
      if (k == "description" || k == "help") {
        t.description = scalar(kv.second, k);
      } else if (k == "hosts") {
        for (const auto& h : strings(kv.second, "hosts"))
          t.hosts += (t.hosts.empty() ? "" : ",") + h;
      } else if (k == "params") {
        if (!kv.second.IsMap()) fail(kv.second, "params: expected a mapping of name: spec");
        for (const auto& p : kv.second) {
          ParamSpec spec = param(p.first, p.second);
          if (t.param(spec.name) != nullptr)
            fail(p.first, fmt::format("parameter '{}' twice", spec.name));
          t.params.push_back(std::move(spec));
        }
      } else if (k == "needs") {
        t.needs = strings(kv.second, "needs");
      } else if (k == "serial") {
        t.serial = amount(kv.second, "serial");
      } else if (k == "max_fail") {
        t.max_fail = amount(kv.second, "max_fail");
      } else if (k == "steps") {
        if (!kv.second.IsSequence() || kv.second.size() == 0)
          fail(kv.second, "steps: must be a list of steps");
        std::size_t i = 0;
        for (const auto& s : kv.second) t.steps.push_back(step(s, std::to_string(++i)));
      } else {
        fail(kv.first,
             fmt::format("task '{}': unknown key '{}' (description, hosts, params, needs, "
                         "serial, max_fail, steps)",
                         t.name, k));
      }
    }
    if (t.steps.empty()) fail(key, fmt::format("task '{}' has no steps", t.name));
    return t;
  }

  std::string source_;
};

}  // namespace

std::string to_text(const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return {};
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  std::string out;
  for (const auto& item : std::get<std::vector<std::string>>(v))
    out += (out.empty() ? "" : " ") + item;
  return out;
}

Context Context::wrap(const Context& inner) const {
  Context c = *this;
  if (inner.cd) {
    // A relative cd inside another is relative to it, as nested `with c.cd()` are in Fabric.
    c.cd = cd && !inner.cd->empty() && inner.cd->front() != '/' && inner.cd->front() != '~'
               ? *cd + "/" + *inner.cd
               : *inner.cd;
  }
  c.env.insert(c.env.end(), inner.env.begin(), inner.env.end());
  c.prefix.insert(c.prefix.end(), inner.prefix.begin(), inner.prefix.end());
  if (inner.timeout) c.timeout = inner.timeout;
  if (inner.on_failure) c.on_failure = inner.on_failure;
  return c;
}

std::string_view to_string(StepKind k) {
  switch (k) {
    case StepKind::run: return "run";
    case StepKind::script: return "script";
    case StepKind::sudo: return "sudo";
    case StepKind::put: return "put";
    case StepKind::get: return "get";
    case StepKind::sync: return "sync";
    case StepKind::local: return "local";
    case StepKind::call: return "task";
    case StepKind::block: return "block";
  }
  return "step";
}

std::size_t Amount::of(std::size_t hosts) const {
  if (!percent) return static_cast<std::size_t>(count);
  std::size_t n = hosts * static_cast<std::size_t>(count) / 100;
  return n == 0 && count > 0 ? 1 : n;
}

const ParamSpec* Task::param(const std::string& wanted) const {
  for (const auto& p : params) {
    if (p.name == wanted) return &p;
  }
  return nullptr;
}

const Task* TaskFile::find(const std::string& wanted) const {
  for (const auto& t : tasks) {
    if (t.name == wanted) return &t;
  }
  return nullptr;
}

TaskFile parse_taskfile(const std::string& text, const std::filesystem::path& source) {
  Reader reader(source.string());
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion&) {
    throw TaskFileError(fmt::format("{}: nested too deeply", source.string()));
  } catch (const YAML::ParserException& e) {
    throw TaskFileError(fmt::format("{}:{}: {}", source.string(), e.mark.line + 1, e.msg));
  }
  TaskFile f = reader.file(root, source);
  check_references(f);
  return f;
}

TaskFile load_taskfile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TaskFileError(fmt::format("cannot read task file {}", path.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kMaxFileBytes) {
    throw TaskFileError(fmt::format("{}: larger than {} MiB", path.string(), kMaxFileBytes >> 20));
  }
  return parse_taskfile(text, path);
}

std::filesystem::path find_taskfile(const std::filesystem::path& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  for (const char* name : {"herdfile.yaml", "herdfile.yml"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(name, ec)) return name;
  }
  throw TaskFileError("no herdfile.yaml here (give one with -f FILE)");
}

}  // namespace herd::tasks

#include "tasks/dry_run.hpp"

#include <fmt/format.h>

#include <set>

#include "herd/shell_quote.hpp"
#include "tasks/params.hpp"
#include "tasks/template.hpp"

namespace herd::tasks {
namespace {

std::string indent(const std::string& text, const std::string& pad) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += pad + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

class Printer {
 public:
  Printer(const TaskFile& f, const HostFacts& facts) : file_(f), facts_(facts) {}

  void task(const Task& t, const std::map<std::string, Value>& params, const std::string& pad) {
    Scope scope{&t, params, {}};
    steps(t.steps, scope, Context{}, pad);
  }

  std::string out;

 private:
  struct Scope {
    const Task* task;
    std::map<std::string, Value> params;
    std::set<std::string> registered;
  };

  Lookup lookup(const Scope& scope) const {
    return [this, &scope](const std::string& name) -> std::optional<Value> {
      auto dot = name.find('.');
      const std::string head = name.substr(0, dot);
      const std::string rest = dot == std::string::npos ? std::string() : name.substr(dot + 1);
      if (head == "host") return host_field(facts_, rest);
      // A registered result is known only when the steps run: shown by name.
      if (scope.registered.count(head) != 0) return Value("<" + name + ">");
      if (auto it = scope.params.find(head); it != scope.params.end() && rest.empty()) {
        return it->second;
      }
      return std::nullopt;
    };
  }

  std::string command(const std::string& text, const Scope& scope, const Context& ctx) const {
    const Lookup look = lookup(scope);
    return command_in_context(expand(text, look, Quoting::shell), ctx, look);
  }

  void steps(const std::vector<Step>& list, Scope& scope, const Context& outer,
             const std::string& pad) {
    for (const auto& s : list) step(s, scope, outer, pad);
  }

  void step(const Step& s, Scope& scope, const Context& outer, const std::string& pad) {
    const Context ctx = outer.wrap(s.context);
    const Lookup look = lookup(scope);
    std::string head = pad + step_label(*scope.task, s);
    if (!s.when.empty()) head += fmt::format("  (when: {})", s.when);
    if (ctx.on_failure == OnFailure::cont) head += "  (warn_only)";
    if (ctx.on_failure == OnFailure::abort) head += "  (on_failure: abort)";
    if (ctx.timeout) head += fmt::format("  (timeout {} s)", ctx.timeout->count() / 1000.0);
    out += head + "\n";
    const std::string body_pad = pad + "    ";
    try {
      switch (s.kind) {
        case StepKind::block: steps(s.steps, scope, ctx, pad + "  "); break;
        case StepKind::run: out += indent("$ " + command(s.command, scope, ctx), body_pad); break;
        case StepKind::sudo: {
          const std::string inner = command(s.command, scope, ctx);
          out += indent(
              fmt::format("$ sudo -u {} -- sh -c {}",
                          shell_quote(expand(s.user, look, Quoting::none)), shell_quote(inner)),
              body_pad);
          break;
        }
        case StepKind::script: {
          std::string args;
          for (const auto& a : s.args) args += " " + shell_quote(expand(a, look, Quoting::none));
          out += indent(fmt::format("$ {}    < {}", command("sh -s --" + args, scope, ctx),
                                    expand(s.command, look, Quoting::none)),
                        body_pad);
          break;
        }
        case StepKind::local:
          out += indent("local$ " + expand(s.command, look, Quoting::shell), body_pad);
          break;
        case StepKind::put:
        case StepKind::get:
        case StepKind::sync: {
          const TransferSpec& t = s.transfer;
          std::string flags;
          if (t.recursive) flags += "-r ";
          if (t.preserve) flags += "-p ";
          if (t.remove_extra) flags += "--delete ";
          if (t.compare_checksum) flags += "--compare-checksum ";
          for (const auto& g : t.exclude) flags += "--exclude " + shell_quote(g) + " ";
          std::string sources;
          for (const auto& src : t.sources) sources += expand(src, look, Quoting::none) + " ";
          out += indent(fmt::format("{} {}{}-> {}", to_string(s.kind), flags, sources,
                                    expand(t.dest, look, Quoting::none)),
                        body_pad);
          break;
        }
        case StepKind::call: {
          const Task* callee = file_.find(s.task);
          std::vector<std::pair<std::string, std::string>> given;
          for (const auto& kv : s.with)
            given.emplace_back(kv.first, expand(kv.second, look, Quoting::none));
          task(*callee, bind_params(*callee, given), pad + "  ");
          break;
        }
      }
    } catch (const std::exception& e) {
      out += body_pad + fmt::format("(cannot show: {})\n", e.what());
    }
    if (!s.register_as.empty()) scope.registered.insert(s.register_as);
  }

  const TaskFile& file_;
  const HostFacts& facts_;
};

}  // namespace

std::string dry_run(const TaskFile& file, const Task& task,
                    const std::map<std::string, Value>& params, const HostFacts& facts) {
  Printer p(file, facts);
  p.task(task, params, "  ");
  return p.out;
}

}  // namespace herd::tasks

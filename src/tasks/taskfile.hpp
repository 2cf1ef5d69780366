// Task files (herdfile.yaml): what a task is, and reading one from YAML.
//
// Theory of operation: a task file is parsed once into plain values (TaskFile, Task, Step)
// that keep every command, path and condition as the *template* the file wrote. Nothing is
// interpolated at parse time: `{{ ... }}` is expanded per host, just before a step runs
// (template.hpp), because its values (host vars, registered results) differ from host to host
// and from step to step. Parsing checks everything that can be checked without hosts: the
// shape of each task and step, parameter types and defaults, `needs` naming real tasks without
// cycles, and that every `{{ name }}` and `when:` names a parameter, a host field or a result
// registered by an earlier step (plan.hpp). Errors are one line: `FILE:LINE: reason`.
//
// A step is one action (run, script, sudo, put, get, sync, local, task) or a block: context
// keys (cd, env, prefix, timeout, warn_only, on_failure) that wrap the block's own `steps:`,
// as Fabric's `with c.cd(...)` wraps its body. A step may also carry context keys next to its
// action; they apply to that step only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace herd::tasks {

/// A parameter, host var or registered value: nothing, a boolean, an integer, a string, or a
/// list of strings.
using Value =
    std::variant<std::monostate, bool, std::int64_t, std::string, std::vector<std::string>>;

/// The text of a value as it is interpolated: true/false, decimal, the string, or the list's
/// items joined by single spaces.
std::string to_text(const Value& v);

/// A parameter's declared type.
enum class ParamType { string, integer, boolean, list };

/// One declared parameter of a task.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::string;
  std::optional<Value> default_value;
  bool required = false;
  std::string description;
  std::vector<std::string> choices;  ///< allowed values, when given
};

/// What happens when a step fails on a host.
enum class OnFailure {
  skip_host,  ///< the host stops here and is failed; other hosts go on (the default)
  cont,       ///< the failure is noted and the host goes on (warn_only: true)
  abort,      ///< the host is failed and the whole run stops: no new host or batch starts
};

/// What a block (or a step itself) sets for the steps it wraps.
struct Context {
  std::optional<std::string> cd;                         ///< template
  std::vector<std::pair<std::string, std::string>> env;  ///< NAME, template of the value
  std::vector<std::string> prefix;                       ///< templates, outermost first
  std::optional<std::chrono::milliseconds> timeout;      ///< per command
  std::optional<OnFailure> on_failure;

  /// This context with `inner` inside it: inner values win, prefixes and env accumulate.
  Context wrap(const Context& inner) const;
};

enum class StepKind { run, script, sudo, put, get, sync, local, call, block };

/// "run", "script", "sudo", "put", "get", "sync", "local", "task", "block".
std::string_view to_string(StepKind k);

/// The file options of a put, get or sync step (the CLI's options of the same names).
struct TransferSpec {
  std::vector<std::string> sources;  ///< templates
  std::string dest;                  ///< template
  bool recursive = false;
  bool preserve = false;
  std::vector<std::string> exclude;
  bool remove_extra = false;      ///< sync: delete
  bool compare_checksum = false;  ///< sync: checksum
};

/// One step of a task.
struct Step {
  StepKind kind = StepKind::run;
  std::string id;                 ///< position in its task: "3", or "2.1" inside a block
  std::string name;               ///< given with `name:`, else made from the action
  int line = 0;                   ///< in the task file
  std::string command;            ///< run / sudo / local: template; script: the local path
  std::vector<std::string> args;  ///< script: arguments (templates)
  std::string user;               ///< sudo: as whom (default root), template
  TransferSpec transfer;          ///< put / get / sync
  std::string task;               ///< task: the task called
  std::vector<std::pair<std::string, std::string>> with;  ///< task: its arguments (templates)
  Context context;          ///< block: for its steps; else for this step only
  std::vector<Step> steps;  ///< block: what it wraps
  std::string register_as;  ///< keep this step's result under that name
  std::string when;         ///< run only if this expression holds (expr.hpp)
};

/// A rolling batch size or a failure budget: a count, or a percentage of the hosts.
struct Amount {
  std::int64_t count = 0;
  bool percent = false;
  /// The amount for `hosts` hosts: a percentage is rounded down, but never to 0 when the
  /// percentage is above 0.
  std::size_t of(std::size_t hosts) const;
};

/// One named task.
struct Task {
  std::string name;
  std::string description;
  std::string hosts;  ///< pattern (lists are joined with ','); empty: runs on the controller
  std::vector<ParamSpec> params;
  std::vector<std::string> needs;
  std::vector<Step> steps;
  std::optional<Amount> serial;    ///< rolling batches
  std::optional<Amount> max_fail;  ///< with serial: stop before the next batch beyond this
  int line = 0;

  const ParamSpec* param(const std::string& name) const;
};

/// A parsed task file.
struct TaskFile {
  std::filesystem::path path;  ///< as given; relative script paths are relative to its folder
  std::vector<Task> tasks;     ///< in file order

  const Task* find(const std::string& name) const;
};

/// A task file that cannot be used. `what()` is one line: `FILE:LINE: reason`.
class TaskFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parse `text` (`source` names it in errors and is kept as the path). Throws TaskFileError.
TaskFile parse_taskfile(const std::string& text, const std::filesystem::path& source);

/// Read and parse the file at `path`. Throws TaskFileError, also when it cannot be read.
TaskFile load_taskfile(const std::filesystem::path& path);

/// The task file to use: `explicit_path` when given, else ./herdfile.yaml, else
/// ./herdfile.yml. Throws TaskFileError naming what was looked for.
std::filesystem::path find_taskfile(const std::filesystem::path& explicit_path);

}  // namespace herd::tasks

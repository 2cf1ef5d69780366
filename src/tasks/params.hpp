// Task parameters: types, values given on the command line, and binding them to a task.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tasks/taskfile.hpp"

namespace herd::tasks {

/// "string", "int", "bool", "list".
std::string_view to_string(ParamType t);

/// The type called `name` (string/str, int/integer, bool/boolean, list), or nullopt.
std::optional<ParamType> param_type_from(std::string_view name);

/// `text` read as a value of type `t`: an integer in decimal; a boolean as true/false, yes/no,
/// on/off or 1/0; a list as comma-separated items. nullopt when it is not one.
std::optional<Value> parse_param_value(ParamType t, const std::string& text);

/// The values of a task's parameters: `given` (NAME, text) checked against the task's specs,
/// then defaults; a parameter neither given nor defaulted is nothing (empty when expanded).
/// Throws TaskFileError for an unknown name (listing the task's parameters), a value of the
/// wrong type or outside its choices, or a required parameter not given.
std::map<std::string, Value> bind_params(
    const Task& task, const std::vector<std::pair<std::string, std::string>>& given);

/// Check what parsing alone cannot: `needs` and `task:` steps name tasks that exist, without
/// cycles, and with parameters the called task has; every `{{ name }}` and `when:` names a
/// parameter of its task, `host.*`, or a result registered by an earlier step. Throws
/// TaskFileError (`FILE:LINE: reason`).
void check_references(const TaskFile& file);

/// The fields a registered result has: stdout, stderr, rc, ok, skipped.
const std::vector<std::string>& result_fields();

}  // namespace herd::tasks

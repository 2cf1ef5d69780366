// `{{ name }}` in task files: finding the names, and expanding them with herd's own quoting.
//
// A template is text with `{{ NAME }}` fields, NAME a dotted path (`version`, `host.name`,
// `check.stdout`). In a shell command (Quoting::shell) each value is quoted for the place it
// lands in, found by following the command's own quotes up to the field: outside quotes it
// becomes one shell word ('a b;touch x'), inside '...' or "..." it is escaped for that quote, so
// a value can never end the quoting it sits in. A list value outside quotes becomes one word per
// item. In other fields (paths, env values, task arguments) the text goes in as it is: herd
// quotes those itself where they meet a shell. `{{{{` is a literal `{{`.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/taskfile.hpp"

namespace herd::tasks {

/// A template or expression that cannot be parsed or names something unknown. One line.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How expanded values are written into the text.
enum class Quoting { none, shell };

/// The value of a dotted name, or nullopt when there is no such name.
using Lookup = std::function<std::optional<Value>(const std::string& name)>;

/// The names `text` refers to, in order of appearance. Throws TemplateError for an unclosed
/// field or a field that is not a dotted name.
std::vector<std::string> template_names(std::string_view text);

/// `text` with every field replaced by its value (see the top of this file). Throws
/// TemplateError naming the first unknown name.
std::string expand(std::string_view text, const Lookup& lookup, Quoting quoting);

/// True for a dotted path of identifiers (`a`, `host.name`, `r.stdout`).
bool is_dotted_name(std::string_view s);

/// True for an identifier: a letter or `_`, then letters, digits and `_`.
bool is_identifier(std::string_view s);

}  // namespace herd::tasks

// `when:` conditions: a small expression language over parameters, host vars and results.
//
//   expr    := or
//   or      := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | compare
//   compare := operand (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') operand)?
//   operand := 'string' | "string" | integer | true | false | NAME(.NAME)* | '(' expr ')'
//
// Names are looked up like template fields (`version`, `host.role`, `check.rc`). `<`, `>`,
// `<=` and `>=` compare as integers when both sides are integers (or strings that are), else
// as text; `==` compares integers as numbers and everything else as text, so `check.rc == 0`
// and `version == '1.2'` both do what they say. `a in b` is substring for text, membership for a
// list. A bare value is true unless it is false, 0, "", an empty list or nothing.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/template.hpp"

namespace herd::tasks {

/// A parsed condition.
class Condition {
 public:
  /// Parse `text`. Throws TemplateError (one line, naming the problem) when it is malformed.
  static Condition parse(std::string_view text);

  /// The names it refers to.
  const std::vector<std::string>& names() const { return names_; }
  /// Evaluate it. Throws TemplateError for a name `lookup` does not know.
  bool holds(const Lookup& lookup) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<std::string> names_;
};

/// The truth of a value (see the top of this file).
bool truthy(const Value& v);

}  // namespace herd::tasks

#include "tasks/template.hpp"

#include <fmt/format.h>

#include <cctype>

#include "herd/shell_quote.hpp"

namespace herd::tasks {
namespace {

/// Where a position of a shell command is, as far as quoting goes.
enum class ShellState { plain, single, dbl };

/// Follow sh quoting over `text` from `state`.
ShellState follow_quotes(std::string_view text, ShellState state) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (state) {
      case ShellState::plain:
        if (c == '\\') {
          ++i;  // the next character is literal
        } else if (c == '\'') {
          state = ShellState::single;
        } else if (c == '"') {
          state = ShellState::dbl;
        }
        break;
      case ShellState::single:
        if (c == '\'') state = ShellState::plain;
        break;
      case ShellState::dbl:
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          state = ShellState::plain;
        }
        break;
    }
  }
  return state;
}

std::string quote_for(const Value& v, ShellState state) {
  if (state == ShellState::plain) {
    if (const auto* list = std::get_if<std::vector<std::string>>(&v)) {
      std::string out;
      for (const auto& item : *list) out += (out.empty() ? "" : " ") + shell_quote(item);
      return out.empty() ? "''" : out;
    }
    return shell_quote(to_text(v));
  }
  const std::string text = to_text(v);
  std::string out;
  for (char c : text) {
    if (state == ShellState::single) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    } else {
      if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
      out += c;
    }
  }
  return out;
}

struct Field {
  std::size_t start = 0;  ///< of "{{"
  std::size_t end = 0;    ///< past "}}"
  std::string name;
};

/// The next field at or after `from`, or nullopt. `{{{{` is skipped (a literal `{{`).
std::optional<Field> next_field(std::string_view text, std::size_t from) {
  for (;;) {
    auto open = text.find("{{", from);
    if (open == std::string_view::npos) return std::nullopt;
    if (text.substr(open, 4) == "{{{{") {
      from = open + 4;
      continue;
    }
    auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      throw TemplateError(fmt::format("unclosed '{{{{' in '{}'", text));
    }
    std::string_view inner = text.substr(open + 2, close - open - 2);
    while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.front()))) {
      inner.remove_prefix(1);
    }
    while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.back()))) {
      inner.remove_suffix(1);
    }
    if (!is_dotted_name(inner)) {
      throw TemplateError(
          fmt::format("'{{{{ {} }}}}' is not a name (expected e.g. {{{{ version }}}} or "
                      "{{{{ host.name }}}})",
                      inner));
    }
    return Field{open, close + 2, std::string(inner)};
  }
}

/// `s` with each `{{{{` turned into `{{`.
std::string unescape(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.substr(i, 4) == "{{{{") {
      out += "{{";
      i += 4;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

bool is_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool is_dotted_name(std::string_view s) {
  if (s.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    auto part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!is_identifier(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::vector<std::string> template_names(std::string_view text) {
  std::vector<std::string> names;
  std::size_t from = 0;
  while (auto f = next_field(text, from)) {
    names.push_back(f->name);
    from = f->end;
  }
  return names;
}

std::string expand(std::string_view text, const Lookup& lookup, Quoting quoting) {
  std::string out;
  ShellState state = ShellState::plain;
  std::size_t from = 0;
  while (auto f = next_field(text, from)) {
    const std::string literal = unescape(text.substr(from, f->start - from));
    out += literal;
    if (quoting == Quoting::shell) state = follow_quotes(literal, state);
    auto value = lookup(f->name);
    if (!value) throw TemplateError(fmt::format("'{}' is not defined", f->name));
    out += quoting == Quoting::shell ? quote_for(*value, state) : to_text(*value);
    from = f->end;
  }
  out += unescape(text.substr(from));
  return out;
}

}  // namespace herd::tasks

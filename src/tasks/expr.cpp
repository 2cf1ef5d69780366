#include "tasks/expr.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace herd::tasks {

struct Condition::Node {
  enum class Kind { literal, name, op_not, op_and, op_or, compare };
  Kind kind = Kind::literal;
  Value value;       ///< literal
  std::string name;  ///< name
  std::string op;    ///< compare: == != < <= > >= in notin
  std::shared_ptr<const Node> left, right;
};

namespace {

using Node = Condition::Node;
using NodePtr = std::shared_ptr<const Node>;

struct Token {
  enum class Kind { end, name, string, integer, op, lparen, rparen };
  Kind kind = Kind::end;
  std::string text;
};

class Parser {
 public:
  Parser(std::string_view text, std::vector<std::string>& names) : text_(text), names_(names) {
    advance();
  }

  NodePtr parse() {
    auto n = parse_or();
    if (tok_.kind != Token::Kind::end) fail(fmt::format("unexpected '{}'", tok_.text));
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw TemplateError(fmt::format("when: '{}': {}", text_, why));
  }

  void advance() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    tok_ = Token{};
    if (pos_ >= text_.size()) return;
    const char c = text_[pos_];
    if (c == '(' || c == ')') {
      tok_.kind = c == '(' ? Token::Kind::lparen : Token::Kind::rparen;
      tok_.text = std::string(1, c);
      ++pos_;
      return;
    }
    if (c == '\'' || c == '"') {
      auto close = text_.find(c, pos_ + 1);
      if (close == std::string_view::npos) fail("unclosed string");
      tok_.kind = Token::Kind::string;
      tok_.text = std::string(text_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '-' && pos_ + 1 < text_.size() &&
         std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
      std::size_t end = pos_ + 1;
      while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
      tok_.kind = Token::Kind::integer;
      tok_.text = std::string(text_.substr(pos_, end - pos_));
      pos_ = end;
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t end = pos_;
      while (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) ||
                                    text_[end] == '_' || text_[end] == '.')) {
        ++end;
      }
      tok_.kind = Token::Kind::name;
      tok_.text = std::string(text_.substr(pos_, end - pos_));
      pos_ = end;
      return;
    }
    for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (text_.substr(pos_, op.size()) == op) {
        tok_.kind = Token::Kind::op;
        tok_.text = std::string(op);
        pos_ += op.size();
        return;
      }
    }
    fail(fmt::format("unexpected '{}'", c));
  }

  bool keyword(std::string_view k) const {
    return tok_.kind == Token::Kind::name && tok_.text == k;
  }

  NodePtr binary(Node::Kind kind, NodePtr l, NodePtr r, std::string op = {}) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->left = std::move(l);
    n->right = std::move(r);
    n->op = std::move(op);
    return n;
  }

  NodePtr parse_or() {
    auto l = parse_and();
    while (keyword("or")) {
      advance();
      l = binary(Node::Kind::op_or, l, parse_and());
    }
    return l;
  }

  NodePtr parse_and() {
    auto l = parse_not();
    while (keyword("and")) {
      advance();
      l = binary(Node::Kind::op_and, l, parse_not());
    }
    return l;
  }

  NodePtr parse_not() {
    if (keyword("not")) {
      advance();
      return binary(Node::Kind::op_not, parse_not(), nullptr);
    }
    return parse_compare();
  }

  NodePtr parse_compare() {
    auto l = parse_operand();
    std::string op;
    if (tok_.kind == Token::Kind::op) {
      op = tok_.text;
      advance();
    } else if (keyword("in")) {
      op = "in";
      advance();
    } else if (keyword("not")) {
      advance();
      if (!keyword("in")) fail("expected 'in' after 'not'");
      op = "notin";
      advance();
    } else {
      return l;
    }
    return binary(Node::Kind::compare, l, parse_operand(), op);
  }

  NodePtr parse_operand() {
    auto n = std::make_shared<Node>();
    switch (tok_.kind) {
      case Token::Kind::lparen: {
        advance();
        auto inner = parse_or();
        if (tok_.kind != Token::Kind::rparen) fail("missing ')'");
        advance();
        return inner;
      }
      case Token::Kind::string: n->value = tok_.text; break;
      case Token::Kind::integer: {
        std::int64_t v = 0;
        auto r = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), v);
        if (r.ec != std::errc()) fail(fmt::format("integer out of range: {}", tok_.text));
        n->value = v;
        break;
      }
      case Token::Kind::name:
        if (tok_.text == "true" || tok_.text == "false") {
          n->value = tok_.text == "true";
        } else if (tok_.text == "and" || tok_.text == "or" || tok_.text == "in" ||
                   tok_.text == "not") {
          fail(fmt::format("expected a value before '{}'", tok_.text));
        } else {
          if (!is_dotted_name(tok_.text)) fail(fmt::format("'{}' is not a name", tok_.text));
          n->kind = Node::Kind::name;
          n->name = tok_.text;
          names_.push_back(tok_.text);
        }
        break;
      case Token::Kind::end: fail("unexpected end");
      default: fail(fmt::format("unexpected '{}'", tok_.text));
    }
    advance();
    return n;
  }

  std::string_view text_;
  std::vector<std::string>& names_;
  std::size_t pos_ = 0;
  Token tok_;
};

std::optional<std::int64_t> as_integer(const Value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* s = std::get_if<std::string>(&v)) {
    std::int64_t out = 0;
    const char* b = s->data();
    const char* e = b + s->size();
    auto r = std::from_chars(b, e, out);
    if (!s->empty() && r.ec == std::errc() && r.ptr == e) return out;
  }
  return std::nullopt;
}

bool compare(const std::string& op, const Value& l, const Value& r) {
  if (op == "in" || op == "notin") {
    bool found = false;
    if (const auto* list = std::get_if<std::vector<std::string>>(&r)) {
      const std::string needle = to_text(l);
      for (const auto& item : *list) found = found || item == needle;
    } else {
      found = to_text(r).find(to_text(l)) != std::string::npos;
    }
    return op == "in" ? found : !found;
  }
  auto li = as_integer(l);
  auto ri = as_integer(r);
  const bool numeric = li && ri;
  int c = 0;
  if (numeric) {
    c = *li < *ri ? -1 : *li > *ri ? 1 : 0;
  } else {
    auto lt = to_text(l);
    auto rt = to_text(r);
    c = lt < rt ? -1 : lt > rt ? 1 : 0;
  }
  if (op == "==") return c == 0;
  if (op == "!=") return c != 0;
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;  // ">="
}

Value eval(const Node& n, const Lookup& lookup) {
  switch (n.kind) {
    case Node::Kind::literal: return n.value;
    case Node::Kind::name: {
      auto v = lookup(n.name);
      if (!v) throw TemplateError(fmt::format("when: '{}' is not defined", n.name));
      return *v;
    }
    case Node::Kind::op_not: return !truthy(eval(*n.left, lookup));
    case Node::Kind::op_and: return truthy(eval(*n.left, lookup)) && truthy(eval(*n.right, lookup));
    case Node::Kind::op_or: return truthy(eval(*n.left, lookup)) || truthy(eval(*n.right, lookup));
    case Node::Kind::compare: return compare(n.op, eval(*n.left, lookup), eval(*n.right, lookup));
  }
  return false;
}

}  // namespace

bool truthy(const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return false;
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i != 0;
  if (const auto* s = std::get_if<std::string>(&v)) return !s->empty();
  return !std::get<std::vector<std::string>>(v).empty();
}

Condition Condition::parse(std::string_view text) {
  Condition c;
  Parser p(text, c.names_);
  c.root_ = p.parse();
  return c;
}

bool Condition::holds(const Lookup& lookup) const {
  return truthy(eval(*root_, lookup));
}

}  // namespace herd::tasks

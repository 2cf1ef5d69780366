// NodeSet::parse: splits a pattern into terms at top-level operators, evaluates them left to
// right, and expands `@group` references through the resolver (cached, cycle-checked).
//
// Runs of `,` terms go into one NodeSetBuilder and are sorted once, so a pattern listing 100k
// names costs one sort, not 100k merges. A bracket term is turned into rows directly, except when
// a bracket touches a digit or another bracket ("n[1-2]0", "[1-2][3-4]"): the digit runs of the
// names then differ from the brackets, so such a term is expanded to names and each is scanned.
#include <algorithm>
#include <map>

#include "nodeset/detail.hpp"

namespace herd {
namespace {

using namespace nodeset_detail;

constexpr std::size_t kMaxGroupDepth = 64;  // nested group references

bool is_operator(char c) {
  return c == ',' || c == '!' || c == '&' || c == '^';
}
bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::string too_many() {
  return "expands to more than " + std::to_string(kMaxNodes) + " nodes";
}

struct Context {
  const GroupResolver& groups;
  std::vector<std::string> stack;  // groups being expanded, outermost first
  std::map<std::string, NodeSet, std::less<>> cache;
};

class Evaluator {
 public:
  Evaluator(std::string_view text, Context& ctx, std::string note)
      : text_(text), ctx_(ctx), note_(std::move(note)) {}

  NodeSet run() {
    NodeSetBuilder result;
    if (std::all_of(text_.begin(), text_.end(), is_blank)) return result.finish();
    char op = ',';
    std::size_t pos = 0;
    while (true) {
      std::size_t end = term_end(pos);
      std::size_t b = pos, e = end;
      while (b < e && is_blank(text_[b])) ++b;
      while (e > b && is_blank(text_[e - 1])) --e;
      if (b == e) error(end, "empty term");
      if (op == ',') {
        add_term(b, e, result);
        if (result.raw_size() > 2 * kMaxNodes && result.compact() > kMaxNodes) error(b, too_many());
      } else {
        NodeSet lhs = result.finish();
        NodeSetBuilder rhs_builder;
        add_term(b, e, rhs_builder);
        NodeSet rhs = rhs_builder.finish();
        switch (op) {
          case '!': lhs -= rhs; break;
          case '&': lhs &= rhs; break;
          default: lhs ^= rhs; break;
        }
        if (lhs.size() > kMaxNodes) error(b, too_many());
        result.add(std::move(lhs));
      }
      if (end == text_.size()) break;
      op = text_[end];
      pos = end + 1;
    }
    NodeSet out = result.finish();
    if (out.size() > kMaxNodes) error(0, too_many());
    return out;
  }

 private:
  [[noreturn]] void error(std::size_t pos, const std::string& what) const {
    fail("pattern", text_, pos, what, note_);
  }

  /// End of the term starting at `pos`: the next operator outside brackets, or the end.
  std::size_t term_end(std::size_t pos) const {
    std::size_t open = std::string_view::npos;
    for (std::size_t i = pos; i < text_.size(); ++i) {
      char c = text_[i];
      if (c == '[') {
        if (open != std::string_view::npos) error(i, "nested '['");
        open = i;
      } else if (c == ']') {
        if (open == std::string_view::npos) error(i, "unmatched ']'");
        open = std::string_view::npos;
      } else if (open == std::string_view::npos && is_operator(c)) {
        return i;
      }
    }
    if (open != std::string_view::npos) error(open, "unclosed '['");
    return text_.size();
  }

  void add_term(std::size_t b, std::size_t e, NodeSetBuilder& out) {
    if (text_[b] == '@') {
      add_group(b, e, out);
    } else {
      add_nodes(b, e, out);
    }
  }

  void add_group(std::size_t b, std::size_t e, NodeSetBuilder& out) {
    std::string_view name = text_.substr(b + 1, e - b - 1);
    if (name.empty()) error(b, "empty group name");
    for (std::size_t i = b + 1; i < e; ++i) {
      char c = text_[i];
      if (c == '[' || c == ']' || c == '@' || is_blank(c) || is_control(c))
        error(i, "unexpected " + quote_char(c) + " in group name");
    }
    std::string ref = "@" + std::string(name);
    if (!ctx_.groups) error(b, "unknown group " + ref + " (no inventory loaded)");
    auto cycle = std::find(ctx_.stack.begin(), ctx_.stack.end(), name);
    if (cycle != ctx_.stack.end()) {
      std::string chain;
      for (auto it = cycle; it != ctx_.stack.end(); ++it) chain += "@" + *it + " -> ";
      error(b, "group cycle " + chain + ref);
    }
    if (ctx_.stack.size() >= kMaxGroupDepth)
      error(b, "groups nested more than " + std::to_string(kMaxGroupDepth) + " deep");
    auto cached = ctx_.cache.find(name);
    if (cached == ctx_.cache.end()) {
      std::optional<std::vector<std::string>> members = ctx_.groups(name);
      if (!members) error(b, "unknown group " + ref);
      ctx_.stack.emplace_back(name);
      NodeSetBuilder group;
      for (const std::string& member : *members) {
        group.add(Evaluator(member, ctx_, "(in group " + ref + ")").run());
        if (group.raw_size() > 2 * kMaxNodes && group.compact() > kMaxNodes)
          error(b, "group " + ref + " " + too_many());
      }
      ctx_.stack.pop_back();
      NodeSet set = group.finish();
      if (set.size() > kMaxNodes) error(b, "group " + ref + " " + too_many());
      cached = ctx_.cache.emplace(std::string(name), std::move(set)).first;
    }
    out.add(NodeSet(cached->second));
  }

  /// A name with optional bracket ranges.
  void add_nodes(std::size_t b, std::size_t e, NodeSetBuilder& out) {
    struct Piece {
      bool bracket;
      std::size_t begin, end;  // literal text, or the range list inside the brackets
      std::vector<std::uint64_t> indexes;
    };
    std::vector<Piece> pieces;
    std::size_t product = 1;
    for (std::size_t i = b; i < e;) {
      char c = text_[i];
      if (c == '[') {
        std::size_t close = text_.find(']', i);  // term_end() checked it is there
        Piece p{true, i + 1, close, {}};
        if (close == i + 1) error(i + 1, "empty range");
        parse_ranges("pattern", text_, i + 1, text_.substr(i + 1, close - i - 1), kMaxNodes,
                     p.indexes, note_);
        std::sort(p.indexes.begin(), p.indexes.end());
        p.indexes.erase(std::unique(p.indexes.begin(), p.indexes.end()), p.indexes.end());
        if (product > kMaxNodes / p.indexes.size()) error(b, too_many());
        product *= p.indexes.size();
        pieces.push_back(std::move(p));
        i = close + 1;
        continue;
      }
      if (is_blank(c) || is_control(c) || c == '@' || c == ']')
        error(i, "unexpected " + quote_char(c) + " in node name");
      if (pieces.empty() || pieces.back().bracket) pieces.push_back({false, i, i, {}});
      pieces.back().end = ++i;
    }
    if (pieces.size() == 1 && !pieces[0].bracket) {  // a plain name: the common, fast case
      scan_name(text_.substr(b, e - b), pattern_, row_);
      out.add_row(pattern_, row_.size(), row_.data());
      return;
    }
    auto touches = [&](std::size_t k) {  // bracket piece k next to a digit or a bracket
      if (k > 0 && (pieces[k - 1].bracket || is_digit(text_[pieces[k - 1].end - 1]))) return true;
      return k + 1 < pieces.size() &&
             (pieces[k + 1].bracket || is_digit(text_[pieces[k + 1].begin]));
    };
    bool by_names = false;
    for (std::size_t k = 0; k < pieces.size(); ++k) by_names |= pieces[k].bracket && touches(k);

    // Dimensions: bracket ranges and the digit runs of the literal text (one index each).
    std::vector<std::vector<std::uint64_t>> dims;
    std::string pattern;
    for (Piece& p : pieces) {
      if (p.bracket) {
        pattern.push_back(kSlot);
        dims.push_back(by_names ? p.indexes : std::move(p.indexes));
        continue;
      }
      std::string lit_pattern;
      std::vector<std::uint64_t> lit_indexes;
      scan_name(text_.substr(p.begin, p.end - p.begin), lit_pattern, lit_indexes);
      if (by_names) {  // keep the literal as text; only brackets vary
        pattern.append(text_.substr(p.begin, p.end - p.begin));
        continue;
      }
      pattern += lit_pattern;
      for (auto idx : lit_indexes) dims.push_back({idx});
    }
    // Odometer over the dimensions, last one fastest: rows come out sorted.
    std::vector<std::size_t> at(dims.size(), 0);
    std::vector<std::uint64_t> row(dims.size());
    std::string name;
    while (true) {
      for (std::size_t k = 0; k < dims.size(); ++k) row[k] = dims[k][at[k]];
      if (by_names) {
        name.clear();
        append_name(name, pattern, row.data());
        scan_name(name, pattern_, row_);
        out.add_row(pattern_, row_.size(), row_.data());
      } else {
        out.add_row(pattern, row.size(), row.data());
      }
      std::size_t k = dims.size();
      while (k > 0 && ++at[k - 1] == dims[k - 1].size()) at[--k] = 0;
      if (k == 0) break;
    }
  }

  std::string_view text_;
  Context& ctx_;
  std::string note_;
  std::string pattern_;  // scratch for scan_name
  std::vector<std::uint64_t> row_;
};

}  // namespace

NodeSet NodeSet::parse(std::string_view pattern, const GroupResolver& groups) {
  Context ctx{groups, {}, {}};
  return Evaluator(pattern, ctx, "").run();
}

}  // namespace herd

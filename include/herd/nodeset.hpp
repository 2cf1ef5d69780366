// Host patterns: RangeSet and NodeSet, after ClusterShell's classes of the same names.
//
// Theory of operation
// -------------------
// A node name is split into a *pattern* and an *index vector*: every maximal run of 1 to 16
// decimal digits becomes one dimension. "rack1-node07" is the pattern "rack%-node%" with the
// indexes (1, 07). An index keeps its zero padding only when it shows: "07" is (7, width 2),
// "10" written as "010" is (10, width 3), "10" written in a width-2 range is just 10. So an
// index is identified by its text, and two names are equal exactly when their texts are.
//
// A NodeSet maps each pattern to the sorted set of its index vectors (a flat array with one
// row per node). Parsing builds those rows directly from the bracket ranges (no name strings);
// expansion formats names on demand; folding groups the rows dimension by dimension (rows that
// share the same folded remainder are merged on the first dimension), so
// "rack[1-2]-node[01-16]" folds back to itself. Natural order is by pattern, then by the index
// vectors numerically (width breaks ties), which is the order of expand() and iteration.
//
// Pattern syntax: terms separated by operators evaluated left to right with equal precedence
// (like ClusterShell): `,` union, `!` difference, `&` intersection, `^` symmetric difference.
// A term is a name with optional bracket ranges (`web[01-20]`, `n[1-3,7,10-12]`, `x[1-9/2]`,
// `rack[1-2]-node[01-16]`) or a group reference `@name`. Commas inside brackets belong to the
// range. Blanks around operators are ignored. Range rules follow ClusterShell: a range takes the
// width of its start ("01-20" is 2 digits, "01-100" is 01..99,100); a padded end of another
// width is an error ("1-010", "01-001": padding length mismatch); a reversed range ("5-1"), a
// zero step, an empty term or range, and an index longer than 16 digits are errors. Patterns
// that would expand to more than kMaxNodes nodes are rejected before anything is allocated.
//
// Everything here is a pure value: no I/O, no global state. Errors are PatternError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace herd {

/// A malformed pattern, an unknown or cyclic group, or a pattern too large to expand. what() is
/// one line naming the pattern, the problem and its 1-based column, e.g.
/// `pattern "web[01-": unclosed '[' at column 4`.
class PatternError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Returns the member patterns of a group (each is parsed as a pattern and may name other
/// groups), or nullopt when the group does not exist.
using GroupResolver =
    std::function<std::optional<std::vector<std::string>>(std::string_view group)>;

/// The most nodes a parsed pattern (or any intermediate result while parsing it) may hold.
inline constexpr std::size_t kMaxNodes = 1'000'000;

namespace nodeset_detail {
/// The index vectors of one pattern: `count` rows of `dims` packed indexes, sorted and unique
/// (packed index = value << 8 | width, width 0 when the index has no leading zero).
/// With dims == 0 the pattern is a plain name and count is 0 or 1.
struct Rows {
  std::size_t dims = 0;
  std::size_t count = 0;
  std::vector<std::uint64_t> data;
  friend bool operator==(const Rows&, const Rows&) = default;
};
/// Pattern ('\x01' marks a dimension) -> its rows; never holds an empty Rows.
using PatternMap = std::map<std::string, Rows, std::less<>>;
}  // namespace nodeset_detail

/// A set of non-negative integer indexes that keep their zero padding ("1-3,7", "01-20",
/// "1-9/2"). Folds to ranges without brackets.
class RangeSet {
 public:
  /// The empty set.
  RangeSet() = default;

  /// Parse a range list without brackets, e.g. "1-3,7,10-12", "01-20", "1-9/2".
  /// Throws PatternError (bad syntax, reversed range, padding mismatch, > kMaxNodes indexes).
  static RangeSet parse(std::string_view text);

  /// Number of indexes.
  std::size_t size() const noexcept { return items_.size(); }
  /// True when there are no indexes.
  bool empty() const noexcept { return items_.empty(); }
  /// True when the index written as `index` ("7", "07") is in the set.
  bool contains(std::string_view index) const;
  /// The indexes as text, in numeric order ("01", "02", ...).
  std::vector<std::string> expand() const;
  /// The shortest range list ("1-3,7,10-12"); "" when empty.
  std::string fold() const;

  /// Union.
  RangeSet& operator|=(const RangeSet& other);
  /// Intersection.
  RangeSet& operator&=(const RangeSet& other);
  /// Difference.
  RangeSet& operator-=(const RangeSet& other);
  /// Symmetric difference.
  RangeSet& operator^=(const RangeSet& other);
  /// Union.
  friend RangeSet operator|(RangeSet a, const RangeSet& b) { return a |= b; }
  /// Intersection.
  friend RangeSet operator&(RangeSet a, const RangeSet& b) { return a &= b; }
  /// Difference.
  friend RangeSet operator-(RangeSet a, const RangeSet& b) { return a -= b; }
  /// Symmetric difference.
  friend RangeSet operator^(RangeSet a, const RangeSet& b) { return a ^= b; }
  /// Same indexes (with the same padding).
  friend bool operator==(const RangeSet&, const RangeSet&) = default;

 private:
  std::vector<std::uint64_t> items_;  // packed indexes, sorted, unique
};

/// A set of node names, parsed from and folded to ClusterShell-style patterns.
class NodeSet {
 public:
  class const_iterator;

  /// The empty set.
  NodeSet() = default;

  /// Parse `pattern` (see the top of this file); `@name` terms are looked up in `groups`.
  /// Throws PatternError on bad syntax, an unknown group (or no resolver), a group cycle,
  /// or a result of more than kMaxNodes nodes.
  static NodeSet parse(std::string_view pattern, const GroupResolver& groups = {});

  /// The union of many sets at once (faster than repeated |= for many small sets).
  static NodeSet union_of(std::vector<NodeSet> sets);

  /// Number of nodes.
  std::size_t size() const noexcept;
  /// True when there are no nodes.
  bool empty() const noexcept { return patterns_.empty(); }
  /// True when the node named exactly `name` is in the set.
  bool contains(std::string_view name) const;
  /// True when every node of `other` is in this set.
  bool contains(const NodeSet& other) const;
  /// All node names in natural order.
  std::vector<std::string> expand() const;
  /// The shortest pattern for the set, e.g. "rack[1-2]-node[01-16],web[01-03]"; "" when empty.
  std::string fold() const;

  /// Union.
  NodeSet& operator|=(const NodeSet& other);
  /// Intersection.
  NodeSet& operator&=(const NodeSet& other);
  /// Difference.
  NodeSet& operator-=(const NodeSet& other);
  /// Symmetric difference.
  NodeSet& operator^=(const NodeSet& other);
  /// Union.
  friend NodeSet operator|(NodeSet a, const NodeSet& b) { return a |= b; }
  /// Intersection.
  friend NodeSet operator&(NodeSet a, const NodeSet& b) { return a &= b; }
  /// Difference.
  friend NodeSet operator-(NodeSet a, const NodeSet& b) { return a -= b; }
  /// Symmetric difference.
  friend NodeSet operator^(NodeSet a, const NodeSet& b) { return a ^= b; }
  /// Same nodes.
  friend bool operator==(const NodeSet&, const NodeSet&) = default;

  /// First node in natural order; names are formatted as the iterator is dereferenced.
  const_iterator begin() const;
  /// Past the last node.
  const_iterator end() const;

 private:
  friend class NodeSetBuilder;
  using Map = nodeset_detail::PatternMap;
  Map patterns_;
};

/// Input iterator over a NodeSet's names in natural order; dereferencing returns a new string.
class NodeSet::const_iterator {
 public:
  using iterator_category = std::input_iterator_tag;  ///< single pass over formatted names
  using value_type = std::string;                     ///< a node name
  using difference_type = std::ptrdiff_t;             ///< unused distance type
  using reference = std::string;                      ///< names are made on demand
  using pointer = void;                               ///< no operator->

  /// A singular iterator.
  const_iterator() = default;
  /// The current node's name.
  std::string operator*() const;
  /// Advance to the next node.
  const_iterator& operator++();
  /// Advance to the next node, returning the previous position.
  const_iterator operator++(int) {
    auto old = *this;
    ++*this;
    return old;
  }
  /// Same position.
  friend bool operator==(const const_iterator&, const const_iterator&) = default;

 private:
  friend class NodeSet;
  const_iterator(Map::const_iterator it, Map::const_iterator end) : it_(it), end_(end) {}
  Map::const_iterator it_{};
  Map::const_iterator end_{};
  std::size_t row_ = 0;
};

}  // namespace herd

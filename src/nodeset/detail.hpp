// Internals shared by the nodeset files: packed indexes, row sets, the bulk builder, errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "herd/nodeset.hpp"

namespace herd {

namespace nodeset_detail {

/// Marks a dimension in a pattern string; names never contain control characters.
inline constexpr char kSlot = '\x01';
/// Longest digit run that is an index; longer runs stay literal text (values < 2^54).
inline constexpr std::size_t kMaxDigits = 16;

/// A packed index: value in the high bits, printed width (0 = natural) in the low byte.
constexpr std::uint64_t pack(std::uint64_t value, unsigned width) {
  return value << 8 | width;
}
constexpr std::uint64_t value_of(std::uint64_t index) {
  return index >> 8;
}
constexpr unsigned width_of(std::uint64_t index) {
  return static_cast<unsigned>(index & 0xff);
}

/// Number of decimal digits of `v` (1 for 0).
unsigned digit_count(std::uint64_t v);
/// `width` if it shows on `v` (more than its natural digits), else 0.
inline unsigned effective_width(unsigned width, std::uint64_t v) {
  return width > digit_count(v) ? width : 0;
}
/// 10^n for n <= 16.
std::uint64_t pow10(unsigned n);
/// The packed index for a run of 1..kMaxDigits digits ("007" -> (7, 3)).
std::uint64_t index_from_digits(std::string_view digits);
/// Append an index as text, zero-filled to its width.
void append_index(std::string& out, std::uint64_t index);
/// The range list (no brackets) for sorted unique packed indexes.
std::string fold_indexes(const std::uint64_t* first, std::size_t n);

/// Split a name into its pattern and its indexes (every digit run of 1..kMaxDigits digits).
void scan_name(std::string_view name, std::string& pattern, std::vector<std::uint64_t>& indexes);
/// Append the name for one row of `pattern` (which has one kSlot per index).
void append_name(std::string& out, std::string_view pattern, const std::uint64_t* row);

/// Sort rows and drop duplicates (count 0/1 for dims == 0).
void normalize(Rows& rows);
/// Set operations on normalized rows of the same dims.
Rows unite(const Rows& a, const Rows& b);
Rows intersect(const Rows& a, const Rows& b);
Rows subtract(const Rows& a, const Rows& b);
Rows symmetric_difference(const Rows& a, const Rows& b);
/// True when every row of `b` is in `a`.
bool includes(const Rows& a, const Rows& b);
/// True when `row` is in `rows`.
bool contains_row(const Rows& rows, const std::uint64_t* row);

/// Append the folded form of one pattern's rows ("rack[1-2]-node[01-16]", comma-separated).
void fold_rows(std::string& out, std::string_view pattern, const Rows& rows);

/// One-line error: `<noun> "<text>": <what> at column <pos+1>` (text shortened and escaped).
[[noreturn]] void fail(std::string_view noun, std::string_view text, std::size_t pos,
                       std::string_view what, std::string_view context = {});

/// A character for a message: 'x', or "byte 0x0a" for a control or non-ASCII byte.
std::string quote_char(char c);

/// Parse a range list `text` found at `offset` of `whole` (for error columns), appending packed
/// indexes (unsorted, maybe repeated). Throws once `budget` indexes would be exceeded.
void parse_ranges(std::string_view noun, std::string_view whole, std::size_t offset,
                  std::string_view text, std::size_t budget, std::vector<std::uint64_t>& out,
                  std::string_view context = {});

}  // namespace nodeset_detail

/// Collects rows from many sources, then sorts them once (bulk union).
class NodeSetBuilder {
 public:
  /// Add one row of `pattern` (dims = number of kSlot in pattern).
  void add_row(std::string_view pattern, std::size_t dims, const std::uint64_t* row);
  /// Add every node of `set`.
  void add(NodeSet&& set);
  /// Rows added so far, duplicates included, after the last compaction.
  std::size_t raw_size() const { return raw_; }
  /// Sort and deduplicate now; returns the exact size.
  std::size_t compact();
  /// The set built.
  NodeSet finish();

 private:
  nodeset_detail::Rows& rows_for(std::string_view pattern, std::size_t dims);
  NodeSet::Map map_;
  nodeset_detail::Rows* last_ = nullptr;
  std::string last_pattern_;
  std::size_t raw_ = 0;
};

}  // namespace herd

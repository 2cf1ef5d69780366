// Folding rows back into bracket patterns, one dimension at a time.
//
// fold_level() turns sorted rows (all sharing dims [0, k)) into "boxes": a box is one index set
// per dimension k..d-1, standing for their cartesian product. The last dimension gives a single
// box. Above it, rows are grouped by their index at dimension k; each group's remainder is folded
// recursively; groups whose remainders fold identically are merged, their dimension-k indexes
// forming one range set. Boxes are serialized flat (per dimension: count, then indexes) so equal
// remainders compare as plain arrays.
#include <algorithm>
#include <numeric>

#include "nodeset/detail.hpp"

namespace herd::nodeset_detail {
namespace {

using Flat = std::vector<std::uint64_t>;

void fold_level(const std::uint64_t* data, std::size_t d, std::size_t begin, std::size_t end,
                std::size_t k, Flat& out) {
  if (k + 1 == d) {
    out.push_back(end - begin);
    for (std::size_t r = begin; r < end; ++r) out.push_back(data[r * d + k]);
    return;
  }
  struct Group {
    std::uint64_t index;
    std::size_t off, len;  // remainder's boxes in `arena`
  };
  Flat arena;
  std::vector<Group> groups;
  for (std::size_t r = begin; r < end;) {
    std::uint64_t index = data[r * d + k];
    std::size_t s = r;
    while (r < end && data[r * d + k] == index) ++r;
    std::size_t off = arena.size();
    fold_level(data, d, s, r, k + 1, arena);
    groups.push_back({index, off, arena.size() - off});
  }
  auto key_less = [&](std::size_t x, std::size_t y) {
    const Group& a = groups[x];
    const Group& b = groups[y];
    return std::lexicographical_compare(arena.begin() + static_cast<std::ptrdiff_t>(a.off),
                                        arena.begin() + static_cast<std::ptrdiff_t>(a.off + a.len),
                                        arena.begin() + static_cast<std::ptrdiff_t>(b.off),
                                        arena.begin() + static_cast<std::ptrdiff_t>(b.off + b.len));
  };
  std::vector<std::size_t> order(groups.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), key_less);

  // Classes of groups with equal remainders; members stay in ascending index order.
  struct Class {
    std::size_t first;  // lowest group number (output order)
    std::vector<std::uint64_t> indexes;
  };
  std::vector<Class> classes;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || key_less(order[i - 1], order[i])) classes.push_back({order[i], {}});
    classes.back().indexes.push_back(groups[order[i]].index);
  }
  std::sort(classes.begin(), classes.end(),
            [](const Class& a, const Class& b) { return a.first < b.first; });

  for (const Class& c : classes) {
    const Group& g = groups[c.first];
    std::size_t pos = g.off;
    const std::size_t stop = g.off + g.len;
    while (pos < stop) {  // one remainder box: dims k+1..d-1
      std::size_t box_start = pos;
      for (std::size_t dim = k + 1; dim < d; ++dim) pos += 1 + arena[pos];
      out.push_back(c.indexes.size());
      out.insert(out.end(), c.indexes.begin(), c.indexes.end());
      out.insert(out.end(), arena.begin() + static_cast<std::ptrdiff_t>(box_start),
                 arena.begin() + static_cast<std::ptrdiff_t>(pos));
    }
  }
}

}  // namespace

void fold_rows(std::string& out, std::string_view pattern, const Rows& rows) {
  if (rows.count == 0) return;
  if (rows.dims == 0) {
    if (!out.empty()) out.push_back(',');
    out.append(pattern);
    return;
  }
  Flat boxes;
  fold_level(rows.data.data(), rows.dims, 0, rows.count, 0, boxes);
  std::size_t pos = 0;
  while (pos < boxes.size()) {
    if (!out.empty()) out.push_back(',');
    for (char c : pattern) {
      if (c != kSlot) {
        out.push_back(c);
        continue;
      }
      std::size_t n = boxes[pos];
      const std::uint64_t* first = boxes.data() + pos + 1;
      if (n == 1) {
        append_index(out, *first);
      } else {
        out.push_back('[');
        out += fold_indexes(first, n);
        out.push_back(']');
      }
      pos += 1 + n;
    }
  }
}

}  // namespace herd::nodeset_detail

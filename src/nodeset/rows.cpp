// Row sets (the index vectors of one pattern): sorting and merge-based set operations, and the
// bulk builder that sorts once instead of merging term by term.
#include <algorithm>
#include <functional>
#include <numeric>

#include "nodeset/detail.hpp"

namespace herd {
namespace nodeset_detail {
namespace {

int compare(const std::uint64_t* a, const std::uint64_t* b, std::size_t dims) {
  for (std::size_t k = 0; k < dims; ++k) {
    if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
}

/// Walk two sorted row sets together, keeping rows only in a, only in b, and/or in both.
Rows merge(const Rows& a, const Rows& b, bool keep_a, bool keep_b, bool keep_both) {
  Rows r;
  r.dims = a.dims;
  const std::size_t d = a.dims;
  if (d == 0) {
    bool in_a = a.count > 0, in_b = b.count > 0;
    r.count =
        ((in_a && in_b && keep_both) || (in_a && !in_b && keep_a) || (!in_a && in_b && keep_b)) ? 1
                                                                                                : 0;
    return r;
  }
  auto emit = [&](const std::uint64_t* row) {
    r.data.insert(r.data.end(), row, row + d);
    ++r.count;
  };
  std::size_t i = 0, j = 0;
  while (i < a.count && j < b.count) {
    const std::uint64_t* x = a.data.data() + i * d;
    const std::uint64_t* y = b.data.data() + j * d;
    int c = compare(x, y, d);
    if (c < 0) {
      if (keep_a) emit(x);
      ++i;
    } else if (c > 0) {
      if (keep_b) emit(y);
      ++j;
    } else {
      if (keep_both) emit(x);
      ++i;
      ++j;
    }
  }
  for (; keep_a && i < a.count; ++i) emit(a.data.data() + i * d);
  for (; keep_b && j < b.count; ++j) emit(b.data.data() + j * d);
  return r;
}

}  // namespace

void normalize(Rows& rows) {
  const std::size_t d = rows.dims;
  if (d == 0) {
    rows.count = std::min<std::size_t>(rows.count, 1);
    return;
  }
  if (d == 1) {
    if (std::adjacent_find(rows.data.begin(), rows.data.end(), std::greater_equal<>()) ==
        rows.data.end()) {
      rows.count = rows.data.size();
      return;
    }
    std::sort(rows.data.begin(), rows.data.end());
    rows.data.erase(std::unique(rows.data.begin(), rows.data.end()), rows.data.end());
    rows.count = rows.data.size();
    return;
  }
  const std::uint64_t* base = rows.data.data();
  bool sorted = true;
  for (std::size_t i = 1; i < rows.count && sorted; ++i)
    sorted = compare(base + (i - 1) * d, base + i * d, d) < 0;
  if (sorted) return;
  std::vector<std::size_t> order(rows.count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    return compare(base + x * d, base + y * d, d) < 0;
  });
  std::vector<std::uint64_t> out;
  out.reserve(rows.data.size());
  std::size_t count = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::uint64_t* row = base + order[k] * d;
    if (count > 0 && compare(out.data() + (count - 1) * d, row, d) == 0) continue;
    out.insert(out.end(), row, row + d);
    ++count;
  }
  rows.data = std::move(out);
  rows.count = count;
}

Rows unite(const Rows& a, const Rows& b) {
  return merge(a, b, true, true, true);
}
Rows intersect(const Rows& a, const Rows& b) {
  return merge(a, b, false, false, true);
}
Rows subtract(const Rows& a, const Rows& b) {
  return merge(a, b, true, false, false);
}
Rows symmetric_difference(const Rows& a, const Rows& b) {
  return merge(a, b, true, true, false);
}

bool includes(const Rows& a, const Rows& b) {
  return merge(a, b, false, true, false).count == 0;
}

bool contains_row(const Rows& rows, const std::uint64_t* row) {
  const std::size_t d = rows.dims;
  if (d == 0) return rows.count > 0;
  std::size_t lo = 0, hi = rows.count;
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    int c = compare(rows.data.data() + mid * d, row, d);
    if (c == 0) return true;
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

}  // namespace nodeset_detail

using nodeset_detail::Rows;

Rows& NodeSetBuilder::rows_for(std::string_view pattern, std::size_t dims) {
  if (last_ != nullptr && last_pattern_ == pattern) return *last_;
  auto it = map_.find(pattern);
  if (it == map_.end()) it = map_.emplace(std::string(pattern), Rows{dims, 0, {}}).first;
  last_ = &it->second;
  last_pattern_.assign(pattern);
  return *last_;
}

void NodeSetBuilder::add_row(std::string_view pattern, std::size_t dims, const std::uint64_t* row) {
  Rows& rows = rows_for(pattern, dims);
  rows.data.insert(rows.data.end(), row, row + dims);
  ++rows.count;
  ++raw_;
}

void NodeSetBuilder::add(NodeSet&& set) {
  for (auto& [pattern, rows] : set.patterns_) {
    raw_ += rows.count;
    auto it = map_.find(pattern);
    if (it == map_.end()) {
      map_.emplace(pattern, std::move(rows));
      continue;
    }
    Rows& mine = it->second;
    if (mine.count == 0) {
      mine = std::move(rows);
    } else {
      mine.data.insert(mine.data.end(), rows.data.begin(), rows.data.end());
      mine.count += rows.count;
    }
  }
  last_ = nullptr;  // map_.emplace may not move nodes, but keep the cache simple
}

std::size_t NodeSetBuilder::compact() {
  raw_ = 0;
  for (auto& [pattern, rows] : map_) {
    nodeset_detail::normalize(rows);
    raw_ += rows.count;
  }
  return raw_;
}

NodeSet NodeSetBuilder::finish() {
  compact();
  NodeSet s;
  s.patterns_ = std::move(map_);
  map_.clear();
  last_ = nullptr;
  raw_ = 0;
  return s;
}

}  // namespace herd

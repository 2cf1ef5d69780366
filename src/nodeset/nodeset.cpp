// NodeSet: size, lookup, expansion, folding, set operators and iteration over the pattern map.
#include <iterator>

#include "nodeset/detail.hpp"

namespace herd {

using namespace nodeset_detail;

namespace {

/// Apply `op` to the rows of patterns present in both sets; `keep_missing_other` copies patterns
/// only `other` has (union, symmetric difference); `drop_missing` removes patterns only `mine`
/// has (intersection).
template <typename Op>
void combine(PatternMap& mine, const PatternMap& other, Op op, bool keep_missing_other,
             bool drop_missing) {
  std::vector<PatternMap::const_iterator> only_other;
  if (keep_missing_other) {
    for (auto o = other.begin(); o != other.end(); ++o) {
      if (mine.find(o->first) == mine.end()) only_other.push_back(o);
    }
  }
  for (auto it = mine.begin(); it != mine.end();) {
    auto o = other.find(it->first);
    if (o == other.end()) {
      it = drop_missing ? mine.erase(it) : std::next(it);
      continue;
    }
    it->second = op(it->second, o->second);
    it = it->second.count == 0 ? mine.erase(it) : std::next(it);
  }
  for (auto o : only_other) mine.emplace(o->first, o->second);
}

}  // namespace

NodeSet NodeSet::union_of(std::vector<NodeSet> sets) {
  NodeSetBuilder b;
  for (NodeSet& s : sets) b.add(std::move(s));
  return b.finish();
}

std::size_t NodeSet::size() const noexcept {
  std::size_t n = 0;
  for (const auto& [pattern, rows] : patterns_) n += rows.count;
  return n;
}

bool NodeSet::contains(std::string_view name) const {
  for (char c : name) {
    if (c == kSlot) return false;
  }
  std::string pattern;
  std::vector<std::uint64_t> row;
  scan_name(name, pattern, row);
  auto it = patterns_.find(pattern);
  return it != patterns_.end() && contains_row(it->second, row.data());
}

bool NodeSet::contains(const NodeSet& other) const {
  for (const auto& [pattern, rows] : other.patterns_) {
    auto it = patterns_.find(pattern);
    if (it == patterns_.end() || !includes(it->second, rows)) return false;
  }
  return true;
}

std::vector<std::string> NodeSet::expand() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (auto it = begin(); it != end(); ++it) out.push_back(*it);
  return out;
}

std::string NodeSet::fold() const {
  std::string out;
  for (const auto& [pattern, rows] : patterns_) fold_rows(out, pattern, rows);
  return out;
}

NodeSet& NodeSet::operator|=(const NodeSet& other) {
  combine(patterns_, other.patterns_, unite, true, false);
  return *this;
}

NodeSet& NodeSet::operator&=(const NodeSet& other) {
  combine(patterns_, other.patterns_, intersect, false, true);
  return *this;
}

NodeSet& NodeSet::operator-=(const NodeSet& other) {
  combine(patterns_, other.patterns_, subtract, false, false);
  return *this;
}

NodeSet& NodeSet::operator^=(const NodeSet& other) {
  combine(patterns_, other.patterns_, symmetric_difference, true, false);
  return *this;
}

NodeSet::const_iterator NodeSet::begin() const {
  return const_iterator(patterns_.begin(), patterns_.end());
}

NodeSet::const_iterator NodeSet::end() const {
  return const_iterator(patterns_.end(), patterns_.end());
}

std::string NodeSet::const_iterator::operator*() const {
  std::string name;
  const Rows& rows = it_->second;
  append_name(name, it_->first, rows.data.data() + row_ * rows.dims);
  return name;
}

NodeSet::const_iterator& NodeSet::const_iterator::operator++() {
  if (++row_ >= it_->second.count) {
    ++it_;
    row_ = 0;
  }
  return *this;
}

}  // namespace herd

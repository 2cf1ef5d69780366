// RangeSet: range list parsing ("01-20,30-40/2") and folding, shared with NodeSet's brackets.
#include <algorithm>
#include <iterator>

#include "nodeset/detail.hpp"

namespace herd {
namespace nodeset_detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// A maximal run of consecutive values printed with one width.
struct Run {
  std::uint64_t lo, hi;
  unsigned width;
};

}  // namespace

std::string quote_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
  }
  return std::string("'") + c + "'";
}

void parse_ranges(std::string_view noun, std::string_view whole, std::size_t offset,
                  std::string_view text, std::size_t budget, std::vector<std::uint64_t>& out,
                  std::string_view context) {
  std::size_t produced = 0;
  std::size_t i = 0;
  auto err = [&](std::size_t pos, const std::string& what) {
    fail(noun, whole, offset + pos, what, context);
  };
  // A number at i: returns its digits; errors name the column.
  auto number = [&](const char* role) {
    std::size_t j = i;
    while (j < text.size() && is_digit(text[j])) ++j;
    if (j == i) {
      if (i < text.size() && text[i] != ',')
        err(i, "unexpected " + quote_char(text[i]) + " in range (expected " + role + ")");
      err(i, std::string("missing ") + role + " in range");
    }
    if (j - i > kMaxDigits) err(i, "number longer than 16 digits in range");
    std::string_view digits = text.substr(i, j - i);
    i = j;
    return digits;
  };
  while (true) {
    std::size_t item = i;
    if (i >= text.size() || text[i] == ',') err(i, "empty range");
    std::string_view first = number("number");
    std::uint64_t lo_index = index_from_digits(first);
    std::uint64_t lo = value_of(lo_index);
    std::uint64_t hi = lo;
    std::uint64_t step = 1;
    auto width = static_cast<unsigned>(first.size());
    if (width_of(lo_index) == 0) width = 0;
    if (i < text.size() && text[i] == '-') {
      ++i;
      std::size_t end_pos = i;
      std::string_view last = number("end");
      std::uint64_t hi_index = index_from_digits(last);
      hi = value_of(hi_index);
      if (width_of(hi_index) != 0 && width_of(hi_index) != width)
        err(end_pos,
            "padding length mismatch in range " + std::string(first) + "-" + std::string(last));
      if (hi < lo) err(item, "reversed range " + std::string(first) + "-" + std::string(last));
      if (i < text.size() && text[i] == '/') {
        ++i;
        std::size_t step_pos = i;
        std::uint64_t s = value_of(index_from_digits(number("step")));
        if (s == 0) err(step_pos, "step must be at least 1");
        step = s;
      }
    }
    if (i < text.size() && text[i] != ',')
      err(i, "unexpected " + quote_char(text[i]) + " in range");
    std::uint64_t n = (hi - lo) / step + 1;
    if (n > budget - produced)
      err(item, "expands to more than " + std::to_string(kMaxNodes) + " nodes");
    produced += static_cast<std::size_t>(n);
    // Below 10^(width-1) the width shows; from there on the natural form is the same text.
    std::uint64_t natural_from = width > 0 ? pow10(width - 1) : 0;
    for (std::uint64_t v = lo, k = 0; k < n; ++k, v += step)
      out.push_back(pack(v, v < natural_from ? width : 0));
    if (i >= text.size()) break;
    ++i;  // ','
  }
}

std::string fold_indexes(const std::uint64_t* first, std::size_t n) {
  // Runs per width class (width 0 = natural), each in ascending order.
  std::vector<std::pair<unsigned, std::vector<Run>>> classes;
  for (std::size_t k = 0; k < n; ++k) {
    std::uint64_t v = value_of(first[k]);
    unsigned w = width_of(first[k]);
    auto c = std::find_if(classes.begin(), classes.end(), [&](auto& e) { return e.first == w; });
    if (c == classes.end()) c = classes.insert(classes.end(), {w, {}});
    auto& runs = c->second;
    if (!runs.empty() && runs.back().hi + 1 == v) {
      runs.back().hi = v;
    } else {
      runs.push_back({v, v, w});
    }
  }
  std::sort(classes.begin(), classes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // A padded run ending just below 10^(width-1) continues into natural-width values:
  // "01-09" + "10-20" print as "01-20" (parsing "01-20" gives back exactly those indexes).
  if (!classes.empty() && classes.front().first == 0) {
    auto& natural = classes.front().second;
    for (std::size_t c = 1; c < classes.size(); ++c) {
      Run& last = classes[c].second.back();
      std::uint64_t boundary = pow10(classes[c].first - 1);
      if (last.hi + 1 != boundary) continue;
      auto it = std::upper_bound(natural.begin(), natural.end(), boundary,
                                 [](std::uint64_t v, const Run& r) { return v < r.lo; });
      if (it == natural.begin()) continue;
      --it;
      if (it->hi < boundary) continue;
      last.hi = it->hi;
      if (it->lo == boundary) {
        natural.erase(it);
      } else {
        it->hi = boundary - 1;
      }
    }
  }
  std::vector<Run> all;
  for (auto& c : classes) all.insert(all.end(), c.second.begin(), c.second.end());
  std::sort(all.begin(), all.end(), [](const Run& a, const Run& b) {
    return a.lo != b.lo ? a.lo < b.lo : a.width < b.width;
  });
  std::string out;
  for (const Run& r : all) {
    if (!out.empty()) out.push_back(',');
    append_index(out, pack(r.lo, r.width));
    if (r.hi != r.lo) {
      out.push_back('-');
      append_index(out, pack(r.hi, r.width));
    }
  }
  return out;
}

}  // namespace nodeset_detail

using namespace nodeset_detail;

RangeSet RangeSet::parse(std::string_view text) {
  RangeSet r;
  parse_ranges("range set", text, 0, text, kMaxNodes, r.items_);
  std::sort(r.items_.begin(), r.items_.end());
  r.items_.erase(std::unique(r.items_.begin(), r.items_.end()), r.items_.end());
  return r;
}

bool RangeSet::contains(std::string_view index) const {
  if (index.empty() || index.size() > kMaxDigits) return false;
  if (!std::all_of(index.begin(), index.end(), is_digit)) return false;
  return std::binary_search(items_.begin(), items_.end(), index_from_digits(index));
}

std::vector<std::string> RangeSet::expand() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (auto i : items_) {
    out.emplace_back();
    append_index(out.back(), i);
  }
  return out;
}

std::string RangeSet::fold() const {
  return fold_indexes(items_.data(), items_.size());
}

RangeSet& RangeSet::operator|=(const RangeSet& other) {
  std::vector<std::uint64_t> r;
  std::set_union(items_.begin(), items_.end(), other.items_.begin(), other.items_.end(),
                 std::back_inserter(r));
  items_ = std::move(r);
  return *this;
}

RangeSet& RangeSet::operator&=(const RangeSet& other) {
  std::vector<std::uint64_t> r;
  std::set_intersection(items_.begin(), items_.end(), other.items_.begin(), other.items_.end(),
                        std::back_inserter(r));
  items_ = std::move(r);
  return *this;
}

RangeSet& RangeSet::operator-=(const RangeSet& other) {
  std::vector<std::uint64_t> r;
  std::set_difference(items_.begin(), items_.end(), other.items_.begin(), other.items_.end(),
                      std::back_inserter(r));
  items_ = std::move(r);
  return *this;
}

RangeSet& RangeSet::operator^=(const RangeSet& other) {
  std::vector<std::uint64_t> r;
  std::set_symmetric_difference(items_.begin(), items_.end(), other.items_.begin(),
                                other.items_.end(), std::back_inserter(r));
  items_ = std::move(r);
  return *this;
}

}  // namespace herd

// RangeSet / NodeSet: parsing, padding, folding, operators, groups, errors, guards, speed; and
// the logic of `herd nodes`.
#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "cli/commands.hpp"
#include "herd/nodeset.hpp"

namespace herd {
namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const PatternError& e) {
    return e.what();
  }
  return "(no error)";
}

// ---------------------------------------------------------------- RangeSet

struct RangeCase {
  const char* text;
  const char* folded;
  std::size_t size;
};

class RangeSetFold : public testing::TestWithParam<RangeCase> {};

TEST_P(RangeSetFold, FoldsToShortestText) {
  const auto& c = GetParam();
  RangeSet r = RangeSet::parse(c.text);
  EXPECT_EQ(r.fold(), c.folded);
  EXPECT_EQ(r.size(), c.size);
  EXPECT_EQ(r.expand().size(), c.size);
  EXPECT_EQ(RangeSet::parse(r.fold()), r);  // round trip
  EXPECT_EQ(RangeSet::parse(join(r.expand())), r);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RangeSetFold,
    testing::Values(RangeCase{"1-3,7,10-12", "1-3,7,10-12", 7}, RangeCase{"01-20", "01-20", 20},
                    RangeCase{"1-9/2", "1,3,5,7,9", 5}, RangeCase{"3,1,2", "1-3", 3},
                    RangeCase{"1-2,2-3", "1-3", 3}, RangeCase{"01-100", "01-100", 100},
                    RangeCase{"1,01", "1,01", 2}, RangeCase{"1-2,01-02", "1-2,01-02", 4},
                    RangeCase{"0-10", "0-10", 11}, RangeCase{"00-10", "00-10", 11},
                    RangeCase{"001-099,100-105", "001-105", 105}, RangeCase{"08-11", "08-11", 4},
                    RangeCase{"9,10", "9-10", 2}, RangeCase{"5", "5", 1},
                    RangeCase{"0-20/10", "0,10,20", 3}, RangeCase{"007", "007", 1},
                    RangeCase{"1-1000000", "1-1000000", 1000000}));

TEST(RangeSet, ContainsKeepsPadding) {
  RangeSet r = RangeSet::parse("01-20");
  EXPECT_TRUE(r.contains("07"));
  EXPECT_TRUE(r.contains("10"));
  EXPECT_FALSE(r.contains("7"));
  EXPECT_FALSE(r.contains("21"));
  EXPECT_FALSE(r.contains("x"));
  EXPECT_EQ(RangeSet::parse("8-11").expand(), (std::vector<std::string>{"8", "9", "10", "11"}));
  EXPECT_EQ(RangeSet::parse("08-11").expand(), (std::vector<std::string>{"08", "09", "10", "11"}));
}

TEST(RangeSet, Operators) {
  RangeSet a = RangeSet::parse("1-10"), b = RangeSet::parse("5-15");
  EXPECT_EQ((a | b).fold(), "1-15");
  EXPECT_EQ((a & b).fold(), "5-10");
  EXPECT_EQ((a - b).fold(), "1-4");
  EXPECT_EQ((a ^ b).fold(), "1-4,11-15");
  EXPECT_TRUE((a - a).empty());
  EXPECT_EQ(RangeSet().fold(), "");
}

struct ErrorCase {
  const char* text;
  const char* message;  // the whole what()
};

class RangeSetErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(RangeSetErrors, OneLineWithColumn) {
  EXPECT_EQ(error_of([&] { RangeSet::parse(GetParam().text); }), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RangeSetErrors,
    testing::Values(
        ErrorCase{"5-1", "range set \"5-1\": reversed range 5-1 at column 1"},
        ErrorCase{"1-010",
                  "range set \"1-010\": padding length mismatch in range 1-010 at column 3"},
        ErrorCase{"01-001",
                  "range set \"01-001\": padding length mismatch in range 01-001 at column 4"},
        ErrorCase{"", "range set \"\": empty range at column 1"},
        ErrorCase{"1,,2", "range set \"1,,2\": empty range at column 3"},
        ErrorCase{"1,", "range set \"1,\": empty range at column 3"},
        ErrorCase{"1-", "range set \"1-\": missing end in range at column 3"},
        ErrorCase{"a", "range set \"a\": unexpected 'a' in range (expected number) at column 1"},
        ErrorCase{"1-5/0", "range set \"1-5/0\": step must be at least 1 at column 5"},
        ErrorCase{"1-2-3", "range set \"1-2-3\": unexpected '-' in range at column 4"},
        ErrorCase{"3/2", "range set \"3/2\": unexpected '/' in range at column 2"},
        ErrorCase{"0-1000000",
                  "range set \"0-1000000\": expands to more than 1000000 nodes at column 1"},
        ErrorCase{"12345678901234567",
                  "range set \"12345678901234567\": number longer than 16 digits in range at "
                  "column 1"}));

// ---------------------------------------------------------------- NodeSet folding

struct FoldCase {
  const char* pattern;
  const char* folded;
  std::size_t size;
};

class NodeSetFold : public testing::TestWithParam<FoldCase> {};

TEST_P(NodeSetFold, ParsesAndFolds) {
  const auto& c = GetParam();
  NodeSet s = NodeSet::parse(c.pattern);
  EXPECT_EQ(s.fold(), c.folded);
  EXPECT_EQ(s.size(), c.size);
  auto names = s.expand();
  EXPECT_EQ(names.size(), c.size);
  EXPECT_EQ(NodeSet::parse(s.fold()), s);     // fold parses back to the same set
  EXPECT_EQ(NodeSet::parse(join(names)), s);  // so do the expanded names
  EXPECT_EQ(NodeSet::parse(join(names)).fold(), c.folded);
  for (const auto& n : names) EXPECT_TRUE(s.contains(n)) << n;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeSetFold,
    testing::Values(
        FoldCase{"web[01-20]", "web[01-20]", 20},
        FoldCase{"node[1-3,7,10-12]", "node[1-3,7,10-12]", 7},
        FoldCase{"host1,host2", "host[1-2]", 2}, FoldCase{"host2,host1,host2", "host[1-2]", 2},
        FoldCase{"rack[1-2]-node[01-16]", "rack[1-2]-node[01-16]", 32},
        FoldCase{"rack1-node[01-16],rack2-node[01-16]", "rack[1-2]-node[01-16]", 32},
        FoldCase{"rack[1-3]-node[1-2],rack[4]-node[1-2]", "rack[1-4]-node[1-2]", 8},
        FoldCase{"a[1-3]-b[1-3]!a2-b2", "a[1,3]-b[1-3],a2-b[1,3]", 8}, FoldCase{"web", "web", 1},
        FoldCase{"b,a", "a,b", 2}, FoldCase{"node1,node2,node3,node5", "node[1-3,5]", 4},
        FoldCase{"node[1-10]", "node[1-10]", 10}, FoldCase{"node[08-11]", "node[08-11]", 4},
        FoldCase{"n[1-2]0", "n[10,20]", 2}, FoldCase{"n1[0-2]", "n[10-12]", 3},
        FoldCase{"[1-2][3-4]", "[13-14,23-24]", 4}, FoldCase{"n[0-1]0", "n[00,10]", 2},
        FoldCase{"x[1-9/2]", "x[1,3,5,7,9]", 5}, FoldCase{"n01,n1", "n[1,01]", 2},
        FoldCase{"da1c2", "da1c2", 1}, FoldCase{"da[1-2]c[3-4]", "da[1-2]c[3-4]", 4},
        FoldCase{"x12345678901234567", "x12345678901234567", 1}, FoldCase{" a , b ", "a,b", 2},
        FoldCase{"", "", 0}, FoldCase{"r[1-2]-s[1-2]-t[1-2]", "r[1-2]-s[1-2]-t[1-2]", 8},
        FoldCase{"r[1-2]-s[1-2]-t[1-2]!r1-s1-t1", "r1-s1-t2,r1-s2-t[1-2],r2-s[1-2]-t[1-2]", 7},
        FoldCase{"web[1-3].example.com", "web[1-3].example.com", 3},
        FoldCase{"n[1-100000]", "n[1-100000]", 100000}));

TEST(NodeSet, ExpandsInNaturalOrder) {
  EXPECT_EQ(NodeSet::parse("n10,n9,m1,n1-1,n").expand(),
            (std::vector<std::string>{"m1", "n", "n9", "n10", "n1-1"}));
  EXPECT_EQ(NodeSet::parse("rack[1-2]-node[1-2]").expand(),
            (std::vector<std::string>{"rack1-node1", "rack1-node2", "rack2-node1", "rack2-node2"}));
}

TEST(NodeSet, FoldOfSortedListExpandsBackToIt) {
  const std::vector<std::vector<std::string>> lists = {
      {"web01", "web02", "web03", "web10"},
      {"a", "b", "c1", "c2"},
      {"rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02", "rack3-node01"},
      {"n8", "n9", "n10", "n010"},
  };
  for (const auto& list : lists) {
    NodeSet s = NodeSet::parse(join(list));
    EXPECT_EQ(NodeSet::parse(s.fold()).expand(), list) << s.fold();
  }
}

TEST(NodeSet, IterationMatchesExpand) {
  NodeSet s = NodeSet::parse("b[1-3],a[01-02]-x[1-2],c");
  std::vector<std::string> seen;
  for (const std::string& name : s) seen.push_back(name);
  EXPECT_EQ(seen, s.expand());
  EXPECT_EQ(std::vector<std::string>(s.begin(), s.end()), seen);
  EXPECT_EQ(seen.size(), s.size());
  NodeSet empty;
  EXPECT_EQ(empty.begin(), empty.end());
}

TEST(NodeSet, Contains) {
  NodeSet s = NodeSet::parse("web[01-20],db");
  EXPECT_TRUE(s.contains("web07"));
  EXPECT_TRUE(s.contains("db"));
  EXPECT_FALSE(s.contains("web7"));
  EXPECT_FALSE(s.contains("web21"));
  EXPECT_FALSE(s.contains("db1"));
  EXPECT_FALSE(s.contains(std::string_view("web\x01", 4)));
  EXPECT_TRUE(s.contains(NodeSet::parse("web[02-04],db")));
  EXPECT_FALSE(s.contains(NodeSet::parse("web[19-21]")));
  EXPECT_TRUE(s.contains(NodeSet()));
}

// ---------------------------------------------------------------- operators

struct OpCase {
  const char* pattern;
  const char* folded;
};

class NodeSetOperators : public testing::TestWithParam<OpCase> {};

TEST_P(NodeSetOperators, LeftToRight) {
  EXPECT_EQ(NodeSet::parse(GetParam().pattern).fold(), GetParam().folded);
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeSetOperators,
    testing::Values(OpCase{"n[1-10]!n[3-5]", "n[1-2,6-10]"}, OpCase{"n[1-10]&n[5-15]", "n[5-10]"},
                    OpCase{"n[1-10]^n[5-15]", "n[1-4,11-15]"},
                    OpCase{"n[1-5],n[6-10]!n[4-7]", "n[1-3,8-10]"},  // not n[1-5,8-10]
                    OpCase{"n[1-5]!n3,n3", "n[1-5]"}, OpCase{"n[1-5]&n[2-3],n9", "n[2-3,9]"},
                    OpCase{"a,b^b,c", "a,c"}, OpCase{"n[1-5] ! n2", "n[1,3-5]"},
                    OpCase{"n[1-3]!n[1-3]", ""}, OpCase{"a!b", "a"}, OpCase{"a&b", ""},
                    OpCase{"x[1-2]-y[1-2]&x1-y[1-5]", "x1-y[1-2]"}));

TEST(NodeSet, MethodOperators) {
  NodeSet a = NodeSet::parse("n[1-10],a"), b = NodeSet::parse("n[5-15],b");
  EXPECT_EQ((a | b).fold(), "a,b,n[1-15]");
  EXPECT_EQ((a & b).fold(), "n[5-10]");
  EXPECT_EQ((a - b).fold(), "a,n[1-4]");
  EXPECT_EQ((a ^ b).fold(), "a,b,n[1-4,11-15]");
  EXPECT_TRUE((a ^ a).empty());
  EXPECT_EQ(NodeSet::union_of({a, b, NodeSet::parse("c")}), a | b | NodeSet::parse("c"));
}

// ---------------------------------------------------------------- groups

GroupResolver test_groups() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> groups = {
      {"web", {"web[01-04]"}}, {"db", {"db1", "db2"}},   {"all", {"@web", "@db"}},
      {"loop1", {"@loop2"}},   {"loop2", {"@loop1"}},    {"self", {"x", "@self"}},
      {"bad", {"web[01-"}},    {"big", {"n[1-600000]"}}, {"ops", {"n[1-10]!n[2-9]", "m1"}},
      {"empty", {}},
  };
  return [](std::string_view name) -> std::optional<std::vector<std::string>> {
    auto it = groups.find(name);
    if (it == groups.end()) return std::nullopt;
    return it->second;
  };
}

class NodeSetGroups : public testing::TestWithParam<OpCase> {};

TEST_P(NodeSetGroups, Resolve) {
  EXPECT_EQ(NodeSet::parse(GetParam().pattern, test_groups()).fold(), GetParam().folded);
}

INSTANTIATE_TEST_SUITE_P(Table, NodeSetGroups,
                         testing::Values(OpCase{"@web", "web[01-04]"},
                                         OpCase{"@all", "db[1-2],web[01-04]"},
                                         OpCase{"@all!@db", "web[01-04]"},
                                         OpCase{"@web&web[03-09]", "web[03-04]"},
                                         OpCase{"@ops", "m1,n[1,10]"}, OpCase{"@empty,a", "a"},
                                         OpCase{"@web,@web,@all", "db[1-2],web[01-04]"},
                                         OpCase{"@big,@big", "n[1-600000]"}));

class NodeSetErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(NodeSetErrors, OneLineWithColumn) {
  std::string msg = error_of([&] { NodeSet::parse(GetParam().text, test_groups()); });
  EXPECT_EQ(msg, GetParam().message);
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeSetErrors,
    testing::Values(
        ErrorCase{"web[01-", "pattern \"web[01-\": unclosed '[' at column 4"},
        ErrorCase{"web]", "pattern \"web]\": unmatched ']' at column 4"},
        ErrorCase{"a,,b", "pattern \"a,,b\": empty term at column 3"},
        ErrorCase{"a,", "pattern \"a,\": empty term at column 3"},
        ErrorCase{"!a", "pattern \"!a\": empty term at column 1"},
        ErrorCase{"n[5-1]", "pattern \"n[5-1]\": reversed range 5-1 at column 3"},
        ErrorCase{"n[1-010]",
                  "pattern \"n[1-010]\": padding length mismatch in range 1-010 at column 5"},
        ErrorCase{"n[]", "pattern \"n[]\": empty range at column 3"},
        ErrorCase{"n[1-2[3]]", "pattern \"n[1-2[3]]\": nested '[' at column 6"},
        ErrorCase{"a b", "pattern \"a b\": unexpected ' ' in node name at column 2"},
        ErrorCase{"a\nb", "pattern \"a\\x0ab\": unexpected byte 0x0a in node name at column 2"},
        ErrorCase{"a@b", "pattern \"a@b\": unexpected '@' in node name at column 2"},
        ErrorCase{"@", "pattern \"@\": empty group name at column 1"},
        ErrorCase{"@a[1]", "pattern \"@a[1]\": unexpected '[' in group name at column 3"},
        ErrorCase{"n[1-1000001]",
                  "pattern \"n[1-1000001]\": expands to more than 1000000 nodes at column 3"},
        ErrorCase{"a[1-1000]b[1-1001]",
                  "pattern \"a[1-1000]b[1-1001]\": expands to more than 1000000 nodes at column 1"},
        ErrorCase{"n[1-600000],m[1-600000]",
                  "pattern \"n[1-600000],m[1-600000]\": expands to more than 1000000 nodes at "
                  "column 1"},
        ErrorCase{"n[1-600000]^m[1-600000]",
                  "pattern \"n[1-600000]^m[1-600000]\": expands to more than 1000000 nodes at "
                  "column 13"},
        ErrorCase{"@big,m[1-600000]",
                  "pattern \"@big,m[1-600000]\": expands to more than 1000000 nodes at column 1"},
        ErrorCase{"a,@nope", "pattern \"a,@nope\": unknown group @nope at column 3"},
        ErrorCase{"@loop1",
                  "pattern \"@loop1\": group cycle @loop1 -> @loop2 -> @loop1 at column 1 (in "
                  "group @loop2)"},
        ErrorCase{"@self",
                  "pattern \"@self\": group cycle @self -> @self at column 1 (in group "
                  "@self)"},
        ErrorCase{"@bad", "pattern \"web[01-\": unclosed '[' at column 4 (in group @bad)"}));

TEST(NodeSet, NoResolverMeansNoGroups) {
  EXPECT_EQ(error_of([] { NodeSet::parse("a,@x"); }),
            "pattern \"a,@x\": unknown group @x (no inventory loaded) at column 3");
}

TEST(NodeSet, ErrorIsInvalidArgument) {
  EXPECT_THROW(NodeSet::parse("["), std::invalid_argument);
}

TEST(NodeSet, LongPatternShortenedInMessage) {
  std::string p(200, 'a');
  p += "]";
  std::string msg = error_of([&] { NodeSet::parse(p); });
  EXPECT_LT(msg.size(), 150u) << msg;
  EXPECT_NE(msg.find("...\": unmatched ']' at column 201"), std::string::npos) << msg;
}

TEST(NodeSet, MillionNodeGuardAllowsExactlyTheLimit) {
  EXPECT_EQ(NodeSet::parse("n[1-1000000]").size(), kMaxNodes);
  EXPECT_EQ(NodeSet::parse("n[1-1000000],n[1-1000000],n[1-1000000]").size(), kMaxNodes);
  EXPECT_EQ(NodeSet::parse("[1-1000]-[1-1000]").size(), kMaxNodes);
  EXPECT_EQ(NodeSet::parse("[1-1000][1-1000]").size(), 911062u);  // "1"+"11" == "11"+"1"
  // Huge ranges are rejected from their bounds, before anything is allocated.
  EXPECT_THROW(NodeSet::parse("n[0-9999999999999999]"), PatternError);
  EXPECT_THROW(NodeSet::parse("a[1-100000]b[1-100000]c[1-100000]"), PatternError);
}

// ---------------------------------------------------------------- speed

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(NodeSetSpeed, ParseExpandFold100k) {
  auto t0 = std::chrono::steady_clock::now();
  NodeSet s = NodeSet::parse("n[1-100000]");
  auto names = s.expand();
  double expand_ms = ms_since(t0);
  ASSERT_EQ(names.size(), 100000u);

  std::string list = join(names);
  t0 = std::chrono::steady_clock::now();
  std::string folded = NodeSet::parse(list).fold();
  double fold_ms = ms_since(t0);
  EXPECT_EQ(folded, "n[1-100000]");

  std::vector<NodeSet> singles;
  for (const auto& n : names) singles.push_back(NodeSet::parse(n));
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(NodeSet::union_of(std::move(singles)).fold(), "n[1-100000]");
  double union_ms = ms_since(t0);
  RecordProperty("expand_ms", std::to_string(expand_ms));
  RecordProperty("fold_ms", std::to_string(fold_ms));
  // Generous bounds: sanitizer builds are several times slower than release (~5-20 ms here).
  EXPECT_LT(expand_ms, 1000);
  EXPECT_LT(fold_ms, 1000);
  EXPECT_LT(union_ms, 1000);
}

}  // namespace

// ---------------------------------------------------------------- herd nodes

namespace cli {
namespace {

std::string nodes(std::vector<std::string> patterns, NodesOptions o = {}) {
  o.patterns = std::move(patterns);
  return nodes_output(o, test_groups());
}

TEST(NodesCommand, FoldsUnionByDefault) {
  EXPECT_EQ(nodes({"host1", "host2", "host3,host7"}), "host[1-3,7]\n");
  EXPECT_EQ(nodes({"rack1-node[01-16]", "rack2-node[01-16]"}), "rack[1-2]-node[01-16]\n");
  EXPECT_EQ(nodes({"@all"}), "db[1-2],web[01-04]\n");
  NodesOptions f;
  f.fold = true;
  EXPECT_EQ(nodes({"n3", "n1", "n2"}, f), "n[1-3]\n");
}

TEST(NodesCommand, ExpandCountExclude) {
  NodesOptions e;
  e.expand = true;
  EXPECT_EQ(nodes({"web[01-03]"}, e), "web01 web02 web03\n");
  e.separator = "\\n";
  EXPECT_EQ(nodes({"web[01-03]"}, e), "web01\nweb02\nweb03\n");
  NodesOptions c;
  c.count = true;
  c.exclude = {"n[5-10]", "n1"};
  EXPECT_EQ(nodes({"n[1-100]"}, c), "93\n");
  NodesOptions x;
  x.exclude = {"@db"};
  EXPECT_EQ(nodes({"@all"}, x), "web[01-04]\n");
}

TEST(NodesCommand, ErrorsAndNoInventorySeam) {
  EXPECT_THROW(nodes({"web[01-"}), PatternError);
  NodesOptions o;
  o.patterns = {"@web"};
  EXPECT_EQ(error_of([&] { nodes_output(o, {}); }),
            "pattern \"@web\": unknown group @web (no inventory loaded) at column 1");
}

}  // namespace
}  // namespace cli
}  // namespace herd

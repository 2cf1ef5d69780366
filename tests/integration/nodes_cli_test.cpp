// `herd nodes` end to end: the binary's output and exit codes (needs no SSH host).
#include <gtest/gtest.h>

#include "lab.hpp"

namespace herd::test {
namespace {

TEST(NodesCli, FoldsExpandsCounts) {
  auto r = run_herd({"nodes", "host1", "host2", "host3,host7"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "host[1-3,7]\n");
  EXPECT_EQ(run_herd({"nodes", "-e", "web[01-03]"}).out, "web01 web02 web03\n");
  EXPECT_EQ(run_herd({"nodes", "-e", "-S", "\\n", "web[01-02]"}).out, "web01\nweb02\n");
  EXPECT_EQ(run_herd({"nodes", "-c", "-x", "n[5-10]", "n[1-100]"}).out, "94\n");
  EXPECT_EQ(run_herd({"nodes", "[1-2][3-4]"}).out, "[13-14,23-24]\n");  // not a CLI11 list
  EXPECT_EQ(run_herd({"nodes"}, "a1 a2\na3\n").out, "a[1-3]\n");        // patterns on stdin
}

TEST(NodesCli, PatternErrorsAreOneLineExitTwo) {
  auto r = run_herd({"nodes", "web[01-"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "herd: pattern \"web[01-\": unclosed '[' at column 4\n");
  auto g = run_herd({"nodes", "@db"});
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_EQ(g.err, "herd: pattern \"@db\": unknown group @db (no inventory loaded) at column 1\n");
  EXPECT_EQ(run_herd({"nodes", "-e", "-c", "a"}).exit_code, 2);
}

}  // namespace
}  // namespace herd::test

#include <gtest/gtest.h>

#include "herd/shell_quote.hpp"

namespace herd {
namespace {

TEST(ShellQuote, PlainWordsStayPlain) {
  EXPECT_EQ(shell_quote("abc-1.2/x"), "abc-1.2/x");
}

TEST(ShellQuote, EverythingElseIsOneQuotedWord) {
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$(rm -rf /);`x`"), "'$(rm -rf /);`x`'");
  EXPECT_EQ(shell_quote("a=b"), "'a=b'") << "never an assignment word";
  EXPECT_EQ(shell_quote("~root"), "'~root'") << "no tilde expansion";
}

}  // namespace
}  // namespace herd

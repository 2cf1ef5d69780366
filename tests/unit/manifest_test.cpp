// Release manifests: parsing, formatting, and refusing entries that could leave the directory.
#include <gtest/gtest.h>

#include "herd/manifest.hpp"

namespace herd {
namespace {

const std::string kSha(64, 'a');

TEST(Manifest, ParsesSeqAndEntriesOfBothKinds) {
  auto m = parse_manifest("herd-manifest 1\nseq 42\n17 bin/app\n# comment\n\nsha256:" + kSha +
                              " lib/a.so\r\n",
                          kManifestMagic, "m");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->seq, 42u);
  ASSERT_EQ(m->entries.size(), 2u);
  EXPECT_EQ(m->entries.at("bin/app"), "17");
  EXPECT_EQ(m->entries.at("lib/a.so"), "sha256:" + kSha);
  EXPECT_EQ(token_sha256(m->entries.at("lib/a.so")), kSha);
  EXPECT_FALSE(token_sha256("17"));
}

TEST(Manifest, FormatRoundTrips) {
  Manifest m;
  m.seq = 7;
  m.entries = {{"b", "3"}, {"a/x y", "sha256:" + kSha}};
  auto text = format_manifest(m, kPullStateMagic);
  EXPECT_EQ(text, "herd-pull-state 1\nseq 7\nsha256:" + kSha + " a/x y\n3 b\n");
  auto back = parse_manifest(text, kPullStateMagic, "s");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->entries, m.entries);
  EXPECT_EQ(back->seq, 7u);
}

TEST(Manifest, RefusesWhatCouldEscapeOrIsMalformed) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "m:0: empty"},
      {"herd-manifest 2\nseq 1\n", "m:1: expected 'herd-manifest 1'"},
      {"herd-manifest 1\n1 a\n", "m:2: expected 'seq N'"},
      {"herd-manifest 1\nseq x\n", "m:2: expected 'seq N'"},
      {"herd-manifest 1\nseq 1\n1 ../etc/passwd\n", "m:3: '../etc/passwd' is not a relative"},
      {"herd-manifest 1\nseq 1\n1 /etc/passwd\n", "m:3: '/etc/passwd' is not a relative"},
      {"herd-manifest 1\nseq 1\n1 a//b\n", "m:3: 'a//b' is not"},
      {"herd-manifest 1\nseq 1\n1 a/./b\n", "m:3: 'a/./b' is not"},
      {"herd-manifest 1\nseq 1\n1 dir/\n", "m:3: 'dir/' is not"},
      {"herd-manifest 1\nseq 1\nsha256:abc a\n", "m:3: bad sequence number or checksum"},
      {"herd-manifest 1\nseq 1\n-1 a\n", "m:3: bad sequence number"},
      {"herd-manifest 1\nseq 1\nnospace\n", "m:3: expected 'SEQ PATH'"},
      {"herd-manifest 1\nseq 1\n1 a\n2 a\n", "m:4: 'a' is listed twice"},
      {"herd-manifest 1\n", "no 'seq N' line"},
  };
  for (const auto& c : cases) {
    auto m = parse_manifest(c.text, kManifestMagic, "m");
    ASSERT_FALSE(m) << c.text;
    EXPECT_NE(m.error().message.find(c.error), std::string::npos)
        << c.text << " -> " << m.error().message;
    EXPECT_EQ(m.error().message.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace herd

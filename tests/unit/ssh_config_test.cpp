// ssh_config lookup: ssh(1)'s first-value-wins rules, patterns, Include, tokens, errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "herd/session.hpp"
#include "herd/ssh_config.hpp"

namespace herd {
namespace {

namespace fs = std::filesystem;

SshConfig parse(const std::string& text) {
  auto c = SshConfig::parse(text, "/etc/test_config");
  if (!c) throw std::runtime_error(c.error().message);
  return *c;
}

TEST(SshPattern, Wildcards) {
  EXPECT_TRUE(ssh_pattern_match("web*", "web01"));
  EXPECT_TRUE(ssh_pattern_match("web?1", "WEB01"));
  EXPECT_TRUE(ssh_pattern_match("*", ""));
  EXPECT_TRUE(ssh_pattern_match("*.lan*", "a.lan.b"));
  EXPECT_FALSE(ssh_pattern_match("web?", "web01"));
  EXPECT_FALSE(ssh_pattern_match("db*", "web01"));
  EXPECT_TRUE(ssh_pattern_list_match({"db*", "web*"}, "web01"));
  EXPECT_FALSE(ssh_pattern_list_match({"*", "!bastion"}, "bastion"));
  EXPECT_TRUE(ssh_pattern_list_match({"*,!bastion"}, "web01"));
  EXPECT_FALSE(ssh_pattern_list_match({"!web01"}, "web02")) << "only negations never match";
}

TEST(SshConfig, FirstValueWinsAcrossBlocks) {
  auto c = parse(
      "Host web*\n  User deploy\n  Port 2201\n"
      "Host web01\n  User other\n  HostName 10.0.0.1\n"
      "Host *\n  User fallback\n  Port 22\n  ConnectTimeout 7\n");
  auto h = c.lookup("web01");
  EXPECT_EQ(h.user, "deploy");
  EXPECT_EQ(h.port, 2201);
  EXPECT_EQ(h.hostname, "10.0.0.1");
  EXPECT_EQ(h.connect_timeout, std::chrono::seconds(7));
  auto other = c.lookup("db1");
  EXPECT_EQ(other.user, "fallback");
  EXPECT_FALSE(other.hostname);
}

TEST(SshConfig, GlobalLinesBeforeFirstHost) {
  auto c = parse("User everyone\nHost web01\n  User ignored\n");
  EXPECT_EQ(c.lookup("web01").user, "everyone");
}

TEST(SshConfig, NegationExcludesBlock) {
  auto c = parse("Host * !bastion\n  ProxyJump bastion\n");
  EXPECT_EQ(c.lookup("web01").proxy_jump, "bastion");
  EXPECT_FALSE(c.lookup("bastion").proxy_jump);
}

TEST(SshConfig, EqualsSignQuotesAndComments) {
  auto c = parse("Host=web01 # trailing comment\n  IdentityFile=\"/keys/my key\"\n"
                 "  StrictHostKeyChecking Accept-New\n  IdentitiesOnly yes\n");
  auto h = c.lookup("web01");
  EXPECT_EQ(h.identity_files, std::vector<std::string>{"/keys/my key"});
  EXPECT_EQ(h.strict_host_key_checking, "accept-new");
  EXPECT_EQ(h.identities_only, true);
}

TEST(SshConfig, IdentityFilesAccumulateAndExpandTokens) {
  ::setenv("HOME", "/home/op", 1);
  auto c = parse("Host web01\n  HostName %h.example\n  User deploy\n  Port 2222\n"
                 "  IdentityFile ~/.ssh/%h_%r_%p\n  IdentityFile %d/k_%u_%n_%%\n"
                 "Host *\n  IdentityFile ~/.ssh/%h_%r_%p\n  IdentityFile /shared/key\n"
                 "  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2\n");
  auto h = c.lookup("web01", "alice");
  EXPECT_EQ(h.hostname, "web01.example");
  std::vector<std::string> want{"/home/op/.ssh/web01.example_deploy_2222",
                                "/home/op/k_alice_web01_%", "/shared/key"};
  EXPECT_EQ(h.identity_files, want);
  EXPECT_EQ(h.user_known_hosts_files,
            (std::vector<std::string>{"/home/op/.ssh/kh1", "/etc/kh2"}));
}

TEST(SshConfig, MatchBlocksAndUnknownDirectivesIgnored) {
  auto c = parse("Host web01\n  ForwardAgent yes\n  User a\n"
                 "Match host web01\n  User from-match\n"
                 "Host *\n  SendEnv LANG\n");
  EXPECT_EQ(c.lookup("web01").user, "a");
  EXPECT_FALSE(c.lookup("db").user) << "Match block must not apply";
}

TEST(SshConfig, ErrorsNameFileAndLine) {
  auto bad_port = SshConfig::parse("Host a\n  Port 99999\n", "/tmp/cfg");
  ASSERT_FALSE(bad_port);
  EXPECT_EQ(bad_port.error().code, Errc::bad_config);
  EXPECT_NE(bad_port.error().message.find("/tmp/cfg:2"), std::string::npos)
      << bad_port.error().message;
  auto missing = SshConfig::parse("Host a\n\n  User\n", "/tmp/cfg");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/tmp/cfg:3"), std::string::npos);
  EXPECT_FALSE(SshConfig::parse("Host a\n  IdentitiesOnly maybe\n", "x"));
  EXPECT_FALSE(SshConfig::parse("Host a\n  StrictHostKeyChecking sometimes\n", "x"));
  EXPECT_FALSE(SshConfig::parse("Host a\n  User \"unterminated\n", "x"));
  EXPECT_FALSE(SshConfig::parse("Host\n", "x"));
  EXPECT_FALSE(SshConfig::load("/nonexistent/ssh_config"));
}

TEST(SshConfig, IncludeWithGlobKeepsHostCondition) {
  char tmpl[] = "/tmp/herd-cfg-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  fs::create_directories(dir / "conf.d");
  std::ofstream(dir / "conf.d" / "a.conf") << "User included-user\n";
  std::ofstream(dir / "conf.d" / "b.conf") << "Host db*\n  Port 5022\n";
  std::ofstream(dir / "config") << "Host web01\n  Include conf.d/*.conf\n  HostName after-include\n"
                                << "Host *\n  HostName generic\n";
  auto c = SshConfig::load(dir / "config");
  ASSERT_TRUE(c) << c.error().message;
  auto web = c->lookup("web01");
  EXPECT_EQ(web.user, "included-user");
  EXPECT_EQ(web.hostname, "after-include") << "the Host web01 condition resumes after Include";
  EXPECT_FALSE(web.port);
  auto db = c->lookup("db1");
  EXPECT_EQ(db.port, 5022);
  EXPECT_FALSE(db.user) << "a.conf was included under Host web01 only";
  EXPECT_EQ(db.hostname, "generic");
  fs::remove_all(dir);
}

TEST(SshConfig, IncludeRecursionIsAnError) {
  char tmpl[] = "/tmp/herd-cfg-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  std::ofstream(dir / "loop") << "Include loop\n";
  auto c = SshConfig::load(dir / "loop");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("nested too deeply"), std::string::npos);
  fs::remove_all(dir);
}

TEST(ResolveTarget, OptionsBeatSshConfigAndPolicyMapping) {
  char tmpl[] = "/tmp/herd-cfg-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  std::ofstream(dir / "config") << "Host web01\n  HostName 10.1.1.1\n  Port 2200\n  User cfguser\n"
                                << "  StrictHostKeyChecking no\n  UserKnownHostsFile /kh\n";
  SessionOptions o;
  o.host = "web01";
  o.ssh_config = dir / "config";
  auto t = resolve_target(o);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->hostname, "10.1.1.1");
  EXPECT_EQ(t->port, 2200);
  EXPECT_EQ(t->user, "cfguser");
  EXPECT_EQ(t->host_key_policy, HostKeyPolicy::auto_add) << "'no' adds new keys, never 'off'";
  EXPECT_EQ(t->known_hosts, "/kh");
  o.port = 22;
  o.user = "cli";
  o.host_key_policy = HostKeyPolicy::strict;
  t = resolve_target(o);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 22);
  EXPECT_EQ(t->user, "cli");
  EXPECT_EQ(t->host_key_policy, HostKeyPolicy::strict);
  EXPECT_EQ(t->display(), "web01 (cli@10.1.1.1:22)");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace herd

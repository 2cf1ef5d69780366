// Authentication against the lab's real sshd: keys of every type, passphrase, agent, password,
// and the failures (each naming what was tried).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "lab.hpp"

namespace herd::test {
namespace {

std::string run_id(Session& s) {
  std::string out;
  auto r = s.exec({.command = "id -un"}, {.on_stdout = [&](std::string_view d) { out += d; }});
  EXPECT_TRUE(r.has_value());
  return out;
}

class KeyAuth : public ::testing::TestWithParam<const char*> {};

TEST_P(KeyAuth, LogsInWithKeyFile) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.key_files = {lab.env(GetParam())};
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(run_id(*s), lab.user() + "\n");
  ASSERT_EQ(s->auth_attempts().size(), 1u);
  EXPECT_NE(s->auth_attempts()[0].find(lab.env(GetParam())), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Types, KeyAuth,
                         ::testing::Values("HERD_LAB_KEY_ED25519", "HERD_LAB_KEY_RSA",
                                           "HERD_LAB_KEY_ECDSA"));

TEST(Auth, InMemoryKey) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.key_files.clear();
  std::ifstream in(lab.env("HERD_LAB_KEY_ED25519"));
  o.private_keys.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(run_id(*s), lab.user() + "\n");
}

TEST(Auth, EncryptedKeyWithPassphrase) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.key_files = {lab.env("HERD_LAB_KEY_ENCRYPTED")};
  o.passphrase = lab.env("HERD_LAB_KEY_PASSPHRASE");
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(run_id(*s), lab.user() + "\n");
}

TEST(Auth, EncryptedKeyWithoutPassphraseFailsNamingTheKey) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.key_files = {lab.env("HERD_LAB_KEY_ENCRYPTED")};
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::auth_failed);
  EXPECT_NE(s.error().message.find(lab.env("HERD_LAB_KEY_ENCRYPTED")), std::string::npos);
  EXPECT_NE(s.error().message.find("passphrase"), std::string::npos) << s.error().message;
}

TEST(Auth, WrongKeyIsAnAuthErrorNamingMethods) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.key_files = {lab.env("HERD_LAB_KEY_UNAUTHORIZED")};
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().kind(), ErrorKind::auth);
  EXPECT_EQ(s.error().phase, Phase::auth);
  const auto& m = s.error().message;
  EXPECT_NE(m.find("publickey (" + lab.env("HERD_LAB_KEY_UNAUTHORIZED") + ")"), std::string::npos)
      << m;
  EXPECT_NE(m.find("server accepts publickey,password"), std::string::npos) << m;
}

TEST(Auth, Agent) {
  auto& lab = Lab::get();
  auto dir = lab.temp_dir("agent");
  auto sock = (dir / "agent.sock").string();
  auto started = run_shell("ssh-agent -a " + sock + " -s");
  ASSERT_EQ(started.exit_code, 0) << started.err;
  auto pos = started.out.find("SSH_AGENT_PID=");
  ASSERT_NE(pos, std::string::npos);
  std::string pid = started.out.substr(pos + 14, started.out.find(';', pos) - pos - 14);
  auto add = run_shell("SSH_AUTH_SOCK=" + sock + " ssh-add " + lab.env("HERD_LAB_KEY_RSA"));
  EXPECT_EQ(add.exit_code, 0) << add.err;

  ::setenv("SSH_AUTH_SOCK", sock.c_str(), 1);
  auto o = lab.options();
  o.key_files.clear();
  o.allow_agent = true;
  auto s = Session::connect(o);
  ::unsetenv("SSH_AUTH_SOCK");
  run_shell("kill " + pid);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->auth_attempts(), std::vector<std::string>{"agent"});
  EXPECT_EQ(run_id(*s), lab.user() + "\n");
}

TEST(Auth, Password) {
  auto& lab = Lab::get();
  if (!lab.is_root()) GTEST_SKIP() << "password login needs a root-mode lab";
  auto o = lab.options();
  o.key_files.clear();
  o.user = lab.env("HERD_LAB_PASSWORD_USER");
  o.password = lab.env("HERD_LAB_PASSWORD");
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->auth_attempts(), std::vector<std::string>{"password"});
  EXPECT_EQ(run_id(*s), lab.env("HERD_LAB_PASSWORD_USER") + "\n");
}

TEST(Auth, WrongPasswordNamesMethodsAndNeverTheSecret) {
  auto& lab = Lab::get();
  if (!lab.is_root()) GTEST_SKIP() << "password login needs a root-mode lab";
  auto o = lab.options();
  o.key_files.clear();
  o.user = lab.env("HERD_LAB_PASSWORD_USER");
  o.password = "not-the-password-" + std::to_string(::getpid());
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::auth_failed);
  EXPECT_NE(s.error().message.find("tried password"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find(*o.password), std::string::npos);
}

TEST(Auth, NothingToTry) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.key_files.clear();
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::auth_failed);
  EXPECT_NE(s.error().message.find("tried nothing"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace herd::test

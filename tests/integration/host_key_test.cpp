// Host-key policies against the lab's real sshd. Server 2 is reserved for the changed-key test.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "lab.hpp"

namespace herd::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string key_line(const std::string& type_prefix, std::uint16_t port, const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string want = "[127.0.0.1]:" + std::to_string(port) + " " + type_prefix;
  while (std::getline(in, line)) {
    if (line.starts_with(want)) return line;
  }
  return {};
}

std::string fingerprint_of(const std::filesystem::path& pub) {
  auto r = run_shell("ssh-keygen -lf " + pub.string());
  std::istringstream in(r.out);
  std::string bits, fp;
  in >> bits >> fp;
  return fp;
}

TEST(HostKey, UnknownHostRefusedUnderStrict) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.known_hosts = lab.temp_dir("strict") / "known_hosts";  // does not exist
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::host_key_unknown);
  EXPECT_NE(s.error().message.find("not known"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("SHA256:"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(*o.known_hosts)) << "strict must not write known_hosts";
}

TEST(HostKey, AcceptNewRecordsOnceThenStrictAccepts) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.known_hosts = lab.temp_dir("tofu") / "known_hosts";
  o.host_key_policy = HostKeyPolicy::accept_new;
  auto first = Session::connect(o);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  std::string recorded = slurp(*o.known_hosts);
  EXPECT_EQ(recorded, "[127.0.0.1]:" + std::to_string(lab.port()) + " " +
                          first->server_key().type + " " + first->server_key().base64 + "\n");
  o.host_key_policy = HostKeyPolicy::strict;
  auto second = Session::connect(o);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(slurp(*o.known_hosts), recorded);
}

TEST(HostKey, AutoAddWarns) {
  auto& lab = Lab::get();
  auto o = lab.options();
  o.known_hosts = lab.temp_dir("autoadd") / "known_hosts";
  o.host_key_policy = HostKeyPolicy::auto_add;
  std::string warning;
  o.on_warning = [&](std::string_view w) { warning += w; };
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_NE(warning.find("unverified host key"), std::string::npos) << warning;
  EXPECT_NE(slurp(*o.known_hosts).find(s->server_key().base64), std::string::npos);
}

TEST(HostKey, HashedKnownHostsEntryMatches) {
  auto& lab = Lab::get();
  auto o = lab.options();
  auto kh = *o.known_hosts;
  ASSERT_EQ(run_shell("ssh-keygen -H -f " + kh.string()).exit_code, 0);
  ASSERT_EQ(slurp(kh).find("127.0.0.1"), std::string::npos) << "entries should be hashed now";
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
}

TEST(HostKey, RevokedKeyRefused) {
  auto& lab = Lab::get();
  auto o = lab.options();
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value());
  {
    std::ofstream out(*o.known_hosts, std::ios::app);
    out << "@revoked * " << s->server_key().type << " " << s->server_key().base64 << "\n";
  }
  auto again = Session::connect(o);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::host_key_revoked);
  EXPECT_NE(again.error().message.find("REVOKED"), std::string::npos);
}

TEST(HostKey, ConcurrentFirstContactsRecordOneEntry) {
  auto& lab = Lab::get();
  auto base = lab.options();
  base.known_hosts = lab.temp_dir("concurrent") / "known_hosts";
  base.host_key_policy = HostKeyPolicy::accept_new;
  constexpr int kSessions = 12;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&] {
      if (Session::connect(base).has_value()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kSessions);
  std::string text = slurp(*base.known_hosts);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

// Changed key: restart server 2 with new host keys. Refused under every policy but off, the
// message names host, offered fingerprint, file and line, and known_hosts is untouched.
TEST(HostKey, ChangedKeyRefusedAndKnownHostsUnchanged) {
  auto& lab = Lab::get();
  auto o = lab.options(2);
  o.host_key_policy = HostKeyPolicy::accept_new;
  ASSERT_TRUE(Session::connect(o).has_value());
  const std::string before = slurp(*o.known_hosts);
  const std::string old_line = key_line("ssh-ed25519", lab.port(2), before);
  ASSERT_FALSE(old_line.empty());

  ASSERT_EQ(lab.lab_command({"rekey", lab.dir().string(), "2"}), 0);
  std::string new_fp = fingerprint_of(lab.dir() / "hostkeys/2/ssh_host_ed25519_key.pub");
  ASSERT_TRUE(new_fp.starts_with("SHA256:"));

  for (auto policy : {HostKeyPolicy::strict, HostKeyPolicy::accept_new, HostKeyPolicy::auto_add}) {
    o.host_key_policy = policy;
    auto s = Session::connect(o);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, Errc::host_key_changed);
    const auto& m = s.error().message;
    EXPECT_NE(m.find("[127.0.0.1]:" + std::to_string(lab.port(2))), std::string::npos) << m;
    EXPECT_NE(m.find(new_fp), std::string::npos) << m;
    // The line number of the recorded ed25519 entry in the file.
    std::istringstream in(before);
    std::string line;
    int n = 0, want = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line == old_line) want = n;
    }
    EXPECT_NE(m.find(o.known_hosts->string() + ":" + std::to_string(want)), std::string::npos) << m;
    EXPECT_EQ(slurp(*o.known_hosts), before) << "known_hosts must be byte-for-byte unchanged";
  }
  o.host_key_policy = HostKeyPolicy::off;
  EXPECT_TRUE(Session::connect(o).has_value());
  EXPECT_EQ(slurp(*o.known_hosts), before);
}

}  // namespace
}  // namespace herd::test

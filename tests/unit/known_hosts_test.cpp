// known_hosts: matching, hashing, conflicts, and locked atomic updates, checked against
// OpenSSH's own ssh-keygen where it has an opinion.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "herd/known_hosts.hpp"

namespace herd {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/herd-unit-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string sh(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = ::pclose(p);
  if (status != nullptr) *status = WEXITSTATUS(rc);
  return out;
}

/// A real key made by ssh-keygen: its HostKey and its fingerprint as ssh-keygen prints it.
struct RealKey {
  HostKey key;
  std::string fingerprint;
  RealKey(const fs::path& dir, const std::string& name, const std::string& type) {
    auto file = dir / name;
    sh("ssh-keygen -q -t " + type + " -N '' -f " + file.string());
    std::istringstream pub(slurp(file.string() + ".pub"));
    pub >> key.type >> key.base64;
    std::istringstream fp(sh("ssh-keygen -lf " + file.string() + ".pub"));
    std::string bits;
    fp >> bits >> fingerprint;
  }
};

class KnownHostsTest : public ::testing::Test {
 protected:
  TempDir dir;
  RealKey ed{dir.path, "ed", "ed25519"};
  RealKey ed2{dir.path, "ed2", "ed25519"};
  RealKey ec{dir.path, "ec", "ecdsa"};
};

TEST_F(KnownHostsTest, FingerprintMatchesSshKeygen) {
  EXPECT_EQ(ed.key.fingerprint_sha256(), ed.fingerprint);
  EXPECT_EQ(ec.key.fingerprint_sha256(), ec.fingerprint);
}

TEST_F(KnownHostsTest, NameFormat) {
  EXPECT_EQ(known_hosts_name("Web01", 22), "web01");
  EXPECT_EQ(known_hosts_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
}

TEST_F(KnownHostsTest, PlainPortAndPatterns) {
  auto kh = KnownHosts::parse("# comment\n\n"
                              "web01,10.0.0.1 " + ed.key.type + " " + ed.key.base64 + "\n"
                              "[db.example]:2222 " + ec.key.type + " " + ec.key.base64 + "\n"
                              "*.lan,!bad.lan " + ed2.key.type + " " + ed2.key.base64 + "\n");
  using S = HostKeyCheck::Status;
  EXPECT_EQ(kh.check("web01", 22, ed.key).status, S::known);
  EXPECT_EQ(kh.check("WEB01", 22, ed.key).status, S::known);
  EXPECT_EQ(kh.check("10.0.0.1", 22, ed.key).status, S::known);
  EXPECT_EQ(kh.check("web01", 2200, ed.key).status, S::unknown) << "port is part of the name";
  EXPECT_EQ(kh.check("db.example", 2222, ec.key).status, S::known);
  EXPECT_EQ(kh.check("a.lan", 22, ed2.key).status, S::known);
  EXPECT_EQ(kh.check("bad.lan", 22, ed2.key).status, S::unknown) << "negated pattern";
  EXPECT_EQ(kh.entries().size(), 3u);
  EXPECT_EQ(kh.entries()[0].line, 3u);
}

TEST_F(KnownHostsTest, ChangedKeyNamesTheLine) {
  auto kh = KnownHosts::parse("other " + ec.key.type + " " + ec.key.base64 + "\n" +
                              "web01 " + ed.key.type + " " + ed.key.base64 + "\n");
  auto c = kh.check("web01", 22, ed2.key);
  EXPECT_EQ(c.status, HostKeyCheck::Status::changed);
  ASSERT_TRUE(c.conflict);
  EXPECT_EQ(c.conflict->line, 2u);
  EXPECT_EQ(c.conflict->key, ed.key);
}

TEST_F(KnownHostsTest, OnlyOtherTypeRecordedIsChanged) {
  auto kh = KnownHosts::parse("web01 " + ec.key.type + " " + ec.key.base64 + "\n");
  EXPECT_EQ(kh.check("web01", 22, ed.key).status, HostKeyCheck::Status::changed);
  EXPECT_EQ(kh.known_types("web01", 22), std::vector<std::string>{ec.key.type});
}

TEST_F(KnownHostsTest, SeveralKeyTypesPerHost) {
  auto kh = KnownHosts::parse("web01 " + ec.key.type + " " + ec.key.base64 + "\n" +
                              "web01 " + ed.key.type + " " + ed.key.base64 + "\n");
  EXPECT_EQ(kh.check("web01", 22, ed.key).status, HostKeyCheck::Status::known);
  EXPECT_EQ(kh.check("web01", 22, ec.key).status, HostKeyCheck::Status::known);
  EXPECT_EQ(kh.known_types("web01", 22).size(), 2u);
}

TEST_F(KnownHostsTest, RevokedWinsOverKnown) {
  auto kh = KnownHosts::parse("web01 " + ed.key.type + " " + ed.key.base64 + "\n" +
                              "@revoked * " + ed.key.type + " " + ed.key.base64 + "\n");
  auto c = kh.check("web01", 22, ed.key);
  EXPECT_EQ(c.status, HostKeyCheck::Status::revoked);
  EXPECT_EQ(c.conflict->line, 2u);
  EXPECT_EQ(kh.check("web01", 22, ed2.key).status, HostKeyCheck::Status::changed);
}

TEST_F(KnownHostsTest, MalformedLinesIgnored) {
  auto kh = KnownHosts::parse("garbage\nweb01 ssh-ed25519 not*base64\n@weird h t AAAA\n");
  EXPECT_TRUE(kh.entries().empty());
}

TEST_F(KnownHostsTest, HashedBySshKeygenIsMatched) {
  auto file = dir.path / "known_hosts";
  std::ofstream(file) << "[127.0.0.1]:2222 " << ed.key.type << " " << ed.key.base64 << "\n";
  int status = 0;
  sh("ssh-keygen -H -f " + file.string() + " 2>&1", &status);
  ASSERT_EQ(status, 0);
  ASSERT_TRUE(slurp(file).starts_with("|1|")) << slurp(file);
  auto kh = KnownHosts::load(file);
  ASSERT_TRUE(kh);
  EXPECT_EQ(kh->check("127.0.0.1", 2222, ed.key).status, HostKeyCheck::Status::known);
  EXPECT_EQ(kh->check("127.0.0.1", 2223, ed.key).status, HostKeyCheck::Status::unknown);
}

TEST_F(KnownHostsTest, HashedByHerdIsFoundBySshKeygen) {
  auto file = dir.path / "known_hosts";
  auto wrote = KnownHosts::record_locked(file, "127.0.0.1", 2222, ed.key, /*hash=*/true);
  ASSERT_TRUE(wrote && *wrote);
  EXPECT_EQ(slurp(file).find("127.0.0.1"), std::string::npos);
  int status = 0;
  sh("ssh-keygen -F '[127.0.0.1]:2222' -f " + file.string(), &status);
  EXPECT_EQ(status, 0);
  sh("ssh-keygen -F '[127.0.0.1]:2223' -f " + file.string(), &status);
  EXPECT_NE(status, 0);
}

TEST_F(KnownHostsTest, MissingFileIsEmptyAndRecordCreatesIt0600) {
  auto file = dir.path / "sub" / "known_hosts";
  auto kh = KnownHosts::load(file);
  ASSERT_TRUE(kh);
  EXPECT_TRUE(kh->entries().empty());
  auto wrote = KnownHosts::record_locked(file, "web01", 22, ed.key);
  ASSERT_TRUE(wrote && *wrote);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(slurp(file), "web01 " + ed.key.type + " " + ed.key.base64 + "\n");
  auto again = KnownHosts::record_locked(file, "web01", 22, ed.key);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again) << "already recorded: no second entry";
}

TEST_F(KnownHostsTest, RecordKeepsExistingBytesAndMode) {
  auto file = dir.path / "known_hosts";
  std::string original = "# keep me\n\n  web09 " + ec.key.type + " " + ec.key.base64 + " a comment\n";
  std::ofstream(file) << original;
  ::chmod(file.c_str(), 0644);
  auto wrote = KnownHosts::record_locked(file, "web01", 22, ed.key);
  ASSERT_TRUE(wrote && *wrote);
  EXPECT_EQ(slurp(file), original + "web01 " + ed.key.type + " " + ed.key.base64 + "\n");
  struct stat st {};
  ::stat(file.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(KnownHostsTest, RecordRefusesWhenAnotherKeyIsRecorded) {
  auto file = dir.path / "known_hosts";
  ASSERT_TRUE(KnownHosts::record_locked(file, "web01", 22, ed.key));
  const std::string before = slurp(file);
  auto wrote = KnownHosts::record_locked(file, "web01", 22, ed2.key);
  ASSERT_FALSE(wrote);
  EXPECT_EQ(wrote.error().code, Errc::host_key_changed);
  EXPECT_EQ(slurp(file), before);
}

void record_all(const fs::path& file, const HostKey& key, int hosts) {
  for (int h = 0; h < hosts; ++h) {
    (void)KnownHosts::record_locked(file, "host" + std::to_string(h), 22, key);
  }
}

void expect_each_once(const fs::path& file, const HostKey& key, int hosts) {
  auto kh = KnownHosts::load(file);
  ASSERT_TRUE(kh);
  ASSERT_EQ(kh->entries().size(), static_cast<std::size_t>(hosts)) << slurp(file);
  for (int h = 0; h < hosts; ++h) {
    EXPECT_EQ(kh->check("host" + std::to_string(h), 22, key).status, HostKeyCheck::Status::known);
  }
  std::string text = slurp(file);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), hosts);
}

TEST_F(KnownHostsTest, ConcurrentThreadsNeverDuplicateOrTear) {
  auto file = dir.path / "threads_known_hosts";
  constexpr int kThreads = 16, kHosts = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(record_all, file, ed.key, kHosts);
  for (auto& t : threads) t.join();
  expect_each_once(file, ed.key, kHosts);
}

TEST_F(KnownHostsTest, ConcurrentProcessesNeverDuplicateOrTear) {
  auto file = dir.path / "procs_known_hosts";
  constexpr int kProcs = 4, kHosts = 50;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      record_all(file, ed.key, kHosts);
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_EQ(status, 0);
  }
  expect_each_once(file, ed.key, kHosts);
}

}  // namespace
}  // namespace herd

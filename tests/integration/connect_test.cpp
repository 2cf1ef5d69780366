// Connection failures are typed and fast, and ssh_config is honoured.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.hpp"

namespace herd::test {
namespace {

/// A loopback port nobody listens on (bound, then closed).
std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// A listener that accepts connections but never says anything (a stalled banner).
struct SilentListener {
  int fd = -1;
  std::uint16_t port = 0;
  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd); }
};

TEST(Connect, RefusedIsAConnectError) {
  auto o = Lab::get().options();
  o.port = closed_port();
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::connection_refused);
  EXPECT_EQ(s.error().kind(), ErrorKind::connect);
  EXPECT_NE(s.error().message.find("refused"), std::string::npos) << s.error().message;
}

TEST(Connect, UnknownNameIsADnsError) {
  auto o = Lab::get().options();
  o.host = "no-such-host.invalid";
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::dns_failure);
  EXPECT_NE(s.error().message.find("no-such-host.invalid"), std::string::npos);
}

TEST(Connect, StalledBannerTimesOutInHandshake) {
  SilentListener silent;
  auto o = Lab::get().options();
  o.port = silent.port;
  o.banner_timeout = std::chrono::milliseconds(700);
  auto started = std::chrono::steady_clock::now();
  auto s = Session::connect(o);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::timeout);
  EXPECT_EQ(s.error().phase, Phase::handshake);
  EXPECT_GE(took, std::chrono::milliseconds(650));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(Connect, SshConfigAliasSuppliesHostPortUserKeyAndKnownHosts) {
  auto& lab = Lab::get();
  SessionOptions o;
  o.host = "web01";
  o.ssh_config = lab.env("HERD_LAB_SSH_CONFIG");
  o.allow_agent = false;
  o.look_for_keys = false;
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->target().hostname, "127.0.0.1");
  EXPECT_EQ(s->target().user, lab.user());
  EXPECT_EQ(s->target().host_key_policy, HostKeyPolicy::strict);  // StrictHostKeyChecking yes
  EXPECT_EQ(s->target().known_hosts, lab.env("HERD_LAB_KNOWN_HOSTS"));
}

TEST(Connect, ExplicitOptionsOverrideSshConfig) {
  auto& lab = Lab::get();
  SessionOptions o;
  o.host = "web01";
  o.port = closed_port();
  o.ssh_config = lab.env("HERD_LAB_SSH_CONFIG");
  auto s = Session::connect(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::connection_refused);
}

TEST(Connect, DisabledAlgorithmsAreNotNegotiated) {
  auto o = Lab::get().options();
  o.algorithms.ciphers = "aes128-ctr,aes256-ctr";
  o.algorithms.disabled = {"aes128-ctr"};
  auto s = Session::connect(o);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->cipher(), "aes256-ctr");
  o.algorithms.disabled = {"aes128-ctr", "aes256-ctr"};
  auto none = Session::connect(o);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Errc::bad_config);
}

}  // namespace
}  // namespace herd::test

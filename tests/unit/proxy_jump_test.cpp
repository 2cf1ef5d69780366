// ProxyJump values split into hops (src/ssh/jump.hpp).
#include <gtest/gtest.h>

#include "ssh/jump.hpp"

namespace herd::ssh {
namespace {

TEST(ProxyJump, SplitsHopsWithUsersPortsAndIpv6) {
  auto hops = parse_proxy_jump("bastion,ops@gw.example:2222,ssh://root@[::1]:22,[fe80::1]");
  ASSERT_TRUE(hops.has_value()) << hops.error().message;
  ASSERT_EQ(hops->size(), 4U);
  EXPECT_EQ((*hops)[0].host, "bastion");
  EXPECT_EQ((*hops)[0].user, "");
  EXPECT_EQ((*hops)[0].port, 0);
  EXPECT_EQ((*hops)[1].user, "ops");
  EXPECT_EQ((*hops)[1].host, "gw.example");
  EXPECT_EQ((*hops)[1].port, 2222);
  EXPECT_EQ((*hops)[2].user, "root");
  EXPECT_EQ((*hops)[2].host, "::1");
  EXPECT_EQ((*hops)[2].port, 22);
  EXPECT_EQ((*hops)[3].host, "fe80::1");
  EXPECT_EQ((*hops)[3].port, 0);
}

TEST(ProxyJump, RejectsMalformedHopsWithOneLine) {
  for (const char* bad : {"a,,b", "host:0", "host:70000", "host:x", "[::1", "user@", "a,"}) {
    auto hops = parse_proxy_jump(bad);
    ASSERT_FALSE(hops.has_value()) << bad;
    EXPECT_EQ(hops.error().code, Errc::bad_config) << bad;
    EXPECT_NE(hops.error().message.find(bad), std::string::npos) << hops.error().message;
    EXPECT_EQ(hops.error().message.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(parse_proxy_jump("a,b,c,d,e,f,g,h,i").has_value());  // a loop, most likely
}

}  // namespace
}  // namespace herd::ssh

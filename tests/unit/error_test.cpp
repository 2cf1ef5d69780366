#include <gtest/gtest.h>
#include "herd/error.hpp"
TEST(Error, KindOfCodes) { EXPECT_EQ(herd::kind_of(herd::Errc::host_key_changed), herd::ErrorKind::host_key); EXPECT_EQ(herd::to_string(herd::Phase::auth), "auth"); }

// libherd as another project uses it: install this build into a temporary prefix, build
// examples/ against it with find_package(herd) (and one example with pkg-config), and run the
// examples on the lab.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "herd/shell_quote.hpp"
#include "lab.hpp"

namespace herd::test {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A directory the lab user can write in.
fs::path lab_writable(const std::string& name) {
  auto& lab = Lab::get();
  fs::path d = lab.dir() / "home" / lab.user() / name;
  fs::create_directories(d);
  if (lab.is_root()) {
    EXPECT_EQ(
        run_shell("chown " + shell_quote(lab.user()) + " " + shell_quote(d.string())).exit_code, 0);
  }
  return d;
}

class Examples : public ::testing::Test {
 protected:
  /// Installed once for the suite: the prefix and the examples built against it.
  static void SetUpTestSuite() {
    auto& lab = Lab::get();
    root_ = lab.temp_dir("package");
    const std::string prefix = (root_ / "prefix").string();
    const std::string build = (root_ / "examples").string();
    const std::string flags = HERD_SANITIZE_FLAGS;
    std::string script =
        "set -e; cmake --install " + shell_quote(HERD_BUILD_DIR) + " --prefix " +
        shell_quote(prefix) + " >/dev/null; cmake -S " +
        shell_quote(std::string(HERD_SOURCE_DIR) + "/examples") + " -B " + shell_quote(build) +
        " -DCMAKE_PREFIX_PATH=" + shell_quote(prefix) +
        (flags.empty() ? ""
                       : " -DCMAKE_CXX_FLAGS=" + flags + " -DCMAKE_EXE_LINKER_FLAGS=" + flags) +
        " >/dev/null; cmake --build " + shell_quote(build) +
        " >/dev/null; PKG_CONFIG_PATH=" + shell_quote(prefix + "/lib/pkgconfig") + " sh -c 'c++ " +
        flags + " -Wno-missing-field-initializers " + std::string(HERD_SOURCE_DIR) +
        "/examples/fleet_basics.cpp $(pkg-config --cflags --libs herd) -o " + build +
        "/fleet_basics_pc'";
    built_ = run_shell(script);
  }

  static ProcessResult built_;
  static fs::path root_;
};
ProcessResult Examples::built_;
fs::path Examples::root_;

TEST_F(Examples, BuildAgainstTheInstalledPackageWithFindPackageAndPkgConfig) {
  ASSERT_EQ(built_.exit_code, 0) << built_.out << built_.err;
  for (const char* f : {"lib/libherd_api.a", "lib/cmake/herd/herdConfig.cmake",
                        "lib/pkgconfig/herd.pc", "include/herd/fleet.hpp"}) {
    EXPECT_TRUE(fs::exists(root_ / "prefix" / f)) << f;
  }
  for (const char* f : {"fleet_basics", "rolling_restart", "fleet_basics_pc"}) {
    EXPECT_TRUE(fs::exists(root_ / "examples" / f)) << f;
  }
}

TEST_F(Examples, FleetBasicsRunsPutsGetsAndConnectsOnTheLab) {
  ASSERT_EQ(built_.exit_code, 0) << built_.err;
  auto& lab = Lab::get();
  for (const char* binary : {"fleet_basics", "fleet_basics_pc"}) {
    fs::path work = lab_writable(std::string("examples-") + binary);
    auto r = run_shell(shell_quote((root_ / "examples" / binary).string()) + " " +
                       shell_quote(lab.env("HERD_LAB_SSH_CONFIG")) + " 'web[01-04]' " +
                       shell_quote(work.string()));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const char* h : {"web01", "web02", "web03", "web04"}) {
      EXPECT_NE(r.out.find(std::string(h) + ": ok | hello from herd\n"), std::string::npos)
          << r.out;
      EXPECT_EQ(read(work / "back" / h / "payload.txt"), "payload for every host\n") << h;
    }
    EXPECT_NE(r.out.find("put: ok, get: ok\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("exit 3 on 4 hosts, exit code 3\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("web01 in /tmp\n"), std::string::npos) << r.out;
  }
}

TEST_F(Examples, RollingRestartStopsAtTheFirstBatchWithAFailure) {
  ASSERT_EQ(built_.exit_code, 0) << built_.err;
  auto& lab = Lab::get();
  fs::path state = lab_writable("examples-rolling");
  std::ofstream(state / "fail-web05") << "";
  auto r = run_shell(shell_quote((root_ / "examples" / "rolling_restart").string()) + " " +
                     shell_quote(lab.env("HERD_LAB_SSH_CONFIG")) + " 'web[01-08]' 3 " +
                     shell_quote(state.string()));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("batch 1 ok (3 hosts)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batch 2 failed on web05; stopping\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[web04] healthy\n"), std::string::npos) << r.out;  // live output
  for (const char* h : {"web01", "web02", "web03", "web04", "web05", "web06"}) {
    EXPECT_EQ(read(state / (std::string(h) + ".log")), "restart\n") << h;
  }
  EXPECT_FALSE(fs::exists(state / "web07.log"));  // batch 3 never started
}

}  // namespace
}  // namespace herd::test

// Inventories through the CLI: `herd run -i INVENTORY @group`, HERD_INVENTORY, `herd nodes`
// with groups, `user@pattern`, and bad inventories, against the OpenSSH lab.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "lab.hpp"

namespace herd::test {
namespace {

/// An Ansible INI inventory over the lab: app1..app4 on server 1, db1 on server 2.
std::string write_inventory(const std::string& name) {
  auto& lab = Lab::get();
  auto path = lab.temp_dir(name) / "hosts.ini";
  std::ofstream(path) << "[web]\napp[1:4] ansible_host=127.0.0.1 ansible_port=" << lab.port(1)
                      << "\n\n[db]\ndb1 ansible_host=127.0.0.1 ansible_port=" << lab.port(2)
                      << "\n\n[prod:children]\nweb\ndb\n\n[all:vars]\nansible_user=" << lab.user()
                      << "\nansible_ssh_private_key_file=" << lab.env("HERD_LAB_KEY_ED25519")
                      << "\n";
  return path.string();
}

std::vector<std::string> run_args(std::vector<std::string> rest) {
  std::vector<std::string> args{"run",
                                "--known-hosts",
                                Lab::get().env("HERD_LAB_KNOWN_HOSTS"),
                                "--host-key-policy",
                                "strict",
                                "--no-agent",
                                "--no-default-keys"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

/// host -> the server port it reached, from lines `host: PORT`.
std::map<std::string, std::string> ports_by_host(const std::string& out) {
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  const std::regex line(R"((\S+): (\d+))");
  for (std::string l; std::getline(in, l);) {
    std::smatch s;
    if (std::regex_match(l, s, line)) m[s[1]] = s[2];
  }
  return m;
}

const char* kPortCommand = "echo ${SSH_CONNECTION##* }";

TEST(InventoryCli, GroupRunUsesEachHostsAddressPortUserAndKey) {
  auto inv = write_inventory("inv-group");
  auto r = run_herd(run_args({"-i", inv, "@web", "--", kPortCommand}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ports = ports_by_host(r.out);
  const std::string p1 = std::to_string(Lab::get().port(1));
  EXPECT_EQ(ports, (std::map<std::string, std::string>{
                       {"app1", p1}, {"app2", p1}, {"app3", p1}, {"app4", p1}}))
      << r.out;
  EXPECT_NE(r.err.find("4 ok"), std::string::npos) << r.err;

  // Children groups and -x with a group; db1 lives on the other server.
  auto db = run_herd(run_args({"--inventory", inv, "@prod", "-x", "@web", "--", kPortCommand}));
  ASSERT_EQ(db.exit_code, 0) << db.err;
  EXPECT_EQ(ports_by_host(db.out),
            (std::map<std::string, std::string>{{"db1", std::to_string(Lab::get().port(2))}}))
      << db.out;
}

TEST(InventoryCli, EnvironmentNamesTheInventory) {
  auto inv = write_inventory("inv-env");
  auto r =
      run_herd(run_args({"@prod&app[2-3]", "--", kPortCommand}), {}, {{"HERD_INVENTORY", inv}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ports_by_host(r.out).size(), 2U) << r.out;

  auto nodes = run_herd({"nodes", "@prod"}, {}, {{"HERD_INVENTORY", inv}});
  EXPECT_EQ(nodes.exit_code, 0) << nodes.err;
  EXPECT_EQ(nodes.out, "app[1-4],db1\n");
  auto count = run_herd({"nodes", "--inventory", inv, "-c", "@web", "-x", "app1"});
  EXPECT_EQ(count.out, "3\n") << count.err;
}

TEST(InventoryCli, UserAtPatternBeatsTheInventoryUser) {
  auto inv = write_inventory("inv-user");
  auto r = run_herd(run_args({"-i", inv, "nobody-here@app1", "--", "true"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;  // authentication failed: the user came from the pattern
  EXPECT_NE(r.err.find("nobody-here@127.0.0.1"), std::string::npos) << r.err;
}

TEST(InventoryCli, BadInventoryAndUnknownGroupAreOneLineExitTwo) {
  auto dir = Lab::get().temp_dir("inv-bad");
  auto bad = dir / "bad.ini";
  std::ofstream(bad) << "[web]\nhost1 ansible_port=notaport\n";
  auto r = run_herd(run_args({"-i", bad.string(), "@web", "--", "true"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(bad.string() + ":2:"), std::string::npos) << r.err;

  auto inv = write_inventory("inv-unknown");
  auto g = run_herd(run_args({"-i", inv, "@nope", "--", "true"}));
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_NE(g.err.find("unknown group @nope"), std::string::npos) << g.err;
  EXPECT_EQ(std::count(g.err.begin(), g.err.end(), '\n'), 1) << g.err;
}

}  // namespace
}  // namespace herd::test

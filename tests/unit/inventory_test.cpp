// Inventory parsing: the three formats, var precedence, ranges, groups, errors.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "herd/inventory.hpp"
#include "inventory/builder.hpp"

namespace {

using herd::Inventory;
using herd::InventoryError;
using Format = Inventory::Format;
using Names = std::vector<std::string>;

Names host_names(const Inventory& inv) {
  Names out;
  for (const auto& h : inv.hosts()) out.push_back(h.name);
  return out;
}

// The message of the InventoryError parsing `text` throws, or "" when it parses.
std::string parse_error(std::string_view text, std::string_view source, Format f) {
  try {
    Inventory::parse(text, source, f);
  } catch (const InventoryError& e) {
    return e.what();
  }
  return {};
}

// ---- host ranges ----

TEST(InventoryRange, Expansions) {
  struct Case {
    std::string pattern;
    Names expected;
  };
  const Case cases[] = {
      {"web01", {"web01"}},
      {"web[1:3]", {"web1", "web2", "web3"}},
      {"web[01:03]", {"web01", "web02", "web03"}},
      {"web[08:11].example.com",
       {"web08.example.com", "web09.example.com", "web10.example.com", "web11.example.com"}},
      {"db-[a:c]", {"db-a", "db-b", "db-c"}},
      {"x[y:B]", {"xy", "xz", "xA", "xB"}},
      {"n[1:10:3]", {"n1", "n4", "n7", "n10"}},
      {"n[:2]", {"n0", "n1", "n2"}},
      {"r[1:2]c[a:b]", {"r1ca", "r1cb", "r2ca", "r2cb"}},
      {"[1:2]x", {"1x", "2x"}},
      {"n[5:5]", {"n5"}},
      {"n[a:e:2]", {"na", "nc", "ne"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pattern);
    Names out;
    EXPECT_EQ(herd::inventory_detail::expand_host_pattern(c.pattern, 1000, out), "");
    EXPECT_EQ(out, c.expected);
  }
}

TEST(InventoryRange, Malformed) {
  struct Case {
    std::string pattern;
    std::string reason;
  };
  const Case cases[] = {
      {"web[1:3", "unterminated host range"},
      {"web1:3]", "']' without '[' in host pattern"},
      {"web[3:1]", "a host range needs begin <= end"},
      {"web[1]", "a host range is [begin:end] or [begin:end:step]"},
      {"web[1:2:3:4]", "a host range is [begin:end] or [begin:end:step]"},
      {"web[1:]", "a host range needs an end value"},
      {"web[1:5:0]", "a host range step must be a positive number"},
      {"web[01:100]", "a zero-padded host range needs begin and end of equal length"},
      {"web[a:5]", "a host range is numbers or single letters"},
      {"web[aa:bb]", "a host range is numbers or single letters"},
      {"web[0:2000]", "host range over 1000 hosts"},
      {"a[0:99]b[0:99]", "host range over 1000 hosts"},
      {"", "empty host name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pattern);
    Names out;
    EXPECT_EQ(herd::inventory_detail::expand_host_pattern(c.pattern, 1000, out), c.reason);
  }
}

TEST(InventoryRange, HostPort) {
  struct Case {
    std::string pattern, name, port;
  };
  const Case cases[] = {
      {"web01:2222", "web01", "2222"},  {"web[01:03]:22", "web[01:03]", "22"},
      {"web[01:03]", "web[01:03]", ""}, {"fe80::1", "fe80::1", ""},
      {"web:abc", "web:abc", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pattern);
    std::string port;
    EXPECT_EQ(herd::inventory_detail::split_host_port(c.pattern, port), c.name);
    EXPECT_EQ(port, c.port);
  }
}

// ---- INI ----

constexpr std::string_view kIni = R"(# a comment
; another comment
solo1 ansible_host=10.0.0.1
solo2

[web]
web[01:03] ansible_user=deploy
web04:2201 ansible_host="10.0.1.4" note='two words' hash="a#b" # trailing comment

[db]
db-[a:b]
web01

[prod:children]
web
db
[prod:vars]
http_port = 8080
quoted = "x y"

[stage]
stage1
[all:vars]
ansible_user=root
)";

TEST(InventoryIni, HostsGroupsAndMembers) {
  const auto inv = Inventory::parse(kIni, "hosts.ini");
  EXPECT_EQ(inv.format(), Format::ini);
  EXPECT_EQ(inv.source(), "hosts.ini");
  EXPECT_EQ(host_names(inv), (Names{"solo1", "solo2", "web01", "web02", "web03", "web04", "db-a",
                                    "db-b", "stage1"}));
  EXPECT_EQ(inv.group_names(), (Names{"all", "ungrouped", "web", "db", "prod", "stage"}));
  struct Case {
    std::string group;
    Names members;
  };
  const Case cases[] = {
      {"web", {"web01", "web02", "web03", "web04"}},
      {"db", {"web01", "db-a", "db-b"}},
      {"prod", {"web01", "web02", "web03", "web04", "db-a", "db-b"}},
      {"ungrouped", {"solo1", "solo2"}},
      {"stage", {"stage1"}},
      {"all", {"solo1", "solo2", "web01", "web02", "web03", "web04", "db-a", "db-b", "stage1"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.group);
    ASSERT_TRUE(inv.group_members(c.group));
    EXPECT_EQ(*inv.group_members(c.group), c.members);
  }
  EXPECT_FALSE(inv.group_members("nope"));
  EXPECT_EQ(inv.host("nope"), nullptr);
}

TEST(InventoryIni, InlineVarsAndQuoting) {
  const auto inv = Inventory::parse(kIni, "hosts.ini");
  const auto* w4 = inv.host("web04");
  ASSERT_NE(w4, nullptr);
  EXPECT_EQ(w4->hostname, "10.0.1.4");
  EXPECT_EQ(w4->port, 2201);
  EXPECT_EQ(w4->vars.at("note"), "two words");
  EXPECT_EQ(w4->vars.at("hash"), "a#b");
  EXPECT_EQ(w4->vars.at("http_port"), "8080");
  EXPECT_EQ(w4->vars.at("quoted"), "x y");
  EXPECT_EQ(w4->user, "root");
  EXPECT_EQ(inv.host("web01")->user, "deploy");
  EXPECT_EQ(inv.host("solo1")->hostname, "10.0.0.1");
  EXPECT_EQ(inv.host("solo1")->user, "root");
  EXPECT_EQ(inv.host("solo2")->hostname, std::nullopt);
  EXPECT_EQ(inv.host("stage1")->vars.count("http_port"), 0u);
}

TEST(InventoryIni, UngroupedLikeAnsible) {
  // A host listed in [ungrouped] and in another group is not ungrouped; a host first listed
  // before any section that later joins a group leaves ungrouped too.
  const auto inv =
      Inventory::parse("a\nb\n[ungrouped]\nc\n[g]\nb\n[ungrouped:vars]\nu=1\n", "h.ini");
  EXPECT_EQ(*inv.group_members("ungrouped"), (Names{"a", "c"}));
  EXPECT_EQ(inv.host("a")->vars.at("u"), "1");
  EXPECT_EQ(inv.host("b")->vars.count("u"), 0u);
}

TEST(InventoryIni, ChildrenRecursionAndUndefinedChild) {
  const auto inv = Inventory::parse(
      "[top:children]\nmid\nghost\n[mid:children]\nleaf\n[leaf]\nh1\nh2\n[mid]\nh3\nh1\n", "h.ini");
  EXPECT_EQ(*inv.group_members("top"), (Names{"h1", "h2", "h3"}));
  EXPECT_EQ(*inv.group_members("mid"), (Names{"h1", "h2", "h3"}));
  EXPECT_EQ(*inv.group_members("ghost"), Names{});  // never defined: an empty group
  EXPECT_EQ(*inv.group_members("ungrouped"), Names{});
}

TEST(InventoryIni, VarsBeforeGroupDefinition) {
  const auto inv = Inventory::parse("[g:vars]\nx=1\n[g]\nh\n", "h.ini");
  EXPECT_EQ(inv.host("h")->vars.at("x"), "1");
}

TEST(InventoryIni, DiamondDedup) {
  const auto inv = Inventory::parse(
      "[a:children]\nb\nc\n[b:children]\nd\n[c:children]\nd\n[d]\nh1\nh2\n", "h.ini");
  EXPECT_EQ(*inv.group_members("a"), (Names{"h1", "h2"}));
}

// ---- var precedence ----

TEST(InventoryVars, Precedence) {
  constexpr std::string_view text = R"(
[all:vars]
v_all=all
v_parent=all
v_child=all
v_host=all
ansible_user=all_user
[parent:children]
child
[parent:vars]
v_parent=parent
v_child=parent
v_host=parent
[child]
h1 v_host=host
h2 ansible_user=ans herd_user=herd ansible_port=22 herd_port=2222 ansible_host=a herd_host=b
h3 ansible_ssh_user=old ansible_ssh_host=oldhost ansible_ssh_port=23
h4 ansible_user=new ansible_ssh_user=old
h5 ansible_port=22
[child:vars]
herd_port=2000
v_child=child
v_host=child
[aaa]
h1
[aaa:vars]
sibling=aaa
[zzz]
h1
[zzz:vars]
sibling=zzz
)";
  const auto inv = Inventory::parse(text, "h.ini");
  struct Case {
    std::string host, var, value;
  };
  const Case cases[] = {
      {"h1", "v_all", "all"},
      {"h1", "v_parent", "parent"},
      {"h1", "v_child", "child"},
      {"h1", "v_host", "host"},
      {"h2", "v_host", "child"},
      {"h1", "sibling", "zzz"},  // same depth: by name
      {"h1", "ansible_user", "all_user"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.host + " " + c.var);
    ASSERT_NE(inv.host(c.host), nullptr);
    ASSERT_TRUE(inv.host(c.host)->vars.contains(c.var));
    EXPECT_EQ(inv.host(c.host)->vars.at(c.var), c.value);
  }
  const auto* h2 = inv.host("h2");
  EXPECT_EQ(h2->user, "herd");
  EXPECT_EQ(h2->port, 2222);
  EXPECT_EQ(h2->hostname, "b");
  // A var set at a more specific level wins over a stronger name set at a weaker level.
  EXPECT_EQ(inv.host("h5")->port, 22);
  EXPECT_EQ(inv.host("h1")->port, 2000);
  EXPECT_EQ(inv.host("h4")->user, "new");
  const auto* h3 = inv.host("h3");
  EXPECT_EQ(h3->user, "old");
  EXPECT_EQ(h3->port, 23);
  EXPECT_EQ(h3->hostname, "oldhost");
}

TEST(InventoryVars, ConnectionFields) {
  struct Case {
    std::string line;
    std::optional<std::string> proxy_jump;
    Names keys;
    std::optional<std::string> password;
  };
  const Case cases[] = {
      {"h", std::nullopt, {}, std::nullopt},
      {"h herd_proxy_jump=bastion ansible_ssh_common_args='-J other'", "bastion", {}, std::nullopt},
      {"h ansible_ssh_common_args='-o ProxyJump=jump@gw:2222'", "jump@gw:2222", {}, std::nullopt},
      {"h ansible_ssh_common_args='-oProxyJump=gw'", "gw", {}, std::nullopt},
      {"h ansible_ssh_common_args='-J gw -o StrictHostKeyChecking=no'", "gw", {}, std::nullopt},
      {"h ansible_ssh_common_args='-Jgw'", "gw", {}, std::nullopt},
      {"h ansible_ssh_common_args=\"-o 'ProxyJump gw2'\"", "gw2", {}, std::nullopt},
      {"h ansible_ssh_extra_args='-J x'", "x", {}, std::nullopt},
      {"h ansible_ssh_common_args='-o ProxyCommand=nc'", std::nullopt, {}, std::nullopt},
      {"h ansible_ssh_private_key_file=~/.ssh/a", std::nullopt, {"~/.ssh/a"}, std::nullopt},
      {"h herd_identity_file=/k/b ansible_ssh_private_key_file=/k/a",
       std::nullopt,
       {"/k/b"},
       std::nullopt},
      {"h ansible_password=p1", std::nullopt, {}, "p1"},
      {"h ansible_ssh_pass=p2", std::nullopt, {}, "p2"},
      {"h ansible_password=p1 herd_password=p3", std::nullopt, {}, "p3"},
      {"h ansible_password=''", std::nullopt, {}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    const auto inv = Inventory::parse("[g]\n" + c.line + "\n", "h.ini");
    const auto& h = inv.hosts().at(0);
    EXPECT_EQ(h.proxy_jump, c.proxy_jump);
    EXPECT_EQ(h.identity_files, c.keys);
    EXPECT_EQ(h.password, c.password);
    for (const auto* secret : {"ansible_password", "ansible_ssh_pass", "herd_password"}) {
      EXPECT_FALSE(h.vars.contains(secret)) << secret;
    }
  }
}

// ---- YAML ----

constexpr std::string_view kYaml = R"(
all:
  vars:
    ansible_user: root
    level: all
  hosts:
    bastion:
      ansible_host: 203.0.113.7
      ansible_port: "2022"
  children:
    web:
      vars:
        level: web
        list: [1, 2]
      hosts:
        web[01:02]:
        web03:
          level: host
          herd_proxy_jump: bastion
      children:
        canary:
          hosts:
            web02:
          vars: {level: canary}
    db:
      hosts:
        db1:2200: {ansible_user: pg}
    empty:
other:
  hosts:
    lonely:
)";

TEST(InventoryYaml, Nesting) {
  const auto inv = Inventory::parse(kYaml, "hosts.yml");
  EXPECT_EQ(inv.format(), Format::yaml);
  EXPECT_EQ(host_names(inv), (Names{"bastion", "web01", "web02", "web03", "db1", "lonely"}));
  EXPECT_EQ(*inv.group_members("web"), (Names{"web01", "web02", "web03"}));
  EXPECT_EQ(*inv.group_members("canary"), (Names{"web02"}));
  EXPECT_EQ(*inv.group_members("empty"), Names{});
  EXPECT_EQ(*inv.group_members("ungrouped"), (Names{"bastion"}));
  EXPECT_EQ(*inv.group_members("other"), (Names{"lonely"}));
  EXPECT_EQ(inv.group_members("all")->size(), 6u);

  EXPECT_EQ(inv.host("bastion")->port, 2022);
  EXPECT_EQ(inv.host("bastion")->hostname, "203.0.113.7");
  EXPECT_EQ(inv.host("web01")->vars.at("level"), "web");
  EXPECT_EQ(inv.host("web02")->vars.at("level"), "canary");
  EXPECT_EQ(inv.host("web03")->vars.at("level"), "host");
  EXPECT_EQ(inv.host("web03")->proxy_jump, "bastion");
  EXPECT_EQ(inv.host("web01")->vars.at("list"), "[1, 2]");
  EXPECT_EQ(inv.host("db1")->port, 2200);
  EXPECT_EQ(inv.host("db1")->user, "pg");
  EXPECT_EQ(inv.host("lonely")->user, "root");
}

TEST(InventoryYaml, EmptyDocuments) {
  for (const auto* text : {"", "---\n", "# nothing\n", "all:\n"}) {
    SCOPED_TRACE(text);
    const auto inv = Inventory::parse(text, "h.yaml");
    EXPECT_TRUE(inv.hosts().empty());
    EXPECT_EQ(*inv.group_members("all"), Names{});
  }
}

// ---- plain config.ini ----

TEST(InventoryPlain, SshSection) {
  const auto inv = Inventory::parse(R"(# deploy script settings
[ssh]
host = 192.0.2.10
port = 2222
username = admin
password = "hunter2"
key_file = /etc/deploy/id_ed25519

[db]
host = dbserver
)",
                                    "config.ini");
  EXPECT_EQ(inv.format(), Format::plain);
  ASSERT_EQ(inv.hosts().size(), 1u);
  const auto& h = inv.hosts()[0];
  EXPECT_EQ(h.name, "192.0.2.10");
  EXPECT_EQ(h.port, 2222);
  EXPECT_EQ(h.user, "admin");
  EXPECT_EQ(h.password, "hunter2");
  EXPECT_EQ(h.identity_files, Names{"/etc/deploy/id_ed25519"});
  EXPECT_EQ(*inv.group_members("ungrouped"), Names{"192.0.2.10"});
}

TEST(InventoryPlain, HostsListAndAliases) {
  const auto inv = Inventory::parse(
      "[SSH]\nHosts: a, b ,c\nuser = ops\nidentity_file = k\nextra = 1\n", "settings.cfg");
  EXPECT_EQ(inv.format(), Format::plain);
  EXPECT_EQ(host_names(inv), (Names{"a", "b", "c"}));
  for (const auto& h : inv.hosts()) {
    EXPECT_EQ(h.user, "ops");
    EXPECT_EQ(h.identity_files, Names{"k"});
    EXPECT_EQ(h.vars.at("extra"), "1");
  }
}

// ---- format detection ----

TEST(InventoryFormat, Detection) {
  struct Case {
    std::string source, text;
    Format expected;
  };
  const Case cases[] = {
      {"hosts.yml", "[web]\n", Format::yaml},
      {"hosts.yaml", "", Format::yaml},
      {"hosts", "---\nall:\n", Format::yaml},
      {"hosts", "# c\nall:\n  hosts:\n", Format::yaml},
      {"hosts", "[web]\nweb01\n", Format::ini},
      {"hosts.ini", "web01 ansible_port=22\n", Format::ini},
      {"config.ini", "[ssh]\nhost=x\n", Format::plain},
      {"config.ini", "[app]\nname=x\n[ssh]\nhosts = x,y\n", Format::plain},
      {"hosts.ini", "[ssh]\nweb01 ansible_host=x\n", Format::ini},
      {"hosts.ini", "", Format::ini},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.source + ": " + c.text);
    EXPECT_EQ(Inventory::detect_format(c.text, c.source), c.expected);
  }
  EXPECT_EQ(herd::to_string(Format::plain), "plain");
}

// ---- errors ----

TEST(InventoryErrors, FileAndLine) {
  struct Case {
    std::string source;
    Format format;
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"hosts.ini", Format::ini, "[web]\n\n\n\n\n\nweb01 ansible_port=70000\n",
       "hosts.ini:7: bad port \"70000\" for web01"},
      {"h.ini", Format::ini, "[g]\nh\n[g:vars]\nansible_port=x\n", "h.ini:4: bad port \"x\" for h"},
      {"h.ini", Format::ini, "[g]\nh ansible_port=0\n", "h.ini:2: bad port \"0\" for h"},
      {"h.ini", Format::ini, "[g:bogus]\n",
       "h.ini:1: section [g:bogus] has unknown type \"bogus\" (hosts, children or vars)"},
      {"h.ini", Format::ini, "[g\n", "h.ini:1: section header without ']'"},
      {"h.ini", Format::ini, "[g] x\n", "h.ini:1: unexpected text after section header"},
      {"h.ini", Format::ini, "[]\n", "h.ini:1: empty group name in section header"},
      {"h.ini", Format::ini, "[g]\nweb[1:3 x=1\n", "h.ini:2: unterminated host range: \"web[1:3\""},
      {"h.ini", Format::ini, "[g]\nh novalue\n",
       "h.ini:2: expected key=value host variable (word 2) for h"},
      {"h.ini", Format::ini, "[g]\nh x=\"open\n",
       "h.ini:2: unterminated quote or trailing backslash"},
      {"h.ini", Format::ini, "[g:vars]\nnovalue\n",
       "h.ini:2: expected key=value in a :vars section"},
      {"h.ini", Format::ini, "[g:vars]\nx=1\n", "h.ini:1: section [g:vars] for undefined group g"},
      {"h.ini", Format::ini, "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
       "h.ini:6: group cycle: a -> b -> c -> a"},
      {"h.ini", Format::ini, "[a:children]\na\n", "h.ini:2: group cycle: a -> a"},
      {"h.ini", Format::ini, "[a:children]\nall\n", "h.ini:2: group all cannot be a child of a"},
      {"h.ini", Format::ini, "[a:children]\nb c\n",
       "h.ini:2: expected one child group name a line"},
      {"h.yml", Format::yaml, "all:\n  hosts:\n    h:\n      ansible_port: 99999\n",
       "h.yml:4: bad port \"99999\" for h"},
      {"h.yml", Format::yaml, "all:\n  host:\n",
       "h.yml:2: unknown key \"host\" in a group (hosts, vars or children)"},
      {"h.yml", Format::yaml, "- a\n", "h.yml:1: a YAML inventory is a mapping of groups"},
      {"h.yml", Format::yaml, "all:\n  hosts: [a]\n",
       "h.yml:2: hosts must be a mapping of host names"},
      {"h.yml", Format::yaml, "all:\n  children:\n    a:\n      children:\n        all:\n",
       "h.yml:5: group all cannot be a child of a"},
      {"h.yml", Format::yaml,
       "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            "
       "a:\n",
       "h.yml:7: group cycle: a -> b -> a"},
      {"h.yml", Format::yaml, "all:\n  hosts: {a: 1}\n", "h.yml:2: host vars must be a mapping"},
      {"h.yml", Format::yaml, std::string(1000, '['), "h.yml:1: YAML nested too deep"},
      {"c.ini", Format::plain, "[ssh]\nport=22\n", "c.ini:1: [ssh] has no host or hosts"},
      {"c.ini", Format::plain, "[other]\nhost=1\n", "c.ini:1: no [ssh] section"},
      {"c.ini", Format::plain, "[ssh]\nhost=h\nport=65536\n", "c.ini:3: bad port \"65536\" for h"},
      {"c.ini", Format::plain, "[ssh]\nhost=h\njunk\n", "c.ini:3: expected key = value in [ssh]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_error(c.text, c.source, c.format), c.message);
  }
}

TEST(InventoryErrors, YamlSyntaxHasLine) {
  try {
    Inventory::parse("all:\n  hosts:\n    a: {b: 1\n", "h.yml");
    FAIL() << "no error";
  } catch (const InventoryError& e) {
    EXPECT_EQ(e.file(), "h.yml");
    EXPECT_GE(e.line(), 3u);
    EXPECT_TRUE(std::string(e.what()).starts_with(fmt::format("h.yml:{}: ", e.line()))) << e.what();
  }
}

TEST(InventoryErrors, PasswordsNeverInMessages) {
  const std::string pw = "S3cr3t-pw";
  const std::pair<std::string, Format> cases[] = {
      {"[g]\nh ansible_password=" + pw + " ansible_port=70000\n", Format::ini},
      {"[g]\nh ansible_password=\"" + pw + "\n", Format::ini},
      {"[g]\nh " + pw + "\n", Format::ini},
      {"[g]\nh ansible_password " + pw + "\n", Format::ini},
      {"[g:vars]\nansible_ssh_pass=" + pw + "\n", Format::ini},
      {"[g]\nh herd_password=" + pw + "\n[g:vars]\nherd_port=x\n", Format::ini},
      {"all:\n  hosts:\n    h: {ansible_password: " + pw + ", ansible_port: -1}\n", Format::yaml},
      {"all:\n  hosts:\n    h: {ansible_password: \"" + pw + "\n", Format::yaml},
      {"all:\n  vars:\n    ansible_password: " + pw + "\n  hosts: [x]\n", Format::yaml},
      {"all:\n  hosts:\n    h: [" + pw + "]\n", Format::yaml},
      {"[ssh]\nhost=h\npassword=" + pw + "\nport=x\n", Format::plain},
      {"[ssh]\npassword=" + pw + "\n", Format::plain},
  };
  for (const auto& [text, format] : cases) {
    SCOPED_TRACE(text);
    const auto message = parse_error(text, "inv", format);
    EXPECT_NE(message, "");
    EXPECT_EQ(message.find(pw), std::string::npos) << message;
  }
}

TEST(InventoryErrors, UnreadableFile) {
  const auto missing = std::filesystem::temp_directory_path() / "herd-no-such-inventory.ini";
  try {
    Inventory::load(missing);
    FAIL() << "no error";
  } catch (const InventoryError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read " + missing.string() + ": No such file or directory");
    EXPECT_EQ(e.line(), 0u);
  }
  try {
    Inventory::load(std::filesystem::temp_directory_path());
    FAIL() << "no error";
  } catch (const InventoryError& e) {
    EXPECT_TRUE(std::string(e.what()).ends_with(": Is a directory")) << e.what();
  }
}

// ---- files ----

TEST(InventoryLoad, ReadsFileAndDetectsByExtension) {
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("herd-inventory-test-{}", ::getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "hosts.yaml") << "all:\n  hosts:\n    y1:\n";
    std::ofstream(dir / "hosts") << "[g]\ni1\n";
  }
  const auto yaml = Inventory::load(dir / "hosts.yaml");
  EXPECT_EQ(yaml.format(), Format::yaml);
  EXPECT_EQ(host_names(yaml), Names{"y1"});
  EXPECT_EQ(yaml.source(), (dir / "hosts.yaml").string());
  const auto ini = Inventory::load(dir / "hosts");
  EXPECT_EQ(host_names(ini), Names{"i1"});
  std::filesystem::remove_all(dir);
}

// What tests/lab/lab writes as inventory.ini (`lab up DIR --servers 2`, 8 aliases).
constexpr std::string_view kLabInventory = R"([lab]
web01 ansible_host=127.0.0.1 ansible_port=40123 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web02 ansible_host=127.0.0.1 ansible_port=40124 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web03 ansible_host=127.0.0.1 ansible_port=40123 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web04 ansible_host=127.0.0.1 ansible_port=40124 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web05 ansible_host=127.0.0.1 ansible_port=40123 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web06 ansible_host=127.0.0.1 ansible_port=40124 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web07 ansible_host=127.0.0.1 ansible_port=40123 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
web08 ansible_host=127.0.0.1 ansible_port=40124 ansible_user=herdlab ansible_ssh_private_key_file=/tmp/herd-lab.Ab3dE/keys/id_ed25519
)";

TEST(InventoryLab, GeneratedInventoryParses) {
  const auto inv = Inventory::parse(kLabInventory, "/tmp/herd-lab.Ab3dE/inventory.ini");
  EXPECT_EQ(inv.format(), Format::ini);
  ASSERT_EQ(inv.hosts().size(), 8u);
  EXPECT_EQ(*inv.group_members("lab"), host_names(inv));
  for (std::size_t i = 0; i < 8; ++i) {
    const auto& h = inv.hosts()[i];
    EXPECT_EQ(h.name, fmt::format("web{:02}", i + 1));
    EXPECT_EQ(h.hostname, "127.0.0.1");
    EXPECT_EQ(h.port, i % 2 == 0 ? 40123 : 40124);
    EXPECT_EQ(h.user, "herdlab");
    EXPECT_EQ(h.identity_files, Names{"/tmp/herd-lab.Ab3dE/keys/id_ed25519"});
    EXPECT_EQ(h.password, std::nullopt);
  }
}

// ---- size ----

TEST(InventoryScale, TenThousandHostsIni) {
  std::string text = "[all:vars]\nansible_user=ops\n";
  for (int g = 0; g < 10; ++g) {
    text += fmt::format("[rack{}]\n", g);
    for (int h = 0; h < 1000; ++h) {
      text += fmt::format("node{:02}{:03} ansible_host=10.{}.{}.{} rack={}\n", g, h, g, h / 256,
                          h % 256, g);
    }
    text += fmt::format("[dc{}:children]\nrack{}\n[fleet:children]\ndc{}\n", g % 2, g, g % 2);
  }
  const auto start = std::chrono::steady_clock::now();
  const auto inv = Inventory::parse(text, "big.ini");
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("10k-host INI parsed in %.1f ms\n", ms);
  EXPECT_EQ(inv.hosts().size(), 10'000u);
  EXPECT_EQ(inv.group_members("fleet")->size(), 10'000u);
  EXPECT_EQ(inv.group_members("dc1")->size(), 5'000u);
  EXPECT_EQ(inv.host("node09999")->user, "ops");
  EXPECT_LT(ms, 2000.0);  // generous for sanitizer builds; release is far below 100 ms
}

TEST(InventoryScale, TenThousandHostsRange) {
  const auto inv = Inventory::parse("[big]\nn[00000:09999] x=1\n", "big.ini");
  EXPECT_EQ(inv.hosts().size(), 10'000u);
  EXPECT_EQ(inv.hosts().back().name, "n09999");
}

}  // namespace

// ---- helpers and limits ----

namespace {

TEST(InventoryText, ShellSplitAndUnquote) {
  struct Case {
    std::string line;
    bool ok;
    Names tokens;
  };
  const Case cases[] = {
      {"a b=c", true, {"a", "b=c"}},
      {"  a\t b  ", true, {"a", "b"}},
      {"a x=\"y z\"", true, {"a", "x=y z"}},
      {"a x='y \"z'", true, {"a", "x=y \"z"}},
      {"a x=\"q\\\"q\"", true, {"a", "x=q\"q"}},
      {"a x=y\\ z", true, {"a", "x=y z"}},
      {"a x=y#c", true, {"a", "x=y"}},
      {"a # x=y", true, {"a"}},
      {"a x=\"#\"", true, {"a", "x=#"}},
      {"a x=\"open", false, {"a"}},
      {"a x='open", false, {"a"}},
      {"a x\\", false, {"a"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Names out;
    EXPECT_EQ(herd::inventory_detail::shell_split(c.line, true, out), c.ok);
    EXPECT_EQ(out, c.tokens);
  }
  using herd::inventory_detail::unquote;
  EXPECT_EQ(unquote("\"a b\""), "a b");
  EXPECT_EQ(unquote("'a\\'b'"), "a'b");
  EXPECT_EQ(unquote("\"a\" \"b\""), "\"a\" \"b\"");
  EXPECT_EQ(unquote("\"a"), "\"a");
  EXPECT_EQ(unquote("plain"), "plain");
}

TEST(InventoryLimits, HostsAndYamlAliases) {
  herd::inventory_detail::Limits small;
  small.max_hosts = 100;
  small.max_yaml_visits = 1000;
  EXPECT_THROW(
      herd::inventory_detail::parse("[g]\na[1:60]\nb[1:60]\n", "h.ini", Format::ini, small),
      InventoryError);
  // Each level names the previous one twice: 2^12 group walks from a few lines.
  std::string yaml = "l0: &l0 {hosts: {h: }}\n";
  for (int i = 1; i <= 12; ++i) {
    yaml +=
        fmt::format("l{}: &l{} {{children: {{a{}: *l{}, b{}: *l{}}}}}\n", i, i, i, i - 1, i, i - 1);
  }
  try {
    herd::inventory_detail::parse(yaml, "h.yml", Format::yaml, small);
    FAIL() << "no error";
  } catch (const InventoryError& e) {
    EXPECT_TRUE(std::string(e.what()).ends_with("more than 1000 YAML nodes walked (aliases?)"))
        << e.what();
  }
}

}  // namespace

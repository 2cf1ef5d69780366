// `herd task` against the lab's real sshd: the issue's greet file as written, quoting, a
// three-task deploy with context and register/when, a rolling deploy with failures, max_fail
// and --rerun, sudo with a password (on stdin and at a PTY's prompt), a wrong sudo password,
// and --dry-run / --list / errors checked exactly.
//
// The lab's hosts run on this machine as the lab user: what a task writes remotely is checked
// by looking at the files.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

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

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// A directory the lab user can write in (its home), fresh per call.
fs::path remote_dir(const std::string& name) {
  auto& lab = Lab::get();
  static int counter = 0;
  fs::path d = lab.dir() / "home" / lab.user() / ("task-" + name + "-" + std::to_string(++counter));
  fs::create_directories(d);
  if (lab.is_root()) {
    EXPECT_EQ(
        run_shell("chown " + shell_quote(lab.user()) + " " + shell_quote(d.string())).exit_code, 0);
  }
  return d;
}

/// herd task with the lab's ssh_config, in `dir` (where herdfile.yaml is), recording in `store`.
ProcessResult task(const fs::path& dir, std::vector<std::string> rest, const fs::path& store = {},
                   const std::map<std::string, std::string>& env = {}) {
  auto& lab = Lab::get();
  std::vector<std::string> args{"task",
                                "-F",
                                lab.env("HERD_LAB_SSH_CONFIG"),
                                "--no-agent",
                                "--no-default-keys",
                                "-f",
                                (dir / "herdfile.yaml").string()};
  if (store.empty()) {
    args.push_back("--no-record");
  } else {
    args.push_back("--store");
    args.push_back(store.string());
  }
  args.insert(args.end(), rest.begin(), rest.end());
  return run_herd(args, {}, env);
}

const char* kGreet = R"(tasks:
  greet:
    description: write a greeting
    hosts: 'web[01-03]'
    params:
      who: {required: true}
    steps:
      - run: mkdir -p /tmp/greet
      - cd: /tmp/greet
        steps:
          - run: printf '%s\n' {{ who }} | sed 's/^/hello /' > greeting.txt
          - run: cat greeting.txt
)";

TEST(Task, TheIssuesGreetFileWorksAsWrittenAndAValueIsOneWord) {
  ASSERT_EQ(run_shell("rm -rf /tmp/greet").exit_code, 0);
  fs::path dir = Lab::get().temp_dir("greet");
  write(dir / "herdfile.yaml", kGreet);
  // --fanout 1: the lab's hosts share one /tmp, so a host's `> greeting.txt` would empty the
  // file another host is about to cat. One host at a time keeps the example's meaning.
  auto r = task(dir, {"--fanout", "1", "greet", "who=a b;touch x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* h : {"web01", "web02", "web03"}) {
    EXPECT_NE(r.out.find(std::string(h) + ": hello a b;touch x\n"), std::string::npos) << r.out;
  }
  EXPECT_EQ(read("/tmp/greet/greeting.txt"), "hello a b;touch x\n");
  EXPECT_FALSE(fs::exists("/tmp/greet/x"));  // "touch x" stayed inside the value
  EXPECT_NE(r.err.find("3 ok"), std::string::npos) << r.err;
  ASSERT_EQ(run_shell("rm -rf /tmp/greet").exit_code, 0);
}

TEST(Task, QuotesSpacesQuotesAndCommandSubstitutionRunNothing) {
  fs::path dir = Lab::get().temp_dir("quoting");
  fs::path out = remote_dir("quoting");
  write(dir / "herdfile.yaml",
        "tasks:\n  q:\n    hosts: web01\n    params:\n      v: {}\n"
        "    steps:\n"
        "      - run: printf '%s\\n' {{ v }} > " +
            (out / "plain").string() +
            "\n"
            "      - run: |\n          printf '%s\\n' \"in double: {{ v }}\" > " +
            (out / "double").string() +
            "\n"
            "      - run: |\n          printf '%s\\n' 'in single: {{ v }}' > " +
            (out / "single").string() +
            "\n"
            "      - env: {V: '{{ v }}'}\n"
            "        steps:\n"
            "          - run: printf '%s\\n' \"$V\" > " +
            (out / "env").string() + "\n");
  const std::string pwned = (out / "pwned").string();
  const std::string value =
      "a  b \"q\" 'q' $(touch " + pwned + ") `touch " + pwned + "` ; touch " + pwned;
  auto r = task(dir, {"q", "v=" + value});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(out / "plain"), value + "\n");
  EXPECT_EQ(read(out / "double"), "in double: " + value + "\n");
  EXPECT_EQ(read(out / "single"), "in single: " + value + "\n");
  EXPECT_EQ(read(out / "env"), value + "\n");
  EXPECT_FALSE(fs::exists(pwned));
}

TEST(Task, ThreeTaskDeployWithParametersContextAndRegisteredWhen) {
  fs::path dir = Lab::get().temp_dir("deploy3");
  fs::path base = remote_dir("deploy3");
  const std::string b = base.string();
  write(dir / "herdfile.yaml", R"(tasks:
  build:
    description: make the release directory
    hosts: 'web[01-02]'
    params:
      version: {required: true}
    steps:
      - run: mkdir -p )" + b + R"(/{{ host.name }}/releases/{{ version }} && echo built >> )" +
                                   b + R"(/{{ host.name }}.log
  check:
    hosts: 'web[01-02]'
    needs: [build]
    steps:
      - run: test -d )" + b + R"(/{{ host.name }}/releases && echo checked >> )" +
                                   b + R"(/{{ host.name }}.log
  deploy:
    description: switch to a version
    hosts: 'web[01-02]'
    needs: [build, check]
    params:
      version: {required: true}
      env: {default: prod, choices: [prod, staging]}
    steps:
      - cd: )" + b + R"(/{{ host.name }}/releases/{{ version }}
        env: {APP_ENV: "{{ env }}"}
        steps:
          - run: printf '%s\n' "$APP_ENV" > env.txt && pwd > where.txt
          - run: cat env.txt
            register: current
          - run: touch deployed-{{ current.stdout }}
            when: current.stdout == 'staging' and current.rc == 0
          - run: touch never
            when: current.rc != 0
)");
  auto r = task(dir, {"deploy:version=1.2.3,env=staging"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* h : {"web01", "web02"}) {
    fs::path rel = base / h / "releases" / "1.2.3";
    EXPECT_EQ(read(rel / "env.txt"), "staging\n");
    EXPECT_EQ(read(rel / "where.txt"), rel.string() + "\n");
    EXPECT_TRUE(fs::exists(rel / "deployed-staging"));
    EXPECT_FALSE(fs::exists(rel / "never"));
    // build ran once though two tasks need it, and before check.
    EXPECT_EQ(read(base / (std::string(h) + ".log")), "built\nchecked\n");
  }
  auto bad = task(dir, {"deploy", "version=1", "env=dev"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "herd: task deploy: env=dev: expected one of prod, staging\n");
  auto unknown = task(dir, {"deplo"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err, "herd: no task 'deplo' in " + (dir / "herdfile.yaml").string() +
                             " (tasks: build, check, deploy)\n");
  auto list = task(dir, {"--list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_EQ(list.out,
            "build   make the release directory  [hosts web[01-02]]\n"
            "          version (string) required\n"
            "check   [hosts web[01-02]; needs build]\n"
            "deploy  switch to a version  [hosts web[01-02]; needs build,check]\n"
            "          version (string) required\n"
            "          env (string) default prod one of prod|staging\n");
}

TEST(Task, PutAndGetStepsMoveVerifiedFiles) {
  fs::path dir = Lab::get().temp_dir("files");
  fs::path base = remote_dir("files");
  fs::path back = Lab::get().temp_dir("files-back");
  write(dir / "app.conf", "setting = 1\n");
  write(dir / "herdfile.yaml",
        "tasks:\n  ship:\n    hosts: 'web[01-02]'\n    steps:\n"
        "      - run: mkdir -p " +
            base.string() +
            "/{{ host.name }}\n"
            "      - cd: " +
            base.string() +
            "/{{ host.name }}\n"
            "        steps:\n"
            "          - put: {src: app.conf, dest: ./}\n"
            "          - run: cp app.conf copy-of-{{ host.name }}.conf\n"
            "          - get: {src: 'copy-of-{{ host.name }}.conf', dest: '" +
            back.string() +
            "'}\n"
            "      - put: {src: missing.conf, dest: /tmp/}\n"
            "        warn_only: true\n");
  auto r = task(dir, {"ship"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* h : {"web01", "web02"}) {
    EXPECT_EQ(read(base / h / "app.conf"), "setting = 1\n") << h;
    EXPECT_EQ(read(back / h / (std::string("copy-of-") + h + ".conf")), "setting = 1\n") << h;
  }
  EXPECT_NE(r.err.find("missing.conf"), std::string::npos) << r.err;  // warned, went on
}

TEST(Task, TreeStepsCopyDirectoriesAndSyncSendsOnlyWhatChanged) {
  fs::path dir = Lab::get().temp_dir("trees");
  fs::path base = remote_dir("trees");
  fs::path back = Lab::get().temp_dir("trees-back");
  fs::create_directories(dir / "site" / "css");
  write(dir / "site" / "index.html", "<h1>v1</h1>\n");
  write(dir / "site" / "css" / "a.css", "h1 {}\n");
  write(dir / "site" / "notes.tmp", "left out\n");
  for (const char* h : {"web01", "web02"}) {
    fs::create_directories(base / h / "live");
    write(base / h / "live" / "stale.html", "old\n");
  }
  if (Lab::get().is_root()) {
    EXPECT_EQ(run_shell("chown -R " + shell_quote(Lab::get().user()) + " " +
                        shell_quote(base.string()))
                  .exit_code,
              0);
  }
  write(dir / "herdfile.yaml",
        "tasks:\n  ship:\n    hosts: 'web[01-02]'\n    steps:\n"
        "      - put: {src: site, dest: '" + base.string() + "/{{ host.name }}/copy', "
        "recursive: true, exclude: ['*.tmp']}\n"
        "      - get: {src: '" + base.string() + "/{{ host.name }}/copy', dest: '" +
            back.string() + "', recursive: true}\n"
        "      - sync: {src: site, dest: '" + base.string() + "/{{ host.name }}/live', "
        "delete: true, exclude: ['*.tmp']}\n");
  auto r = task(dir, {"ship"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* h : {"web01", "web02"}) {
    EXPECT_EQ(read(base / h / "copy" / "site" / "css" / "a.css"), "h1 {}\n") << h;
    EXPECT_FALSE(fs::exists(base / h / "copy" / "site" / "notes.tmp")) << h;
    EXPECT_EQ(read(back / h / "copy" / "site" / "index.html"), "<h1>v1</h1>\n") << h;
    EXPECT_EQ(read(base / h / "live" / "index.html"), "<h1>v1</h1>\n") << h;
    EXPECT_FALSE(fs::exists(base / h / "live" / "stale.html")) << h;  // --delete
  }
  EXPECT_NE(r.out.find("synced: 2 sent"), std::string::npos) << r.out;

  // Again, one file changed: sync sends that one only.
  write(dir / "site" / "index.html", "<h1>version 2</h1>\n");  // size differs
  r = task(dir, {"ship"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read(base / "web02" / "live" / "index.html"), "<h1>version 2</h1>\n");
  EXPECT_NE(r.out.find("synced: 1 sent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 unchanged"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("synced: 2 sent"), std::string::npos) << r.out;

  // A directory without recursive: that step fails, clearly.
  write(dir / "herdfile.yaml",
        "tasks:\n  ship:\n    hosts: web01\n    steps:\n"
        "      - put: {src: site, dest: /tmp/}\n");
  r = task(dir, {"ship"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("site: is a directory"), std::string::npos) << r.out << r.err;
}

TEST(Task, DryRunPrintsEachHostsCommandsAndConnectsToNothing) {
  fs::path dir = Lab::get().temp_dir("dry");
  write(dir / "herdfile.yaml", kGreet);
  // A port nothing listens on: a dry run must not need the hosts.
  auto r = run_herd({"task", "-f", (dir / "herdfile.yaml").string(), "--no-record", "-p", "1", "-H",
                     "web[01-02]", "greet", "who=it's $(x)", "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string per_host =
      "  greet/1 run: mkdir -p /tmp/greet\n"
      "      $ mkdir -p /tmp/greet\n"
      "  greet/2 block\n"
      "    greet/2.1 run: printf '%s\\n' {{ who }} | sed 's/^/hello /' >...\n"
      "        $ cd -- /tmp/greet && { printf '%s\\n' 'it'\\''s $(x)' | sed 's/^/hello /' > "
      "greeting.txt; }\n"
      "    greet/2.2 run: cat greeting.txt\n"
      "        $ cd -- /tmp/greet && { cat greeting.txt; }\n";
  EXPECT_EQ(r.out, "web01:\n" + per_host + "web02:\n" + per_host);
  EXPECT_EQ(r.err, "");
}

TEST(Task, RollingDeployStopsAtMaxFailAndRerunFinishesFromTheFailedStep) {
  fs::path dir = Lab::get().temp_dir("rolling");
  fs::path base = remote_dir("rolling");
  fs::path store = Lab::get().temp_dir("rolling-store") / "herd.db";
  const std::string b = base.string();
  write(dir / "herdfile.yaml", R"(tasks:
  roll:
    hosts: 'web[01-20]'
    serial: 5
    max_fail: 1
    steps:
      - run: echo start >> )" + b + R"(/{{ host.name }}.log
      - name: health check
        run: test ! -e )" + b + R"(/fail-{{ host.name }}
      - run: echo done >> )" + b + R"(/{{ host.name }}.log
)");
  for (const char* h : {"web07", "web13"}) write(base / (std::string("fail-") + h), "");
  auto r = task(dir, {"roll"}, store);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  // Batches 1-5, 6-10 (web07 fails), 11-15 (web13 fails: 2 > max_fail 1): 16-20 never start.
  for (int i = 1; i <= 15; ++i) {
    const std::string h = fmt::format("web{:02}", i);
    const bool failing = i == 7 || i == 13;
    EXPECT_EQ(read(base / (h + ".log")), failing ? "start\n" : "start\ndone\n") << h;
  }
  for (int i = 16; i <= 20; ++i) EXPECT_FALSE(fs::exists(base / fmt::format("web{:02}.log", i)));
  EXPECT_NE(r.err.find("herd: task roll: 2 of 20 hosts failed, over max_fail 1; stopped before "
                       "batch 4 of 4; 5 hosts not run\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("web[07,13]"), std::string::npos) << r.err;  // the summary names them
  auto show = run_herd({"jobs", "--store", store.string(), "show", "1"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("roll/2 health check"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("step roll/2 health check: exit status 1"), std::string::npos) << show.out;

  for (const char* h : {"web07", "web13"}) fs::remove(base / (std::string("fail-") + h));
  auto again = task(dir, {"--rerun", "1", "--only", "failed"}, store);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("7 ok"), std::string::npos) << again.err;
  for (int i = 1; i <= 20; ++i) {
    const std::string h = fmt::format("web{:02}", i);
    // web07 and web13 resumed at the health check: "start" was not run again.
    EXPECT_EQ(read(base / (h + ".log")), "start\ndone\n") << h;
  }
}

TEST(Task, SudoWithAPasswordOnStdinAndAtAPtyPromptNeverShowsIt) {
  auto& lab = Lab::get();
  if (!lab.is_root()) GTEST_FAIL() << "sudo needs the root-mode lab (its sudoers entry)";
  fs::path dir = lab.temp_dir("sudo");
  fs::path store = lab.temp_dir("sudo-store") / "herd.db";
  write(dir / "herdfile.yaml", R"(tasks:
  whoami:
    hosts: web01
    steps:
      - sudo: id -un
      - sudo: id -un; tty >/dev/null && echo on-a-tty
        user: )" + lab.env("HERD_LAB_USER") +
                                   R"(
      - sudo: printf '%s\n' "$HERD_X"
        env: {HERD_X: "kept through sudo"}
)");
  const std::string password = lab.env("HERD_LAB_PASSWORD");
  std::map<std::string, std::string> env{{"LAB_PW", password}};
  auto r = task(dir,
                {"-l", lab.env("HERD_LAB_PASSWORD_USER"), "--password-env", "LAB_PW",
                 "--sudo-password-env", "LAB_PW", "--json", "whoami"},
                store, env);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  // The stdout of the --json output events, joined (chunks split anywhere on a PTY).
  std::string stdout_text;
  std::string last_step;
  std::istringstream events(r.out);
  for (std::string line; std::getline(events, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "output" && j.value("stream", "") == "stdout") {
      stdout_text += j.value("data", "");
    }
    if (j.is_object() && j.value("event", "") == "host_finished") last_step = j.value("step", "");
  }
  EXPECT_EQ(last_step, "whoami/3 sudo: printf '%s\\n' \"$HERD_X\"");  // the step it ended in
  EXPECT_NE(stdout_text.find("root\n"), std::string::npos) << r.out;
  // Running as the key user requires a TTY there: the step ran again on a PTY.
  EXPECT_NE(stdout_text.find(lab.env("HERD_LAB_USER") + "\r\non-a-tty\r\n"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("must have a tty"), std::string::npos) << r.out;  // replaced by the PTY run
  EXPECT_NE(r.out.find("kept through sudo"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(password), std::string::npos);
  EXPECT_EQ(r.err.find(password), std::string::npos);
  EXPECT_EQ(r.out.find("herd-sudo-password"), std::string::npos) << r.out;  // prompts removed
  EXPECT_EQ(read(store).find(password), std::string::npos);
  auto log = read(store.string() + "-wal");
  EXPECT_EQ(log.find(password), std::string::npos);
}

TEST(Task, AWrongSudoPasswordFailsThatHostAtOnce) {
  auto& lab = Lab::get();
  if (!lab.is_root()) GTEST_FAIL() << "sudo needs the root-mode lab (its sudoers entry)";
  fs::path dir = lab.temp_dir("sudo-wrong");
  write(dir / "herdfile.yaml", R"(tasks:
  root:
    hosts: web01
    steps:
      - sudo: id -un
      - sudo: id -un
        user: )" + lab.env("HERD_LAB_USER") +
                                   R"(
        warn_only: true
)");
  std::map<std::string, std::string> env{{"LAB_PW", lab.env("HERD_LAB_PASSWORD")},
                                         {"WRONG", "not-the-password"}};
  auto r = task(dir,
                {"-l", lab.env("HERD_LAB_PASSWORD_USER"), "--password-env", "LAB_PW",
                 "--sudo-password-env", "WRONG", "root"},
                {}, env);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("step root/1 sudo: id -un: sudo refused the password"), std::string::npos)
      << r.out << r.err;
  EXPECT_EQ(r.out.find("root\n"), std::string::npos) << r.out;
  EXPECT_FALSE(r.killed);
  // On a PTY too (the key user needs one): a second prompt ends the step, no hang.
  write(dir / "herdfile.yaml", R"(tasks:
  root:
    hosts: web01
    steps:
      - sudo: id -un
        user: )" + lab.env("HERD_LAB_USER") +
                                   R"(
)");
  auto tty = task(dir,
                  {"-l", lab.env("HERD_LAB_PASSWORD_USER"), "--password-env", "LAB_PW",
                   "--sudo-password-env", "WRONG", "root"},
                  {}, env);
  EXPECT_EQ(tty.exit_code, 1) << tty.err;
  EXPECT_NE(tty.err.find("sudo refused the password"), std::string::npos) << tty.err;
  EXPECT_FALSE(tty.killed);
}

}  // namespace
}  // namespace herd::test

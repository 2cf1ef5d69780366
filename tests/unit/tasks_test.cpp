// Task files: parsing and its errors, template quoting, when: conditions, parameter binding and
// the dry-run text. No network.
#include <gtest/gtest.h>

#include <string>

#include "tasks/dry_run.hpp"
#include "tasks/expr.hpp"
#include "tasks/sudo.hpp"
#include "tasks/params.hpp"
#include "tasks/runner.hpp"
#include "tasks/sudo.hpp"
#include "tasks/template.hpp"

namespace {

using namespace herd::tasks;

TaskFile parse(const std::string& yaml) {
  return parse_taskfile(yaml, "herdfile.yaml");
}

/// The message of the TaskFileError `yaml` raises ("" when it parses).
std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const TaskFileError& e) {
    return e.what();
  }
  return "";
}

Lookup values(std::map<std::string, Value> m) {
  return [m](const std::string& n) -> std::optional<Value> {
    auto it = m.find(n);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
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

TEST(TaskFile, ParsesTheIssueExample) {
  TaskFile f = parse(kGreet);
  ASSERT_EQ(f.tasks.size(), 1u);
  const Task& t = f.tasks[0];
  EXPECT_EQ(t.name, "greet");
  EXPECT_EQ(t.description, "write a greeting");
  EXPECT_EQ(t.hosts, "web[01-03]");
  ASSERT_EQ(t.params.size(), 1u);
  EXPECT_TRUE(t.params[0].required);
  ASSERT_EQ(t.steps.size(), 2u);
  EXPECT_EQ(t.steps[0].kind, StepKind::run);
  EXPECT_EQ(t.steps[0].id, "1");
  EXPECT_EQ(t.steps[1].kind, StepKind::block);
  EXPECT_EQ(t.steps[1].context.cd, "/tmp/greet");
  ASSERT_EQ(t.steps[1].steps.size(), 2u);
  EXPECT_EQ(t.steps[1].steps[1].id, "2.2");
  EXPECT_EQ(t.steps[1].steps[1].command, "cat greeting.txt");
}

TEST(TaskFile, ErrorsNameTheLineAndTheProblem) {
  EXPECT_EQ(error_of("tasks:\n  a:\n    steps:\n      - frobnicate: x\n"),
            "herdfile.yaml:4: unknown step key 'frobnicate'");
  EXPECT_EQ(error_of("tasks:\n  a:\n    steps:\n      - run: echo {{ nope }}\n"),
            "herdfile.yaml:4: 'nope' is not defined in task 'a' (its parameters: none; results "
            "registered before this step; host.name, host.VAR)");
  EXPECT_EQ(error_of("tasks:\n  a:\n    needs: [b]\n    steps: [run: x]\n  b:\n    needs: [a]\n"
                     "    steps: [run: y]\n"),
            "herdfile.yaml:2: task 'a' depends on itself: a -> b -> a");
  EXPECT_EQ(error_of("tasks:\n  a:\n    needs: [zz]\n    steps: [run: x]\n"),
            "herdfile.yaml:2: task 'a' needs 'zz', which is not a task");
  EXPECT_EQ(error_of("tasks:\n  a:\n    params:\n      n: {type: int, default: many}\n"
                     "    steps: [run: x]\n"),
            "herdfile.yaml:4: parameter 'n': default 'many' is not a int");
  EXPECT_EQ(error_of("tasks:\n  a:\n    steps:\n      - run: x\n        cd: /a\n        steps: "
                     "[run: y]\n"),
            "herdfile.yaml:6: a step with steps: is a block; move 'run' into it");
  EXPECT_EQ(error_of("tasks:\n  a:\n    serial: 0\n    steps: [run: x]\n"),
            "herdfile.yaml:3: serial '0': expected a number of hosts or a percentage (20%)");
  EXPECT_EQ(error_of("tasks:\n  a:\n    steps:\n      - run: x\n        when: a ==\n"),
            "herdfile.yaml:5: when: 'a ==': unexpected end");
  EXPECT_EQ(error_of("tasks:\n  a:\n    steps:\n      - run: echo {{ r.stdout }}\n      - run: "
                     "x\n        register: r\n"),
            "herdfile.yaml:4: 'r.stdout' is not defined in task 'a' (its parameters: none; "
            "results registered before this step; host.name, host.VAR)");
  EXPECT_EQ(error_of("tasks:\n  a:\n    steps:\n      - task: b\n        with: {x: 1}\n  b:\n"
                     "    steps: [run: y]\n"),
            "herdfile.yaml:4: task b: no parameter 'x' (it takes none)");
  EXPECT_EQ(error_of(""), "herdfile.yaml:1: the file is empty: expected 'tasks:'");
}

TEST(TaskFile, RegisteredResultsAndHostFieldsAreKnownNames) {
  TaskFile f = parse(R"(tasks:
  a:
    params:
      v: {default: "1"}
    steps:
      - run: cat /etc/hostname
        register: name
      - run: echo {{ name.stdout }} {{ name }} {{ host.name }} {{ host.role }} {{ v }}
        when: name.rc == 0 and v != '2'
)");
  EXPECT_EQ(f.tasks[0].steps[1].when, "name.rc == 0 and v != '2'");
  EXPECT_NE(error_of("tasks:\n  a:\n    steps:\n      - run: x\n        register: r\n      - "
                     "run: echo {{ r.colour }}\n"),
            "");
}

TEST(TaskTemplate, AValueIsOneShellWordWhereverItLands) {
  auto look = values({{"who", Value(std::string("a b;touch x"))},
                      {"q", Value(std::string("it's \"$(id)\" `id`"))},
                      {"list", Value(std::vector<std::string>{"a b", "c"})},
                      {"n", Value(std::int64_t{42})}});
  EXPECT_EQ(expand("printf '%s\\n' {{ who }}", look, Quoting::shell),
            "printf '%s\\n' 'a b;touch x'");
  EXPECT_EQ(expand("echo {{q}}", look, Quoting::shell), "echo 'it'\\''s \"$(id)\" `id`'");
  // Inside quotes the value is escaped for that quote, never closing it.
  EXPECT_EQ(expand("echo \"v={{ q }}\"", look, Quoting::shell),
            "echo \"v=it's \\\"\\$(id)\\\" \\`id\\`\"");
  EXPECT_EQ(expand("echo 'v={{ q }}'", look, Quoting::shell), "echo 'v=it'\\''s \"$(id)\" `id`'");
  EXPECT_EQ(expand("ls {{ list }}", look, Quoting::shell), "ls 'a b' c");
  EXPECT_EQ(expand("--n={{ n }}", look, Quoting::shell), "--n=42");
  EXPECT_EQ(expand("/srv/{{ who }}", look, Quoting::none), "/srv/a b;touch x");
  EXPECT_EQ(expand("a {{{{ b", look, Quoting::none), "a {{ b");
  EXPECT_THROW(expand("{{ missing }}", look, Quoting::shell), TemplateError);
  EXPECT_THROW(template_names("{{ a"), TemplateError);
  EXPECT_THROW(template_names("{{ a b }}"), TemplateError);
}

TEST(TaskCondition, ComparesNumbersAsNumbersAndTextAsText) {
  auto look = values({{"rc", Value(std::int64_t{0})},
                      {"out", Value(std::string("status: active"))},
                      {"version", Value(std::string("10"))},
                      {"flag", Value(false)},
                      {"roles", Value(std::vector<std::string>{"web", "db"})}});
  EXPECT_TRUE(Condition::parse("rc == 0").holds(look));
  EXPECT_FALSE(Condition::parse("rc != 0").holds(look));
  EXPECT_TRUE(Condition::parse("version > 9").holds(look));     // numbers: 10 > 9
  EXPECT_FALSE(Condition::parse("version < '9'").holds(look));  // still numbers: both are
  EXPECT_TRUE(Condition::parse("'active' in out").holds(look));
  EXPECT_TRUE(Condition::parse("'db' in roles and not flag").holds(look));
  EXPECT_TRUE(Condition::parse("'x' not in roles").holds(look));
  EXPECT_TRUE(Condition::parse("flag or (rc == 0 and out)").holds(look));
  EXPECT_FALSE(Condition::parse("flag").holds(look));
  EXPECT_THROW(Condition::parse("nope == 1").holds(look), TemplateError);
  EXPECT_THROW(Condition::parse("rc = 0"), TemplateError);
  EXPECT_THROW(Condition::parse("(rc == 0"), TemplateError);
}

TEST(TaskParams, BindChecksNamesTypesChoicesAndRequired) {
  TaskFile f = parse(R"(tasks:
  deploy:
    params:
      version: {required: true}
      count: {type: int, default: 3}
      fast: {type: bool, default: false}
      env: {choices: [prod, staging], default: staging}
    steps: [run: x]
)");
  const Task& t = f.tasks[0];
  auto p = bind_params(t, {{"version", "1.2.3"}, {"fast", "yes"}});
  EXPECT_EQ(std::get<std::string>(p["version"]), "1.2.3");
  EXPECT_EQ(std::get<std::int64_t>(p["count"]), 3);
  EXPECT_EQ(std::get<bool>(p["fast"]), true);
  EXPECT_EQ(std::get<std::string>(p["env"]), "staging");
  auto message = [&t](std::vector<std::pair<std::string, std::string>> given) {
    try {
      bind_params(t, given);
    } catch (const TaskFileError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message({}), "task deploy: parameter 'version' is required (deploy version=VALUE)");
  EXPECT_EQ(message({{"version", "1"}, {"colour", "red"}}),
            "task deploy: no parameter 'colour' (it takes version, count, fast, env)");
  EXPECT_EQ(message({{"version", "1"}, {"count", "three"}}), "task deploy: count=three: not a int");
  EXPECT_EQ(message({{"version", "1"}, {"env", "dev"}}),
            "task deploy: env=dev: expected one of prod, staging");
}

TEST(TaskDryRun, PrintsTheExactCommandsOfEachStep) {
  TaskFile f = parse(R"(tasks:
  deploy:
    params:
      version: {required: true}
    steps:
      - run: echo {{ version }}
        register: out
      - env: {APP_ENV: "prod {{ version }}"}
        cd: ~/app
        prefix: . ./venv/bin/activate
        steps:
          - run: ./migrate --to={{ version }}
          - sudo: systemctl restart app
            when: out.rc == 0
            user: root
          - run: "echo {{ out.stdout }} # done"
)");
  auto params = bind_params(f.tasks[0], {{"version", "1.2 $(rm -rf /)"}});
  EXPECT_EQ(dry_run(f, f.tasks[0], params, HostFacts{"web01", {}}),
            "  deploy/1 run: echo {{ version }}\n"
            "      $ echo '1.2 $(rm -rf /)'\n"
            "  deploy/2 block\n"
            "    deploy/2.1 run: ./migrate --to={{ version }}\n"
            "        $ export APP_ENV='prod 1.2 $(rm -rf /)' && cd -- \"$HOME\"/app && . "
            "./venv/bin/activate && { ./migrate --to='1.2 $(rm -rf /)'; }\n"
            "    deploy/2.2 sudo: systemctl restart app  (when: out.rc == 0)\n"
            "        $ sudo -u root -- sh -c 'export APP_ENV='\\''prod 1.2 $(rm -rf /)'\\'' && "
            "cd -- \"$HOME\"/app && . ./venv/bin/activate && { systemctl restart app; }'\n"
            "    deploy/2.3 run: echo {{ out.stdout }} # done\n"
            "        $ export APP_ENV='prod 1.2 $(rm -rf /)' && cd -- \"$HOME\"/app && . "
            "./venv/bin/activate && { echo '<out.stdout>' # done\n"
            "        }\n");
}

TEST(TaskSudo, ThePasswordNeverAppearsInTheCommand) {
  const std::string with = sudo_command("root", "id -u", true, false);
  EXPECT_EQ(with,
            "IFS= read -r herd_pw; printf '%s\\n' \"$herd_pw\" | sudo -S -p "
            "'[herd-sudo-password]' -u root -- sh -c 'id -u'");
  EXPECT_EQ(sudo_command("postgres", "psql -c 'select 1'", false, false),
            "sudo -n -u postgres -- sh -c 'psql -c '\\''select 1'\\'''");
  EXPECT_EQ(sudo_command("root", "id", true, true),
            "sudo -p '[herd-sudo-password]' -u root -- sh -c id");
}

TEST(TaskContext, NestedContextsAccumulateAndInnerWins) {
  Context outer;
  outer.cd = "/srv";
  outer.env = {{"A", "1"}};
  outer.on_failure = OnFailure::abort;
  Context inner;
  inner.cd = "app";
  inner.env = {{"B", "2"}};
  inner.on_failure = OnFailure::cont;
  Context c = outer.wrap(inner);
  EXPECT_EQ(c.cd, "/srv/app");
  ASSERT_EQ(c.env.size(), 2u);
  EXPECT_EQ(c.on_failure, OnFailure::cont);
  inner.cd = "/abs";
  EXPECT_EQ(outer.wrap(inner).cd, "/abs");
}

}  // namespace

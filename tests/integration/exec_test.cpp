// Exec against the lab's real sshd: streams, exit codes and signals, env, stdin, PTY, timeouts.
#include <gtest/gtest.h>

#include <fstream>

#include "lab.hpp"

namespace herd::test {
namespace {

struct Captured {
  std::string out, err;
  ExecSink sink() {
    return {[this](std::string_view d) { out += d; }, [this](std::string_view d) { err += d; }};
  }
};

Session connect_lab() {
  auto s = Session::connect(Lab::get().options());
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

TEST(Exec, SeparateStreamsAndExitStatus) {
  auto s = connect_lab();
  Captured c;
  auto r = s.exec({.command = "echo out; echo err >&2; exit 7"}, c.sink());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(c.out, "out\n");
  EXPECT_EQ(c.err, "err\n");
  EXPECT_EQ(r->exit_status, 7);
  EXPECT_FALSE(r->exit_signal);
  EXPECT_FALSE(r->ok());
}

TEST(Exec, ExitSignal) {
  auto s = connect_lab();
  auto r = s.exec({.command = "kill -USR1 $$"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->exit_signal, "USR1");
  EXPECT_FALSE(r->exit_status);
}

TEST(Exec, SeveralCommandsOnOneSession) {
  auto s = connect_lab();
  for (int i = 0; i < 5; ++i) {
    Captured c;
    auto r = s.exec({.command = "echo " + std::to_string(i)}, c.sink());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(c.out, std::to_string(i) + "\n");
  }
}

TEST(Exec, EnvironmentAcceptedAndFallback) {
  auto s = connect_lab();
  Captured c;
  // HERD_* is in the lab's AcceptEnv; OTHER_VAR is not and must be exported by herd instead.
  auto r = s.exec({.command = "printf '%s|%s' \"$HERD_GREETING\" \"$OTHER_VAR\"",
                   .env = {{"HERD_GREETING", "hello world"}, {"OTHER_VAR", "it's $(not run)"}}},
                  c.sink());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(c.out, "hello world|it's $(not run)");
}

TEST(Exec, InvalidEnvNameRejected) {
  auto s = connect_lab();
  auto r = s.exec({.command = "true", .env = {{"BAD;NAME", "x"}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::bad_config);
}

TEST(Exec, StdinFromBytes) {
  auto s = connect_lab();
  Captured c;
  std::string input(3 * 1024 * 1024 + 7, 'x');
  input += "\nend\n";
  auto r = s.exec({.command = "wc -c; ", .stdin_data = input}, c.sink());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(std::stoul(c.out), input.size());
}

TEST(Exec, StdinFromFile) {
  auto& lab = Lab::get();
  auto file = lab.temp_dir("stdin") / "input.txt";
  std::ofstream(file) << "line one\nline two\n";
  auto s = connect_lab();
  Captured c;
  auto r = s.exec({.command = "sed -n 2p", .stdin_file = file}, c.sink());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(c.out, "line two\n");
}

TEST(Exec, NoStdinMeansEof) {
  auto s = connect_lab();
  Captured c;
  auto r = s.exec({.command = "cat; echo done", .timeout = std::chrono::seconds(20)}, c.sink());
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(c.out, "done\n");
}

TEST(Exec, Pty) {
  auto s = connect_lab();
  Captured c;
  auto r = s.exec({.command = "tty; echo to-stderr >&2", .pty = PtyOptions{"vt100", 100, 40}},
                  c.sink());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(c.out.starts_with("/dev/pts/")) << c.out;
  EXPECT_NE(c.out.find("to-stderr"), std::string::npos) << "a PTY merges stderr into stdout";
}

// 100 MB on stdout and 100 MB on stderr at once: no deadlock, every byte delivered.
TEST(Exec, HundredMegabytesOnBothStreams) {
  auto s = connect_lab();
  std::uint64_t out = 0, err = 0;
  auto r = s.exec(
      {.command = "head -c 100000000 /dev/zero & head -c 100000000 /dev/zero >&2; wait",
       .timeout = std::chrono::seconds(300)},
      {[&](std::string_view d) { out += d.size(); }, [&](std::string_view d) { err += d.size(); }});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(out, 100000000u);
  EXPECT_EQ(err, 100000000u);
}

bool remote_process_gone(Session& s, const std::string& pattern) {
  // Each check is a round trip; the processes were signalled before exec() returned, so this
  // only absorbs signal-delivery latency.
  for (int i = 0; i < 50; ++i) {
    auto r = s.exec({.command = "pgrep -f '" + pattern + "'"});
    if (r && r->exit_status == 1) return true;
  }
  return false;
}

class CommandTimeout : public ::testing::TestWithParam<bool> {};

TEST_P(CommandTimeout, EndsTheRemoteProcessGroup) {
  const bool pty = GetParam();
  auto s = connect_lab();
  const std::string tag = pty ? "4243" : "4242";
  // A background child and a foreground one; both must be gone after the timeout.
  ExecRequest req{.command = "sleep " + tag + "1 & sleep " + tag + "2; wait",
                  .timeout = std::chrono::milliseconds(1500),
                  .kill_grace = std::chrono::milliseconds(1000)};
  if (pty) req.pty = PtyOptions{};
  auto started = std::chrono::steady_clock::now();
  auto r = s.exec(req);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(took, std::chrono::seconds(10));
  // The regex [x] trick keeps pgrep from matching its own command line.
  EXPECT_TRUE(remote_process_gone(s, "sleep " + tag.substr(0, 3) + "[" + tag.substr(3) + "]1"));
  EXPECT_TRUE(remote_process_gone(s, "sleep " + tag.substr(0, 3) + "[" + tag.substr(3) + "]2"));
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutPty, CommandTimeout, ::testing::Bool());

}  // namespace
}  // namespace herd::test

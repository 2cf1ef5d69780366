// `herd shell` driven like a person would: in tmux, with send-keys and capture-pane.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "lab.hpp"

namespace herd::test {
namespace {

class Tmux {
 public:
  Tmux() {
    socket_ = (Lab::get().temp_dir("tmux") / "sock").string();
    auto r = tmux("new-session -d -s t -x 100 -y 30 /bin/sh");
    if (r.exit_code != 0) throw std::runtime_error("tmux: " + r.err);
  }
  ~Tmux() { tmux("kill-server"); }

  ProcessResult tmux(const std::string& args) {
    return run_shell("TERM=xterm tmux -S " + socket_ + " " + args);
  }
  void type(const std::string& text) { tmux("send-keys -t t -l '" + text + "'"); tmux("send-keys -t t Enter"); }
  std::string screen() { return tmux("capture-pane -p -t t").out; }

  /// Poll the screen until `text` shows (bounded); returns whether it did.
  bool wait_for(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(20)) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (screen().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  /// Block until the pane's shell signals `channel` (tmux wait-for), bounded by `timeout`.
  bool wait_signal(const std::string& channel) {
    return run_shell("TERM=xterm timeout 30 tmux -S " + socket_ + " wait-for " + channel).exit_code == 0;
  }

 private:
  std::string socket_;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// In the pane's shell: save the terminal mode, run `herd shell lab1`, then record its exit status
/// and the terminal mode after it, and signal `done` (tmux wait-for).
void launch_herd_shell(Tmux& t, const std::filesystem::path& dir, const std::string& done) {
  std::string herd = std::string(HERD_BINARY) + " shell -F " +
                     Lab::get().env("HERD_LAB_SSH_CONFIG") + " --no-agent --no-default-keys lab1";
  t.type("stty -g > " + (dir / "before").string() + "; " + herd + "; echo $? > " +
         (dir / "status").string() + "; stty -g > " + (dir / "after").string() +
         "; tmux -S $(echo $TMUX | cut -d, -f1) wait-for -S " + done);
}

TEST(Shell, InteractiveSessionLikeSsh) {
  auto& lab = Lab::get();
  auto dir = lab.temp_dir("shell");
  Tmux t;
  launch_herd_shell(t, dir, "shell-done");
  ASSERT_TRUE(t.wait_for("\nlab$")) << t.screen();

  t.type("echo hello-$((6*7))");
  EXPECT_TRUE(t.wait_for("hello-42")) << t.screen();
  t.type("stty size");
  EXPECT_TRUE(t.wait_for("30 100")) << t.screen();

  // A window resize reaches the remote PTY (SIGWINCH -> window-change).
  t.tmux("resize-window -t t -x 120 -y 40");
  t.type("clear; stty size");
  EXPECT_TRUE(t.wait_for("40 120")) << t.screen();

  // Ctrl-C goes to the remote side (raw mode), not to herd.
  t.type("sleep 100");
  t.tmux("send-keys -t t C-c");
  t.type("echo still-$((40+2))-here");
  EXPECT_TRUE(t.wait_for("still-42-here")) << t.screen();

  t.type("exit 3");
  ASSERT_TRUE(t.wait_signal("shell-done")) << t.screen();
  EXPECT_EQ(slurp(dir / "status"), "3\n");
  EXPECT_EQ(slurp(dir / "before"), slurp(dir / "after")) << "terminal mode must be restored";
  EXPECT_FALSE(slurp(dir / "before").empty());
}

TEST(Shell, TerminalRestoredWhenKilled) {
  auto& lab = Lab::get();
  auto dir = lab.temp_dir("shell-term");
  Tmux t;
  launch_herd_shell(t, dir, "term-done");
  ASSERT_TRUE(t.wait_for("\nlab$")) << t.screen();
  ASSERT_EQ(run_shell("pkill -TERM -f '^" + std::string(HERD_BINARY) + " shell'").exit_code, 0);
  ASSERT_TRUE(t.wait_signal("term-done")) << t.screen();
  EXPECT_EQ(slurp(dir / "before"), slurp(dir / "after"));
  EXPECT_NE(slurp(dir / "status"), "0\n");
}

}  // namespace
}  // namespace herd::test

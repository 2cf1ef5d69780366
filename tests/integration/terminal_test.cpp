// `herd run` on a real terminal: herd runs on a pseudo-terminal (forkpty) against the OpenSSH
// lab; the test reads what the terminal receives and types Ctrl-C into it. Covers the progress
// line (drawn only on a terminal, never mixed into output lines, erased at the end) and the
// first and second Ctrl-C.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lab.hpp"

namespace herd::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::regex kProgress(R"(\[(\d+)/(\d+)\] (\d+) failed, (\d+\.\d) hosts/s)");

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// A child process on the slave side of a new pseudo-terminal (its controlling terminal, as for
/// a command started from a shell). Everything it writes to stdout or stderr is collected in
/// `output()` exactly as the terminal received it; send() types into the terminal.
class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& args) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
      ::setenv("TERM", "xterm", 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~PtyProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  /// Read until `done(output)` holds (true) or `limit` passes or the terminal closes (false).
  bool read_until(const std::function<bool(const std::string&)>& done, milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!done(out_)) {
      if (eof_ || !read_some(deadline)) return done(out_);
    }
    return true;
  }
  /// Read to the end, then reap; the exit code, or -1 if it did not end within `limit`.
  int wait(milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!eof_) {
      if (!read_some(deadline)) return -1;
    }
    // The terminal closed (every holder of the slave is gone); the process ends right after.
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (Clock::now() > deadline) return -1;
      ::poll(nullptr, 0, 10);
    }
  }
  void send(std::string_view bytes) { (void)!::write(master_, bytes.data(), bytes.size()); }
  const std::string& output() const { return out_; }

 private:
  // One read, waiting until `deadline`; false when the deadline passed.
  bool read_some(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{master_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) return true;
    char buf[65536];
    ssize_t got = ::read(master_, buf, sizeof buf);
    if (got > 0) {
      out_.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      eof_ = true;  // EIO: the slave side is closed
    }
    return true;
  }
  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool eof_ = false;
  std::string out_;
};

/// The lines a terminal would show for `raw`: "\r" moves to column 0, "\033[K" clears to the
/// end of the line, other escape sequences (colours) are dropped. The last element is the line
/// the cursor is on (empty when the output ended with a newline and nothing after it).
std::vector<std::string> screen_lines(const std::string& raw) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t col = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\033' && i + 1 < raw.size() && raw[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < raw.size() && !(raw[j] >= '@' && raw[j] <= '~')) ++j;
      if (j < raw.size() && raw[j] == 'K') line.resize(col);
      i = j;
    } else if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      lines.push_back(line);
      line.clear();
      col = 0;
    } else {
      if (col < line.size()) {
        line[col] = c;
      } else {
        line += c;
      }
      ++col;
    }
  }
  lines.push_back(line);
  return lines;
}

/// The terminal's text without escape sequences, one "\n" per line.
std::string plain(const std::string& raw) {
  std::string out;
  for (const auto& line : screen_lines(raw)) out += line + "\n";
  return out;
}

std::vector<std::string> herd_args(std::vector<std::string> rest) {
  std::vector<std::string> args{
      HERD_BINARY,         "run",        "-F", Lab::get().env("HERD_LAB_SSH_CONFIG"), "--no-agent",
      "--no-default-keys", "--no-record"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

// Eight hosts, four at a time, each printing three lines over about 1.8 s: about 3.6 s.
const char* kHosts = "web[01-08]";
const char* kTicks = "for i in 1 2 3; do echo tick $i; sleep 0.6; done";

TEST(Terminal, ProgressLineIsDrawnAndNeverMixesWithOutputLines) {
  const auto started = Clock::now();
  PtyProcess herd(herd_args({"-f", "4", kHosts, "--", kTicks}));
  const int code = herd.wait(milliseconds(60000));
  const double took = seconds_since(started);
  const std::string& raw = herd.output();
  ASSERT_EQ(code, 0) << raw;

  // The line was drawn, its counts moved, and it was redrawn at most ~10 times a second.
  std::vector<int> done_seen;
  for (std::sregex_iterator it(raw.begin(), raw.end(), kProgress), end; it != end; ++it) {
    EXPECT_EQ((*it)[2], "8");
    EXPECT_EQ((*it)[3], "0");
    done_seen.push_back(std::stoi((*it)[1]));
  }
  ASSERT_FALSE(done_seen.empty()) << "no progress line on the terminal:\n" << raw;
  EXPECT_TRUE(std::is_sorted(done_seen.begin(), done_seen.end()));
  EXPECT_TRUE(std::any_of(done_seen.begin(), done_seen.end(), [](int d) { return d > 0 && d < 8; }))
      << "the line never showed hosts done while others ran";
  EXPECT_LE(done_seen.size(), static_cast<std::size_t>(took * 10) + 2)
      << done_seen.size() << " draws in " << took << " s";
  // Every draw begins by returning to column 0 and clearing the line.
  EXPECT_EQ(count(raw, "hosts/s"), count(raw, "\r\033[K["));

  // What the terminal shows at the end: the output lines, intact, then the summary; the
  // progress line is gone.
  auto lines = screen_lines(raw);
  EXPECT_EQ(lines.back(), "") << "the cursor is not on a fresh line";
  lines.pop_back();
  std::multiset<std::string> want;
  for (int h = 1; h <= 8; ++h) {
    for (int i = 1; i <= 3; ++i)
      want.insert("web0" + std::to_string(h) + ": tick " + std::to_string(i));
  }
  std::multiset<std::string> got;
  std::vector<std::string> summary;
  for (const auto& line : lines) {
    EXPECT_EQ(line.find("hosts/s"), std::string::npos) << "progress left on screen: " << line;
    if (line.starts_with("herd: ") || line.starts_with("  ")) {
      summary.push_back(line);
    } else {
      got.insert(line);
    }
  }
  EXPECT_EQ(got, want) << raw;
  ASSERT_EQ(summary.size(), 2U) << raw;
  EXPECT_TRUE(summary[0].starts_with("herd: 8 hosts in ")) << summary[0];
  EXPECT_TRUE(summary[0].ends_with(": 8 ok")) << summary[0];
  EXPECT_NE(summary[1].find("web[01-08]"), std::string::npos) << summary[1];
}

TEST(Terminal, NoProgressLineWithoutATerminalOrWhenTurnedOff) {
  // Longer than the 1 s before the first draw, so a line would have been drawn.
  const std::string slow = "sleep 1.5; echo done";
  const std::map<std::string, std::string> term{{"TERM", "xterm"}};
  auto piped = run_herd({"run", "-F", Lab::get().env("HERD_LAB_SSH_CONFIG"), "--no-agent",
                         "--no-default-keys", "--no-record", "web01,web02", "--", slow},
                        {}, term);
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find("hosts/s"), std::string::npos) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
  EXPECT_TRUE(piped.out == "web01: done\nweb02: done\n" ||
              piped.out == "web02: done\nweb01: done\n")
      << piped.out;

  // --progress forces it on a pipe (so the check above could see one).
  auto forced =
      run_herd({"run", "-F", Lab::get().env("HERD_LAB_SSH_CONFIG"), "--no-agent",
                "--no-default-keys", "--no-record", "--progress", "web01,web02", "--", slow},
               {}, term);
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(std::regex_search(forced.err, kProgress)) << forced.err;
  EXPECT_TRUE(forced.out == "web01: done\nweb02: done\n" ||
              forced.out == "web02: done\nweb01: done\n")
      << forced.out;

  // On a terminal: --no-progress, and --json, draw nothing.
  PtyProcess off(herd_args({"--no-progress", "web01,web02", "--", slow}));
  EXPECT_EQ(off.wait(milliseconds(30000)), 0) << off.output();
  EXPECT_EQ(off.output().find("hosts/s"), std::string::npos) << off.output();
  EXPECT_NE(plain(off.output()).find("web02: done\n"), std::string::npos) << off.output();

  PtyProcess json(herd_args({"--json", "web01,web02", "--", slow}));
  EXPECT_EQ(json.wait(milliseconds(30000)), 0) << json.output();
  EXPECT_EQ(json.output().find("hosts/s"), std::string::npos) << json.output();
  int events = 0;
  for (const auto& line : screen_lines(json.output())) {
    if (line.empty()) continue;
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
    ++events;
  }
  EXPECT_EQ(events, 2 + 2 + 2 + 1);  // started, output, finished per host; summary
}

// Commands that ignore TERM: after the first Ctrl-C herd sends TERM, waits the kill grace
// (2 s), then KILL. A PTY (-t) makes the remote session end with the connection.
const char* kStubborn = "trap '' TERM; echo ready; exec sleep 8";
const char* kFour = "web01,web02,web03,web04";

bool all_ready(const std::string& out) {
  return count(plain(out), ": ready\n") == 4;
}

TEST(Terminal, FirstCtrlCWaitsForTheCommandsToEnd) {
  PtyProcess herd(herd_args({"-t", kFour, "--", kStubborn}));
  ASSERT_TRUE(herd.read_until(all_ready, milliseconds(20000))) << herd.output();
  herd.send("\x03");  // Ctrl-C, typed: the terminal sends SIGINT
  const auto interrupted = Clock::now();
  ASSERT_TRUE(herd.read_until(
      [](const std::string& o) { return o.find("herd: interrupted") != std::string::npos; },
      milliseconds(5000)))
      << herd.output();
  EXPECT_EQ(herd.wait(milliseconds(20000)), 130) << herd.output();
  const double took = seconds_since(interrupted);
  EXPECT_GE(took, 1.5) << "TERM is ignored: only KILL after the grace period ends the commands";
  EXPECT_LT(took, 6.0) << "KILL did not end them";
  EXPECT_NE(plain(herd.output()).find("herd: 4 hosts in"), std::string::npos) << herd.output();
  EXPECT_NE(plain(herd.output()).find(": 4 cancelled\n"), std::string::npos) << herd.output();
}

TEST(Terminal, SecondCtrlCExitsAtOnce) {
  PtyProcess herd(herd_args({"-t", kFour, "--", kStubborn}));
  ASSERT_TRUE(herd.read_until(all_ready, milliseconds(20000))) << herd.output();
  herd.send("\x03");
  // The second one only after herd took the first (two pending SIGINTs would be one).
  ASSERT_TRUE(herd.read_until(
      [](const std::string& o) { return o.find("herd: interrupted") != std::string::npos; },
      milliseconds(5000)))
      << herd.output();
  herd.send("\x03");
  const auto second = Clock::now();
  EXPECT_EQ(herd.wait(milliseconds(20000)), 130) << herd.output();
  EXPECT_LT(seconds_since(second), 1.0) << herd.output();
  EXPECT_EQ(plain(herd.output()).find("herd: 4 hosts in"), std::string::npos)
      << "a summary after the second Ctrl-C: " << herd.output();
}

}  // namespace
}  // namespace herd::test

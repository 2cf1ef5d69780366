// The lab for integration tests: real OpenSSH sshd on loopback, started once per test process by
// the first Lab::get() (tests/lab/lab up) and stopped at the end by a GoogleTest global
// environment (lab down).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "herd/session.hpp"

namespace herd::test {

class Lab {
 public:
  /// The running lab (started on first use).
  static Lab& get();

  /// A value from the lab's env file (HERD_LAB_*); empty if absent.
  std::string env(const std::string& key) const;
  std::filesystem::path dir() const { return dir_; }
  std::uint16_t port(int server = 1) const;
  std::string user() const { return env("HERD_LAB_USER"); }
  bool is_root() const;

  /// Options that reach server `server` directly (127.0.0.1:port) as the key user, with a
  /// private copy of the lab's known_hosts (so tests may change it freely), no agent, no
  /// default keys and no ssh_config.
  SessionOptions options(int server = 1) const;

  /// A fresh temporary directory for one test, removed at teardown of the lab.
  std::filesystem::path temp_dir(const std::string& name) const;

  /// Run `tests/lab/lab ARGS...`; returns its exit status.
  int lab_command(const std::vector<std::string>& args) const;

  void up();
  void down();

 private:
  std::filesystem::path dir_;
  std::filesystem::path scratch_;
  std::map<std::string, std::string> env_;
};

/// What a child process did.
/// A child process of a test (herd, ssh, a shell) that runs longer than this is killed.
inline constexpr std::chrono::seconds kProcessTimeLimit{180};

struct ProcessResult {
  int exit_code = -1;           ///< exit status, or 128+signal
  std::string out;              ///< at most the first 1 MiB of stdout
  std::string err;              ///< at most the first 1 MiB of stderr
  std::uint64_t out_bytes = 0;  ///< all bytes seen on stdout
  std::uint64_t err_bytes = 0;
  long max_rss_kb = 0;  ///< peak resident memory of the child
  bool killed = false;  ///< ran past kProcessTimeLimit and was killed
};

/// Run the herd binary with `args`; stdin from `input` (then closed). Both output pipes are
/// drained concurrently. `extra_env` entries are added to the environment.
ProcessResult run_herd(const std::vector<std::string>& args, const std::string& input = {},
                       const std::map<std::string, std::string>& extra_env = {});

/// Run `/bin/sh -c script`, capturing output.
ProcessResult run_shell(const std::string& script);

}  // namespace herd::test

// A herd-sim fleet for integration tests: the simulator in a temporary directory with its own
// client key, stopped (SIGTERM, then SIGKILL) and removed at the end. Used by sim_test.cpp
// (fault kinds on 20 hosts) and fleet_scale_test.cpp (1000 hosts).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lab.hpp"

namespace herd::test {

/// Poll `done` every 20 ms until it holds or `limit` passes (bounded waits for readiness).
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

/// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The whole of a file (empty when it cannot be read).
std::string read_file(const std::filesystem::path& p);

/// `s` as one single-quoted sh word.
std::string sh_quote(const std::string& s);

class SimFleet {
 public:
  /// Start herd-sim with `extra_args` (hosts, faults, threads, ...); throws if it does not
  /// become ready within 30 s.
  explicit SimFleet(const std::vector<std::string>& extra_args);
  ~SimFleet();
  SimFleet(const SimFleet&) = delete;
  SimFleet& operator=(const SimFleet&) = delete;

  pid_t pid() const { return pid_; }
  /// The test's own directory (files beside the fleet's).
  std::filesystem::path dir() const { return temp_.path(); }
  /// Where herd-sim writes ssh_config, known_hosts, inventory.ini, faults.json.
  std::filesystem::path fleet() const { return dir() / "fleet"; }
  std::string config() const { return (fleet() / "ssh_config").string(); }

  /// `herd run -F ssh_config -i key --no-agent --no-default-keys ARGS...`; with `inventory`,
  /// the hosts come from herd-sim's inventory.ini and no ssh_config is read (not even the
  /// system's, whose HashKnownHosts would change what is recorded).
  ProcessResult run(const std::vector<std::string>& args, bool inventory = false) const;
  /// herd run against `host` with `args` before the host and `command` after `--`.
  ProcessResult herd(const std::string& host, const std::string& command,
                     const std::vector<std::string>& args = {}) const;
  /// As run(), with stdout written to `out_file` (the test harness keeps only 1 MiB of it).
  ProcessResult run_to_file(const std::vector<std::string>& args,
                            const std::filesystem::path& out_file) const;
  /// The OpenSSH client line for this fleet (append host and command).
  std::string ssh() const;
  /// The port of `host`, from ssh_config (-1 if absent).
  int port(const std::string& host) const;
  /// faults.json: host -> fault kind.
  std::map<std::string, std::string> faults() const;

 private:
  bool exited();
  std::vector<std::string> base_args() const;

  TempDir temp_;
  std::filesystem::path key_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace herd::test

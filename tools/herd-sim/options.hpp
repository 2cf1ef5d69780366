// herd-sim's command line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace herd::sim {

struct Options {
  std::filesystem::path dir;                         ///< where the files for clients go
  int hosts = 0;                                     ///< number of simulated hosts
  std::uint64_t seed = 1;                            ///< picks the hosts for percentage faults
  int latency_ms = 0;                                ///< added to every chunk, each direction // ms
  std::vector<std::string> faults;                   ///< KIND=PERCENT or KIND=host1,host2
  std::vector<std::filesystem::path> authorized_keys;  ///< OpenSSH .pub files
  std::string password_env;                          ///< env var holding the accepted password
  double max_seconds = 600;                          ///< exit after this long in any case // s
  int threads = 0;                                   ///< worker threads (0: number of cores)
  int slow_ms = 200;                                 ///< `slow`: delay per output chunk // ms
  std::uint64_t huge_mb = 20;                        ///< `huge`: extra stdout // MiB
  std::uint64_t drop_after_bytes = 1024;             ///< `drop`: the one output packet before the cut, at most
};

/// Parses argv; on --help or a bad command line prints and exits (0 or 2).
Options parse_options(int argc, char** argv);

}  // namespace herd::sim

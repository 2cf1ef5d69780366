#include "options.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <thread>

namespace herd::sim {

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{"herd-sim: one process that is a fleet of SSH hosts on 127.0.0.1 (a test tool)"};
  app.add_option("--dir", o.dir, "Directory for ssh_config, known_hosts, inventory.ini, faults.json, ready")
      ->required();
  app.add_option("--hosts", o.hosts, "Number of hosts (sim0001..simNNNN)")
      ->required()
      ->check(CLI::Range(1, 60000));
  app.add_option("--seed", o.seed, "Seed for choosing the hosts of percentage faults");
  app.add_option("--latency-ms", o.latency_ms, "Delay every chunk in each direction by MS")
      ->check(CLI::Range(0, 60000));
  app.add_option("--fault", o.faults,
                 "KIND=PERCENT or KIND=host1,host2 (repeatable). Kinds: refused blackhole stall "
                 "hostkey authfail drop slow huge early")
      ->allow_extra_args(false);
  app.add_option("--authorized-key", o.authorized_keys, "Accept this public key (repeatable)")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  app.add_option("--password-env", o.password_env,
                 "Accept the password held in this environment variable");
  app.add_option("--max-seconds", o.max_seconds, "Exit after this many seconds (default 600)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "Worker threads (default: number of cores)")
      ->check(CLI::Range(1, 256));
  app.add_option("--slow-ms", o.slow_ms, "`slow` fault: delay per output chunk (default 200)")
      ->check(CLI::Range(1, 60000));
  app.add_option("--huge-mb", o.huge_mb, "`huge` fault: MiB of extra stdout (default 20)");
  app.add_option("--drop-after-bytes", o.drop_after_bytes,
                 "`drop` fault: size of the one output packet sent before the cut (default 1024)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

}  // namespace herd::sim

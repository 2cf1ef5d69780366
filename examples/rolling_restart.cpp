// rolling_restart: a rolling restart in batches that stops at the first batch with a failure,
// with live output: the loop a Fabric 2 user writes over Groups, with libherd.
//
//   rolling_restart SSH_CONFIG 'web[01-08]' BATCH STATEDIR
//
// Each host's "restart" appends to STATEDIR/HOST.log; a host for which STATEDIR/fail-HOST
// exists fails its health check. Exits 1 when a batch failed (naming its hosts), else 0.
#include <herd/fleet.hpp>

#include <algorithm>
#include <iostream>
#include <mutex>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: rolling_restart SSH_CONFIG PATTERN BATCH STATEDIR\n";
    return 2;
  }
  const std::size_t batch = std::max(1ul, std::stoul(argv[3]));
  const std::string state = argv[4];

  herd::FleetOptions options;
  options.defaults.ssh_config = argv[1];
  options.defaults.allow_agent = false;
  herd::Fleet fleet(options);
  const std::vector<std::string> hosts = fleet.group(argv[2]).hosts();

  std::mutex out;
  for (std::size_t start = 0, n = 1; start < hosts.size(); start += batch, ++n) {
    std::vector<std::string> these(
        hosts.begin() + static_cast<long>(start),
        hosts.begin() + static_cast<long>(std::min(hosts.size(), start + batch)));
    herd::Group group = fleet.group(these);
    group.on_output([&out](const std::string& host, herd::Stream, std::string_view data) {
      std::lock_guard lock(out);
      std::cout << "[" << host << "] " << data << std::flush;
    });
    // A command per host: here the host's name picks its files.
    auto done = group.run([&state](const std::string& host) {
      return "echo restart >> " + state + "/" + host + ".log && test ! -e " + state + "/fail-" +
             host + " && echo healthy";
    });
    if (!done.ok()) {
      std::cout << "batch " << n << " failed on";
      for (const auto& h : done.failed()) std::cout << " " << h;
      std::cout << "; stopping\n";
      return 1;
    }
    std::cout << "batch " << n << " ok (" << these.size() << " hosts)\n";
  }
  return 0;
}

// fleet_basics: what Fabric's Group and Connection do, with libherd.
//
//   fleet_basics SSH_CONFIG 'web[01-04]' WORKDIR
//
// Runs a command on every host of the pattern (in parallel), uploads a file to each and
// downloads it back, then keeps one connection to the first host for a few calls. Prints what
// each host said; exits 1 if any host failed.
#include <herd/fleet.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fleet_basics SSH_CONFIG PATTERN WORKDIR\n";
    return 2;
  }
  const std::filesystem::path workdir = argv[3];

  herd::FleetOptions options;
  options.defaults.ssh_config = argv[1];  // host names, ports, users, keys, known_hosts
  options.defaults.allow_agent = false;
  herd::Fleet fleet(options);
  herd::Group web = fleet.group(argv[2]);

  // run: every host at once; results in host order.
  auto names =
      web.run("uname -n && echo \"$GREETING\"", {.env = {{"GREETING", "hello from herd"}}});
  for (const auto& r : names) {
    std::cout << r.host << ": " << (r.ok() ? "ok" : "FAILED " + r.message) << " | "
              << r.stdout_text.substr(r.stdout_text.find('\n') + 1);
  }

  // put: one local file, read once, verified on every host; get: back into WORKDIR/HOST/.
  const auto local = workdir / "payload.txt";
  std::ofstream(local) << "payload for every host\n";
  const auto remote = (workdir / "remote").string() + "/";
  web.run("mkdir -p " + remote);
  auto put = web.put(local, remote);
  auto got = web.get(remote + "payload.txt", workdir / "back");
  std::cout << "put: " << (put.ok() ? "ok" : "failed") << ", get: " << (got.ok() ? "ok" : "failed")
            << "\n";

  // A failing command is a result, not an exception.
  auto bad = web.run("exit 3");
  std::cout << "exit 3 on " << bad.failed().size() << " hosts, exit code "
            << bad.begin()->exit_code.value_or(-1) << "\n";

  // Connection: one host, one session, several calls.
  auto first = fleet.connect(web.hosts().front());
  if (!first) {
    std::cerr << first.error().message << "\n";
    return 1;
  }
  auto pwd = first->run("pwd", {.cwd = "/tmp"});
  std::cout << first->host() << " in " << (pwd ? pwd->stdout_text : pwd.error().message + "\n");

  const bool all_ok = names.ok() && put.ok() && got.ok() &&
                      bad.failed().size() == web.hosts().size() && pwd && pwd->ok();
  return all_ok ? 0 : 1;
}

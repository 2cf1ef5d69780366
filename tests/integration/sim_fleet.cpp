#include "sim_fleet.hpp"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace herd::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/herd-sim-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

SimFleet::SimFleet(const std::vector<std::string>& extra_args) {
  key_ = dir() / "id_ed25519";
  auto keygen = run_shell("ssh-keygen -q -t ed25519 -N '' -C sim-test -f " + sh_quote(key_));
  if (keygen.exit_code != 0) throw std::runtime_error("ssh-keygen failed: " + keygen.err);
  std::vector<std::string> args{
      HERD_SIM_BINARY, "--dir", fleet().string(), "--authorized-key", key_.string() + ".pub",
      "--max-seconds", "300"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, HERD_SIM_BINARY, nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("cannot start herd-sim");
  }
  if (!wait_until([&] { return fs::exists(fleet() / "ready") || exited(); },
                  std::chrono::seconds(30)) ||
      exited()) {
    throw std::runtime_error("herd-sim did not become ready");
  }
}

SimFleet::~SimFleet() {
  if (pid_ <= 0 || exited()) return;
  ::kill(pid_, SIGTERM);
  if (!wait_until([&] { return exited(); }, std::chrono::seconds(10))) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool SimFleet::exited() {
  if (reaped_) return true;
  int status = 0;
  reaped_ = ::waitpid(pid_, &status, WNOHANG) == pid_;
  return reaped_;
}

std::vector<std::string> SimFleet::base_args() const {
  return {"run", "-F", config(), "-i", key_.string(), "--no-agent", "--no-default-keys"};
}

ProcessResult SimFleet::run(const std::vector<std::string>& args, bool inventory) const {
  std::vector<std::string> a = base_args();
  if (inventory) {
    a[2] = "/dev/null";
    a.insert(a.begin() + 3, {"--inventory", (fleet() / "inventory.ini").string()});
  }
  a.insert(a.end(), args.begin(), args.end());
  return run_herd(a);
}

ProcessResult SimFleet::herd(const std::string& host, const std::string& command,
                             const std::vector<std::string>& args) const {
  std::vector<std::string> a = args;
  a.insert(a.end(), {host, "--", command});
  return run(a);
}

ProcessResult SimFleet::run_to_file(const std::vector<std::string>& args,
                                    const fs::path& out_file) const {
  std::string script = "exec " + sh_quote(HERD_BINARY);
  for (const auto& a : base_args()) script += " " + sh_quote(a);
  for (const auto& a : args) script += " " + sh_quote(a);
  return run_shell(script + " > " + sh_quote(out_file.string()));
}

std::string SimFleet::ssh() const {
  return "ssh -F " + sh_quote(config()) + " -i " + sh_quote(key_.string()) +
         " -o BatchMode=yes -o IdentitiesOnly=yes";
}

int SimFleet::port(const std::string& host) const {
  std::ifstream in(config());
  std::string line;
  bool in_host = false;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    words >> key >> value;
    if (key == "Host") in_host = value == host;
    if (in_host && key == "Port") return std::stoi(value);
  }
  return -1;
}

std::map<std::string, std::string> SimFleet::faults() const {
  std::map<std::string, std::string> out;
  const auto parsed = nlohmann::json::parse(read_file(fleet() / "faults.json"));
  for (const auto& [host, kind] : parsed.items()) out[host] = kind.get<std::string>();
  return out;
}

}  // namespace herd::test

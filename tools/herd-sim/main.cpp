// herd-sim: the fleet simulator. One process that is N SSH hosts on 127.0.0.1, for tests and
// benchmarks of herd against fleets far larger than a lab of real sshd processes allows.
//
// Theory of operation
// -------------------
// - Hosts. Host i is named simNNNN (zero-padded to max(4, digits of N)) and owns one TCP socket
//   bound to 127.0.0.1 on a free port (listener.cpp). Nothing listens on any other address.
// - Faults (faults.cpp). Each host has at most one fault, from explicit host lists first, then
//   from percentages over the remaining hosts in an order shuffled by --seed (splitmix64, so the
//   same seed gives the same hosts everywhere). Network-level faults are made with the socket:
//   `refused` binds but never listens (RST); `blackhole` listens with backlog 0 and keeps the
//   accept queue full with a connection of its own, so the kernel drops SYNs; `stall` accepts
//   and never speaks. SSH-level faults live in the session: `hostkey` presents a second key,
//   `authfail` refuses every method; `drop`, `slow`, `huge` and `early` act on command output (channel.cpp).
// - Threads (worker.cpp). --threads workers, each with its own Loop (loop.cpp: level-triggered
//   epoll, timers, deferred destruction). Hosts are dealt round-robin to workers and each worker
//   accepts on its own hosts' listeners, so a connection lives and dies on one thread and there is
//   no locking; a fleet run spreads connections over the workers because it spreads over hosts.
// - Sessions (session.cpp). Each accepted socket is handed to libssh (ssh_bind_accept_fd), made
//   non-blocking and put in a per-session ssh_event. The worker's epoll says when the socket is
//   readable (or writable, while libssh has output queued: ssh_get_poll_flags), and the session
//   then runs ssh_handle_key_exchange / ssh_event_dopoll with a zero timeout. libssh's server and
//   channel callbacks do the rest: public keys from --authorized-key (libssh verifies the
//   signature before calling back with SSH_PUBLICKEY_STATE_VALID), the password from
//   --password-env, one Channel per session channel. One ed25519 host key is generated at start
//   for all good hosts (ssh_pki_generate) and written to known_hosts.
// - Commands (channel.cpp, child.cpp). `exec` runs /bin/sh -c CMD via posix_spawn in a new
//   process group with non-blocking pipes; `env` requests extend its environment; `pty-req` is
//   accepted and ignored. Output is read from a pipe only when the previous chunk was taken by
//   the channel, and only as much as the client's window allows, so a flooding command is held
//   back by flow control, not buffered. stdout and stderr go out as separate streams. Child exit
//   is seen on a pidfd; then exit-status (or exit-signal), EOF and close are sent. `signal`
//   requests are forwarded to the process group; channel close or a lost connection kills it.
// - Latency (relay.cpp). With --latency-ms the client's socket is relayed to one end of a
//   socketpair whose other end libssh gets; each chunk is held for the latency in each direction.
// - Lifetime. The files for clients (files.cpp) are written after every listener is open; `ready`
//   last. The main thread waits for SIGTERM/SIGINT or --max-seconds, then stops the workers, which
//   close every session and kill (and reap) every child. Files in --dir are left for the caller.
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "faults.hpp"
#include "files.hpp"
#include "listener.hpp"
#include "options.hpp"
#include "worker.hpp"

namespace herd::sim {
namespace {

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string current_user() {
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  if (const char* u = std::getenv("USER")) return u;
  throw std::runtime_error("cannot tell the current user name");
}

std::vector<std::string> host_names(int n) {
  int width = std::max<int>(4, static_cast<int>(std::to_string(n).size()));
  std::vector<std::string> names;
  for (int i = 1; i <= n; ++i) names.push_back(fmt::format("sim{:0{}}", i, width));
  return names;
}

struct Key {
  ssh_key key = nullptr;
  Key() = default;
  explicit Key(ssh_key k) : key(k) {}
  Key(Key&& o) noexcept : key(o.key) { o.key = nullptr; }
  Key(const Key&) = delete;
  ~Key() { ssh_key_free(key); }
};

Key generate_ed25519() {
  ssh_key k = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k) != SSH_OK) {
    throw std::runtime_error("cannot generate an ed25519 host key");
  }
  return Key(k);
}

std::string public_key_line(ssh_key key) {
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) throw std::runtime_error("cannot export host key");
  std::string line = fmt::format("{} {}", ssh_key_type_to_char(ssh_key_type(key)), b64);
  ssh_string_free_char(b64);
  return line;
}

// Wait for SIGTERM / SIGINT (blocked in every thread) or the deadline.
void wait_for_end(const sigset_t& signals, double max_seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<long>(max_seconds * 1000));
  while (true) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) return;
  }
}

int run(const Options& opt) {
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread: all inherit it

  auto names = host_names(opt.hosts);
  std::string error;
  auto faults = assign_faults(names, opt.faults, opt.seed, error);
  if (!error.empty()) {
    fmt::print(stderr, "herd-sim: {}\n", error);
    return 2;
  }

  SessionConfig config;
  config.slow_delay = std::chrono::milliseconds(opt.slow_ms);
  config.huge_bytes = opt.huge_mb << 20;
  config.drop_after_bytes = opt.drop_after_bytes;
  std::vector<Key> authorized;
  for (const auto& path : opt.authorized_keys) {
    ssh_key k = nullptr;
    if (ssh_pki_import_pubkey_file(path.c_str(), &k) != SSH_OK) {
      fmt::print(stderr, "herd-sim: --authorized-key {}: not an OpenSSH public key\n", path.string());
      return 2;
    }
    authorized.emplace_back(k);
    config.authorized_keys.push_back(k);
  }
  if (!opt.password_env.empty()) {
    const char* pw = std::getenv(opt.password_env.c_str());
    if (pw == nullptr) {
      fmt::print(stderr, "herd-sim: --password-env: {} is not set\n", opt.password_env);
      return 2;
    }
    config.password = pw;
  }

  Key good = generate_ed25519();
  Key bad = generate_ed25519();

  std::vector<Host> hosts(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    hosts[i].name = names[i];
    hosts[i].fault = faults[i];
    auto l = open_listener(faults[i], error);
    if (!l) {
      fmt::print(stderr, "herd-sim: {}: {}\n", names[i], error);
      for (auto& h : hosts) close_listener(h.listener);
      return 1;
    }
    hosts[i].listener = *l;
  }

  int rc = 0;
  {
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < opt.threads; ++i) {
      workers.push_back(std::make_unique<Worker>(config, good.key, bad.key,
                                                 std::chrono::milliseconds(opt.latency_ms)));
    }
    for (std::size_t i = 0; i < hosts.size(); ++i) workers[i % workers.size()]->add_host(hosts[i]);
    try {
      std::filesystem::create_directories(opt.dir);
      write_client_files(opt.dir, hosts, current_user(), public_key_line(good.key));
      for (auto& w : workers) w->start();
      write_ready(opt.dir);
      fmt::print(stderr, "herd-sim: {} hosts on 127.0.0.1, {} workers, files in {}\n", hosts.size(),
                 workers.size(), opt.dir.string());
      wait_for_end(signals, opt.max_seconds);
    } catch (const std::exception& e) {
      fmt::print(stderr, "herd-sim: {}\n", e.what());
      rc = 1;
    }
    for (auto& w : workers) w->stop();
  }  // workers end their sessions and children here
  for (auto& h : hosts) close_listener(h.listener);
  return rc;
}

}  // namespace
}  // namespace herd::sim

int main(int argc, char** argv) {
  auto options = herd::sim::parse_options(argc, argv);
  ssh_init();
  int rc = 1;
  try {
    rc = herd::sim::run(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "herd-sim: {}\n", e.what());
  }
  ssh_finalize();
  return rc;
}

// A worker thread: its own Loop, the listeners of the hosts it serves, and every connection
// accepted on them (sessions, latency relays, stalled sockets). Nothing is shared between
// workers except read-only configuration.
#pragma once

#include <libssh/libssh.h>
#include <libssh/server.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "faults.hpp"
#include "listener.hpp"
#include "loop.hpp"
#include "relay.hpp"
#include "session.hpp"

namespace herd::sim {

struct Host {
  std::string name;
  Fault fault = Fault::none;
  Listener listener;
};

class Worker {
 public:
  /// `good_key` / `bad_key`: host private keys (copied). `bad_key` is presented by `hostkey` hosts.
  Worker(const SessionConfig& config, ssh_key good_key, ssh_key bad_key,
         std::chrono::milliseconds latency);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Serve `host` (before start()). The Host must outlive the worker.
  void add_host(Host& host);
  void start();
  /// Stop the thread, end every connection and kill every child.
  void stop();

 private:
  struct Connection {
    std::unique_ptr<Relay> relay;
    std::unique_ptr<Session> session;
  };
  void on_acceptable(Host& host);
  void accept_one(Host& host, int fd);
  void hold_stalled(int fd);
  void maybe_erase(Connection* c);

  Loop loop_;
  Reaper reaper_;
  const SessionConfig& config_;
  std::chrono::milliseconds latency_;
  ssh_bind good_bind_ = nullptr;
  ssh_bind bad_bind_ = nullptr;
  std::vector<Host*> hosts_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::unordered_map<int, bool> stalled_;  // fds accepted by `stall` hosts
  std::thread thread_;
};

}  // namespace herd::sim

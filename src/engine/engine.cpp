// Engine: the coordinator and its worker loops (theory of operation in herd/engine.hpp).
#include "herd/engine.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <thread>
#include <unordered_map>

#include "engine/host_driver.hpp"
#include "engine/host_flow.hpp"

namespace herd {

namespace asio = boost::asio;
using engine::HostDriver;

namespace {

using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;

/// A worker loop: its own io_context and thread, and the hosts it drives (loop thread only).
struct Worker {
  asio::io_context io{1};
  std::optional<WorkGuard> guard;
  std::thread thread;
  std::unordered_map<std::size_t, std::shared_ptr<HostDriver>> active;
};

}  // namespace

struct Engine::Impl {
  FleetJob job;
  std::vector<HostTarget> targets;
  EngineObserver* observer = nullptr;

  asio::io_context coordinator{1};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<HostResult> results;
  std::vector<int> worker_of;   ///< which worker runs host i (-1: not started)
  std::size_t next = 0;         ///< next host to start
  std::size_t running = 0;
  std::size_t finished = 0;
  std::atomic<bool> cancel_requested{false};
  bool cancelling = false;      ///< coordinator thread only

  void start_more();
  void start_host(std::size_t index);
  void on_finished(std::size_t index, HostResult result);
  void do_cancel();
};

Engine::Engine(FleetJob job, std::vector<HostTarget> targets) : impl_(std::make_unique<Impl>()) {
  impl_->job = std::move(job);
  impl_->targets = std::move(targets);
}

Engine::~Engine() = default;

bool Engine::cancelled() const { return impl_->cancel_requested.load(); }

void Engine::cancel() {
  if (impl_->cancel_requested.exchange(true)) return;
  asio::post(impl_->coordinator, [impl = impl_.get()] { impl->do_cancel(); });
}

std::vector<HostResult> Engine::run(EngineObserver& observer) {
  Impl& m = *impl_;
  m.observer = &observer;
  const std::size_t n = m.targets.size();
  m.results.assign(n, HostResult{});
  m.worker_of.assign(n, -1);
  if (n == 0) return {};

  int loops = m.job.loops > 0 ? m.job.loops
                              : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  loops = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(loops), n));
  for (int i = 0; i < loops; ++i) {
    auto w = std::make_unique<Worker>();
    w->guard.emplace(w->io.get_executor());
    Worker* raw = w.get();
    w->thread = std::thread([raw] { raw->io.run(); });
    m.workers.push_back(std::move(w));
  }
  // The coordinator runs handlers (events, finished hosts, cancel) until every host is done.
  WorkGuard guard(m.coordinator.get_executor());
  asio::post(m.coordinator, [&m] { m.start_more(); });
  while (m.finished < n) m.coordinator.run_one();
  guard.reset();
  for (auto& w : m.workers) {
    asio::post(w->io, [raw = w.get()] { raw->guard.reset(); });
  }
  for (auto& w : m.workers) w->thread.join();
  m.workers.clear();
  return std::move(m.results);
}

void Engine::Impl::start_more() {
  const std::size_t fanout = static_cast<std::size_t>(std::max(1, job.fanout));
  while (!cancelling && running < fanout && next < targets.size()) start_host(next++);
  if (cancelling) {
    // Hosts never started end as cancelled without a connection.
    while (next < targets.size()) {
      HostResult r;
      r.host = targets[next].name;
      r.status = HostStatus::cancelled;
      r.message = "not started: the run was cancelled";
      results[next] = r;
      observer->on_host_finished(next, results[next]);
      ++finished;
      ++next;
    }
  }
}

void Engine::Impl::start_host(std::size_t index) {
  const int w = static_cast<int>(index % workers.size());
  worker_of[index] = w;
  ++running;
  observer->on_host_started(index, targets[index].name);
  Worker* worker = workers[static_cast<std::size_t>(w)].get();
  // The target moves to the worker: each host's options are used once.
  asio::post(worker->io, [this, worker, index, target = std::move(targets[index])]() mutable {
    auto output = [this, index](Stream s, std::string_view d) {
      asio::post(coordinator, [this, index, s, data = std::string(d)] {
        observer->on_output(index, s, data);
      });
    };
    auto done = [this, worker, index](HostResult r) {
      worker->active.erase(index);
      asio::post(coordinator, [this, index, r = std::move(r)]() mutable {
        on_finished(index, std::move(r));
      });
    };
    auto flow = engine::run_host(index, std::move(target), job.request, job.work,
                                 job.host_timeout, output);
    auto driver = std::make_shared<HostDriver>(worker->io, std::move(flow), done);
    worker->active.emplace(index, driver);
    driver->start();
  });
}

void Engine::Impl::on_finished(std::size_t index, HostResult result) {
  results[index] = std::move(result);
  --running;
  ++finished;
  observer->on_host_finished(index, results[index]);
  start_more();
}

void Engine::Impl::do_cancel() {
  cancelling = true;
  for (auto& w : workers) {
    asio::post(w->io, [raw = w.get()] {
      // Copy: cancelling may finish a host, which erases it from `active`.
      auto drivers = raw->active;
      for (auto& [index, driver] : drivers) driver->cancel();
    });
  }
  start_more();
}

}  // namespace herd

// What `herd run` shows for a fleet: live prefixed lines, gathered output, JSON events, and the
// end-of-run summary. Each is an EngineObserver; all run on the engine's coordinator thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "herd/engine.hpp"

namespace herd::cli {

/// Folds a list of host names into one pattern, e.g. web[01-05,07].
using FoldFn = std::function<std::string(const std::vector<std::string>&)>;

/// Write all of `data` to `fd` (retrying partial writes and EINTR; gives up on a closed pipe).
void write_all(int fd, std::string_view data);

/// How the printers write: write_all, or ProgressLine::write to keep the progress line apart.
using WriteFn = std::function<void(int fd, std::string_view data)>;

/// The progress line on stderr: `[done/total] N failed, R hosts/s` ("failed": hosts not ok).
/// Once the run has lasted kProgressDelay it is drawn, and redrawn at most every
/// kProgressInterval by a thread of its own; write() erases it before other output reaches the
/// terminal, and stop() erases it for good. Disabled, write() is write_all.
class ProgressLine : public EngineObserver {
 public:
  static constexpr std::chrono::milliseconds kProgressDelay{1000};    // ms before the first draw
  static constexpr std::chrono::milliseconds kProgressInterval{100};  // ms between redraws

  /// `bytes`, when given, is a count of bytes moved (file transfers) shown with its rate.
  ProgressLine(std::size_t total, bool enabled,
               const std::atomic<std::uint64_t>* bytes = nullptr);
  ~ProgressLine() override;
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void on_host_finished(std::size_t index, const HostResult& result) override;
  /// Write `data` to `fd` with the progress line out of its way. Safe from any thread.
  void write(int fd, std::string_view data);
  /// A notice on stderr that starts on a line of its own (the Ctrl-C message).
  void notice(std::string_view line);
  /// Erase the line and stop redrawing; idempotent. Call before the end-of-run output.
  void stop();
  /// A WriteFn that calls write().
  WriteFn writer() {
    return [this](int fd, std::string_view d) { write(fd, d); };
  }

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  void draw_locked(Clock::time_point now);
  void erase_locked();

  const std::size_t total_;
  const bool enabled_;
  const bool stdout_tty_;
  const Clock::time_point start_;
  const std::atomic<std::uint64_t>* bytes_;
  std::atomic<std::size_t> done_{0}, failed_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool shown_ = false;
  Clock::time_point last_draw_{};
  std::string last_line_;
  std::thread thread_;
};

/// Live mode: every complete line as it arrives, prefixed "host: ". stdout lines go to stdout,
/// stderr lines to stderr; on a terminal the prefix is coloured (stderr's in red). A line never
/// mixes with another host's. Hosts that fail to connect or time out get one stderr line.
class LivePrinter : public EngineObserver {
 public:
  LivePrinter(std::vector<std::string> names, bool color_out, bool color_err,
              WriteFn write = write_all);
  void on_output(std::size_t index, Stream stream, std::string_view data) override;
  void on_host_finished(std::size_t index, const HostResult& result) override;

 private:
  void emit_lines(std::size_t index, Stream stream, bool flush_partial);

  std::vector<std::string> names_;
  std::vector<std::string> pending_out_, pending_err_;
  bool color_out_, color_err_;
  WriteFn write_;
  std::string buf_;
};

/// Gather mode (-b): output kept per host (capped), then hosts with identical output printed
/// once under a folded header, like clush -b / dshbak -c.
class Gatherer : public EngineObserver {
 public:
  Gatherer(std::vector<std::string> names, std::size_t cap_bytes, FoldFn fold);
  void on_output(std::size_t index, Stream stream, std::string_view data) override;
  void on_host_finished(std::size_t index, const HostResult& result) override;
  /// Print the gathered groups to stdout.
  void print() const;

 private:
  std::vector<std::string> names_;
  std::vector<std::string> text_;
  std::vector<bool> truncated_;
  std::size_t cap_;
  FoldFn fold_;
};

/// --json: one JSON object per line on stdout for every event (docs/json.md). An output event
/// never ends inside a UTF-8 character: the bytes of a character split between two chunks are
/// held back and sent with the next chunk (or before host_finished).
class JsonPrinter : public EngineObserver {
 public:
  explicit JsonPrinter(std::vector<std::string> names, WriteFn write = write_all);
  void on_host_started(std::size_t index, const std::string& host) override;
  void on_output(std::size_t index, Stream stream, std::string_view data) override;
  void on_host_finished(std::size_t index, const HostResult& result) override;
  /// The final "summary" event.
  void summary(const std::vector<HostResult>& results, std::chrono::milliseconds elapsed) const;

 private:
  void emit_output(std::size_t index, Stream stream, std::string_view data) const;

  std::vector<std::string> names_;
  std::vector<std::string> held_out_, held_err_;  // an incomplete UTF-8 character per stream
  WriteFn write_;
};

/// Bytes at the end of `data` that begin a UTF-8 character whose continuation bytes are still
/// missing (0 to 3).
std::size_t incomplete_utf8_tail(std::string_view data);

/// Sends every event to each of several observers, in order.
class Tee : public EngineObserver {
 public:
  explicit Tee(std::vector<EngineObserver*> to) : to_(std::move(to)) {}
  void on_host_started(std::size_t i, const std::string& h) override {
    for (auto* o : to_) o->on_host_started(i, h);
  }
  void on_output(std::size_t i, Stream s, std::string_view d) override {
    for (auto* o : to_) o->on_output(i, s, d);
  }
  void on_host_finished(std::size_t i, const HostResult& r) override {
    for (auto* o : to_) o->on_host_finished(i, r);
  }

 private:
  std::vector<EngineObserver*> to_;
};

/// The end-of-run summary on stderr: counts, and folded host sets per outcome (failures by
/// exit code).
void print_summary(const std::vector<HostResult>& results, std::chrono::milliseconds elapsed,
                   const FoldFn& fold, bool color);

}  // namespace herd::cli

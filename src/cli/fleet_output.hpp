// What `herd run` shows for a fleet: live prefixed lines, gathered output, JSON events, and the
// end-of-run summary. Each is an EngineObserver; all run on the engine's coordinator thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "herd/engine.hpp"

namespace herd::cli {

/// Folds a list of host names into one pattern, e.g. web[01-05,07].
using FoldFn = std::function<std::string(const std::vector<std::string>&)>;

/// Write all of `data` to `fd` (retrying partial writes and EINTR; gives up on a closed pipe).
void write_all(int fd, std::string_view data);

/// Live mode: every complete line as it arrives, prefixed "host: ". stdout lines go to stdout,
/// stderr lines to stderr; on a terminal the prefix is coloured (stderr's in red). A line never
/// mixes with another host's. Hosts that fail to connect or time out get one stderr line.
class LivePrinter : public EngineObserver {
 public:
  LivePrinter(std::vector<std::string> names, bool color_out, bool color_err);
  void on_output(std::size_t index, Stream stream, std::string_view data) override;
  void on_host_finished(std::size_t index, const HostResult& result) override;

 private:
  void emit_lines(std::size_t index, Stream stream, bool flush_partial);

  std::vector<std::string> names_;
  std::vector<std::string> pending_out_, pending_err_;
  bool color_out_, color_err_;
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
  explicit JsonPrinter(std::vector<std::string> names);
  void on_host_started(std::size_t index, const std::string& host) override;
  void on_output(std::size_t index, Stream stream, std::string_view data) override;
  void on_host_finished(std::size_t index, const HostResult& result) override;
  /// The final "summary" event.
  void summary(const std::vector<HostResult>& results, std::chrono::milliseconds elapsed) const;

 private:
  void emit_output(std::size_t index, Stream stream, std::string_view data) const;

  std::vector<std::string> names_;
  std::vector<std::string> held_out_, held_err_;  // an incomplete UTF-8 character per stream
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

#include "cli/fleet_output.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

namespace herd::cli {
namespace {

constexpr std::size_t kMaxLineBytes = 64 * 1024;  // bytes; a longer line is split
constexpr const char* kCyan = "\033[36m";
constexpr const char* kRed = "\033[31m";
constexpr const char* kReset = "\033[0m";

std::string json_line(const nlohmann::json& j) {
  // Output bytes need not be UTF-8; invalid sequences become U+FFFD (docs/json.md).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

double seconds(std::chrono::milliseconds ms) {
  return static_cast<double>(ms.count()) / 1000.0;
}

}  // namespace

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // a closed pipe: nothing sensible to do with the rest
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// ---- shared ----

namespace {
/// A failed command speaks for itself on stderr; every other failure (a transfer's too, which
/// has no exit status) gets herd's one-line message.
bool shows_message(const HostResult& r) {
  if (r.status == HostStatus::ok) return false;
  // A failed command says enough with its exit status; a task's failure also names its step.
  return r.status != HostStatus::failed || (!r.exit_code && !r.signal) || !r.step.empty();
}
}  // namespace

// ---- progress ----

namespace {
constexpr std::string_view kEraseLine = "\r\033[K";  // to column 0, clear to the end of line
}  // namespace

ProgressLine::ProgressLine(std::size_t total, bool enabled, const std::atomic<std::uint64_t>* bytes)
    : total_(total),
      enabled_(enabled),
      stdout_tty_(::isatty(STDOUT_FILENO) != 0),
      start_(Clock::now()),
      bytes_(bytes) {
  if (!enabled_) return;
  // The drawing thread takes no signal: SIGINT must reach InterruptGuard's sigwait(), which
  // only threads that block it leave it to.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

ProgressLine::~ProgressLine() {
  stop();
}

void ProgressLine::on_host_finished(std::size_t, const HostResult& result) {
  if (result.status != HostStatus::ok) failed_.fetch_add(1, std::memory_order_relaxed);
  done_.fetch_add(1, std::memory_order_relaxed);
}

void ProgressLine::run() {
  std::unique_lock lock(mu_);
  auto next = start_ + kProgressDelay;
  while (!wake_.wait_until(lock, next, [this] { return stopping_; })) {
    // Draws stay kProgressInterval apart, counting those of write(); a line that write()
    // erased comes back here at most that much later.
    const auto now = Clock::now();
    if (now - last_draw_ >= kProgressInterval) {
      draw_locked(now);
      next = now + kProgressInterval;
    } else {
      next = last_draw_ + kProgressInterval;
    }
  }
}

void ProgressLine::draw_locked(Clock::time_point now) {
  const double secs = std::chrono::duration<double>(now - start_).count();
  const std::size_t done = done_.load(std::memory_order_relaxed);
  std::string line = fmt::format("{}[{}/{}] {} failed, {:.1f} hosts/s", kEraseLine, done, total_,
                                 failed_.load(std::memory_order_relaxed),
                                 secs > 0 ? static_cast<double>(done) / secs : 0.0);
  if (bytes_ != nullptr) {
    const double mib = static_cast<double>(bytes_->load(std::memory_order_relaxed)) / 1048576.0;
    line += fmt::format(", {:.1f} MiB, {:.1f} MiB/s", mib, secs > 0 ? mib / secs : 0.0);
  }
  last_draw_ = now;
  if (shown_ && line == last_line_) return;  // the terminal already shows it
  write_all(STDERR_FILENO, line);
  shown_ = true;
  last_line_ = line;
}

void ProgressLine::erase_locked() {
  if (!shown_) return;
  write_all(STDERR_FILENO, kEraseLine);
  shown_ = false;
}

void ProgressLine::write(int fd, std::string_view data) {
  if (!enabled_) {
    write_all(fd, data);
    return;
  }
  std::lock_guard lock(mu_);
  const bool was_shown = shown_;
  // Output to a pipe or file does not disturb the terminal: leave the line up.
  if (fd == STDERR_FILENO || stdout_tty_) erase_locked();
  write_all(fd, data);
  const auto now = Clock::now();
  if (was_shown && !shown_ && !stopping_ && now - last_draw_ >= kProgressInterval) {
    draw_locked(now);
  }
}

void ProgressLine::notice(std::string_view line) {
  std::lock_guard lock(mu_);
  if (shown_) {
    erase_locked();  // also wipes the "^C" the terminal echoed after the line
  } else {
    write_all(STDERR_FILENO, "\n");  // end the line that "^C" was echoed on
  }
  write_all(STDERR_FILENO, line);
}

void ProgressLine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    erase_locked();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// ---- live ----

LivePrinter::LivePrinter(std::vector<std::string> names, bool color_out, bool color_err,
                         WriteFn write)
    : names_(std::move(names)),
      pending_out_(names_.size()),
      pending_err_(names_.size()),
      color_out_(color_out),
      color_err_(color_err),
      write_(std::move(write)) {}

void LivePrinter::emit_lines(std::size_t index, Stream stream, bool flush_partial) {
  std::string& pending = stream == Stream::out ? pending_out_[index] : pending_err_[index];
  const bool color = stream == Stream::out ? color_out_ : color_err_;
  const std::string prefix =
      color ? fmt::format("{}{}:{} ", stream == Stream::out ? kCyan : kRed, names_[index], kReset)
            : names_[index] + ": ";
  buf_.clear();
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = pending.find('\n', start);
    std::size_t len;
    if (nl != std::string::npos) {
      len = nl - start + 1;
    } else if (pending.size() - start >= kMaxLineBytes ||
               (flush_partial && start < pending.size())) {
      len = std::min(pending.size() - start, kMaxLineBytes);
    } else {
      break;
    }
    buf_ += prefix;
    buf_.append(pending, start, len);
    if (buf_.back() != '\n') buf_ += '\n';
    start += len;
  }
  pending.erase(0, start);
  if (!buf_.empty()) write_(stream == Stream::out ? STDOUT_FILENO : STDERR_FILENO, buf_);
}

void LivePrinter::on_output(std::size_t index, Stream stream, std::string_view data) {
  (stream == Stream::out ? pending_out_[index] : pending_err_[index]).append(data);
  emit_lines(index, stream, false);
}

void LivePrinter::on_host_finished(std::size_t index, const HostResult& result) {
  emit_lines(index, Stream::out, true);
  emit_lines(index, Stream::err, true);
  if (shows_message(result)) {
    pending_err_[index] = fmt::format("herd: {}: {}\n", to_string(result.status), result.message);
    emit_lines(index, Stream::err, true);
  }
}

// ---- gather ----

Gatherer::Gatherer(std::vector<std::string> names, std::size_t cap_bytes, FoldFn fold)
    : names_(std::move(names)),
      text_(names_.size()),
      truncated_(names_.size(), false),
      cap_(cap_bytes),
      fold_(std::move(fold)) {}

void Gatherer::on_output(std::size_t index, Stream, std::string_view data) {
  std::string& t = text_[index];
  if (t.size() >= cap_) {
    truncated_[index] = true;
    return;
  }
  std::size_t take = std::min(data.size(), cap_ - t.size());
  t.append(data.substr(0, take));
  if (take < data.size()) truncated_[index] = true;
}

void Gatherer::on_host_finished(std::size_t index, const HostResult& result) {
  std::string& t = text_[index];
  if (!t.empty() && t.back() != '\n') t += '\n';
  if (truncated_[index]) t += fmt::format("[herd: output truncated at {} bytes]\n", cap_);
  if (shows_message(result)) {
    t += fmt::format("herd: {}: {}\n", to_string(result.status), result.message);
  }
}

void Gatherer::print() const {
  // Group identical texts, in order of each group's first host.
  std::map<std::string_view, std::size_t> group_of;
  std::vector<std::vector<std::string>> members;
  std::vector<std::string_view> texts;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (text_[i].empty()) continue;
    auto [it, added] = group_of.emplace(text_[i], members.size());
    if (added) {
      members.emplace_back();
      texts.push_back(text_[i]);
    }
    members[it->second].push_back(names_[i]);
  }
  std::string out;
  for (std::size_t g = 0; g < members.size(); ++g) {
    out += fmt::format("---------------- {} ({}) ----------------\n", fold_(members[g]),
                       members[g].size());
    out += texts[g];
  }
  write_all(STDOUT_FILENO, out);
}

// ---- json ----

std::size_t incomplete_utf8_tail(std::string_view data) {
  for (std::size_t back = 1; back <= 3 && back <= data.size(); ++back) {
    const auto c = static_cast<unsigned char>(data[data.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: the lead is further back
    const std::size_t need = (c & 0xE0) == 0xC0   ? 2
                             : (c & 0xF0) == 0xE0 ? 3
                             : (c & 0xF8) == 0xF0 ? 4
                                                  : 1;
    return need > back ? back : 0;
  }
  return 0;
}

JsonPrinter::JsonPrinter(std::vector<std::string> names, WriteFn write)
    : names_(std::move(names)),
      held_out_(names_.size()),
      held_err_(names_.size()),
      write_(std::move(write)) {}

void JsonPrinter::on_host_started(std::size_t, const std::string& host) {
  write_(STDOUT_FILENO, json_line({{"event", "host_started"}, {"host", host}}));
}

void JsonPrinter::emit_output(std::size_t index, Stream stream, std::string_view data) const {
  write_(STDOUT_FILENO, json_line({{"event", "output"},
                                   {"host", names_[index]},
                                   {"stream", stream == Stream::out ? "stdout" : "stderr"},
                                   {"data", std::string(data)}}));
}

void JsonPrinter::on_output(std::size_t index, Stream stream, std::string_view data) {
  std::string& held = stream == Stream::out ? held_out_[index] : held_err_[index];
  std::string joined;
  if (!held.empty()) {
    joined = std::move(held) + std::string(data);
    held.clear();
    data = joined;
  }
  const std::size_t tail = incomplete_utf8_tail(data);
  held.assign(data.substr(data.size() - tail));
  data.remove_suffix(tail);
  if (!data.empty()) emit_output(index, stream, data);
}

void JsonPrinter::on_host_finished(std::size_t index, const HostResult& r) {
  for (Stream s : {Stream::out, Stream::err}) {
    std::string& held = s == Stream::out ? held_out_[index] : held_err_[index];
    if (!held.empty()) emit_output(index, s, held);  // never completed: shows as U+FFFD
    held.clear();
  }
  nlohmann::json j = {{"event", "host_finished"},
                      {"host", r.host},
                      {"status", to_string(r.status)},
                      {"exit_code", nullptr},
                      {"signal", nullptr},
                      {"phase", nullptr},
                      {"message", r.message},
                      {"connect_ms", r.connect_time.count()},
                      {"total_ms", r.total_time.count()},
                      {"stdout_bytes", r.stdout_bytes},
                      {"stderr_bytes", r.stderr_bytes}};
  if (r.exit_code) j["exit_code"] = *r.exit_code;
  if (r.signal) j["signal"] = *r.signal;
  if (r.phase) j["phase"] = to_string(*r.phase);
  if (!r.step.empty()) j["step"] = r.step;
  write_(STDOUT_FILENO, json_line(j));
}

void JsonPrinter::summary(const std::vector<HostResult>& results,
                          std::chrono::milliseconds elapsed) const {
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& r : results) {
    auto key = std::string(to_string(r.status));
    counts[key] = counts.value(key, 0) + 1;
  }
  write_(STDOUT_FILENO, json_line({{"event", "summary"},
                                   {"hosts", results.size()},
                                   {"elapsed_ms", elapsed.count()},
                                   {"counts", counts}}));
}

// ---- summary ----

void print_summary(const std::vector<HostResult>& results, std::chrono::milliseconds elapsed,
                   const FoldFn& fold, bool color) {
  // Outcome label -> hosts, in a fixed order; failures split by exit code or signal.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  auto add = [&groups](const std::string& label, const std::string& host) {
    for (auto& [l, hosts] : groups) {
      if (l == label) {
        hosts.push_back(host);
        return;
      }
    }
    groups.push_back({label, {host}});
  };
  std::map<std::string, std::size_t> counts;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& r : results) {
      const bool ok = r.status == HostStatus::ok;
      if ((pass == 0) != ok) continue;  // ok first
      std::string label(to_string(r.status));
      if (r.status == HostStatus::failed) {
        label = r.signal ? fmt::format("failed (signal {})", *r.signal)
                : r.exit_code
                    ? fmt::format("failed (exit {})", *r.exit_code)
                    : fmt::format("failed ({})", to_string(r.phase.value_or(Phase::transfer)));
      } else if ((r.status == HostStatus::timed_out || r.status == HostStatus::error) && r.phase) {
        label = fmt::format("{} ({})", to_string(r.status), to_string(*r.phase));
      }
      if (!ok && !r.step.empty() && r.status != HostStatus::cancelled) {
        label += " at " + r.step;  // herd task: where they stopped
      }
      ++counts[std::string(to_string(r.status))];
      add(label, r.host);
    }
  }
  std::string line = fmt::format("herd: {} host{} in {:.1f} s:", results.size(),
                                 results.size() == 1 ? "" : "s", seconds(elapsed));
  bool first = true;
  for (auto s :
       {HostStatus::ok, HostStatus::failed, HostStatus::unreachable, HostStatus::auth,
        HostStatus::host_key, HostStatus::timed_out, HostStatus::error, HostStatus::cancelled}) {
    auto it = counts.find(std::string(to_string(s)));
    if (it == counts.end()) continue;
    line += fmt::format("{} {} {}", first ? "" : ",", it->second, it->first);
    first = false;
  }
  std::string out = line + "\n";
  for (const auto& [label, hosts] : groups) {
    const bool good = label == "ok";
    out += fmt::format("  {}{:<22}{} {:>5}  {}\n", color ? (good ? "\033[32m" : kRed) : "", label,
                       color ? kReset : "", hosts.size(), fold(hosts));
  }
  write_all(STDERR_FILENO, out);
}

}  // namespace herd::cli

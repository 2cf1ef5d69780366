// JobRecorder: engine events -> capped per-host output -> batched host rows.
#include <utility>

#include "herd/store.hpp"

namespace herd {

JobRecorder::JobRecorder(JobStore& store, JobId job, std::size_t host_count, std::size_t output_cap,
                         std::function<void(const Error&)> on_error)
    : store_(store),
      job_(job),
      cap_(output_cap),
      on_error_(std::move(on_error)),
      output_(host_count),
      truncated_(host_count, false),
      last_flush_(std::chrono::steady_clock::now()) {}

void JobRecorder::on_output(std::size_t index, Stream stream, std::string_view data) {
  (void)stream;
  if (broken_ || index >= output_.size()) return;
  auto& buf = output_[index];
  const std::size_t room = cap_ > buf.size() ? cap_ - buf.size() : 0;
  if (data.size() > room) truncated_[index] = true;
  buf.append(data.substr(0, room));
}

void JobRecorder::on_host_finished(std::size_t index, const HostResult& result) {
  if (broken_) return;
  JobHost host;
  host.position = index;
  host.result = result;
  if (index < output_.size()) {
    host.output = std::exchange(output_[index], std::string());
    host.output_truncated = truncated_[index];
  }
  pending_.push_back(std::move(host));
  if (pending_.size() >= kBatchHosts ||
      std::chrono::steady_clock::now() - last_flush_ >= kBatchInterval) {
    flush();
  }
}

void JobRecorder::flush() {
  last_flush_ = std::chrono::steady_clock::now();
  if (broken_ || pending_.empty()) return;
  auto r = store_.record_hosts(job_, pending_);
  pending_.clear();
  if (!r) failed(r.error());
}

void JobRecorder::finish(const JobEnd& end) {
  flush();
  if (broken_) return;
  if (auto r = store_.finish_job(job_, end); !r) failed(r.error());
}

void JobRecorder::failed(const Error& e) {
  broken_ = true;
  pending_.clear();
  output_.clear();
  if (on_error_) on_error_(e);
}

}  // namespace herd

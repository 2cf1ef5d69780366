#include "sftp/pipeline.hpp"

#include <fmt/format.h>

#include <deque>

namespace herd::sftp {
namespace {

struct InFlight {
  std::uint32_t id;
  std::uint64_t offset;
  std::uint32_t length;
};

/// Take (and ignore) the replies still owed, so none is left parked in the client.
Flow<int> drain(SftpClient::Impl& c, std::deque<InFlight>& inflight) {
  while (!inflight.empty() && !c.broken()) {
    auto r = co_await c.wait(inflight.front().id);
    inflight.pop_front();
    if (!r) break;
  }
  co_return 0;
}

}  // namespace

Flow<Result<std::uint64_t>> read_all(SftpClient::Impl& c, std::string handle, std::string path,
                                     std::uint64_t offset, std::optional<std::uint64_t> limit,
                                     std::optional<std::uint64_t> size_hint, DataSink sink,
                                     ProgressFn progress) {
  const std::optional<std::uint64_t> end =
      limit ? std::optional<std::uint64_t>(offset + *limit) : std::nullopt;
  const std::uint32_t req = c.request_bytes;
  const std::uint64_t window = std::max<std::uint64_t>(c.options.window_bytes, req);
  std::deque<InFlight> inflight;
  std::uint64_t in_flight_bytes = 0;
  std::uint64_t next = offset;  // where the next new READ starts
  std::uint64_t done = 0;
  bool eof = false;      // the server said EOF: send no more
  bool probed = false;   // with a size hint: the READ past the end has been sent
  const std::uint64_t total = limit.value_or(size_hint.value_or(0));

  auto send_read = [&](std::uint64_t at, std::uint32_t len, bool front) {
    std::uint32_t id = 0;
    auto w = c.request(Type::read, id, handle.size() + 16);
    w.str(handle).u64(at).u32(len);
    c.send(std::move(w).finish(), id);
    InFlight f{id, at, len};
    if (front) {
      inflight.push_front(f);
    } else {
      inflight.push_back(f);
    }
    in_flight_bytes += len;
  };

  for (;;) {
    while (!eof && in_flight_bytes + req <= window) {
      std::uint32_t len = req;
      if (end) {
        if (next >= *end) break;
        len = static_cast<std::uint32_t>(std::min<std::uint64_t>(req, *end - next));
      } else if (size_hint && next >= *size_hint) {
        if (probed) break;
        probed = true;  // one READ at the end: EOF confirms the size, data means it grew
      }
      send_read(next, len, false);
      next += len;
    }
    if (inflight.empty()) break;
    InFlight f = inflight.front();
    auto r = co_await c.wait(f.id);
    inflight.pop_front();
    in_flight_bytes -= f.length;
    if (!r) {
      co_await drain(c, inflight);
      co_return std::unexpected(r.error());
    }
    if (r->type == Type::data) {
      PacketReader p(r->body);
      auto data = p.str();
      if (!data || data->size() > f.length) {
        co_return c.protocol_error(fmt::format("malformed data reply reading {}", path));
      }
      if (!data->empty()) {
        if (auto s = sink(f.offset, *data); !s) {
          co_await drain(c, inflight);
          co_return std::unexpected(s.error());
        }
        done += data->size();
        if (progress) progress(done, total);
      }
      if (data->empty()) {
        eof = true;
      } else if (data->size() < f.length) {
        // A short read: ask for the rest before anything after it is delivered.
        send_read(f.offset + data->size(), f.length - static_cast<std::uint32_t>(data->size()),
                  true);
      }
      if (size_hint && f.offset >= *size_hint && !data->empty()) size_hint.reset();  // it grew
      continue;
    }
    auto st = r->type == Type::status ? parse_status(r->body) : std::nullopt;
    if (st && st->code == static_cast<std::uint32_t>(SftpStatus::eof)) {
      eof = true;
      continue;  // later reads will say EOF too
    }
    auto failed = st ? c.status_error(*st, path, "read")
                     : c.protocol_error(fmt::format("unexpected reply reading {}", path));
    co_await drain(c, inflight);
    co_return failed;
  }
  co_return done;
}

Flow<Result<std::uint64_t>> write_all(SftpClient::Impl& c, std::string handle, std::string path,
                                      std::uint64_t offset, std::optional<std::uint64_t> size_hint,
                                      DataSource source, ProgressFn progress) {
  const std::uint32_t req = c.request_bytes;
  const std::uint64_t window = std::max<std::uint64_t>(c.options.window_bytes, req);
  const std::uint64_t total = size_hint.value_or(0);
  std::deque<InFlight> inflight;
  std::uint64_t in_flight_bytes = 0;
  std::uint64_t next = offset;
  std::uint64_t acked = 0;
  bool end = false;
  std::optional<Error> failure;

  for (;;) {
    // Queue a new WRITE only when the last one has left for the channel (bounded memory).
    while (!end && in_flight_bytes + req <= window && c.unsent() < req) {
      std::uint32_t id = 0;
      auto w = c.request(Type::write, id, handle.size() + 16 + req);
      w.str(handle).u64(next);
      const std::size_t len_at = w.size();
      w.u32(0);
      char* dst = w.raw(req);
      auto n = source(next, dst, req);
      if (!n) {
        failure = n.error();
        end = true;
        break;
      }
      if (*n == 0) {
        end = true;
        break;
      }
      w.drop(req - *n);
      w.patch_u32(len_at, static_cast<std::uint32_t>(*n));
      c.send(std::move(w).finish(), id);
      inflight.push_back({id, next, static_cast<std::uint32_t>(*n)});
      in_flight_bytes += *n;
      next += *n;
    }
    if (inflight.empty()) break;
    InFlight f = inflight.front();
    auto r = co_await c.wait(f.id);
    inflight.pop_front();
    in_flight_bytes -= f.length;
    if (!r) {
      co_await drain(c, inflight);
      co_return std::unexpected(r.error());
    }
    if (auto ok = c.expect_ok(*r, path, "write"); !ok) {
      co_await drain(c, inflight);
      co_return std::unexpected(ok.error());
    }
    acked += f.length;
    if (progress) progress(acked, total);
  }
  if (failure) co_return std::unexpected(*failure);
  co_return acked;
}

}  // namespace herd::sftp

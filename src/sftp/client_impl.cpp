#include "sftp/client_impl.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace herd {
namespace {

using sftp::PacketReader;
using sftp::PacketWriter;
using sftp::Reply;
using sftp::Type;

constexpr std::size_t kCompactBytes = 1024 * 1024;  // drop the sent prefix of out_ beyond this
// One poll() reads at most this much before the loop gets a turn (other hosts, timers).
constexpr std::uint64_t kPollBytes = 4 * 1024 * 1024;
// The channel's receive window: as much as the read window keeps in flight, so replies are
// never held back by the SSH layer; re-widened each time a quarter of it has arrived.
constexpr std::uint32_t kReceiveWindow = 8 * 1024 * 1024;
constexpr std::uint64_t kWidenEvery = kReceiveWindow / 4;

std::string_view status_name(std::uint32_t code) {
  switch (static_cast<SftpStatus>(code)) {
    case SftpStatus::ok: return "ok";
    case SftpStatus::eof: return "end of file";
    case SftpStatus::no_such_file: return "no such file";
    case SftpStatus::permission_denied: return "permission denied";
    case SftpStatus::failure: return "failure";
    case SftpStatus::bad_message: return "bad message";
    case SftpStatus::no_connection: return "no connection";
    case SftpStatus::connection_lost: return "connection lost";
    case SftpStatus::op_unsupported: return "operation unsupported";
  }
  return "unknown status";
}

}  // namespace

SftpClient::Impl::Impl(Session::Impl& s, SftpOptions o)
    : session(s), options(o), host(s.target.display()), last_activity_(FlowClock::now()) {}

PacketWriter SftpClient::Impl::request(Type type, std::uint32_t& id, std::size_t reserve) {
  id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  PacketWriter w(type, reserve + 4);
  w.u32(id);
  return w;
}

void SftpClient::Impl::send(std::string packet, std::uint32_t id) {
  pending_.insert(id);
  if (out_pos_ == out_.size()) {
    out_ = std::move(packet);
    out_pos_ = 0;
  } else {
    out_.append(packet);
  }
  flush();
}

void SftpClient::Impl::flush() {
  if (broken_ || !channel) return;
  ssh_channel ch = channel->ch;
  while (out_pos_ < out_.size()) {
    // Leave data in out_ while libssh's socket buffer still holds some: that buffer has no
    // bound of its own, so filling it would let memory grow with the window.
    if ((ssh_get_poll_flags(session.s) & SSH_WRITE_PENDING) != 0) break;
    std::uint32_t window = ssh_channel_window_size(ch);
    if (window == 0) break;
    auto n = static_cast<std::uint32_t>(std::min<std::size_t>(out_.size() - out_pos_, window));
    int w = ssh_channel_write(ch, out_.data() + out_pos_, n);
    if (w < 0) {
      broken_ = error(Errc::protocol_error, "",
                      fmt::format("{}: SFTP channel write failed: {}", host, session.ssh_error()))
                    .error();
      return;
    }
    if (w == 0) break;
    out_pos_ += static_cast<std::size_t>(w);
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ > kCompactBytes) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
}

void SftpClient::Impl::on_data(std::string_view data, bool is_stderr) {
  if (is_stderr || broken_) return;  // a subsystem's stderr is not protocol
  last_activity_ = FlowClock::now();
  received_ += data.size();
  in_.feed(data);
  std::uint8_t type = 0;
  std::string payload;
  for (;;) {
    auto next = in_.next(type, payload);
    if (next == sftp::PacketSplitter::Next::need_more) return;
    if (next == sftp::PacketSplitter::Next::bad) {
      protocol_error("the server sent a malformed or oversized SFTP packet");
      return;
    }
    if (type == static_cast<std::uint8_t>(Type::version)) {
      version_body_ = std::move(payload);
      continue;
    }
    PacketReader r(payload);
    auto id = r.u32();
    if (!id || !pending_.erase(*id)) {
      protocol_error("the server answered a request that was never sent");
      return;
    }
    ready_[*id] = Reply{static_cast<Type>(type), payload.substr(4)};
    if (handlers_.count(*id) != 0) arrived_.push_back(*id);
  }
}

bool SftpClient::Impl::poll() {
  if (broken_) return false;
  flush();
  const std::uint64_t start = received_;
  for (;;) {
    const std::uint64_t before = received_;
    if (!ssh::pump(*channel)) {
      broken_ = error(Errc::protocol_error, "",
                      fmt::format("{}: connection lost during SFTP: {}", host, session.ssh_error()))
                    .error();
      return false;
    }
    if (broken_) return false;
    if (received_ - widened_at_ >= kWidenEvery) {
      widened_at_ = received_;
      if (!ssh::widen_window(*channel, kReceiveWindow)) {
        broken_ =
            error(Errc::protocol_error, "",
                  fmt::format("{}: connection lost during SFTP: {}", host, session.ssh_error()))
                .error();
        return false;
      }
    }
    flush();
    if (broken_) return false;
    if (received_ == before || received_ - start >= kPollBytes) break;
  }
  if (ssh_channel_is_closed(channel->ch) != 0 || ssh_channel_is_eof(channel->ch) != 0) {
    // Replies already parsed stay takeable; nothing more can come.
    if (!pending_.empty() || version_body_ == std::nullopt) {
      broken_ = error(Errc::protocol_error, "",
                      fmt::format("{}: the server closed the SFTP channel", host))
                    .error();
    }
  }
  return !broken_;
}

Flow<Result<void>> SftpClient::Impl::wait_progress() {
  auto deadline = last_activity_ + options.idle_timeout;
  if (session.total_deadline) deadline = std::min(deadline, *session.total_deadline);
  if (FlowClock::now() >= deadline) {
    co_return error(Errc::timeout, "",
                    fmt::format("{}: the SFTP server did not answer for {} s", host,
                                options.idle_timeout.count() / 1000));
  }
  WaitResult w = co_await wait_io{session.io_wait(deadline)};
  if (w == WaitResult::cancelled) co_return error(Errc::cancelled, "", host + ": interrupted");
  if (w == WaitResult::error) {
    co_return error(Errc::local_io, "", host + ": waiting on the socket failed");
  }
  co_return Result<void>{};
}

std::optional<Reply> SftpClient::Impl::take(std::uint32_t id) {
  auto it = ready_.find(id);
  if (it == ready_.end()) return std::nullopt;
  Reply r = std::move(it->second);
  ready_.erase(it);
  return r;
}

Flow<Result<Reply>> SftpClient::Impl::wait(std::uint32_t id) {
  for (;;) {
    if (auto r = take(id)) co_return std::move(*r);
    if (broken_ || !poll()) {
      if (auto r = take(id)) co_return std::move(*r);
      co_return std::unexpected(*broken_);
    }
    if (auto r = take(id)) co_return std::move(*r);
    auto progressed = co_await wait_progress();
    if (!progressed) co_return std::unexpected(progressed.error());
  }
}

void SftpClient::Impl::send(std::string packet, std::uint32_t id, Handler h) {
  handlers_.emplace(id, std::move(h));
  send(std::move(packet), id);
}

Flow<Result<void>> SftpClient::Impl::dispatch() {
  if (arrived_.empty() && poll() && arrived_.empty()) {
    auto progressed = co_await wait_progress();
    if (!progressed) {
      broken_ = progressed.error();  // a hung or cancelled transfer cannot be resumed here
    } else {
      poll();
    }
  }
  while (!arrived_.empty()) {
    std::uint32_t id = arrived_.front();
    arrived_.pop_front();
    auto h = handlers_.extract(id);
    auto r = take(id);
    if (!h.empty() && r) h.mapped()(std::move(*r));
  }
  if (broken_) {
    auto failed = std::move(handlers_);
    handlers_.clear();
    for (auto& [id, h] : failed) h(std::unexpected(*broken_));
    co_return std::unexpected(*broken_);
  }
  co_return Result<void>{};
}

Flow<Result<void>> SftpClient::Impl::drain() {
  while (!handlers_.empty()) {
    auto d = co_await dispatch();
    if (!d) co_return d;
  }
  co_return Result<void>{};
}

Flow<Result<Reply>> SftpClient::Impl::call(std::string packet, std::uint32_t id) {
  send(std::move(packet), id);
  co_return co_await wait(id);
}

Flow<Result<void>> SftpClient::Impl::start() {
  auto deadline = session.phase_deadline(options.open_timeout);
  auto opened = co_await ssh::open_channel(session, deadline);
  if (!opened) co_return std::unexpected(opened.error());
  channel = std::move(*opened);
  auto sub = co_await ssh::request_subsystem(session, *channel, "sftp", deadline);
  if (!sub) co_return std::unexpected(sub.error());
  channel->set_on_data([this](std::string_view d, bool err) { on_data(d, err); });
  if (!ssh::widen_window(*channel, kReceiveWindow)) {
    co_return protocol_error("the connection was lost starting SFTP");
  }

  PacketWriter init(Type::init);
  init.u32(sftp::kVersion);
  out_ = std::move(init).finish();
  out_pos_ = 0;
  while (!version_body_) {
    if (!poll()) co_return std::unexpected(*broken_);
    if (version_body_) break;
    if (FlowClock::now() >= deadline) {
      co_return error(Errc::timeout, "", fmt::format("{}: no SFTP version from the server", host));
    }
    WaitResult w = co_await wait_io{session.io_wait(deadline)};
    if (w == WaitResult::cancelled) co_return error(Errc::cancelled, "", host + ": interrupted");
  }
  PacketReader v(*version_body_);
  auto version = v.u32();
  if (!version || *version < sftp::kVersion) {
    co_return protocol_error(
        fmt::format("the server speaks SFTP version {}, herd needs 3", version ? *version : 0));
  }
  while (!v.empty()) {
    auto name = v.str();
    auto data = name ? v.str() : std::nullopt;
    if (!data) co_return protocol_error("malformed extension list in the SFTP version reply");
    extensions.emplace_back(std::string(*name), std::string(*data));
  }
  request_bytes = std::max<std::uint32_t>(
      std::min(options.max_request_bytes, sftp::kDefaultRequestBytes), 1024);

  bool has_limits = std::any_of(extensions.begin(), extensions.end(),
                                [](const auto& e) { return e.first == "limits@openssh.com"; });
  if (has_limits) {
    std::uint32_t id = 0;
    auto w = request(Type::extended, id);
    w.str("limits@openssh.com");
    auto reply = co_await call(std::move(w).finish(), id);
    if (!reply) co_return std::unexpected(reply.error());
    if (reply->type == Type::extended_reply) {
      PacketReader r(reply->body);
      sftp::Limits l;
      auto a = r.u64(), b = r.u64(), c = r.u64(), d = r.u64();
      if (!a || !b || !c || !d) co_return protocol_error("malformed limits@openssh.com reply");
      l = {*a, *b, *c, *d};
      std::uint64_t n = options.max_request_bytes;
      if (l.max_read) n = std::min(n, l.max_read);
      if (l.max_write) n = std::min(n, l.max_write);
      if (l.max_packet > sftp::kWriteOverheadBytes + 1024) {
        n = std::min<std::uint64_t>(n, l.max_packet - sftp::kWriteOverheadBytes - 1024);
      }
      n = std::min<std::uint64_t>(n, sftp::kMaxPacketBytes - 1024);
      request_bytes = static_cast<std::uint32_t>(std::max<std::uint64_t>(n, 1024));
    }
  }
  co_return Result<void>{};
}

std::unexpected<Error> SftpClient::Impl::error(Errc code, const std::string& path,
                                               std::string what) const {
  Error e{code, Phase::transfer, host, std::move(what)};
  e.path = path;
  return std::unexpected<Error>(std::move(e));
}

std::unexpected<Error> SftpClient::Impl::protocol_error(std::string what) {
  auto e = error(Errc::protocol_error, "", fmt::format("{}: {}", host, what));
  if (!broken_) broken_ = e.error();
  return e;
}

std::unexpected<Error> SftpClient::Impl::status_error(const sftp::StatusReply& s,
                                                      const std::string& path,
                                                      std::string_view op) const {
  std::string detail = s.message.empty() || s.message == status_name(s.code)
                           ? std::string(status_name(s.code))
                           : fmt::format("{} ({})", status_name(s.code), s.message);
  Errc code = s.code == static_cast<std::uint32_t>(SftpStatus::op_unsupported) ? Errc::unsupported
                                                                               : Errc::file_error;
  auto e = error(code, path, fmt::format("{}: {} {}: {}", host, op, path, detail));
  e.error().sftp_status = s.code;
  return e;
}

Result<void> SftpClient::Impl::expect_ok(const Reply& r, const std::string& path,
                                         std::string_view op) {
  if (r.type != Type::status) return protocol_error(fmt::format("unexpected reply to {}", op));
  auto s = sftp::parse_status(r.body);
  if (!s) return protocol_error(fmt::format("malformed status reply to {}", op));
  if (s->code != 0) return status_error(*s, path, op);
  return {};
}

Result<std::string> SftpClient::Impl::expect_handle(const Reply& r, const std::string& path,
                                                    std::string_view op) {
  if (r.type == Type::handle) {
    PacketReader p(r.body);
    auto h = p.str();
    if (!h || h->size() > 256) return protocol_error(fmt::format("malformed handle for {}", op));
    return std::string(*h);
  }
  auto ok = expect_ok(r, path, op);
  if (!ok) return std::unexpected(ok.error());
  return protocol_error(fmt::format("the server sent no handle for {}", op));
}

Result<FileAttributes> SftpClient::Impl::expect_attrs(const Reply& r, const std::string& path,
                                                      std::string_view op) {
  if (r.type == Type::attrs) {
    PacketReader p(r.body);
    auto a = p.attrs();
    if (!a) return protocol_error(fmt::format("malformed attributes for {}", op));
    return *a;
  }
  auto ok = expect_ok(r, path, op);
  if (!ok) return std::unexpected(ok.error());
  return protocol_error(fmt::format("the server sent no attributes for {}", op));
}

Result<std::vector<DirEntry>> SftpClient::Impl::expect_names(const Reply& r,
                                                             const std::string& path,
                                                             std::string_view op) {
  if (r.type == Type::name) {
    PacketReader p(r.body);
    auto count = p.u32();
    if (!count) return protocol_error(fmt::format("malformed name list for {}", op));
    std::vector<DirEntry> out;
    // Each entry takes at least 12 bytes: no count can promise more than the body holds.
    if (*count > p.remaining() / 12 + 1) {
      return protocol_error(fmt::format("malformed name list for {}", op));
    }
    out.reserve(*count);
    for (std::uint32_t i = 0; i < *count; ++i) {
      auto name = p.str();
      auto longname = name ? p.str() : std::nullopt;
      auto attrs = longname ? p.attrs() : std::nullopt;
      if (!attrs) return protocol_error(fmt::format("malformed name list for {}", op));
      out.push_back(DirEntry{std::string(*name), std::string(*longname), std::move(*attrs)});
    }
    return out;
  }
  auto ok = expect_ok(r, path, op);
  if (!ok) return std::unexpected(ok.error());
  return protocol_error(fmt::format("the server sent no names for {}", op));
}

std::string SftpClient::Impl::resolve(const std::string& path) const {
  if (!cwd || (!path.empty() && path[0] == '/')) return path;
  if (path.empty() || path == ".") return *cwd;
  return *cwd == "/" ? "/" + path : *cwd + "/" + path;
}

}  // namespace herd

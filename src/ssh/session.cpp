// Session: TCP connect, SSH handshake, host-key check, authentication.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "ssh/file_cache.hpp"
#include "ssh/jump.hpp"
#include "ssh/session_impl.hpp"
#include "ssh/tcp_connect.hpp"

namespace herd {

Session::Impl::~Impl() {
  if (s != nullptr) {
    ssh_disconnect(s);
    ssh_free(s);
  }
}

std::string Session::Impl::ssh_error() const {
  const char* e = s != nullptr ? ssh_get_error(s) : nullptr;
  return e != nullptr && *e != '\0' ? std::string(e) : std::string("connection lost");
}

IoWait Session::Impl::io_wait(ssh::Deadline d) const {
  return IoWait{.fd = ssh_get_fd(s),
                .write = (ssh_get_poll_flags(s) & SSH_WRITE_PENDING) != 0,
                .deadline = d,
                .news = &socket_counter.in_bytes,
                .news_seen = socket_counter.in_bytes};
}

std::unexpected<Error> Session::Impl::error(Errc code, Phase phase, std::string what) const {
  std::string who = target.display();
  return fail(code, phase, who, fmt::format("{}: {}", who, what));
}

std::unexpected<Error> Session::Impl::wait_error(Phase phase, std::string what) const {
  if (last_wait == WaitResult::cancelled) return error(Errc::cancelled, phase, "interrupted");
  if (last_wait == WaitResult::error) {
    return error(Errc::local_io, phase, fmt::format("waiting on the socket failed ({})", what));
  }
  return error(Errc::timeout, phase, std::move(what));
}

namespace {

constexpr const char* kDefaultHostKeyAlgorithms =
    "ssh-ed25519,ecdsa-sha2-nistp521,ecdsa-sha2-nistp384,ecdsa-sha2-nistp256,rsa-sha2-512,"
    "rsa-sha2-256";
constexpr const char* kDefaultCiphers =
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,"
    "aes192-ctr,aes128-ctr";
constexpr const char* kDefaultKex =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256";
constexpr const char* kDefaultMacs =
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512";

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) out.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// `list` (or `fallback` when empty) without the disabled names, comma-joined.
std::string algorithm_list(const std::string& list, const char* fallback,
                           const std::vector<std::string>& disabled, bool& changed) {
  std::vector<std::string> names = split_commas(list.empty() ? fallback : list);
  std::string out;
  for (const auto& n : names) {
    bool off = false;
    for (const auto& d : disabled) off = off || d == n;
    if (off) continue;
    if (!out.empty()) out += ',';
    out += n;
  }
  changed = !list.empty() || out.size() != std::string(fallback).size();
  return out;
}

/// Host key algorithms that offer the key types already recorded for this host come first, so
/// a server with several keys presents the one we know (as ssh(1) does).
std::string preferred_host_key_algorithms(const std::vector<std::string>& known_types) {
  std::vector<std::string> order;
  auto add = [&order](const std::string& name) {
    for (const auto& o : order) {
      if (o == name) return;
    }
    order.push_back(name);
  };
  for (const auto& type : known_types) {
    if (type == "ssh-rsa") {
      add("rsa-sha2-512");
      add("rsa-sha2-256");
    } else {
      add(type);
    }
  }
  for (const auto& name : split_commas(kDefaultHostKeyAlgorithms)) add(name);
  std::string out;
  for (const auto& o : order) out += (out.empty() ? "" : ",") + o;
  return out;
}

void route_libssh_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    ssh_set_log_callback([](int priority, const char* function, const char* buffer, void*) {
      spdlog::debug("libssh[{}] {}: {}", priority, function, buffer);
    });
  });
}

Result<void> set_options(Session::Impl& impl, const std::vector<std::string>& known_types) {
  const ResolvedTarget& t = impl.target;
  ssh_session s = impl.s;
  int verbosity = spdlog::should_log(spdlog::level::trace)   ? SSH_LOG_FUNCTIONS
                  : spdlog::should_log(spdlog::level::debug) ? SSH_LOG_PROTOCOL
                                                             : SSH_LOG_NOLOG;
  int no = 0;
  unsigned int port = t.port;
  bool ok = ssh_options_set(s, SSH_OPTIONS_HOST, t.hostname.c_str()) == SSH_OK &&
            ssh_options_set(s, SSH_OPTIONS_PORT, &port) == SSH_OK &&
            ssh_options_set(s, SSH_OPTIONS_USER, t.user.c_str()) == SSH_OK &&
            ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) == SSH_OK &&
            ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) == SSH_OK &&
            ssh_options_set(s, SSH_OPTIONS_COMPRESSION, t.compression ? "yes" : "no") == SSH_OK;
  if (t.identity_agent && *t.identity_agent != "none" && *t.identity_agent != "SSH_AUTH_SOCK") {
    ok = ok && ssh_options_set(s, SSH_OPTIONS_IDENTITY_AGENT, t.identity_agent->c_str()) == SSH_OK;
  }
  if (!ok) return impl.error(Errc::bad_config, Phase::connect, impl.ssh_error());

  const auto& a = t.algorithms;
  struct Category {
    ssh_options_e c_s, s_c;
    const std::string& list;
    const char* fallback;
    const char* what;
  };
  std::string host_keys = a.host_keys.empty() && !known_types.empty()
                              ? preferred_host_key_algorithms(known_types)
                              : a.host_keys;
  const Category categories[] = {
      {SSH_OPTIONS_CIPHERS_C_S, SSH_OPTIONS_CIPHERS_S_C, a.ciphers, kDefaultCiphers, "ciphers"},
      {SSH_OPTIONS_HMAC_C_S, SSH_OPTIONS_HMAC_S_C, a.macs, kDefaultMacs, "MACs"},
      {SSH_OPTIONS_KEY_EXCHANGE, SSH_OPTIONS_KEY_EXCHANGE, a.kex, kDefaultKex, "key exchange"},
      {SSH_OPTIONS_HOSTKEYS, SSH_OPTIONS_HOSTKEYS, host_keys, kDefaultHostKeyAlgorithms,
       "host key algorithms"},
  };
  for (const auto& c : categories) {
    bool changed = false;
    std::string list = algorithm_list(c.list, c.fallback, a.disabled, changed);
    if (!changed) continue;
    if (list.empty()) {
      return impl.error(Errc::bad_config, Phase::connect,
                        fmt::format("every {} algorithm is disabled", c.what));
    }
    if (ssh_options_set(s, c.c_s, list.c_str()) != SSH_OK ||
        ssh_options_set(s, c.s_c, list.c_str()) != SSH_OK) {
      return impl.error(Errc::bad_config, Phase::connect,
                        fmt::format("unsupported {} '{}': {}", c.what, list, impl.ssh_error()));
    }
  }
  return {};
}

Flow<Result<void>> handshake(Session::Impl& impl, const SessionOptions& o) {
  auto who = impl.target.display();
  Result<int> fd;
  if (impl.target.proxy_jump) {
    // The jump hosts' own connect, handshake and auth come before the stream exists.
    const auto hops = static_cast<int>(std::count(impl.target.proxy_jump->begin(),
                                                  impl.target.proxy_jump->end(), ',')) +
                      1;
    const auto budget = (impl.target.connect_timeout + o.banner_timeout + o.auth_timeout) * hops +
                        impl.target.connect_timeout;
    fd = co_await ssh::jump_connect(o, *impl.target.proxy_jump, impl.target.hostname,
                                    impl.target.port, impl.phase_deadline(budget), who,
                                    impl.transport);
  } else {
    fd = co_await ssh::tcp_connect(impl.target.hostname, impl.target.port,
                                   impl.phase_deadline(impl.target.connect_timeout), who);
  }
  if (!fd) co_return std::unexpected(fd.error());
  socket_t sock = *fd;
  if (ssh_options_set(impl.s, SSH_OPTIONS_FD, &sock) != SSH_OK) {
    ::close(*fd);
    co_return impl.error(Errc::protocol_error, Phase::handshake, impl.ssh_error());
  }
  ssh_set_blocking(impl.s, 0);
  // From here libssh owns the socket and closes it with the session.
  int rc = co_await ssh::drive(impl, impl.phase_deadline(o.banner_timeout), SSH_AGAIN,
                               [&impl] { return ssh_connect(impl.s); });
  if (rc == SSH_AGAIN) {
    co_return impl.wait_error(
        Phase::handshake,
        fmt::format("SSH handshake timed out after {} ms (no banner or key exchange)",
                    o.banner_timeout.count()));
  }
  if (rc != SSH_OK) {
    co_return impl.error(Errc::protocol_error, Phase::handshake,
                         fmt::format("SSH handshake failed: {}", impl.ssh_error()));
  }
  co_return Result<void>{};
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Result<Session> Session::connect(const SessionOptions& options) {
  return run_blocking(connect_async(options));
}

Flow<Result<Session>> Session::connect_async(SessionOptions options) {
  auto target = resolve_target(options);
  if (!target) co_return std::unexpected(target.error());
  route_libssh_logs();

  auto impl = std::make_unique<Impl>();
  impl->target = std::move(*target);
  impl->warn = options.on_warning;
  impl->total_deadline = options.deadline;
  impl->s = ssh_new();
  if (impl->s == nullptr) {
    co_return impl->error(Errc::local_io, Phase::connect, "cannot allocate an SSH session");
  }
  ssh_set_counters(impl->s, &impl->socket_counter, nullptr);
  static const auto no_known_hosts = std::make_shared<const KnownHosts>();
  std::shared_ptr<const KnownHosts> known = no_known_hosts;
  if (impl->target.host_key_policy != HostKeyPolicy::off) {
    auto kh = ssh::cached_known_hosts(impl->target.known_hosts);
    if (!kh) co_return std::unexpected(kh.error());
    known = std::move(*kh);
  }
  auto known_types = known->known_types(impl->target.hostname, impl->target.port);
  if (auto r = set_options(*impl, known_types); !r) co_return std::unexpected(r.error());
  auto shaken = co_await handshake(*impl, options);
  if (!shaken) co_return std::unexpected(shaken.error());
  if (auto r = ssh::verify_host_key(*impl, *known); !r) co_return std::unexpected(r.error());
  auto authed =
      co_await ssh::authenticate(*impl, options, impl->phase_deadline(options.auth_timeout));
  if (!authed) co_return std::unexpected(authed.error());
  co_return Session(std::move(impl));
}

const HostKey& Session::server_key() const {
  return impl_->server_key;
}
const ResolvedTarget& Session::target() const {
  return impl_->target;
}
std::string Session::cipher() const {
  const char* c = ssh_get_cipher_out(impl_->s);
  return c != nullptr ? c : "";
}
const std::vector<std::string>& Session::auth_attempts() const {
  return impl_->attempts;
}

void Session::close() {
  if (impl_ && impl_->s != nullptr) {
    ssh_disconnect(impl_->s);
    ssh_free(impl_->s);
    impl_->s = nullptr;
  }
}

}  // namespace herd

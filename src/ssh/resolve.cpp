// Merging SessionOptions with ssh_config and defaults into a ResolvedTarget.
// Precedence, as with ssh(1) command-line options: explicit option > ssh_config > default.
#include <fmt/format.h>

#include <system_error>

#include "herd/session.hpp"
#include "herd/ssh_config.hpp"
#include "ssh/file_cache.hpp"
#include "ssh/local_user.hpp"

namespace herd {
namespace {

constexpr std::chrono::milliseconds kDefaultConnectTimeout{10000};  // ms

template <class T>
void fill(std::optional<T>& into, const std::optional<T>& from) {
  if (!into && from) into = from;
}

/// Field-wise merge: values already in `into` win (ssh_config's first-value-wins across files).
void merge(SshHostConfig& into, const SshHostConfig& from) {
  fill(into.hostname, from.hostname);
  fill(into.port, from.port);
  fill(into.user, from.user);
  for (const auto& f : from.identity_files) into.identity_files.push_back(f);
  fill(into.identities_only, from.identities_only);
  fill(into.connect_timeout, from.connect_timeout);
  fill(into.strict_host_key_checking, from.strict_host_key_checking);
  if (into.user_known_hosts_files.empty())
    into.user_known_hosts_files = from.user_known_hosts_files;
  fill(into.hash_known_hosts, from.hash_known_hosts);
  fill(into.proxy_jump, from.proxy_jump);
  fill(into.compression, from.compression);
  fill(into.ciphers, from.ciphers);
  fill(into.kex_algorithms, from.kex_algorithms);
  fill(into.macs, from.macs);
  fill(into.host_key_algorithms, from.host_key_algorithms);
  fill(into.password_authentication, from.password_authentication);
  fill(into.pubkey_authentication, from.pubkey_authentication);
  fill(into.identity_agent, from.identity_agent);
}

/// The ssh_config files to consult: the explicit one only, or the user's and the system's.
Result<SshHostConfig> lookup_ssh_config(const SessionOptions& o, const std::string& local_user) {
  SshHostConfig merged;
  if (o.ssh_config) {
    auto cfg = ssh::cached_ssh_config(*o.ssh_config);
    if (!cfg) return std::unexpected(cfg.error());
    return (*cfg)->lookup(o.host, local_user);
  }
  if (!o.read_default_ssh_config) return merged;
  std::error_code ec;
  for (const auto& file :
       {ssh::home_dir() / ".ssh/config", std::filesystem::path("/etc/ssh/ssh_config")}) {
    if (!std::filesystem::exists(file, ec)) continue;
    auto cfg = ssh::cached_ssh_config(file);
    if (!cfg) return std::unexpected(cfg.error());
    merge(merged, (*cfg)->lookup(o.host, local_user));
  }
  return merged;
}

std::string pick(const std::string& explicit_value, const std::optional<std::string>& cfg) {
  if (!explicit_value.empty()) return explicit_value;
  return cfg.value_or("");
}

}  // namespace

std::optional<HostKeyPolicy> parse_host_key_policy(std::string_view text) {
  if (text == "strict" || text == "yes" || text == "ask") return HostKeyPolicy::strict;
  if (text == "accept-new") return HostKeyPolicy::accept_new;
  // ssh_config's "no" still never accepts a *changed* key in herd: it only adds new ones.
  if (text == "auto-add" || text == "no") return HostKeyPolicy::auto_add;
  if (text == "off") return HostKeyPolicy::off;
  return std::nullopt;
}

std::string_view to_string(HostKeyPolicy policy) {
  switch (policy) {
    case HostKeyPolicy::strict: return "strict";
    case HostKeyPolicy::accept_new: return "accept-new";
    case HostKeyPolicy::auto_add: return "auto-add";
    case HostKeyPolicy::off: return "off";
  }
  return "accept-new";
}

std::string ResolvedTarget::display() const {
  bool v6 = hostname.find(':') != std::string::npos;
  auto where = fmt::format("{}@{}{}{}:{}", user, v6 ? "[" : "", hostname, v6 ? "]" : "", port);
  if (alias.empty() || alias == hostname) return where;
  return fmt::format("{} ({})", alias, where);
}

Result<ResolvedTarget> resolve_target(const SessionOptions& o) {
  if (o.host.empty()) return fail(Errc::bad_config, Phase::resolve, "", "no host given");
  const std::string local_user = ssh::local_user_name();
  auto cfg = lookup_ssh_config(o, local_user);
  if (!cfg) return std::unexpected(cfg.error());

  ResolvedTarget t;
  t.alias = o.host;
  t.hostname = o.hostname.value_or(cfg->hostname.value_or(o.host));
  t.port = o.port.value_or(cfg->port.value_or(22));
  t.user = o.user.value_or(cfg->user.value_or(local_user));
  t.key_files = o.key_files;
  for (const auto& f : cfg->identity_files) {
    std::error_code ec;
    if (std::filesystem::exists(f, ec)) t.key_files.emplace_back(f);  // ssh(1) skips missing ones
  }
  t.identities_only = cfg->identities_only.value_or(false);
  if (o.connect_timeout) {
    t.connect_timeout = *o.connect_timeout;
  } else if (cfg->connect_timeout) {
    t.connect_timeout = *cfg->connect_timeout;
  } else {
    t.connect_timeout = kDefaultConnectTimeout;
  }
  t.host_key_policy = HostKeyPolicy::accept_new;
  if (o.host_key_policy) {
    t.host_key_policy = *o.host_key_policy;
  } else if (cfg->strict_host_key_checking) {
    auto p = parse_host_key_policy(*cfg->strict_host_key_checking);
    // ssh_config can never switch checking off: only a caller naming "off" can.
    if (p && *p != HostKeyPolicy::off) t.host_key_policy = *p;
  }
  if (o.known_hosts) {
    t.known_hosts = *o.known_hosts;
  } else if (!cfg->user_known_hosts_files.empty()) {
    t.known_hosts = cfg->user_known_hosts_files.front();
  } else {
    t.known_hosts = ssh::home_dir() / ".ssh/known_hosts";
  }
  t.hash_known_hosts = o.hash_known_hosts.value_or(cfg->hash_known_hosts.value_or(false));
  t.proxy_jump = o.proxy_jump ? o.proxy_jump : cfg->proxy_jump;
  if (t.proxy_jump && (t.proxy_jump->empty() || *t.proxy_jump == "none")) t.proxy_jump.reset();
  t.algorithms.ciphers = pick(o.algorithms.ciphers, cfg->ciphers);
  t.algorithms.kex = pick(o.algorithms.kex, cfg->kex_algorithms);
  t.algorithms.macs = pick(o.algorithms.macs, cfg->macs);
  t.algorithms.host_keys = pick(o.algorithms.host_keys, cfg->host_key_algorithms);
  t.algorithms.disabled = o.algorithms.disabled;
  t.compression = o.compression.value_or(cfg->compression.value_or(false));
  t.password_auth = cfg->password_authentication.value_or(true);
  t.pubkey_auth = cfg->pubkey_authentication.value_or(true);
  t.identity_agent = cfg->identity_agent;
  return t;
}

}  // namespace herd

// Host-key verification against OpenSSH known_hosts, under the target's policy.
//
// A changed or revoked key is refused under every policy but `off`, and known_hosts is never
// written in that case. An unknown key is refused under `strict`, recorded (under a lock, see
// KnownHosts::record_locked) under `accept-new` and `auto-add`; `auto-add` also warns.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "ssh/session_impl.hpp"

namespace herd::ssh {
namespace {

std::string host_label(const ResolvedTarget& t) { return known_hosts_name(t.hostname, t.port); }

Result<HostKey> server_host_key(Session::Impl& impl) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(impl.s, &raw) != SSH_OK || raw == nullptr) {
    return impl.error(Errc::protocol_error, Phase::host_key,
                      fmt::format("server sent no host key: {}", impl.ssh_error()));
  }
  std::unique_ptr<ssh_key_struct, decltype(&ssh_key_free)> key(raw, ssh_key_free);
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &b64) != SSH_OK || b64 == nullptr) {
    return impl.error(Errc::protocol_error, Phase::host_key, "cannot encode the server's host key");
  }
  HostKey hk;
  hk.base64 = b64;
  ssh_string_free_char(b64);
  enum ssh_keytypes_e type = ssh_key_type(key.get());
  const char* name = type == SSH_KEYTYPE_ECDSA_P256 || type == SSH_KEYTYPE_ECDSA_P384 ||
                             type == SSH_KEYTYPE_ECDSA_P521
                         ? ssh_pki_key_ecdsa_name(key.get())
                         : ssh_key_type_to_char(type);
  hk.type = name != nullptr ? name : "unknown";
  return hk;
}

std::string describe(const HostKey& k) { return fmt::format("{} {}", k.type, k.fingerprint_sha256()); }

}  // namespace

Result<void> verify_host_key(Session::Impl& impl, const KnownHosts& known) {
  auto key = server_host_key(impl);
  if (!key) return std::unexpected(key.error());
  impl.server_key = *key;
  const ResolvedTarget& t = impl.target;
  if (t.host_key_policy == HostKeyPolicy::off) {
    spdlog::debug("{}: host key checking is off; server key {}", t.display(), describe(*key));
    return {};
  }
  HostKeyCheck check = known.check(t.hostname, t.port, *key);
  const std::string file = t.known_hosts.string();
  switch (check.status) {
    case HostKeyCheck::Status::known: return {};
    case HostKeyCheck::Status::revoked:
      return impl.error(Errc::host_key_revoked, Phase::host_key,
                        fmt::format("host key {} is REVOKED ({}:{}); refusing to connect",
                                    describe(*key), file, check.conflict->line));
    case HostKeyCheck::Status::changed:
      return impl.error(
          Errc::host_key_changed, Phase::host_key,
          fmt::format("host key for {} has CHANGED: server offers {}, but {}:{} records {}; "
                      "refusing to connect (if the change is expected, remove the old entry: "
                      "ssh-keygen -R '{}' -f {})",
                      host_label(t), describe(*key), file, check.conflict->line,
                      describe(check.conflict->key), host_label(t), file));
    case HostKeyCheck::Status::unknown: break;
  }
  if (t.host_key_policy == HostKeyPolicy::strict) {
    return impl.error(Errc::host_key_unknown, Phase::host_key,
                      fmt::format("host key for {} is not known ({} not in {}) and the policy is "
                                  "strict; verify it, then add it or use --host-key-policy "
                                  "accept-new",
                                  host_label(t), describe(*key), file));
  }
  auto recorded = KnownHosts::record_locked(t.known_hosts, t.hostname, t.port, *key,
                                            t.hash_known_hosts);
  if (!recorded) return std::unexpected(recorded.error());
  if (t.host_key_policy == HostKeyPolicy::auto_add && impl.warn) {
    impl.warn(fmt::format("warning: {}: added unverified host key {} to {}", host_label(t),
                          describe(*key), file));
  }
  spdlog::info("{}: recorded new host key {} in {}", host_label(t), describe(*key), file);
  return {};
}

}  // namespace herd::ssh

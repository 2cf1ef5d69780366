// Authentication in paramiko's order: explicit key files, in-memory keys, the agent, the
// default ~/.ssh/id_* keys, then the password (password method, else keyboard-interactive).
// Every attempt is recorded so a failure can say exactly what was tried.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <system_error>

#include "ssh/local_user.hpp"
#include "ssh/session_impl.hpp"

namespace herd::ssh {
namespace {

using KeyPtr = std::unique_ptr<ssh_key_struct, decltype(&ssh_key_free)>;

enum class Outcome { success, denied, partial, error, timeout };

Outcome outcome_of(int rc) {
  switch (rc) {
    case SSH_AUTH_SUCCESS: return Outcome::success;
    case SSH_AUTH_DENIED: return Outcome::denied;
    case SSH_AUTH_PARTIAL: return Outcome::partial;
    case SSH_AUTH_AGAIN: return Outcome::timeout;
    default: return Outcome::error;
  }
}

std::string methods_text(int methods) {
  std::string out;
  auto add = [&out](const char* m) { out += (out.empty() ? "" : ",") + std::string(m); };
  if (methods & SSH_AUTH_METHOD_PUBLICKEY) add("publickey");
  if (methods & SSH_AUTH_METHOD_PASSWORD) add("password");
  if (methods & SSH_AUTH_METHOD_INTERACTIVE) add("keyboard-interactive");
  if (methods & SSH_AUTH_METHOD_HOSTBASED) add("hostbased");
  if (methods & SSH_AUTH_METHOD_GSSAPI_MIC) add("gssapi-with-mic");
  return out.empty() ? "none" : out;
}

class Authenticator {
 public:
  Authenticator(Session::Impl& impl, const SessionOptions& o, Deadline d)
      : impl_(impl), o_(o), deadline_(d) {}

  Flow<Result<void>> run() {
    const ResolvedTarget& t = impl_.target;
    // With keys named, offer them at once (signed): asking "none" first for the server's methods
    // costs a round trip per host, which a fleet behind latency pays thousands of times. The
    // methods are learnt only if the keys are refused.
    const bool keys_first = t.pubkey_auth && (!t.key_files.empty() || !o_.private_keys.empty());
    if (keys_first) {
      methods_ = SSH_AUTH_METHOD_PUBLICKEY;
    } else if (auto r = co_await probe_methods(); r) {
      co_return finish(*r);
    }
    if (t.pubkey_auth && (methods_ & SSH_AUTH_METHOD_PUBLICKEY)) {
      for (const auto& file : t.key_files) {
        Outcome r = co_await try_key_file(file);
        if (r != Outcome::denied) co_return finish(r);
      }
      for (std::size_t i = 0; i < o_.private_keys.size(); ++i) {
        Outcome r = co_await try_key_text(o_.private_keys[i], i);
        if (r != Outcome::denied) co_return finish(r);
      }
    }
    if (keys_first) {
      if (auto r = co_await probe_methods(); r) co_return finish(*r);
    }
    if (t.pubkey_auth && (methods_ & SSH_AUTH_METHOD_PUBLICKEY)) {
      if (agent_allowed()) {
        impl_.attempts.push_back("agent");
        Outcome r = co_await step([this] { return ssh_userauth_agent(impl_.s, nullptr); });
        if (r != Outcome::denied) co_return finish(r);
      }
      if (o_.look_for_keys && !t.identities_only) {
        for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"}) {
          auto file = home_dir() / ".ssh" / name;
          std::error_code ec;
          if (!std::filesystem::exists(file, ec) || already_tried(file)) continue;
          Outcome r = co_await try_key_file(file);
          if (r != Outcome::denied) co_return finish(r);
        }
      }
    }
    if (o_.password && t.password_auth) {
      if (methods_ & SSH_AUTH_METHOD_PASSWORD) {
        impl_.attempts.push_back("password");
        Outcome r = co_await step(
            [this] { return ssh_userauth_password(impl_.s, nullptr, o_.password->c_str()); });
        if (r != Outcome::denied) co_return finish(r);
      } else if (methods_ & SSH_AUTH_METHOD_INTERACTIVE) {
        impl_.attempts.push_back("keyboard-interactive");
        Outcome r = co_await keyboard_interactive();
        if (r != Outcome::denied) co_return finish(r);
      }
    }
    co_return denied();
  }

 private:
  /// Ask with "none" which methods the server accepts (into methods_). An outcome to end with
  /// when that settles it (success, timeout, error), else nullopt.
  Flow<std::optional<Outcome>> probe_methods() {
    Outcome first = co_await step([this] { return ssh_userauth_none(impl_.s, nullptr); });
    if (first != Outcome::denied && first != Outcome::partial) co_return first;
    methods_ = ssh_userauth_list(impl_.s, nullptr);
    co_return std::nullopt;
  }

  template <class F>
  Flow<Outcome> step(F call) {
    int rc = co_await drive(impl_, deadline_, SSH_AUTH_AGAIN, call);
    co_return outcome_of(rc);
  }

  bool agent_allowed() const {
    if (!o_.allow_agent) return false;
    const auto& agent = impl_.target.identity_agent;
    if (agent && *agent == "none") return false;
    if (agent && *agent != "SSH_AUTH_SOCK") return true;
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    // IdentitiesOnly limits the agent to the configured keys; herd then uses the files only.
    return sock != nullptr && *sock != '\0' &&
           !(impl_.target.identities_only && !impl_.target.key_files.empty());
  }

  bool already_tried(const std::filesystem::path& file) const {
    for (const auto& f : tried_files_) {
      std::error_code ec;
      if (std::filesystem::equivalent(f, file, ec)) return true;
    }
    return false;
  }

  Flow<Outcome> try_key(ssh_key raw, std::string label) {
    KeyPtr key(raw, ssh_key_free);
    impl_.attempts.push_back(fmt::format("publickey ({})", label));
    Outcome r = co_await step(
        [this, k = key.get()] { return ssh_userauth_publickey(impl_.s, nullptr, k); });
    co_return r;
  }

  Flow<Outcome> try_key_file(std::filesystem::path file) {
    tried_files_.push_back(file);
    ssh_key key = nullptr;
    const char* pass = o_.passphrase ? o_.passphrase->c_str() : nullptr;
    if (ssh_pki_import_privkey_file(file.c_str(), pass, nullptr, nullptr, &key) != SSH_OK) {
      std::string why = pass != nullptr ? "wrong passphrase or unreadable"
                                        : "unreadable, or encrypted and no passphrase given";
      impl_.attempts.push_back(fmt::format("publickey ({}: {})", file.string(), why));
      co_return Outcome::denied;
    }
    Outcome r = co_await try_key(key, file.string());
    co_return r;
  }

  Flow<Outcome> try_key_text(const std::string& text, std::size_t index) {
    ssh_key key = nullptr;
    const char* pass = o_.passphrase ? o_.passphrase->c_str() : nullptr;
    std::string label = fmt::format("in-memory key #{}", index + 1);
    if (ssh_pki_import_privkey_base64(text.c_str(), pass, nullptr, nullptr, &key) != SSH_OK) {
      impl_.attempts.push_back(fmt::format("publickey ({}: cannot be parsed)", label));
      co_return Outcome::denied;
    }
    Outcome r = co_await try_key(key, label);
    co_return r;
  }

  /// Answer every prompt with the password (the usual "Password:" single-prompt case).
  Flow<Outcome> keyboard_interactive() {
    for (int round = 0; round < 4; ++round) {
      int rc = co_await drive(impl_, deadline_, SSH_AUTH_AGAIN,
                              [this] { return ssh_userauth_kbdint(impl_.s, nullptr, nullptr); });
      if (rc != SSH_AUTH_INFO) co_return outcome_of(rc);
      int prompts = ssh_userauth_kbdint_getnprompts(impl_.s);
      for (int i = 0; i < prompts; ++i) {
        if (ssh_userauth_kbdint_setanswer(impl_.s, static_cast<unsigned>(i), o_.password->c_str()) <
            0) {
          co_return Outcome::error;
        }
      }
    }
    co_return Outcome::denied;
  }

  Result<void> finish(Outcome r) {
    switch (r) {
      case Outcome::success: return {};
      case Outcome::timeout: return timed_out();
      case Outcome::partial:
        return impl_.error(Errc::auth_failed, Phase::auth,
                           "partial authentication: the server wants a further method herd "
                           "cannot provide");
      case Outcome::error: return protocol_error();
      case Outcome::denied: break;
    }
    return denied();
  }

  std::string tried() const {
    std::string out;
    for (const auto& a : impl_.attempts) out += (out.empty() ? "" : ", ") + a;
    return out.empty() ? "nothing (no key, agent or password available)" : out;
  }

  Result<void> denied() const {
    return impl_.error(Errc::auth_failed, Phase::auth,
                       fmt::format("authentication failed; tried {}; server accepts {}", tried(),
                                   methods_text(methods_)));
  }
  Result<void> timed_out() const {
    return impl_.wait_error(Phase::auth,
                            fmt::format("authentication timed out (tried {})", tried()));
  }
  Result<void> protocol_error() const {
    return impl_.error(Errc::protocol_error, Phase::auth,
                       fmt::format("authentication error: {}", impl_.ssh_error()));
  }

  Session::Impl& impl_;
  const SessionOptions& o_;
  Deadline deadline_;
  int methods_ = 0;
  std::vector<std::filesystem::path> tried_files_;
};

}  // namespace

Flow<Result<void>> authenticate(Session::Impl& impl, const SessionOptions& options, Deadline d) {
  Authenticator a(impl, options, d);
  auto r = co_await a.run();
  co_return r;
}

}  // namespace herd::ssh

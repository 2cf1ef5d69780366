#include "cli/common_options.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>

namespace herd::cli {

void add_common_options(CLI::App& app, CommonOptions& o, const char* port_flags) {
  app.add_option("-l,--user", o.user, "Remote user (default: ssh_config User, else local user)");
  app.add_option(port_flags, o.port, "Remote port (default: ssh_config Port, else 22)")
      ->check(CLI::Range(1, 65535));
  app.add_option("-i,--identity", o.identities,
                 "Private key file (repeatable); a file that is not a key is the inventory")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  app.add_option(
         "--inventory", o.inventory,
         "Inventory file (Ansible INI/YAML, config.ini; default $HERD_INVENTORY, ./herd.ini)")
      ->check(CLI::ExistingFile);
  app.add_option("-F,--ssh-config", o.ssh_config, "ssh_config file (only this one is read)")
      ->check(CLI::ExistingFile);
  app.add_option("-J,--jump", o.jump,
                 "Jump hosts [user@]host[:port][,...] (as ssh -J; beats inventory, ssh_config)");
  app.add_option("--known-hosts", o.known_hosts, "known_hosts file (default ~/.ssh/known_hosts)");
  app.add_option("--host-key-policy", o.host_key_policy,
                 "strict | accept-new (default) | auto-add | off")
      ->check(CLI::IsMember({"strict", "accept-new", "auto-add", "off"}));
  app.add_flag("--hash-known-hosts", o.hash_known_hosts, "Record new host keys hashed");
  app.add_option("--connect-timeout", o.connect_timeout_s, "TCP connect timeout, seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--password-env", o.password_env,
                 "Read the login password from this environment variable");
  app.add_option("--passphrase-env", o.passphrase_env,
                 "Read the private-key passphrase from this environment variable");
  app.add_option("-o,--ssh-option", o.ssh_options,
                 "ssh_config-style Key=Value: Ciphers, KexAlgorithms, MACs, HostKeyAlgorithms, "
                 "Compression (repeatable; beats ssh_config)")
      ->allow_extra_args(false);
  app.add_flag("--no-agent", o.no_agent, "Do not use ssh-agent");
  app.add_flag("--no-default-keys", o.no_default_keys, "Do not try ~/.ssh/id_* keys");
  app.add_flag("-v,--verbose", o.verbosity, "More logging (-v info, -vv debug, -vvv trace)");
}

namespace {

Result<std::string> secret_from_env(const std::string& var, const char* what) {
  const char* v = std::getenv(var.c_str());
  if (v == nullptr) {
    return fail(Errc::bad_config, Phase::connect, "",
                fmt::format("--{}-env: environment variable {} is not set", what, var));
  }
  return std::string(v);
}

/// Apply one -o Key=Value (keys case-insensitive, "Key Value" also accepted, as ssh does).
Result<void> apply_ssh_option(const std::string& text, SessionOptions& s) {
  auto sep = text.find_first_of("= ");
  std::string key = text.substr(0, sep);
  std::string value = sep == std::string::npos ? std::string() : text.substr(sep + 1);
  for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (value.empty()) {
    return fail(Errc::bad_config, Phase::connect, "",
                fmt::format("-o {}: expected Key=Value", text));
  }
  if (key == "ciphers") {
    s.algorithms.ciphers = value;
  } else if (key == "kexalgorithms") {
    s.algorithms.kex = value;
  } else if (key == "macs") {
    s.algorithms.macs = value;
  } else if (key == "hostkeyalgorithms") {
    s.algorithms.host_keys = value;
  } else if (key == "compression") {
    s.compression = value == "yes";
  } else {
    return fail(Errc::bad_config, Phase::connect, "",
                fmt::format("-o {}: unsupported option (herd takes Ciphers, KexAlgorithms, MACs, "
                            "HostKeyAlgorithms, Compression; put others in an ssh_config)",
                            key));
  }
  return {};
}

}  // namespace

Result<SessionOptions> session_options(const CommonOptions& o, const std::string& host) {
  SessionOptions s;
  s.host = host;
  // user@host, as ssh accepts it.
  if (auto at = host.rfind('@'); at != std::string::npos) {
    s.user = host.substr(0, at);
    s.host = host.substr(at + 1);
  }
  if (!o.user.empty()) s.user = o.user;
  if (o.port != 0) s.port = o.port;
  for (const auto& i : o.identities) s.key_files.emplace_back(i);
  if (!o.ssh_config.empty()) s.ssh_config = o.ssh_config;
  if (!o.jump.empty()) s.proxy_jump = o.jump;
  if (!o.known_hosts.empty()) s.known_hosts = o.known_hosts;
  if (!o.host_key_policy.empty()) s.host_key_policy = parse_host_key_policy(o.host_key_policy);
  if (o.hash_known_hosts) s.hash_known_hosts = true;
  if (o.connect_timeout_s > 0) {
    s.connect_timeout = std::chrono::milliseconds(static_cast<long>(o.connect_timeout_s * 1000));
  }
  if (!o.password_env.empty()) {
    auto p = secret_from_env(o.password_env, "password");
    if (!p) return std::unexpected(p.error());
    s.password = *p;
  }
  if (!o.passphrase_env.empty()) {
    auto p = secret_from_env(o.passphrase_env, "passphrase");
    if (!p) return std::unexpected(p.error());
    s.passphrase = *p;
  }
  for (const auto& opt : o.ssh_options) {
    if (auto r = apply_ssh_option(opt, s); !r) return std::unexpected(r.error());
  }
  s.allow_agent = !o.no_agent;
  s.look_for_keys = !o.no_default_keys;
  s.on_warning = [](std::string_view w) { fmt::print(stderr, "herd: {}\n", w); };
  return s;
}

void configure_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("herd");
  logger->set_pattern("herd: %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbosity >= 3   ? spdlog::level::trace
                    : verbosity == 2 ? spdlog::level::debug
                    : verbosity == 1 ? spdlog::level::info
                                     : spdlog::level::warn);
}

}  // namespace herd::cli

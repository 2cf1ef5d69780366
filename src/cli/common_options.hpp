// Connection options shared by every subcommand (-l, -p, -i, -F, host keys, timeouts, secrets).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "herd/session.hpp"

namespace herd::cli {

struct CommonOptions {
  std::string user;
  std::uint16_t port = 0;
  std::vector<std::string> identities;
  std::string inventory;  ///< --inventory, or an -i value that is not a private key
  std::string ssh_config;
  std::string jump;  ///< -J: ProxyJump for every host ("none" turns ssh_config's off)
  std::string known_hosts;
  std::string host_key_policy;
  double connect_timeout_s = 0;  // s; 0 = from ssh_config or default
  std::vector<std::string> ssh_options;  ///< -o Key=Value (Ciphers, KexAlgorithms, MACs, ...)
  std::string password_env;      ///< name of the variable holding the password
  std::string passphrase_env;    ///< name of the variable holding the key passphrase
  bool no_agent = false;
  bool no_default_keys = false;
  bool hash_known_hosts = false;
  int verbosity = 0;
};

/// Register the common options on a subcommand.
void add_common_options(CLI::App& app, CommonOptions& o, const char* port_flags = "-p,--port");

/// Build SessionOptions for `host`; reads secrets from the named environment variables.
/// Returns an Error (bad_config) for an unknown policy or an unset variable.
Result<SessionOptions> session_options(const CommonOptions& o, const std::string& host);

/// Set up logging from -v (warnings by default, info with -v, debug with -vv).
void configure_logging(int verbosity);

}  // namespace herd::cli

// ssh_config lookup (the subset herd honours), as values.
//
// Theory of operation: SshConfig::load() reads an OpenSSH client config file (and the files
// it `Include`s) into an ordered list of blocks. lookup(alias) walks them in order, exactly as
// ssh(1) does: a `Host` block applies when one of its patterns matches the alias and none of
// its negated (`!`) patterns does; for each directive the first value obtained wins, except
// IdentityFile which accumulates. `Match` blocks are skipped with a debug note, as are
// directives herd does not use. Tokens %h (the HostName), %n (the alias), %p, %r, %u, %d and
// %% are expanded in IdentityFile and UserKnownHostsFile, and a leading ~ is the home directory.
// herd parses ssh_config itself rather than through libssh so that the resolved values are data
// the engine and the inventory can merge with (and host-key policy can be read back).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "herd/error.hpp"

namespace herd {

/// The values ssh_config gives for one host alias; unset fields were not configured.
struct SshHostConfig {
  std::optional<std::string> hostname;              ///< HostName (with %h expanded)
  std::optional<std::uint16_t> port;                ///< Port
  std::optional<std::string> user;                  ///< User
  std::vector<std::string> identity_files;          ///< IdentityFile, in order, expanded
  std::optional<bool> identities_only;              ///< IdentitiesOnly
  std::optional<std::chrono::seconds> connect_timeout;  ///< ConnectTimeout
  std::optional<std::string> strict_host_key_checking;  ///< StrictHostKeyChecking, lower-cased
  std::vector<std::string> user_known_hosts_files;  ///< UserKnownHostsFile, expanded
  std::optional<bool> hash_known_hosts;             ///< HashKnownHosts
  std::optional<std::string> proxy_jump;            ///< ProxyJump as written
  std::optional<bool> compression;                  ///< Compression
  std::optional<std::string> ciphers;               ///< Ciphers as written
  std::optional<std::string> kex_algorithms;        ///< KexAlgorithms as written
  std::optional<std::string> macs;                  ///< MACs as written
  std::optional<std::string> host_key_algorithms;   ///< HostKeyAlgorithms as written
  std::optional<bool> password_authentication;      ///< PasswordAuthentication
  std::optional<bool> pubkey_authentication;        ///< PubkeyAuthentication
  std::optional<std::string> identity_agent;        ///< IdentityAgent ("none" or a socket)
};

/// A parsed ssh_config file.
class SshConfig {
 public:
  SshConfig() = default;

  /// Read a file (and its Includes). A missing file is an error here: callers decide whether
  /// a default path that does not exist is acceptable. Throws nothing; a malformed line is a
  /// bad_config error naming file:line.
  static Result<SshConfig> load(const std::filesystem::path& file);

  /// Parse text; `origin` names it in messages and anchors relative Includes.
  static Result<SshConfig> parse(const std::string& text, const std::filesystem::path& origin);

  /// The configuration for `alias`, as ssh(1) would compute it. `local_user` fills %u (and
  /// %r when no User is set).
  SshHostConfig lookup(const std::string& alias, const std::string& local_user = {}) const;

  /// One directive as read (keyword lower-cased, arguments split with quotes removed).
  struct Directive {
    std::string keyword;
    std::vector<std::string> args;
    std::string file;
    std::size_t line = 0;
  };
  /// A Host block (patterns empty for the lines before the first Host), or a Match block.
  struct Block {
    std::vector<std::string> patterns;
    bool is_match = false;
    std::vector<Directive> directives;
  };

 private:
  std::vector<Block> blocks_;
};

/// OpenSSH host pattern matching: `*` and `?` wildcards over the whole string.
bool ssh_pattern_match(const std::string& pattern, const std::string& text);

/// A comma-separated (or space-separated list of) pattern list with `!` negation: true when a
/// positive pattern matches and no negated one does.
bool ssh_pattern_list_match(const std::vector<std::string>& patterns, const std::string& text);

}  // namespace herd

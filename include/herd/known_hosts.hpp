// OpenSSH-compatible known_hosts.
//
// Theory of operation: a KnownHosts is the parsed content of one file (plain and hashed
// `|1|salt|hash` host fields, `[host]:port` for non-22 ports, comma-separated patterns with
// `*`, `?` and `!`, several keys per host, `@revoked` and `@cert-authority` markers, comments and
// blank lines kept verbatim). check() answers for one (host, port, key): known, unknown,
// changed (another key of the same type is recorded, or only other types are), or revoked,
// and on a conflict names the file and line that disagree. Recording a new key goes through
// record_locked(): take an exclusive flock on "<file>.lock", re-read the file, add the entry
// only if it is still missing, write a temporary file in the same directory, fsync, and rename
// it over the original. Concurrent first contacts (threads or processes) therefore never lose,
// duplicate or tear entries, and a reader never sees a half-written file.
//
// Host keys are compared as (type, base64 blob) pairs; no libssh types cross this interface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "herd/error.hpp"

namespace herd {

/// A public host key as it appears in known_hosts: "ssh-ed25519", "AAAAC3Nza...".
struct HostKey {
  std::string type;    ///< key type name, e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"
  std::string base64;  ///< the public key blob, base64 (no whitespace)

  /// "SHA256:<unpadded base64 of sha256(blob)>", exactly as `ssh-keygen -lf` prints it.
  std::string fingerprint_sha256() const;
  bool operator==(const HostKey&) const = default;
};

/// One line of a known_hosts file that holds a key.
struct KnownHostsEntry {
  enum class Marker { none, revoked, cert_authority };
  Marker marker = Marker::none;
  std::string hosts;  ///< the host field as written (patterns, or a |1|salt|hash token)
  HostKey key;
  std::string comment;   ///< text after the key, may be empty
  std::size_t line = 0;  ///< 1-based line number in the file it was read from
};

/// The answer of KnownHosts::check().
struct HostKeyCheck {
  enum class Status { known, unknown, changed, revoked };
  Status status = Status::unknown;
  /// For changed/revoked: the entry that disagrees (or the revocation), with its line.
  std::optional<KnownHostsEntry> conflict;
};

/// The name OpenSSH uses for a host in known_hosts: "host" on port 22, "[host]:port" otherwise.
std::string known_hosts_name(const std::string& host, std::uint16_t port);

/// The parsed content of one known_hosts file.
class KnownHosts {
 public:
  KnownHosts() = default;

  /// Parse a file. A missing file is an empty KnownHosts (not an error); an unreadable one is.
  /// Malformed lines are kept verbatim and ignored for matching, as OpenSSH does.
  static Result<KnownHosts> load(const std::filesystem::path& file);

  /// Parse text (for tests and in-memory use); `origin` is used in messages.
  static KnownHosts parse(const std::string& text, std::filesystem::path origin = {});

  /// Is `key` the recorded key of host:port? Matches plain and hashed names and patterns.
  HostKeyCheck check(const std::string& host, std::uint16_t port, const HostKey& key) const;

  /// Key types recorded for host:port (for preferring them in key exchange), in file order,
  /// without duplicates and without revoked entries.
  std::vector<std::string> known_types(const std::string& host, std::uint16_t port) const;

  /// All key entries in file order.
  const std::vector<KnownHostsEntry>& entries() const { return entries_; }

  /// Add an entry in memory (hashed with a random salt when `hash` is true).
  void add(const std::string& host, std::uint16_t port, const HostKey& key, bool hash = false);

  /// Write the whole content atomically (temporary file + fsync + rename), keeping the mode.
  Result<void> save(const std::filesystem::path& file) const;

  /// The file this was loaded from (empty for parse() without origin).
  const std::filesystem::path& origin() const { return origin_; }

  /// Under an exclusive lock on "<file>.lock": re-read `file`, and if host:port does not already
  /// have `key`, append an entry and atomically replace the file. Creates the file (mode 0600)
  /// and its directory (0700) if missing. Returns true if an entry was written.
  static Result<bool> record_locked(const std::filesystem::path& file, const std::string& host,
                                    std::uint16_t port, const HostKey& key, bool hash = false);

 private:
  /// Note entries_[i] in the index below.
  void index_entry(std::size_t i);
  /// The entries that may match `name` (lower-cased), in file order.
  std::vector<std::size_t> candidates(const std::string& name) const;

  std::filesystem::path origin_;
  std::vector<std::string> lines_;        ///< every line verbatim, for byte-exact rewrite
  std::vector<KnownHostsEntry> entries_;  ///< the lines that hold keys
  /// Lookups cost O(matches), not O(file), for fleets: entries naming only literal hosts are
  /// indexed by each (lower-cased) name; hashed names and patterns are always scanned.
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;
  std::vector<std::size_t> scanned_;
};

}  // namespace herd

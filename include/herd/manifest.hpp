// Release manifests for `herd sync --pull`: what a distribution point publishes, and what a
// client remembers of its last pull.
//
// A manifest is text, one record per line:
//
//   herd-manifest 1            format and version
//   seq 42                     the publisher's global sequence number (raised on every change)
//   17 bin/app                 an entry: the seq at which this file last changed, its path
//   sha256:9f86d0... lib/a.so  or its SHA-256 instead of a seq
//
// Paths are relative and made of plain names (no "", ".", ".." or absolute paths), so no entry
// can point outside the directory it is pulled into. The client's state file has the same form
// with the first line `herd-pull-state 1`: the manifest's entries as last pulled successfully.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "herd/error.hpp"

namespace herd {

struct Manifest {
  std::uint64_t seq = 0;
  std::map<std::string, std::string> entries;  ///< path -> token ("17" or "sha256:HEX")
};

inline constexpr std::string_view kManifestMagic = "herd-manifest 1";
inline constexpr std::string_view kPullStateMagic = "herd-pull-state 1";

/// Parse `text` whose first line must be `magic`. Errors name `source` and the line.
Result<Manifest> parse_manifest(std::string_view text, std::string_view magic,
                                std::string_view source);
/// The text of `m` under `magic` (entries in path order), as parse_manifest reads it.
std::string format_manifest(const Manifest& m, std::string_view magic);
/// The hex SHA-256 of a "sha256:HEX" token, or nullopt for a seq token.
std::optional<std::string> token_sha256(std::string_view token);

}  // namespace herd

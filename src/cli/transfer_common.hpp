// What `herd put`, `herd get` and `herd sync` share on the command line: their options, and the
// hosts they run on. What they do on each host is files/file_commands.hpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"
#include "files/file_commands.hpp"
#include "herd/engine.hpp"
#include "herd/inventory.hpp"
#include "herd/transfer.hpp"

namespace herd::cli::xfer {

/// --checksum / --no-verify.
Checksum checksum_of(const TransferCliOptions& o);
/// The options the file commands take (files/file_commands.hpp).
files::FileOptions file_options_of(const TransferCliOptions& o);

/// Register the options put, get and sync share (connection, fleet, -r -p --exclude ...).
void add_transfer_options(CLI::App& cmd, TransferCliOptions& o);
/// The TransferSettings of the options, counting bytes into `bytes`.
TransferSettings settings_for(const TransferCliOptions& o, std::atomic<std::uint64_t>& bytes);
/// The hosts of the pattern (`user@PATTERN` sets the user); a bad pattern is bad_config.
Result<std::vector<std::string>> hosts_of(TransferCliOptions& o, const Inventory* inv);

/// What a file command runs on: the inventory (if any) and the hosts of its pattern.
struct FleetTargets {
  std::optional<Inventory> inventory;
  std::vector<std::string> names;
  const Inventory* inv() const { return inventory ? &*inventory : nullptr; }
};
/// Check that there are at least `min_paths` paths (else `usage` as a usage error), load the
/// inventory and expand the pattern.
Result<FleetTargets> fleet_targets(TransferCliOptions& o, std::size_t min_paths,
                                   std::string_view usage);

/// "put a b c": what the job history records.
std::string describe(std::string_view verb, const std::vector<std::string>& paths);

}  // namespace herd::cli::xfer

// Helpers shared by `herd put`, `herd get` and `herd sync`: paths, excludes, the local tree
// plan, per-host reporting, and the options the three commands have in common.
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
#include "herd/engine.hpp"
#include "herd/inventory.hpp"
#include "herd/transfer.hpp"

namespace herd::cli::xfer {

/// `dir/rel` ("" parts dropped, one slash).
std::string join(const std::string& dir, const std::string& rel);
/// The last component of `p` (trailing slashes ignored).
std::string base_name(std::string p);
/// True when --exclude matches the relative path or its last component.
bool excluded(const TransferCliOptions& o, const std::string& rel);
/// --checksum / --no-verify.
Checksum checksum_of(const TransferCliOptions& o);
/// "3.0 MiB" and the like.
std::string human_bytes(std::uint64_t n);

/// Report one host's transfer: each failed file as a stderr line, then the host's result (a
/// one-line summary on stdout when every file went through). A fatal error is returned.
Result<void> finish_host(const TransferReport& rep, HostResult& result, const HostOutput& output,
                         Checksum checksum, std::string_view verb);

/// What a local tree becomes: directories, files (shared sources) and symlinks.
struct PutPlan {
  struct File {
    std::shared_ptr<LocalSource> source;
    std::string rel;  ///< under the destination ("" = the destination itself)
  };
  struct Link {
    std::string rel;
    std::string target;
  };
  std::vector<std::string> dirs;  ///< relative, parents first
  std::vector<File> files;
  std::vector<Link> links;
  bool dest_is_dir = false;  ///< the destination must be (or become) a directory
  std::uint64_t bytes = 0;
};

/// Add the tree under `root` (as `rel_root` in the plan) with its directories, files and links.
Result<void> add_local_tree(const TransferCliOptions& o, const std::filesystem::path& root,
                            const std::string& rel_root, Checksum checksum, PutPlan& plan);

/// `path` made absolute against the SFTP server's start directory, so that commands run on the
/// host (checksums) name the same file whatever directory the SFTP server started in.
Flow<Result<std::string>> absolute_remote(SftpClient& sftp, std::string path);

/// Where `host`'s files go locally: `dest` with {host} replaced, else DEST/HOST.
std::string local_root(const std::string& dest, const std::string& host);
/// mkdir -p; a part that exists must be a directory (or a link to one the user made).
Result<void> make_local_dirs(const std::filesystem::path& dir);

/// Recreate `links` under `dest` (whatever is at each name is replaced, as a copy does), adding
/// one outcome per link to `rep` (a failed link is a failed outcome). Returns the links made.
Flow<std::size_t> place_links(SftpClient& sftp, std::vector<PutPlan::Link> links,
                               std::string dest, TransferReport& rep);

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

/// The message for a name from a server that is not a plain file name (never used as a path).
std::string refused_name(const std::string& host, const std::string& name, const std::string& dir);
/// "put a b c": what the job history records.
std::string describe(std::string_view verb, const std::vector<std::string>& paths);

}  // namespace herd::cli::xfer

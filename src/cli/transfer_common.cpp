// Helpers shared by herd put, get and sync (transfer_common.hpp).
#include "cli/transfer_common.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "cli/fleet_run.hpp"
#include "cli/targets.hpp"

namespace herd::cli::xfer {

namespace fs = std::filesystem;




Checksum checksum_of(const TransferCliOptions& o) {
  if (o.no_verify) return Checksum::none;
  return parse_checksum(o.checksum).value_or(Checksum::sha256);
}

files::FileOptions file_options_of(const TransferCliOptions& o) {
  files::FileOptions f;
  f.recursive = o.recursive;
  f.follow_links = o.follow_links;
  f.exclude = o.exclude;
  f.compare_checksum = o.checksum_compare;
  return f;
}

void add_transfer_options(CLI::App& cmd, TransferCliOptions& o) {
  add_common_options(cmd, o.fleet.common, "-P,--port");  // -p is --preserve, as in scp
  add_fleet_options(cmd, o.fleet, false);
  cmd.add_flag("-r,--recursive", o.recursive, "Copy directories and everything in them");
  cmd.add_flag("-p,--preserve", o.preserve, "Keep modes and modification times");
  cmd.add_option("--exclude", o.exclude,
                 "Leave out files whose name or relative path matches this glob (repeatable)")
      ->allow_extra_args(false);
  cmd.add_option("--checksum", o.checksum,
                 "Verify each file with sha256 (default), md5, or none")
      ->check(CLI::IsMember({"sha256", "md5", "none"}));
  cmd.add_flag("--no-verify", o.no_verify, "Do not verify checksums (--checksum none)");
  cmd.add_flag("--resume", o.resume,
               "Continue interrupted transfers from the verified part already there");
  cmd.add_flag("-L,--follow-links", o.follow_links,
               "Copy the files symlinks point to (default: recreate links on put, skip on get)");
  cmd.add_option("--max-open-files", o.max_open_files, "Files in progress at once per host")
      ->check(CLI::Range(1, 1024));
  cmd.add_option("host", o.fleet.host, "Host or host pattern (web[01-20], a,b, @group)")
      ->required();
  cmd.add_option("paths", o.paths, "Sources, then the destination")->required();
}

TransferSettings settings_for(const TransferCliOptions& o, std::atomic<std::uint64_t>& bytes) {
  TransferSettings s;
  s.checksum = checksum_of(o);
  s.preserve = o.preserve;
  s.resume = o.resume;
  s.max_open_files = o.max_open_files;
  s.on_bytes = [&bytes](std::uint64_t n) { bytes.fetch_add(n, std::memory_order_relaxed); };
  return s;
}

Result<std::vector<std::string>> hosts_of(TransferCliOptions& o, const Inventory* inv) {
  auto at = o.fleet.host.find('@');
  if (at != std::string::npos && at > 0) {
    const std::string user = o.fleet.host.substr(0, at);
    if (user.find_first_of("[],!&^ ") == std::string::npos) {
      if (o.fleet.common.user.empty()) o.fleet.common.user = user;
      o.fleet.host.erase(0, at + 1);
    }
  }
  try {
    return expand_hosts(o.fleet.host, o.fleet.excludes, inv);
  } catch (const PatternError& e) {
    return fail(Errc::bad_config, Phase::command, "", e.what());
  }
}

Result<FleetTargets> fleet_targets(TransferCliOptions& o, std::size_t min_paths,
                                   std::string_view usage) {
  if (o.paths.size() < min_paths) return fail(Errc::bad_config, Phase::command, "", std::string(usage));
  FleetTargets t;
  auto inventory = load_inventory(o.fleet.common);
  if (!inventory) return std::unexpected(inventory.error());
  t.inventory = std::move(*inventory);
  auto names = hosts_of(o, t.inv());
  if (!names) return std::unexpected(names.error());
  t.names = std::move(*names);
  return t;
}


std::string describe(std::string_view verb, const std::vector<std::string>& paths) {
  std::string out(verb);
  for (const auto& p : paths) out += " " + p;
  return out;
}



}  // namespace herd::cli::xfer

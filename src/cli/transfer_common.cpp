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

std::string join(const std::string& dir, const std::string& rel) {
  if (rel.empty()) return dir;
  if (dir.empty()) return rel;
  return dir.back() == '/' ? dir + rel : dir + "/" + rel;
}

std::string base_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool excluded(const TransferCliOptions& o, const std::string& rel) {
  const std::string name = base_name(rel);
  for (const auto& g : o.exclude) {
    if (::fnmatch(g.c_str(), rel.c_str(), FNM_PATHNAME) == 0) return true;
    if (::fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

Checksum checksum_of(const TransferCliOptions& o) {
  if (o.no_verify) return Checksum::none;
  return parse_checksum(o.checksum).value_or(Checksum::sha256);
}

std::string human_bytes(std::uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024.0);
  if (n < 1024ull * 1024 * 1024) {
    return fmt::format("{:.1f} MiB", static_cast<double>(n) / 1048576.0);
  }
  return fmt::format("{:.2f} GiB", static_cast<double>(n) / 1073741824.0);
}

/// A host's per-file failures as its stderr lines and a one-line result.
Result<void> finish_host(const TransferReport& rep, HostResult& result, const HostOutput& output,
                         Checksum checksum, std::string_view verb) {
  result.stdout_bytes = rep.bytes;
  std::size_t ok = 0, resumed = 0;
  const FileOutcome* first = nullptr;
  for (const auto& f : rep.files) {
    if (f.resumed_from > 0) ++resumed;
    if (f.ok) {
      ++ok;
      continue;
    }
    if (!first) first = &f;
    if (f.error && !rep.fatal) output(Stream::err, f.error->message + "\n");
  }
  if (rep.fatal) return std::unexpected(*rep.fatal);
  if (first) {
    result.status = HostStatus::failed;
    result.phase = first->error ? first->error->phase : Phase::transfer;
    result.message = fmt::format("{} of {} files failed: {}", rep.files.size() - ok,
                                 rep.files.size(),
                                 first->error ? first->error->message : std::string("error"));
    return {};
  }
  output(Stream::out,
         fmt::format("{} {} file{}, {}{}{}\n", verb, ok, ok == 1 ? "" : "s",
                     human_bytes(rep.bytes),
                     checksum == Checksum::none
                         ? std::string(", not verified")
                         : fmt::format(", {} verified", to_string(checksum)),
                     resumed > 0 ? fmt::format(" ({} resumed)", resumed) : std::string()));
  return {};
}

Result<void> add_local_tree(const TransferCliOptions& o, const fs::path& root,
                            const std::string& rel_root, Checksum checksum, PutPlan& plan) {
  plan.dirs.push_back(rel_root);
  std::error_code ec;
  fs::recursive_directory_iterator it(
      root, o.follow_links ? fs::directory_options::follow_directory_symlink
                           : fs::directory_options::none,
      ec);
  if (ec) {
    return fail(Errc::local_io, Phase::transfer, "",
                fmt::format("{}: {}", root.string(), ec.message()));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: {}", root.string(), ec.message()));
    }
    // Lexically: fs::relative() would resolve a symlink to what it points to.
    const fs::path rel_path = it->path().lexically_relative(root);
    const std::string rel = join(rel_root, rel_path.generic_string());
    if (excluded(o, rel)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    auto st = o.follow_links ? it->status(ec) : it->symlink_status(ec);
    if (fs::is_symlink(st)) {
      plan.links.push_back({rel, fs::read_symlink(it->path(), ec).string()});
    } else if (fs::is_directory(st)) {
      plan.dirs.push_back(rel);
    } else if (fs::is_regular_file(st)) {
      auto src = LocalSource::open(it->path(), checksum);
      if (!src) return std::unexpected(src.error());
      plan.bytes += (*src)->size();
      plan.files.push_back({std::move(*src), rel});
    }  // sockets, devices, FIFOs: not files to copy
  }
  return {};
}

Flow<Result<std::string>> absolute_remote(SftpClient& sftp, std::string path) {
  if (!path.empty() && path[0] == '/') co_return path;
  auto home = co_await sftp.normalize_async(".");
  if (!home) co_return std::unexpected(home.error());
  if (path.empty() || path == ".") co_return *home;
  co_return join(*home, path.starts_with("./") ? path.substr(2) : path);
}

Flow<std::size_t> place_links(SftpClient& sftp, std::vector<PutPlan::Link> links,
                               std::string dest, TransferReport& rep) {
  std::size_t placed = 0;
  for (const auto& l : links) {
    FileOutcome out;
    out.path = join(dest, l.rel);
    (void)co_await sftp.remove_async(out.path);
    auto made = co_await sftp.symlink_async(l.target, out.path);
    if (made) {
      out.ok = true;
      ++placed;
    } else {
      out.error = made.error();
      ++rep.failed;
    }
    rep.files.push_back(std::move(out));
  }
  co_return placed;
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

std::string refused_name(const std::string& host, const std::string& name, const std::string& dir) {
  return fmt::format("{}: refused a name from the server that is not a plain file name: '{}' in {}",
                     host, name.substr(0, 200), dir);
}

std::string describe(std::string_view verb, const std::vector<std::string>& paths) {
  std::string out(verb);
  for (const auto& p : paths) out += " " + p;
  return out;
}

/// Where `host`'s files go: the destination with {host} replaced, else DEST/host.
std::string local_root(const std::string& dest, const std::string& host) {
  std::string out = dest;
  bool templated = false;
  for (auto at = out.find("{host}"); at != std::string::npos; at = out.find("{host}", at)) {
    out.replace(at, 6, host);
    at += host.size();
    templated = true;
  }
  return templated ? out : join(dest, host);
}

/// mkdir -p; a part that exists must be a directory (or a link to one the user made).
Result<void> make_local_dirs(const fs::path& dir) {
  fs::path p;
  for (const auto& part : dir) {
    p /= part;
    struct stat st{};
    if (::stat(p.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: exists and is not a directory", p.string()));
    }
    if (::mkdir(p.c_str(), 0777) != 0 && errno != EEXIST) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: cannot create: {}", p.string(), std::strerror(errno)));
    }
  }
  return {};
}

}  // namespace herd::cli::xfer

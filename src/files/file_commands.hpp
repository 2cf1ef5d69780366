// The file commands on one host: put, get, sync and sync --pull, as `herd put/get/sync` run them
// on each host of a fleet and as task put/get/sync steps run them on the host of a task.
//
// Theory of operation: put plans once, locally (plan_put / add_local_tree): the files, each a
// LocalSource shared by every host so it is read and hashed once, the directories to create and
// the symlinks to recreate. Each host then runs the plan over its own SFTP channel (put_host,
// sync_host). get and pull plan per host, from that host's listing or manifest; every name a
// server sends must be one safe path component (is_safe_name) before it becomes part of a local
// path, and nothing is written through a symlink, so a hostile server cannot write outside the
// destination. Each *_host function reports as `herd put` does: a line per failed file on the
// host's stderr, a one-line summary on its stdout, and the HostResult failed with the first
// failure; a fatal error (lost connection, no SFTP) is returned.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "herd/engine.hpp"
#include "herd/transfer.hpp"

namespace herd::files {

/// What the file commands take besides the TransferSettings.
struct FileOptions {
  bool recursive = false;            ///< directories and their contents
  bool follow_links = false;         ///< copy what symlinks point to
  std::vector<std::string> exclude;  ///< leave out names or relative paths matching these globs
  bool compare_checksum = false;     ///< sync: find changed files by content
  bool remove_extra = false;         ///< sync: delete what the source does not have
  bool dry_run = false;              ///< sync: list what would change, change nothing
};

/// `dir/rel` ("" parts dropped, one slash).
std::string join(const std::string& dir, const std::string& rel);
/// The last component of `p` (trailing slashes ignored).
std::string base_name(std::string p);
/// True when one of `globs` matches the relative path or its last component.
bool excluded(const std::vector<std::string>& globs, const std::string& rel);
/// "3.0 MiB" and the like.
std::string human_bytes(std::uint64_t n);
/// The message for a name from a server that is not a plain file name (never used as a path).
std::string refused_name(const std::string& host, const std::string& name, const std::string& dir);

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
Result<void> add_local_tree(const FileOptions& o, const std::filesystem::path& root,
                            const std::string& rel_root, Checksum checksum, PutPlan& plan);
/// The plan of `put SOURCES... DEST`: a directory needs `o.recursive`.
Result<PutPlan> plan_put(const FileOptions& o, Checksum checksum,
                         const std::vector<std::string>& sources, const std::string& dest);
/// The plan as one compressed tar (put --archive), built once for every host.
Result<std::shared_ptr<LocalArchive>> build_archive(const PutPlan& plan,
                                                    ArchiveCompression compression,
                                                    Checksum checksum, bool preserve);

/// `path` made absolute against the SFTP server's start directory, so that commands run on the
/// host (checksums) name the same file whatever directory the SFTP server started in.
Flow<Result<std::string>> absolute_remote(SftpClient& sftp, std::string path);
/// Where `host`'s files go locally: `dest` with {host} replaced, else DEST/HOST.
std::string local_root(const std::string& dest, const std::string& host);
/// mkdir -p; a part that exists must be a directory (or a link to one the user made).
Result<void> make_local_dirs(const std::filesystem::path& dir);
/// One entry met by walk_remote(): its remote path, its path relative to the walk's root, and
/// its attributes (lstat: a symlink is a symlink, unless the walk follows links).
struct RemoteEntry {
  std::string path;
  std::string rel;
  FileAttributes attrs;
};
/// Walk the remote tree under the directory `root` depth first, its entries named `rel_root`/...
/// Each entry is handed to `visit`; a directory is descended into when `visit` returns true.
/// A name that is not one safe path component is never visited: its message goes to `refused`.
/// With `follow_links`, a symlink to a regular file is visited as that file and any other
/// symlink is skipped (links to directories are never followed).
Flow<Result<void>> walk_remote(SftpClient& sftp, std::string root, std::string rel_root,
                               bool follow_links, std::function<bool(const RemoteEntry&)> visit,
                               std::vector<std::string>& refused);
/// Recreate `links` under `dest` (whatever is at each name is replaced, as a copy does), adding
/// one outcome per link to `rep` (a failed link is a failed outcome). Returns the links made.
Flow<std::size_t> place_links(SftpClient& sftp, std::vector<PutPlan::Link> links,
                               std::string dest, TransferReport& rep);

/// Upload `plan` (or `archive`, when given) to `dest` on one host.
Flow<Result<void>> put_host(const PutPlan& plan, std::shared_ptr<LocalArchive> archive,
                            std::string dest, TransferSettings settings, Session& session,
                            HostResult& result, const HostOutput& output);
/// Download `sources` from one host into local_root(dest, host).
Flow<Result<void>> get_host(const FileOptions& o, std::vector<std::string> sources,
                            std::string dest, std::string host, TransferSettings settings,
                            Session& session, HostResult& result, const HostOutput& output);
/// Make `dest` on one host match the local tree `plan` (only what changed is sent).
Flow<Result<void>> sync_host(const FileOptions& o, const PutPlan& plan, std::string dest,
                             TransferSettings settings, Session& session, HostResult& result,
                             const HostOutput& output);
/// Fetch what changed in REMOTE_DIR/MANIFEST_NAME's manifest since the last pull into
/// local_root(local, host), and record the new state there (docs/manifest.md).
Flow<Result<void>> pull_host(const FileOptions& o, std::string manifest_name, std::string local,
                             std::string remote_dir, std::string host, TransferSettings settings,
                             Session& session, HostResult& result, const HostOutput& output);

}  // namespace herd::files

// Subcommands: each has an options struct, setup_X(CLI::App&) and run_X(options).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/common_options.hpp"
#include "herd/nodeset.hpp"

namespace herd::cli {

struct RunOptions {
  CommonOptions common;
  std::string host;  ///< a host, or a pattern of hosts
  std::vector<std::string> command;
  double command_timeout_s = 0;  // s; 0 = none
  double host_timeout_s = 0;     // s; total per host, 0 = none
  std::vector<std::string> env;  ///< NAME=VALUE
  std::string stdin_file;
  std::string script_file;  ///< run this local script with sh -s
  bool pty = false;
  std::vector<std::string> excludes;
  int fanout = 256;
  bool gather = false;
  bool json = false;
  bool no_summary = false;
  bool progress = false;     ///< --progress: draw the progress line even off a terminal
  bool no_progress = false;  ///< --no-progress: never draw it
  std::size_t max_output = 1 << 20;  // bytes kept per host when gathering
  // Job history (cli/recording.hpp)
  std::vector<std::string> argv;  ///< herd's command line, recorded without secrets
  std::string store;              ///< --store PATH; empty = the default store
  bool no_record = false;
  std::size_t record_output = 64 << 10;  // bytes of output recorded per host
  std::int64_t rerun = 0;                ///< --rerun ID; 0 = not a rerun
  std::string only;                      ///< --only failed|all (with --rerun)
  std::string task_json;                 ///< herd task: what the history keeps to rerun it
};
/// `herd run PATTERN -- COMMAND...` (also --script FILE instead of a command)
CLI::App* setup_run(CLI::App& app, RunOptions& o);
int run_run(const RunOptions& o);

/// Options of `herd put` and `herd get`.
struct TransferCliOptions {
  RunOptions fleet;                ///< host pattern, connection and fleet options
  std::vector<std::string> paths;  ///< sources..., then the destination
  bool recursive = false;          ///< -r: directories and their contents
  bool preserve = false;           ///< -p: keep modes and times
  std::vector<std::string> exclude;  ///< --exclude GLOB: leave out matching files (name or path)
  std::string checksum = "sha256";   ///< --checksum sha256|md5|none
  bool no_verify = false;            ///< --no-verify: the same as --checksum none
  bool resume = false;               ///< --resume: continue interrupted transfers
  bool follow_links = false;         ///< -L: copy what symlinks point to
  int max_open_files = 32;           ///< files in progress at once per host
  bool checksum_compare = false;     ///< sync -c: find changed files by content
  bool archive = false;              ///< put --archive: one compressed tar into tar -x
  std::string compress = "gzip";     ///< --compress gzip|zstd|none (with --archive)
};
/// `herd put PATTERN LOCAL... REMOTE`
CLI::App* setup_put(CLI::App& app, TransferCliOptions& o);
int run_put(const TransferCliOptions& o);
/// `herd get PATTERN REMOTE... LOCALDIR`
CLI::App* setup_get(CLI::App& app, TransferCliOptions& o);
int run_get(const TransferCliOptions& o);

/// Options of `herd sync`.
struct SyncCliOptions {
  TransferCliOptions transfer;  ///< paths = LOCALDIR, REMOTEDIR
  bool dry_run = false;         ///< -n: list, change nothing
  bool remove_extra = false;    ///< --delete
  bool pull = false;            ///< --pull: REMOTEDIR -> LOCALDIR by a manifest
  std::string manifest;         ///< --manifest NAME (relative to REMOTEDIR, or absolute)
};
/// `herd sync PATTERN LOCALDIR REMOTEDIR`
CLI::App* setup_sync(CLI::App& app, SyncCliOptions& o);
int run_sync(const SyncCliOptions& o);

/// Options of `herd task`.
struct TaskCliOptions {
  RunOptions fleet;                 ///< connection and fleet options (--rerun, --only too)
  std::string file;                 ///< -f: the task file (default ./herdfile.yaml)
  std::vector<std::string> words;   ///< TASK[:NAME=VALUE,...] [NAME=VALUE...]
  bool list = false;                ///< --list
  bool dry_run = false;             ///< -n: print the plan per host, connect to nothing
  std::string hosts;                ///< -H: instead of the tasks' own hosts
  std::string limit;                ///< --limit: only hosts also matching this
  std::string sudo_password_env;    ///< name of the variable with the sudo password
  std::string sudo_askpass;         ///< program printing the sudo password
  bool ask_sudo_password = false;   ///< -K: ask it on the terminal
};
/// `herd task [TASK[:ARGS]] [NAME=VALUE...]`
CLI::App* setup_task(CLI::App& app, TaskCliOptions& o);
int run_task(const TaskCliOptions& o);

struct ShellOptions {
  CommonOptions common;
  std::string host;
  std::string command;  ///< optional command to run on the PTY instead of the login shell
};
/// `herd shell HOST [COMMAND]`
CLI::App* setup_shell(CLI::App& app, ShellOptions& o);
int run_shell(const ShellOptions& o);

/// Options of `herd nodes`.
struct NodesOptions {
  std::vector<std::string> patterns;  ///< their union is the input; none = read stdin
  std::vector<std::string> exclude;   ///< -x: patterns removed from the union
  bool expand = false;                ///< -e: print every name
  bool fold = false;                  ///< -f: print the folded pattern (the default)
  bool count = false;                 ///< -c: print the number of nodes
  std::string separator = " ";        ///< -S: between expanded names (\n, \t, \\ understood)
  std::string inventory;              ///< --inventory: where @group terms are looked up
};
/// `herd nodes [-e|-f|-c] [-S SEP] [-x PATTERN]... PATTERN...`
CLI::App* setup_nodes(CLI::App& app, NodesOptions& o);
/// What `herd nodes` prints (with the final newline), `@group` terms looked up in `groups`.
/// Throws PatternError.
std::string nodes_output(const NodesOptions& o, const GroupResolver& groups);
/// Run `herd nodes`, `@group` terms resolved from the inventory.
int run_nodes(const NodesOptions& o);

/// Options of `herd jobs`.
struct JobsOptions {
  std::string store;  ///< --store PATH; empty = the default store
  std::size_t limit = 20;
  bool json = false;
  std::int64_t show_id = 0;  ///< `herd jobs show ID`
  bool output = false;       ///< with show: print each host's recorded output
};
/// `herd jobs` (list) and `herd jobs show ID`
CLI::App* setup_jobs(CLI::App& app, JobsOptions& o);
int run_jobs(const JobsOptions& o);

/// Print "herd: <message>" on stderr and return the exit code for it.
int report(const Error& error);

/// herd's main: parse the command line and run the subcommand.
int main(int argc, char** argv);

}  // namespace herd::cli

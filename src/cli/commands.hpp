// Subcommands: each has an options struct, setup_X(CLI::App&) and run_X(options).
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

#include "cli/common_options.hpp"
#include "herd/nodeset.hpp"

namespace herd::cli {

struct RunOptions {
  CommonOptions common;
  std::string host;              ///< a host, or a pattern of hosts
  std::vector<std::string> command;
  double command_timeout_s = 0;  // s; 0 = none
  double host_timeout_s = 0;     // s; total per host, 0 = none
  std::vector<std::string> env;  ///< NAME=VALUE
  std::string stdin_file;
  std::string script_file;       ///< run this local script with sh -s
  bool pty = false;
  std::vector<std::string> excludes;
  int fanout = 128;
  bool gather = false;
  bool json = false;
  bool no_summary = false;
  std::size_t max_output = 1 << 20;  // bytes kept per host when gathering
};
/// `herd run PATTERN -- COMMAND...` (also --script FILE instead of a command)
CLI::App* setup_run(CLI::App& app, RunOptions& o);
int run_run(const RunOptions& o);

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
};
/// `herd nodes [-e|-f|-c] [-S SEP] [-x PATTERN]... PATTERN...`
CLI::App* setup_nodes(CLI::App& app, NodesOptions& o);
/// What `herd nodes` prints (with the final newline), `@group` terms looked up in `groups`.
/// Throws PatternError.
std::string nodes_output(const NodesOptions& o, const GroupResolver& groups);
/// Run `herd nodes`: groups are not resolved yet (no inventory), so `@x` is an error.
int run_nodes(const NodesOptions& o);

/// Print "herd: <message>" on stderr and return the exit code for it.
int report(const Error& error);

/// herd's main: parse the command line and run the subcommand.
int main(int argc, char** argv);

}  // namespace herd::cli

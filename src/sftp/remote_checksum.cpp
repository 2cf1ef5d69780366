// Checksums computed by the remote host: `sha256sum` (or `md5sum`) over many files in a few
// exec requests. A command line is kept under kCommandBytes (OpenSSH accepts packets of 256 KiB).
#include <fmt/format.h>

#include <cctype>

#include "herd/shell_quote.hpp"
#include "sftp/transfer_common.hpp"

namespace herd::sftp {
namespace {

constexpr std::size_t kCommandBytes = 96 * 1024;  // bytes per command line
constexpr int kCommandNotFound = 127;

std::string_view tool(Checksum c) { return c == Checksum::md5 ? "md5sum" : "sha256sum"; }

/// A shell function `h` that prints the digests of its arguments, one line each ("HEX *name"):
/// OpenSSL where the remote has it (coreutils' sha256sum runs at an eighth of its speed on CPUs
/// with SHA instructions), else coreutils. Exit 127 when neither exists.
std::string hash_function(Checksum c) {
  return fmt::format(
      "if command -v openssl >/dev/null 2>&1; then h() {{ openssl dgst -{} -r \"$@\"; }}; "
      "elif command -v {} >/dev/null 2>&1; then h() {{ {} -b -- \"$@\"; }}; else exit 127; fi; ",
      c == Checksum::md5 ? "md5" : "sha256", tool(c), tool(c));
}

/// `path` made safe as an argument: a relative path starting with '-' gets "./".
std::string argument(const std::string& path) {
  return shell_quote(!path.empty() && path[0] == '-' ? "./" + path : path);
}
std::size_t hex_length(Checksum c) { return c == Checksum::md5 ? 32 : 64; }

/// The digest at the start of one output line ("\" marks an escaped name), or "".
std::string parse_line(std::string_view line, Checksum c) {
  if (!line.empty() && line[0] == '\\') line.remove_prefix(1);
  const std::size_t n = hex_length(c);
  if (line.size() < n) return {};
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(line[i]))) return {};
  }
  if (line.size() > n && line[n] != ' ') return {};
  return std::string(line.substr(0, n));
}

std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < out.size()) {
    auto end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    lines.push_back(out.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// Run `command`; its stdout, or nullopt for exit 127 (no such command).
Flow<Result<std::optional<std::pair<int, std::string>>>> run(Session& session,
                                                             std::string command) {
  std::string out;
  ExecSink sink{[&out](std::string_view d) { out.append(d); }, {}};
  // Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
  ExecRequest request;
  request.command = std::move(command);
  auto flow = session.exec_async(std::move(request), std::move(sink));
  auto r = co_await std::move(flow);
  if (!r) co_return std::unexpected(r.error());
  if (r->exit_status == kCommandNotFound) co_return std::nullopt;
  co_return std::optional(std::pair(r->exit_status.value_or(-1), std::move(out)));
}

}  // namespace

Flow<Result<std::optional<std::vector<std::string>>>> remote_checksums(
    Session& session, Checksum c, std::vector<std::string> paths) {
  std::vector<std::string> digests;
  digests.reserve(paths.size());
  std::size_t i = 0;
  while (i < paths.size()) {
    // One chunk: as many paths as fit on a command line.
    std::string args;
    std::size_t j = i;
    while (j < paths.size() && (j == i || args.size() + paths[j].size() + 3 < kCommandBytes)) {
      args += ' ';
      args += argument(paths[j]);
      ++j;
    }
    auto fast = co_await run(session, fmt::format("{}h{} 2>/dev/null", hash_function(c), args));
    if (!fast) co_return std::unexpected(fast.error());
    if (!*fast) co_return std::nullopt;
    auto lines = lines_of((*fast)->second);
    if ((*fast)->first == 0 && lines.size() == j - i) {
      for (const auto& l : lines) digests.push_back(parse_line(l, c));
    } else {
      // Some file could not be read: one line per file, "-" for those.
      auto slow = co_await run(
          session, fmt::format("{}for f in{}; do d=$(h \"$f\" 2>/dev/null) || d=-; "
                               "printf '%s\\n' \"${{d%% *}}\"; done",
                               hash_function(c), args));
      if (!slow) co_return std::unexpected(slow.error());
      if (!*slow) co_return std::nullopt;
      auto per_file = lines_of((*slow)->second);
      for (std::size_t k = 0; k < j - i; ++k) {
        digests.push_back(k < per_file.size() ? parse_line(per_file[k], c) : std::string());
      }
    }
    i = j;
  }
  co_return std::optional(std::move(digests));
}

Flow<Result<std::optional<std::vector<std::string>>>> remote_prefix_checksums(
    Session& session, Checksum c, std::vector<std::pair<std::string, std::uint64_t>> prefixes) {
  std::vector<std::string> digests;
  for (std::size_t i = 0; i < prefixes.size();) {
    std::string script;
    std::size_t j = i;
    while (j < prefixes.size() && (j == i || script.size() < kCommandBytes)) {
      script += fmt::format("d=$(head -c {} {} | h 2>/dev/null) || d=-; "
                            "printf '%s\\n' \"${{d%% *}}\"; ",
                            prefixes[j].second, argument(prefixes[j].first));
      ++j;
    }
    auto r = co_await run(session, hash_function(c) + script);
    if (!r) co_return std::unexpected(r.error());
    if (!*r) co_return std::nullopt;
    auto lines = lines_of((*r)->second);
    for (std::size_t k = 0; k < j - i; ++k) {
      digests.push_back(k < lines.size() ? parse_line(lines[k], c) : std::string());
    }
    i = j;
  }
  co_return std::optional(std::move(digests));
}

std::string follow_command(Checksum c, const std::string& path, std::uint64_t size,
                           int min_cpus) {
  // The loop runs in a subshell of the pipeline; it opens the file at the first line, when
  // herd has seen the first bytes written. `t N` copies exactly N bytes of fd 3: GNU head -c
  // does (reading 8 KiB at a time, half the CPU of dd with an N-byte buffer); elsewhere dd,
  // which reads a regular file in one read of N bytes. A wrong count only fails the digest.
  const std::string follow =
      "echo w; if head --version 2>/dev/null | grep -q GNU; then t() { head -c \"$1\"; }; "
      "else t() { dd bs=\"$1\" count=1 2>/dev/null; }; fi; "
      "o=; while IFS= read -r n; do "
      "if [ -z \"$o\" ]; then exec 3<\"$f\" || exit 1; o=1; fi; "
      "t \"$n\" <&3 || exit 1; done | h";
  const std::string head = hash_function(c) + "f=" + argument(path) + "; ";
  if (min_cpus <= 1) return head + follow;
  // Too few CPUs: the counts only say when every byte is in place (a transfer that ends early
  // never reaches `size`, and nothing is hashed).
  return head + fmt::format(
                    "if [ \"$(nproc 2>/dev/null || echo 1)\" -ge {} ]; then {}; else s=0; "
                    "while IFS= read -r n; do s=$((s + n)); done; [ \"$s\" -eq {} ] || exit 4; "
                    "echo a; h \"$f\"; fi",
                    min_cpus, follow, size);
}

FollowerDigest parse_follower(const std::string& output, Checksum c) {
  auto lines = lines_of(output);
  if (lines.size() != 2 || (lines[0] != "w" && lines[0] != "a")) return {};
  return {parse_line(lines[1], c),
          lines[0] == "w" ? RemoteHash::followed : RemoteHash::once_written};
}

}  // namespace herd::sftp

namespace herd {

Flow<Result<std::optional<std::vector<std::string>>>> remote_digests(
    Session& session, Checksum c, std::vector<std::string> paths) {
  co_return co_await sftp::remote_checksums(session, c, std::move(paths));
}

}  // namespace herd

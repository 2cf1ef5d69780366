// ssh_config: the subset herd honours, parsed into blocks and looked up per alias.
// See include/herd/ssh_config.hpp for the theory of operation.
#include "herd/ssh_config.hpp"

#include <glob.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "ssh/local_user.hpp"

namespace herd {
namespace {

constexpr int kMaxIncludeDepth = 16;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const std::set<std::string> kBoolKeywords = {"identitiesonly", "hashknownhosts", "compression",
                                             "passwordauthentication", "pubkeyauthentication"};
const std::set<std::string> kValueKeywords = {
    "hostname", "port", "user", "identityfile", "connecttimeout", "stricthostkeychecking",
    "userknownhostsfile", "proxyjump", "ciphers", "kexalgorithms", "macs", "hostkeyalgorithms",
    "identityagent"};

std::unexpected<Error> config_error(const std::string& where, const std::string& why) {
  return fail(Errc::bad_config, Phase::resolve, "", fmt::format("{}: {}", where, why));
}

/// Split one line into keyword and arguments ("Key value", "Key=value", "quoted words").
Result<std::vector<std::string>> tokenize(const std::string& line, const std::string& where) {
  std::vector<std::string> words;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  skip_space();
  std::string keyword;
  while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && line[i] != '=') {
    keyword += line[i++];
  }
  if (keyword.empty() || keyword[0] == '#') return words;
  words.push_back(keyword);
  skip_space();
  if (i < line.size() && line[i] == '=') {
    ++i;
    skip_space();
  }
  while (i < line.size()) {
    if (line[i] == '#') break;  // the rest of the line is a comment
    std::string word;
    if (line[i] == '"') {
      auto close = line.find('"', i + 1);
      if (close == std::string::npos) return config_error(where, "unterminated quote");
      word = line.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) word += line[i++];
    }
    words.push_back(word);
    skip_space();
  }
  return words;
}

std::optional<bool> parse_bool(const std::string& v) {
  std::string l = lower(v);
  if (l == "yes" || l == "true") return true;
  if (l == "no" || l == "false") return false;
  return std::nullopt;
}

Result<void> validate(const std::string& key, const std::vector<std::string>& args,
                      const std::string& where) {
  if (args.empty()) return config_error(where, fmt::format("{} needs an argument", key));
  const std::string& v = args[0];
  if (kBoolKeywords.contains(key) && !parse_bool(v)) {
    return config_error(where, fmt::format("{} must be yes or no, not '{}'", key, v));
  }
  if (key == "port") {
    int port = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
    if (ec != std::errc() || p != v.data() + v.size() || port < 1 || port > 65535) {
      return config_error(where, fmt::format("bad Port '{}'", v));
    }
  }
  if (key == "connecttimeout") {
    int s = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (ec != std::errc() || p != v.data() + v.size() || s < 0) {
      return config_error(where, fmt::format("bad ConnectTimeout '{}'", v));
    }
  }
  if (key == "stricthostkeychecking") {
    static const std::set<std::string> ok = {"yes", "no", "ask", "accept-new", "off"};
    if (!ok.contains(lower(v))) {
      return config_error(where, fmt::format("bad StrictHostKeyChecking '{}'", v));
    }
  }
  return {};
}

std::string expand_home(const std::string& path) {
  if (path == "~") return ssh::home_dir().string();
  if (path.starts_with("~/")) return (ssh::home_dir() / path.substr(2)).string();
  return path;
}

struct Tokens {
  std::string alias, hostname, port, remote_user, local_user;
};

/// Expand %-tokens; unknown ones (%C, %i, %L, ...) are left as written.
std::string expand_tokens(const std::string& in, const Tokens& t) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%' || i + 1 == in.size()) {
      out += in[i];
      continue;
    }
    char c = in[++i];
    switch (c) {
      case '%': out += '%'; break;
      case 'd': out += ssh::home_dir().string(); break;
      case 'h': out += t.hostname; break;
      case 'n': out += t.alias; break;
      case 'p': out += t.port; break;
      case 'r': out += t.remote_user; break;
      case 'u': out += t.local_user; break;
      default: out += '%'; out += c;
    }
  }
  return expand_home(out);
}

class Parser {
 public:
  explicit Parser(std::vector<SshConfig::Block>& blocks) : blocks_(blocks) {
    if (blocks_.empty()) blocks_.push_back({});  // lines before the first Host apply to all
  }

  Result<void> parse(const std::string& text, const std::filesystem::path& origin, int depth) {
    std::istringstream in(text);
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      std::string where = fmt::format("{}:{}", origin.string(), number);
      auto words = tokenize(line, where);
      if (!words) return std::unexpected(words.error());
      if (words->empty()) continue;
      std::string key = lower((*words)[0]);
      std::vector<std::string> args(words->begin() + 1, words->end());
      if (key == "host") {
        if (args.empty()) return config_error(where, "Host needs at least one pattern");
        blocks_.push_back({args, false, {}});
      } else if (key == "match") {
        spdlog::debug("{}: Match blocks are not supported; skipping this one", where);
        blocks_.push_back({{}, true, {}});
      } else if (key == "include") {
        if (auto r = include(args, origin, where, depth); !r) return r;
      } else {
        if (kValueKeywords.contains(key) || kBoolKeywords.contains(key)) {
          if (auto r = validate(key, args, where); !r) return r;
        } else {
          spdlog::debug("{}: ignoring ssh_config directive '{}'", where, (*words)[0]);
          continue;
        }
        blocks_.back().directives.push_back({key, args, origin.string(), number});
      }
    }
    return {};
  }

 private:
  Result<void> include(const std::vector<std::string>& args, const std::filesystem::path& origin,
                       const std::string& where, int depth) {
    if (depth >= kMaxIncludeDepth) return config_error(where, "Include nested too deeply");
    if (args.empty()) return config_error(where, "Include needs a file");
    const SshConfig::Block context{blocks_.back().patterns, blocks_.back().is_match, {}};
    for (const auto& arg : args) {
      std::filesystem::path pattern = expand_home(arg);
      if (pattern.is_relative()) pattern = origin.parent_path() / pattern;
      glob_t g{};
      if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
          std::ifstream in(g.gl_pathv[i]);
          std::ostringstream text;
          text << in.rdbuf();
          if (auto r = parse(text.str(), g.gl_pathv[i], depth + 1); !r) {
            ::globfree(&g);
            return r;
          }
        }
      }
      ::globfree(&g);
    }
    // Lines after the Include are under the Host condition that was in force before it.
    blocks_.push_back(context);
    return {};
  }

  std::vector<SshConfig::Block>& blocks_;
};

}  // namespace

bool ssh_pattern_match(const std::string& pattern, const std::string& text) {
  // Iterative wildcard match with backtracking to the last '*'.
  std::size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  auto eq = [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                        std::tolower(static_cast<unsigned char>(b)); };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || eq(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ssh_pattern_list_match(const std::vector<std::string>& patterns, const std::string& text) {
  bool positive = false;
  for (const auto& entry : patterns) {
    std::size_t start = 0;
    while (start <= entry.size()) {
      std::size_t end = entry.find(',', start);
      if (end == std::string::npos) end = entry.size();
      std::string p = entry.substr(start, end - start);
      start = end + 1;
      if (p.empty()) continue;
      if (p[0] == '!') {
        if (ssh_pattern_match(p.substr(1), text)) return false;
      } else if (ssh_pattern_match(p, text)) {
        positive = true;
      }
    }
  }
  return positive;
}

Result<SshConfig> SshConfig::parse(const std::string& text, const std::filesystem::path& origin) {
  SshConfig cfg;
  Parser parser(cfg.blocks_);
  if (auto r = parser.parse(text, origin, 0); !r) return std::unexpected(r.error());
  return cfg;
}

Result<SshConfig> SshConfig::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    return fail(Errc::bad_config, Phase::resolve, "",
                fmt::format("cannot read ssh_config {}", file.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

SshHostConfig SshConfig::lookup(const std::string& alias, const std::string& local_user) const {
  SshHostConfig c;
  std::vector<std::string> identity_raw, known_hosts_raw;
  auto set_string = [](std::optional<std::string>& into, const std::string& v) {
    if (!into) into = v;
  };
  auto set_bool = [](std::optional<bool>& into, const std::string& v) {
    if (!into) into = parse_bool(v);
  };
  for (const auto& block : blocks_) {
    if (block.is_match) continue;
    if (!block.patterns.empty() && !ssh_pattern_list_match(block.patterns, alias)) continue;
    for (const auto& d : block.directives) {
      const std::string& v = d.args[0];
      const std::string& k = d.keyword;
      if (k == "hostname") set_string(c.hostname, v);
      else if (k == "port") { if (!c.port) c.port = static_cast<std::uint16_t>(std::stoi(v)); }
      else if (k == "user") set_string(c.user, v);
      else if (k == "identityfile") {
        if (std::find(identity_raw.begin(), identity_raw.end(), v) == identity_raw.end()) {
          identity_raw.push_back(v);
        }
      }
      else if (k == "identitiesonly") set_bool(c.identities_only, v);
      else if (k == "connecttimeout") { if (!c.connect_timeout) c.connect_timeout = std::chrono::seconds(std::stoi(v)); }
      else if (k == "stricthostkeychecking") set_string(c.strict_host_key_checking, lower(v));
      else if (k == "userknownhostsfile") { if (known_hosts_raw.empty()) known_hosts_raw = d.args; }
      else if (k == "hashknownhosts") set_bool(c.hash_known_hosts, v);
      else if (k == "proxyjump") set_string(c.proxy_jump, v);
      else if (k == "compression") set_bool(c.compression, v);
      else if (k == "ciphers") set_string(c.ciphers, v);
      else if (k == "kexalgorithms") set_string(c.kex_algorithms, v);
      else if (k == "macs") set_string(c.macs, v);
      else if (k == "hostkeyalgorithms") set_string(c.host_key_algorithms, v);
      else if (k == "passwordauthentication") set_bool(c.password_authentication, v);
      else if (k == "pubkeyauthentication") set_bool(c.pubkey_authentication, v);
      else if (k == "identityagent") set_string(c.identity_agent, v);
    }
  }
  Tokens t;
  t.alias = alias;
  t.local_user = local_user.empty() ? ssh::local_user_name() : local_user;
  if (c.hostname) {
    std::string expanded;
    for (std::size_t i = 0; i < c.hostname->size(); ++i) {
      char ch = (*c.hostname)[i];
      if (ch == '%' && i + 1 < c.hostname->size()) {
        char n = (*c.hostname)[++i];
        expanded += n == 'h' ? alias : n == '%' ? std::string("%") : std::string{'%', n};
      } else {
        expanded += ch;
      }
    }
    c.hostname = expanded;
  }
  t.hostname = c.hostname.value_or(alias);
  t.port = std::to_string(c.port.value_or(22));
  t.remote_user = c.user.value_or(t.local_user);
  for (const auto& f : identity_raw) c.identity_files.push_back(expand_tokens(f, t));
  for (const auto& f : known_hosts_raw) c.user_known_hosts_files.push_back(expand_tokens(f, t));
  return c;
}

}  // namespace herd

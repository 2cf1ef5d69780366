// OpenSSH known_hosts: parsing, matching (plain, patterns, hashed), and locked atomic updates.
// See include/herd/known_hosts.hpp for the theory of operation.
#include "herd/known_hosts.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "herd/ssh_config.hpp"

namespace herd {
namespace {

constexpr std::size_t kSaltBytes = 20;  // bytes, as ssh-keygen -H uses (SHA-1 block of HMAC)

std::string base64_encode(const unsigned char* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// Decode standard base64; nullopt when malformed.
std::optional<std::string> base64_decode(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (text.ends_with("==")) {
    pad = 2;
  } else if (text.ends_with('=')) {
    pad = 1;
  }
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string hmac_sha1(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &len);
  return std::string(reinterpret_cast<char*>(digest), len);
}

/// Does a host field ("a,b,!c" or "|1|salt|hash") match `name` (already lower-cased)?
bool host_field_matches(const std::string& field, const std::string& name) {
  if (field.starts_with("|1|")) {
    auto bar = field.find('|', 3);
    if (bar == std::string::npos) return false;
    auto salt = base64_decode(field.substr(3, bar - 3));
    auto hash = base64_decode(field.substr(bar + 1));
    return salt && hash && hmac_sha1(*salt, name) == *hash;
  }
  bool positive = false;
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t end = field.find(',', start);
    if (end == std::string::npos) end = field.size();
    std::string pattern = lower(field.substr(start, end - start));
    start = end + 1;
    if (pattern.empty()) continue;
    bool negated = pattern[0] == '!';
    if (negated) pattern.erase(0, 1);
    if (ssh_pattern_match(pattern, name)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

/// Parse one line into an entry; nullopt for comments, blanks and malformed lines.
std::optional<KnownHostsEntry> parse_line(const std::string& line, std::size_t number) {
  auto words = split_ws(line);
  if (words.empty() || words[0].starts_with('#')) return std::nullopt;
  KnownHostsEntry e;
  e.line = number;
  std::size_t i = 0;
  if (words[0].starts_with('@')) {
    if (words[0] == "@revoked") {
      e.marker = KnownHostsEntry::Marker::revoked;
    } else if (words[0] == "@cert-authority") {
      e.marker = KnownHostsEntry::Marker::cert_authority;
    } else {
      return std::nullopt;
    }
    i = 1;
  }
  if (words.size() < i + 3) return std::nullopt;
  e.hosts = words[i];
  e.key.type = words[i + 1];
  e.key.base64 = words[i + 2];
  if (!base64_decode(e.key.base64)) return std::nullopt;
  for (std::size_t j = i + 3; j < words.size(); ++j) {
    e.comment += (e.comment.empty() ? "" : " ") + words[j];
  }
  return e;
}

std::unexpected<Error> io_error(const std::filesystem::path& file, const char* what) {
  return fail(Errc::local_io, Phase::host_key, "",
              fmt::format("known_hosts {}: {}: {}", file.string(), what, std::strerror(errno)));
}

/// Closes a file descriptor on scope exit.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string HostKey::fingerprint_sha256() const {
  auto blob = base64_decode(base64);
  if (!blob) return "SHA256:?";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(blob->data()), blob->size(), digest);
  std::string b64 = base64_encode(digest, sizeof digest);
  while (b64.ends_with('=')) b64.pop_back();
  return "SHA256:" + b64;
}

std::string known_hosts_name(const std::string& host, std::uint16_t port) {
  if (port == 22) return lower(host);
  return fmt::format("[{}]:{}", lower(host), port);
}

KnownHosts KnownHosts::parse(const std::string& text, std::filesystem::path origin) {
  KnownHosts kh;
  kh.origin_ = std::move(origin);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    kh.lines_.push_back(text.substr(start, end - start));
    if (auto e = parse_line(kh.lines_.back(), kh.lines_.size())) {
      kh.entries_.push_back(*e);
      kh.index_entry(kh.entries_.size() - 1);
    }
    start = end + 1;
  }
  return kh;
}

Result<KnownHosts> KnownHosts::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec) && !ec) {
    KnownHosts empty;
    empty.origin_ = file;
    return empty;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return io_error(file, "cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

HostKeyCheck KnownHosts::check(const std::string& host, std::uint16_t port,
                               const HostKey& key) const {
  const std::string name = known_hosts_name(host, port);
  const KnownHostsEntry* same_type = nullptr;
  const KnownHostsEntry* other_type = nullptr;
  bool known = false;
  for (std::size_t i : candidates(name)) {
    const KnownHostsEntry& e = entries_[i];
    if (e.marker == KnownHostsEntry::Marker::cert_authority) continue;
    if (!host_field_matches(e.hosts, name)) continue;
    if (e.marker == KnownHostsEntry::Marker::revoked) {
      if (e.key == key) return {HostKeyCheck::Status::revoked, e};
      continue;
    }
    if (e.key == key) {
      known = true;
    } else if (e.key.type == key.type) {
      if (same_type == nullptr) same_type = &e;
    } else if (other_type == nullptr) {
      other_type = &e;
    }
  }
  if (known) return {HostKeyCheck::Status::known, std::nullopt};
  if (same_type != nullptr) return {HostKeyCheck::Status::changed, *same_type};
  if (other_type != nullptr) return {HostKeyCheck::Status::changed, *other_type};
  return {HostKeyCheck::Status::unknown, std::nullopt};
}

std::vector<std::string> KnownHosts::known_types(const std::string& host,
                                                 std::uint16_t port) const {
  const std::string name = known_hosts_name(host, port);
  std::vector<std::string> types;
  for (std::size_t i : candidates(name)) {
    const KnownHostsEntry& e = entries_[i];
    if (e.marker != KnownHostsEntry::Marker::none || !host_field_matches(e.hosts, name)) continue;
    if (std::find(types.begin(), types.end(), e.key.type) == types.end()) {
      types.push_back(e.key.type);
    }
  }
  return types;
}

void KnownHosts::add(const std::string& host, std::uint16_t port, const HostKey& key, bool hash) {
  std::string name = known_hosts_name(host, port);
  if (hash) {
    unsigned char salt[kSaltBytes];
    RAND_bytes(salt, sizeof salt);
    std::string salt_str(reinterpret_cast<char*>(salt), sizeof salt);
    std::string digest = hmac_sha1(salt_str, name);
    name = "|1|" + base64_encode(salt, sizeof salt) + "|" +
           base64_encode(reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
  }
  lines_.push_back(fmt::format("{} {} {}", name, key.type, key.base64));
  entries_.push_back(*parse_line(lines_.back(), lines_.size()));
  index_entry(entries_.size() - 1);
}

void KnownHosts::index_entry(std::size_t i) {
  const std::string& field = entries_[i].hosts;
  if (field.starts_with("|") || field.find_first_of("*?!") != std::string::npos) {
    scanned_.push_back(i);
    return;
  }
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t end = field.find(',', start);
    if (end == std::string::npos) end = field.size();
    if (end > start) {
      auto& list = by_name_[lower(field.substr(start, end - start))];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
    start = end + 1;
  }
}

std::vector<std::size_t> KnownHosts::candidates(const std::string& name) const {
  std::vector<std::size_t> out = scanned_;
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    std::vector<std::size_t> merged;
    merged.reserve(out.size() + it->second.size());
    std::merge(out.begin(), out.end(), it->second.begin(), it->second.end(),
               std::back_inserter(merged));
    out = std::move(merged);
  }
  return out;
}

Result<void> KnownHosts::save(const std::filesystem::path& file) const {
  std::string text;
  for (const auto& line : lines_) text += line + "\n";
  mode_t mode = 0600;
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) mode = st.st_mode & 07777;

  auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  std::string tmpl = (dir / ("." + file.filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return io_error(file, "cannot create a temporary file");
  FdGuard guard{fd};
  auto abandon = [&](const char* what) {
    auto e = io_error(file, what);
    ::unlink(tmpl.c_str());
    return e;
  };
  if (::fchmod(fd, mode) != 0) return abandon("cannot set mode");
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return abandon("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return abandon("cannot sync");
  if (::rename(tmpl.c_str(), file.c_str()) != 0) return abandon("cannot replace");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<bool> KnownHosts::record_locked(const std::filesystem::path& file, const std::string& host,
                                       std::uint16_t port, const HostKey& key, bool hash) {
  auto dir = file.parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return fail(Errc::local_io, Phase::host_key, "",
                  fmt::format("known_hosts {}: cannot create {}: {}", file.string(), dir.string(),
                              ec.message()));
    }
    ::chmod(dir.c_str(), 0700);
  }
  std::string lock_path = file.string() + ".lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return io_error(lock_path, "cannot open lock");
  FdGuard guard{lock};
  while (::flock(lock, LOCK_EX) != 0) {
    if (errno != EINTR) return io_error(lock_path, "cannot lock");
  }
  auto current = load(file);
  if (!current) return std::unexpected(current.error());
  HostKeyCheck now = current->check(host, port, key);
  if (now.status == HostKeyCheck::Status::known) return false;
  if (now.status != HostKeyCheck::Status::unknown) {
    // Another writer recorded a different key for this host since we looked: never add a second.
    return fail(Errc::host_key_changed, Phase::host_key, "",
                fmt::format("host key for {} was recorded differently in {}:{} meanwhile; "
                            "refusing to add another",
                            known_hosts_name(host, port), file.string(), now.conflict->line));
  }
  current->add(host, port, key, hash);
  if (auto saved = current->save(file); !saved) return std::unexpected(saved.error());
  return true;
}

}  // namespace herd

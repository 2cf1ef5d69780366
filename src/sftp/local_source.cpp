// LocalSource and the checksum helpers shared by uploads and downloads.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "herd/transfer.hpp"
#include "sftp/transfer_common.hpp"

namespace herd {

std::string_view to_string(Checksum c) {
  switch (c) {
    case Checksum::sha256: return "sha256";
    case Checksum::md5: return "md5";
    case Checksum::none: return "none";
  }
  return "sha256";
}

std::optional<Checksum> parse_checksum(std::string_view name) {
  if (name == "sha256") return Checksum::sha256;
  if (name == "md5") return Checksum::md5;
  if (name == "none") return Checksum::none;
  return std::nullopt;
}

namespace sftp {

Hasher::Hasher(Checksum c) : checksum_(c) {
  if (c == Checksum::none) return;
  ctx_ = EVP_MD_CTX_new();
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), c == Checksum::md5 ? EVP_md5() : EVP_sha256(),
                    nullptr);
}

Hasher::~Hasher() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

Hasher::Hasher(Hasher&& o) noexcept : checksum_(o.checksum_), ctx_(std::exchange(o.ctx_, nullptr)) {}

void Hasher::update(std::string_view data) {
  if (ctx_ != nullptr) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Hasher::hex() {
  if (ctx_ == nullptr) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
  ctx_ = nullptr;
  std::string out;
  out.reserve(n * 2);
  for (unsigned int i = 0; i < n; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

void settle(TransferReport& report, FileOutcome outcome, bool done,
            const std::optional<Error>& fatal, const std::string& host) {
  if (!done && !outcome.error) {
    outcome.error = fatal ? *fatal
                          : Error{Errc::protocol_error, Phase::transfer, host,
                                  host + ": the transfer did not finish"};
  }
  outcome.ok = done;
  if (!done) ++report.failed;
  report.bytes += outcome.bytes;
  report.files.push_back(std::move(outcome));
}

std::string Hasher::hex_so_far() const {
  if (ctx_ == nullptr) return {};
  Hasher copy(checksum_);
  EVP_MD_CTX_copy_ex(static_cast<EVP_MD_CTX*>(copy.ctx_), static_cast<EVP_MD_CTX*>(ctx_));
  return copy.hex();
}

Result<void> feed_fd_prefix(int fd, std::uint64_t n, Hasher& h, const std::string& what) {
  std::string buf(1024 * 1024, '\0');
  std::uint64_t off = 0;
  while (off < n) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - off));
    ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: read: {}", what, got < 0 ? std::strerror(errno) : "short file"));
    }
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(got)));
    off += static_cast<std::uint64_t>(got);
  }
  return {};
}

Result<std::string> hash_fd_prefix(int fd, std::uint64_t n, Checksum c, const std::string& what) {
  Hasher h(c);
  if (auto fed = feed_fd_prefix(fd, n, h, what); !fed) return std::unexpected(fed.error());
  return h.hex();
}

}  // namespace sftp

std::string hex_digest(Checksum c, std::string_view data) {
  sftp::Hasher h(c);
  h.update(data);
  return h.hex();
}

Result<std::shared_ptr<LocalSource>> LocalSource::open(const std::filesystem::path& path,
                                                       Checksum checksum) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(Errc::local_io, Phase::transfer, "",
                fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Errc::local_io, Phase::transfer, "",
                fmt::format("{}: not a regular file", path.string()));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::shared_ptr<LocalSource> s(new LocalSource());
  s->path_ = path;
  s->fd_ = fd;
  s->checksum_ = checksum;
  s->size_ = static_cast<std::uint64_t>(st.st_size);
  s->mode_ = st.st_mode & 07777;
  s->mtime_ = static_cast<std::uint32_t>(st.st_mtim.tv_sec);
  s->atime_ = static_cast<std::uint32_t>(st.st_atim.tv_sec);
  s->mtime_ns_ = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (checksum != Checksum::none) s->hash_ = new sftp::Hasher(checksum);
  if (s->size_ == 0 && s->hash_ != nullptr) {
    s->digest_ = static_cast<sftp::Hasher*>(s->hash_)->hex();
  }
  return s;
}

LocalSource::~LocalSource() {
  if (fd_ >= 0) ::close(fd_);
  delete static_cast<sftp::Hasher*>(hash_);
}

Result<std::size_t> LocalSource::read(std::uint64_t offset, char* dst, std::size_t n) {
  if (offset >= size_) return std::size_t{0};
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - offset));
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd_, dst + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: read: {}", path_.string(), std::strerror(errno)));
    }
    if (r == 0) {
      return fail(Errc::local_io, Phase::transfer, "",
                  fmt::format("{}: the file shrank while it was being sent", path_.string()));
    }
    got += static_cast<std::size_t>(r);
  }
  if (hash_ != nullptr) {
    std::lock_guard lock(mu_);
    // Hosts send each file in order, so the one furthest ahead hashes every byte exactly once.
    // Hosts may use different request sizes: a block that straddles the hashed end adds its
    // new tail.
    if (offset <= hashed_ && offset + n > hashed_) {
      auto* h = static_cast<sftp::Hasher*>(hash_);
      const std::size_t skip = static_cast<std::size_t>(hashed_ - offset);
      h->update(std::string_view(dst + skip, n - skip));
      hashed_ = offset + n;
      if (hashed_ == size_) digest_ = h->hex();
    }
  }
  return n;
}

std::optional<std::string> LocalSource::digest() {
  if (checksum_ == Checksum::none) return std::string();
  std::lock_guard lock(mu_);
  return digest_;
}

Result<std::string> LocalSource::prefix_digest(std::uint64_t n) {
  return sftp::hash_fd_prefix(fd_, n, checksum_, path_.string());
}

Result<std::string> LocalSource::full_digest(Checksum c) {
  {
    std::lock_guard lock(mu_);
    if (c == checksum_ && digest_) return *digest_;
    if (full_ && full_->first == c) return full_->second;
  }
  auto d = sftp::hash_fd_prefix(fd_, size_, c, path_.string());
  if (!d) return d;
  std::lock_guard lock(mu_);
  full_ = std::pair(c, *d);
  return *d;
}

bool LocalSource::changed() const {
  struct stat st{};
  if (::stat(path_.c_str(), &st) != 0) return true;
  std::int64_t ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return static_cast<std::uint64_t>(st.st_size) != size_ || ns != mtime_ns_;
}

std::uint64_t LocalSource::bytes_hashed() const {
  std::lock_guard lock(mu_);
  return hashed_;
}

}  // namespace herd

#include "ssh/file_cache.hpp"

#include <sys/stat.h>

#include <map>
#include <mutex>
#include <tuple>

namespace herd::ssh {
namespace {

/// What tells one version of a file from another; all zero when it cannot be stat'ed.
struct Stamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  long long mtime_ns = 0;
  bool operator==(const Stamp&) const = default;
};

Stamp stamp_of(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

/// A per-type cache of parsed files, keyed by path. Loads happen outside the lock; when two
/// threads load the same new version at once, both parse and the last one is kept.
template <class T>
class FileCache {
 public:
  template <class Load>
  Result<std::shared_ptr<const T>> get(const std::filesystem::path& file, Load load) {
    const Stamp now = stamp_of(file);
    {
      std::lock_guard lock(mutex_);
      auto it = entries_.find(file);
      if (it != entries_.end() && it->second.stamp == now && now != Stamp{}) {
        return it->second.value;
      }
    }
    auto loaded = load(file);
    if (!loaded) return std::unexpected(loaded.error());
    auto value = std::make_shared<const T>(std::move(*loaded));
    if (now != Stamp{}) {
      std::lock_guard lock(mutex_);
      entries_[file] = Entry{now, value};
    }
    return value;
  }

 private:
  struct Entry {
    Stamp stamp;
    std::shared_ptr<const T> value;
  };
  std::mutex mutex_;
  std::map<std::filesystem::path, Entry> entries_;
};

}  // namespace

Result<std::shared_ptr<const SshConfig>> cached_ssh_config(const std::filesystem::path& file) {
  static FileCache<SshConfig> cache;
  return cache.get(file, [](const std::filesystem::path& f) { return SshConfig::load(f); });
}

Result<std::shared_ptr<const KnownHosts>> cached_known_hosts(const std::filesystem::path& file) {
  static FileCache<KnownHosts> cache;
  return cache.get(file, [](const std::filesystem::path& f) { return KnownHosts::load(f); });
}

}  // namespace herd::ssh

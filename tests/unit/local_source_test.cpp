// LocalSource: one local file shared by many hosts is hashed once, whatever their request sizes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "herd/transfer.hpp"

namespace herd {
namespace {

namespace fs = std::filesystem;

struct TempFile {
  fs::path path;
  explicit TempFile(const std::string& data) {
    path = fs::temp_directory_path() / ("herd-local-source-" + std::to_string(::getpid()));
    std::ofstream(path, std::ios::binary) << data;
  }
  ~TempFile() { fs::remove(path); }
};

std::string random_bytes(std::size_t n) {
  std::mt19937 gen(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

/// Read the whole file in `chunk`-sized requests from `start`, as one host's uploader does.
void send_all(LocalSource& src, std::size_t chunk, std::uint64_t start = 0) {
  std::string buf(chunk, '\0');
  for (std::uint64_t off = start; off < src.size();) {
    auto n = src.read(off, buf.data(), chunk);
    ASSERT_TRUE(n) << n.error().message;
    ASSERT_GT(*n, 0u);
    off += *n;
  }
}

TEST(LocalSource, HostsWithDifferentRequestSizesHashEachByteOnce) {
  const auto data = random_bytes(3 * 1000 * 1000 + 7);
  TempFile f(data);
  auto src = LocalSource::open(f.path, Checksum::sha256);
  ASSERT_TRUE(src);
  // Host A runs ahead with 255 KiB requests and stops part-way (its connection dropped).
  std::string buf(261120, '\0');
  std::uint64_t off = 0;
  for (int i = 0; i < 5; ++i) off += *(*src)->read(off, buf.data(), buf.size());
  EXPECT_FALSE((*src)->digest());
  // Host B sends everything in 32 KiB requests, host C in 100,000-byte ones.
  send_all(**src, 32768);
  send_all(**src, 100000);
  ASSERT_TRUE((*src)->digest());
  EXPECT_EQ(*(*src)->digest(), hex_digest(Checksum::sha256, data));
  EXPECT_EQ((*src)->bytes_hashed(), data.size());
  EXPECT_EQ((*src)->full_digest(Checksum::md5).value(), hex_digest(Checksum::md5, data));
  EXPECT_EQ((*src)->prefix_digest(1000).value(),
            hex_digest(Checksum::sha256, std::string_view(data).substr(0, 1000)));
}

TEST(LocalSource, AFileThatShrankFailsTheRead) {
  TempFile f(random_bytes(100000));
  auto src = LocalSource::open(f.path, Checksum::sha256);
  ASSERT_TRUE(src);
  fs::resize_file(f.path, 10);
  std::string buf(65536, '\0');
  auto r = (*src)->read(0, buf.data(), buf.size());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("shrank"), std::string::npos) << r.error().message;
  EXPECT_TRUE((*src)->changed());
  auto dir = LocalSource::open(fs::temp_directory_path(), Checksum::sha256);
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace herd

// `herd put` / `herd get` against the lab's real sshd: fleets, trees, verification, atomicity,
// resume after a kill or a dropped connection, a hostile SFTP server, and a full disk.
//
// The lab's servers run on this machine as the lab user, whose home is Lab::dir()/home/USER:
// a remote path is a local path too, so the tests check results by looking at the files.
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <future>
#include <map>
#include <random>
#include <sstream>

#include "herd/transfer.hpp"
#include "lab.hpp"
#include "sim_fleet.hpp"

extern char** environ;

namespace herd::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> herd_args(const std::string& verb, std::vector<std::string> rest) {
  auto& lab = Lab::get();
  std::vector<std::string> args{verb, "-F", lab.env("HERD_LAB_SSH_CONFIG"), "--no-agent",
                                "--no-default-keys", "--no-record"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

/// A fresh directory in the lab user's home, owned by that user (the SFTP server writes there).
fs::path remote_dir(const std::string& name) {
  auto& lab = Lab::get();
  static int counter = 0;
  fs::path d = lab.dir() / "home" / lab.user() / (name + "-" + std::to_string(++counter));
  fs::create_directories(d);
  if (lab.is_root()) {
    EXPECT_EQ(run_shell("chown " + sh_quote(lab.user()) + " " + sh_quote(d.string())).exit_code,
              0);
  }
  return d;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

void write_file(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

/// Names in `dir` (recursively) that look like herd's temporary files.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto n = it->path().filename().string();
    if (n.find(".herd-") != std::string::npos && n.ends_with(".part")) out.push_back(n);
  }
  return out;
}

/// herd running in the background (output discarded), to be killed mid-transfer.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    std::vector<std::string> argv{HERD_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, HERD_BINARY, &fa, nullptr, cargv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Background() { kill_now(); }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

/// The size of the first file in `dir` whose name contains `part`, or 0.
std::uintmax_t partial_size(const fs::path& dir, const std::string& part) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find(part) != std::string::npos) {
      return fs::file_size(it->path(), ec);
    }
  }
  return 0;
}

TEST(Transfer, PutOneFileToAFleetVerifiedAndAtomic) {
  TempDir local;
  const auto data = random_bytes(3 * 1024 * 1024 + 17, 1);
  write_file(local.path() / "app.bin", data);
  auto dest = remote_dir("put-fleet");
  auto r = run_herd(herd_args(
      "put", {"web[01-04]", (local.path() / "app.bin").string(), dest.string() + "/"}));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(read_file(dest / "app.bin") == data);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
  EXPECT_NE(r.out.find("put 1 file, 3.0 MiB, sha256 verified"), std::string::npos) << r.out;
  EXPECT_TRUE(leftovers(dest).empty());
  EXPECT_NE(r.err.find("4 ok"), std::string::npos) << r.err;

  // A destination that is a directory takes the file by its name; --json reports each host.
  auto again = run_herd(herd_args(
      "put", {"--json", "web[01-02]", (local.path() / "app.bin").string(), dest.string()}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(std::count(again.out.begin(), again.out.end(), '\n'), 2 + 2 + 2 + 1) << again.out;
  EXPECT_NE(again.out.find("\"status\":\"ok\""), std::string::npos) << again.out;
}

TEST(Transfer, PutTreeRecursivePreserveExcludeSymlinks) {
  TempDir local;
  auto src = local.path() / "site";
  write_file(src / "index.html", "<h1>hi</h1>\n");
  write_file(src / "css" / "a.css", "body{}\n");
  write_file(src / "deep" / "er" / "x.txt", "x\n");
  write_file(src / "skip.tmp", "no\n");
  fs::create_directories(src / "empty");
  fs::create_symlink("index.html", src / "link.html");
  ::chmod((src / "css" / "a.css").c_str(), 0640);
  struct timespec times[2] = {{1000000000, 0}, {1234567890, 0}};
  ::utimensat(AT_FDCWD, (src / "index.html").c_str(), times, 0);
  auto dest = remote_dir("put-tree");
  auto r = run_herd(herd_args("put", {"-r", "-p", "--exclude", "*.tmp", "web01", src.string(),
                                      dest.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto site = dest / "site";
  EXPECT_EQ(read_file(site / "index.html"), "<h1>hi</h1>\n");
  EXPECT_EQ(read_file(site / "deep" / "er" / "x.txt"), "x\n");
  EXPECT_TRUE(fs::is_directory(site / "empty"));
  EXPECT_FALSE(fs::exists(site / "skip.tmp"));
  ASSERT_TRUE(fs::is_symlink(site / "link.html"));
  EXPECT_EQ(fs::read_symlink(site / "link.html"), "index.html");
  EXPECT_EQ(fs::status(site / "css" / "a.css").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  struct stat st{};
  ASSERT_EQ(::stat((site / "index.html").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);

  // Without -r a directory is a usage error, and nothing is sent.
  auto no_r = run_herd(herd_args("put", {"web01", src.string(), (dest / "other").string()}));
  EXPECT_EQ(no_r.exit_code, 2) << no_r.err;
  EXPECT_NE(no_r.err.find("is a directory (use -r)"), std::string::npos) << no_r.err;
  EXPECT_FALSE(fs::exists(dest / "other"));
}

TEST(Transfer, TenThousandSmallFilesUpAndDown) {
  TempDir local;
  auto src = local.path() / "many";
  for (int d = 0; d < 100; ++d) {
    for (int f = 0; f < 100; ++f) {
      write_file(src / ("d" + std::to_string(d)) / ("f" + std::to_string(f)),
                 "file " + std::to_string(d * 100 + f) + "\n");
    }
  }
  auto dest = remote_dir("many");
  auto up = run_herd(herd_args("put", {"-r", "web01", src.string(), dest.string()}));
  ASSERT_EQ(up.exit_code, 0) << up.err.substr(0, 2000);
  EXPECT_NE(up.out.find("put 10000 files"), std::string::npos) << up.out;
  EXPECT_EQ(read_file(dest / "many" / "d42" / "f7"), "file 4207\n");
  EXPECT_TRUE(leftovers(dest).empty());

  auto back = local.path() / "back";
  auto down = run_herd(herd_args("get", {"-r", "web01", (dest / "many").string(), back.string()}));
  ASSERT_EQ(down.exit_code, 0) << down.err.substr(0, 2000);
  EXPECT_NE(down.out.find("got 10000 files"), std::string::npos) << down.out;
  std::size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(back / "web01" / "many")) {
    if (e.is_regular_file()) ++n;
  }
  EXPECT_EQ(n, 10000u);
  EXPECT_EQ(read_file(back / "web01" / "many" / "d99" / "f99"), "file 9999\n");
}

TEST(Transfer, GetIntoHostDirectoriesOrATemplate) {
  auto src = remote_dir("get-src");
  write_file(src / "conf.txt", "setting=1\n");
  write_file(src / "other.txt", "two\n");
  TempDir local;
  auto r = run_herd(herd_args("get", {"web[01-03]", (src / "conf.txt").string(),
                                      (src / "other.txt").string(),
                                      (local.path() / "collected").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* h : {"web01", "web02", "web03"}) {
    EXPECT_EQ(read_file(local.path() / "collected" / h / "conf.txt"), "setting=1\n") << h;
    EXPECT_EQ(read_file(local.path() / "collected" / h / "other.txt"), "two\n") << h;
  }
  auto t = run_herd(herd_args(
      "get", {"web[01-02]", (src / "conf.txt").string(), (local.path() / "{host}.conf").string()}));
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(read_file(local.path() / "web01.conf"), "setting=1\n");
  EXPECT_EQ(read_file(local.path() / "web02.conf"), "setting=1\n");
  EXPECT_TRUE(leftovers(local.path()).empty());

  // A missing file fails that host with the path named; exit code says a host failed.
  auto missing = run_herd(herd_args(
      "get", {"web01", (src / "nope.txt").string(), (local.path() / "m").string()}));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.txt"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
}

TEST(Transfer, LargeSparseFileOverOneGiB) {
  TempDir local;
  auto big = local.path() / "sparse.img";
  {
    std::ofstream(big) << "start";
  }
  fs::resize_file(big, (1ull << 30) + 4096);  // sparse: costs no local disk
  { std::fstream f(big, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((1ll << 30) + 100);
    f << "end"; }
  auto dest = remote_dir("sparse");
  auto r = run_herd(herd_args("put", {"web01", big.string(), (dest / "copy.img").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1.00 GiB, sha256 verified"), std::string::npos) << r.out;
  EXPECT_EQ(fs::file_size(dest / "copy.img"), (1ull << 30) + 4096);
  auto sums = run_shell("cmp " + sh_quote(big.string()) + " " +
                        sh_quote((dest / "copy.img").string()));
  EXPECT_EQ(sums.exit_code, 0) << sums.out << sums.err;
  fs::remove(dest / "copy.img");
}

/// A 1 GiB file with random data at the start and the end and a sparse hole between: big
/// enough that a transfer takes seconds on loopback, cheap on the local disk.
void make_big(const fs::path& p, unsigned seed) {
  write_file(p, random_bytes(8 * 1024 * 1024, seed));
  fs::resize_file(p, 1ull << 30);
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((1ll << 30) - 4096);
  f << random_bytes(4096, seed + 1);
}

bool same_content(const fs::path& a, const fs::path& b) {
  return run_shell("cmp -s " + sh_quote(a.string()) + " " + sh_quote(b.string())).exit_code == 0;
}

TEST(Transfer, KilledMidUploadLeavesNoFinalFileAndResumeFinishesIt) {
  TempDir local;
  auto big = local.path() / "big.bin";
  make_big(big, 3);
  auto dest = remote_dir("killed");
  auto args = herd_args("put", {"web01", big.string(), (dest / "big.bin").string()});
  {
    Background herd(args);
    ASSERT_TRUE(wait_until([&] { return partial_size(dest, ".herd-") > 64 * 1024 * 1024; },
                           std::chrono::seconds(60)))
        << "the upload never started";
    herd.kill_now();
  }
  EXPECT_FALSE(fs::exists(dest / "big.bin")) << "a killed upload left its final name";
  const auto partial = partial_size(dest, ".herd-");
  ASSERT_GT(partial, 0u);
  ASSERT_LT(partial, 1ull << 30) << "the kill came too late to test anything";
  auto resumed = run_herd(herd_args("put", {"--resume", "web01", big.string(),
                                            (dest / "big.bin").string()}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("(1 resumed)"), std::string::npos) << resumed.out;
  EXPECT_TRUE(same_content(big, dest / "big.bin"));
  EXPECT_TRUE(leftovers(dest).empty());
  fs::remove(dest / "big.bin");
}

TEST(Transfer, DroppedConnectionMidDownloadThenResume) {
  auto& lab = Lab::get();
  if (!lab.is_root()) GTEST_FAIL() << "needs the root-mode lab (its own user to drop)";
  auto src = remote_dir("dropped");
  make_big(src / "data.bin", 5);
  TempDir local;
  auto into = local.path() / "in";
  auto args = herd_args("get", {"web01", (src / "data.bin").string(), into.string()});
  auto r_future = std::async(std::launch::async, [&] { return run_herd(args); });
  const auto where = into / "web01";
  bool started = wait_until([&] { return partial_size(where, ".herd-") > 64 * 1024 * 1024; },
                            std::chrono::seconds(60));
  // Drop the connection: end the sshd processes serving the lab user's sessions.
  run_shell("pkill -KILL -u " + sh_quote(lab.user()) + " -f 'sshd: '");
  auto r = r_future.get();
  ASSERT_TRUE(started) << r.err;
  EXPECT_NE(r.exit_code, 0) << "the drop did not fail the host";
  EXPECT_FALSE(fs::exists(where / "data.bin"));
  const auto partial = partial_size(where, ".herd-");
  EXPECT_GT(partial, 0u) << "the partial file should stay for --resume";
  EXPECT_LT(partial, 1ull << 30);
  auto resumed = run_herd(herd_args("get", {"--resume", "web01", (src / "data.bin").string(),
                                            into.string()}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("(1 resumed)"), std::string::npos) << resumed.out;
  EXPECT_TRUE(same_content(src / "data.bin", where / "data.bin"));
  EXPECT_TRUE(leftovers(where).empty());
  fs::remove(src / "data.bin");
}

TEST(Transfer, FullLocalDiskFailsThatHostOnlyAndLeavesNothing) {
  auto& lab = Lab::get();
  if (!lab.is_root()) GTEST_FAIL() << "needs root to mount a small tmpfs";
  auto src = remote_dir("full-src");
  write_file(src / "small.txt", "fits\n");
  write_file(src / "big.bin", random_bytes(3 * 1024 * 1024, 9));
  TempDir local;
  auto full = local.path() / "out" / "web01";
  fs::create_directories(full);
  ASSERT_EQ(::mount("tmpfs", full.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  auto r = run_herd(herd_args("get", {"web[01-02]", (src / "small.txt").string(),
                                      (src / "big.bin").string(),
                                      (local.path() / "out").string()}));
  std::vector<std::string> left = leftovers(full);
  std::string listing;
  for (auto& e : fs::directory_iterator(full)) listing += e.path().filename().string() + " ";
  ::umount2(full.c_str(), MNT_DETACH);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("big.bin"), std::string::npos) << r.err;
  EXPECT_TRUE(left.empty()) << listing;
  EXPECT_EQ(listing, "small.txt ") << "only the file that fit, and no partial big.bin";
  EXPECT_EQ(read_file(local.path() / "out" / "web02" / "big.bin").size(), 3u * 1024 * 1024);
}

TEST(Transfer, SshOptionsChooseTheCipher) {
  TempDir local;
  write_file(local.path() / "f", "x\n");
  auto dest = remote_dir("cipher");
  auto ok = run_herd(herd_args("put", {"-o", "Ciphers=aes128-gcm@openssh.com", "web01",
                                       (local.path() / "f").string(), dest.string() + "/"}));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // A cipher sshd does not offer proves the option reaches the key exchange.
  auto refused = run_herd(herd_args("put", {"-o", "Ciphers=3des-cbc", "web01",
                                            (local.path() / "f").string(), dest.string() + "/"}));
  EXPECT_NE(refused.exit_code, 0);
  auto bad = run_herd(herd_args("put", {"-o", "Bogus=1", "web01", (local.path() / "f").string(),
                                        dest.string() + "/"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("-o bogus: unsupported option"), std::string::npos) << bad.err;
}

/// Files under `root`, relative, with their contents.
std::map<std::string, std::string> tree_of(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[e.path().lexically_relative(root).string()] = read_file(e.path());
  }
  return out;
}

void set_mtime(const fs::path& p, long secs) {
  struct timespec times[2] = {{secs, 0}, {secs, 0}};
  ::utimensat(AT_FDCWD, p.c_str(), times, 0);
}

TEST(Transfer, ArchiveStreamsATreeIntoTarAndVerifiesEachFile) {
  TempDir local;
  auto src = local.path() / "tree";
  for (int i = 0; i < 300; ++i) {
    write_file(src / ("d" + std::to_string(i % 7)) / ("f" + std::to_string(i)),
               "content " + std::to_string(i) + "\n");
  }
  fs::create_directories(src / "empty");
  fs::create_symlink("d0/f0", src / "link");
  auto dest = remote_dir("archive");
  for (const char* c : {"gzip", "zstd", "none"}) {
    auto into = dest / c;
    auto r = run_herd(herd_args("put", {"--archive", "--compress", c, "-r", "web[01-02]",
                                        src.string(), into.string()}));
    ASSERT_EQ(r.exit_code, 0) << c << r.err;
    // 300 files and the link; the bytes are what went over the wire (compressed).
    EXPECT_NE(r.out.find("put (archive) 301 files"), std::string::npos) << r.out;
    EXPECT_EQ(tree_of(into / "tree"), tree_of(src)) << c;
    EXPECT_TRUE(fs::is_directory(into / "tree" / "empty"));
    EXPECT_EQ(fs::read_symlink(into / "tree" / "link"), "d0/f0");
    // The extraction directory is gone; nothing but the tree is left.
    std::vector<std::string> top;
    for (auto& e : fs::directory_iterator(into)) top.push_back(e.path().filename().string());
    EXPECT_EQ(top, std::vector<std::string>{"tree"}) << c;
  }
  // A destination that cannot be made fails the host with tar's reason, and leaves nothing.
  auto blocked = dest / "file-in-the-way";
  write_file(blocked, "x");
  auto bad = run_herd(herd_args("put", {"--archive", "-r", "web01", src.string(),
                                        (blocked / "sub").string()}));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("extracting the archive"), std::string::npos) << bad.err;
}

TEST(Transfer, PullFetchesOnlyWhatTheManifestChanged) {
  auto pub = remote_dir("publish");
  write_file(pub / "bin" / "app", "v1\n");
  write_file(pub / "conf" / "a.conf", "a\n");
  write_file(pub / "doc.txt", "doc\n");
  write_file(pub / "MANIFEST", "herd-manifest 1\nseq 1\n1 bin/app\n1 conf/a.conf\nsha256:" +
                                   hex_digest(Checksum::sha256, "doc\n") + " doc.txt\n");
  TempDir local;
  auto into = local.path() / "rel";
  auto pull = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--pull", "--manifest", "MANIFEST"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"web01", into.string(), pub.string()});
    return run_herd(herd_args("sync", args));
  };
  auto first = pull({});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("pulled seq 1: 3 fetched"), std::string::npos) << first.out;
  auto mine = into / "web01";
  EXPECT_EQ(read_file(mine / "bin" / "app"), "v1\n");
  EXPECT_EQ(read_file(mine / "doc.txt"), "doc\n");
  EXPECT_EQ(read_file(mine / ".herd-pull-state").rfind("herd-pull-state 1\nseq 1\n", 0), 0u);

  // A new release: bin/app changes, doc.txt is dropped.
  write_file(pub / "bin" / "app", "v2\n");
  write_file(pub / "MANIFEST", "herd-manifest 1\nseq 2\n2 bin/app\n1 conf/a.conf\n");
  auto dry = pull({"--dry-run", "--delete"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("+ " + (mine / "bin" / "app").string()), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("- " + (mine / "doc.txt").string()), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would fetch 1 of 2 entries (seq 1 -> 2)"), std::string::npos);
  EXPECT_EQ(read_file(mine / "bin" / "app"), "v1\n") << "a dry run fetched";
  auto second = pull({"--delete"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("pulled seq 2: 1 fetched"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("1 unchanged, 1 removed"), std::string::npos) << second.out;
  EXPECT_EQ(read_file(mine / "bin" / "app"), "v2\n");
  EXPECT_FALSE(fs::exists(mine / "doc.txt"));
  auto third = pull({});
  EXPECT_NE(third.out.find("pulled seq 2: 0 fetched"), std::string::npos) << third.out;

  // A file that is not the one the manifest's checksum names is refused and not kept.
  write_file(pub / "MANIFEST", "herd-manifest 1\nseq 3\n2 bin/app\n1 conf/a.conf\nsha256:" +
                                   std::string(64, '0') + " doc.txt\n");
  auto wrong = pull({});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("its sha256 is not the manifest's"), std::string::npos) << wrong.err;
  EXPECT_FALSE(fs::exists(mine / "doc.txt"));
  EXPECT_EQ(read_file(mine / ".herd-pull-state").rfind("herd-pull-state 1\nseq 2\n", 0), 0u)
      << "a failed pull must not advance the recorded seq";

  // An entry that would leave the directory fails the host before anything is fetched.
  write_file(pub / "MANIFEST", "herd-manifest 1\nseq 4\n1 ../../escape\n");
  auto hostile = pull({});
  EXPECT_NE(hostile.exit_code, 0);
  EXPECT_NE(hostile.err.find("is not a relative path of plain names"), std::string::npos)
      << hostile.err;
  EXPECT_FALSE(fs::exists(local.path() / "escape"));
}

TEST(Transfer, SyncSendsOnlyWhatChangedDeletesAndDryRuns) {
  TempDir local;
  auto src = local.path() / "release";
  write_file(src / "bin" / "app", "v1 binary\n");
  write_file(src / "conf" / "app.conf", "port=80\n");
  write_file(src / "README", "readme\n");
  auto dest = remote_dir("sync") / "srv";
  auto first = run_herd(herd_args("sync", {"web[01-02]", src.string(), dest.string()}));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("synced: 3 sent"), std::string::npos) << first.out;
  EXPECT_EQ(tree_of(dest), tree_of(src));

  // Change one file, add one, remove one; the remote also has a file of its own.
  write_file(src / "bin" / "app", "v2 binary, longer\n");
  write_file(src / "conf" / "new.conf", "x=1\n");
  fs::remove(src / "README");
  write_file(dest / "stray.log", "old\n");
  auto dry = run_herd(herd_args("sync", {"--dry-run", "--delete", "web01", src.string(),
                                         dest.string()}));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("+ " + (dest / "bin" / "app").string()), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("+ " + (dest / "conf" / "new.conf").string()), std::string::npos);
  EXPECT_NE(dry.out.find("- " + (dest / "README").string()), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("- " + (dest / "stray.log").string()), std::string::npos) << dry.out;
  EXPECT_EQ(dry.out.find("app.conf"), std::string::npos) << "unchanged files are not listed";
  EXPECT_NE(dry.out.find("would send 2 files"), std::string::npos) << dry.out;
  EXPECT_EQ(read_file(dest / "bin" / "app"), "v1 binary\n") << "a dry run changed a file";
  EXPECT_TRUE(fs::exists(dest / "stray.log"));

  auto real = run_herd(herd_args("sync", {"--delete", "web01", src.string(), dest.string()}));
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_NE(real.out.find("synced: 2 sent"), std::string::npos) << real.out;
  EXPECT_NE(real.out.find("2 deleted, 1 unchanged"), std::string::npos) << real.out;
  EXPECT_EQ(tree_of(dest), tree_of(src));
  EXPECT_TRUE(leftovers(dest).empty());

  auto again = run_herd(herd_args("sync", {"web01", src.string(), dest.string()}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("synced: 0 sent"), std::string::npos) << again.out;

  // Same size and time, different content: found only by --compare-checksum.
  write_file(src / "conf" / "app.conf", "port=81\n");
  set_mtime(src / "conf" / "app.conf", 1600000000);
  set_mtime(dest / "conf" / "app.conf", 1600000000);
  auto by_time = run_herd(herd_args("sync", {"web01", src.string(), dest.string()}));
  EXPECT_NE(by_time.out.find("synced: 0 sent"), std::string::npos) << by_time.out;
  auto by_sum = run_herd(herd_args("sync", {"-c", "web01", src.string(), dest.string()}));
  ASSERT_EQ(by_sum.exit_code, 0) << by_sum.err;
  EXPECT_NE(by_sum.out.find("synced: 1 sent"), std::string::npos) << by_sum.out;
  EXPECT_EQ(read_file(dest / "conf" / "app.conf"), "port=81\n");
}

}  // namespace
}  // namespace herd::test

namespace herd::test {
namespace {

/// A real sshd (the lab's server 1 config on a new port) whose SFTP subsystem is
/// tests/lab/hostile-sftp-server, in the mode written to a file the subsystem reads.
class HostileServer {
 public:
  HostileServer() {
    auto& lab = Lab::get();
    dir_ = lab.temp_dir("hostile");
    fs::permissions(dir_, fs::perms(0755));
    port_ = static_cast<std::uint16_t>(30000 + (::getpid() % 20000));
    write_file(dir_ / "mode", "names\n");
    // A copy beside the config: the lab user cannot always traverse the source tree (a clone
    // in a mktemp -d directory is 0700).
    fs::copy_file(HOSTILE_SERVER, dir_ / "hostile-sftp-server");
    fs::permissions(dir_ / "hostile-sftp-server", fs::perms(0755));
    write_file(dir_ / "subsystem",
               "#!/bin/sh\nexec " + sh_quote((dir_ / "hostile-sftp-server").string()) +
                   " \"$(cat " + sh_quote((dir_ / "mode").string()) + ")\"\n");
    fs::permissions(dir_ / "subsystem", fs::perms(0755));
    fs::permissions(dir_ / "mode", fs::perms(0644));
    std::string config = read_file(lab.dir() / "sshd_config.1");
    std::string out;
    std::istringstream in(config);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("Port ")) line = "Port " + std::to_string(port_);
      if (line.starts_with("PidFile ")) line = "PidFile " + (dir_ / "sshd.pid").string();
      if (line.starts_with("Subsystem ")) line = "Subsystem sftp " + (dir_ / "subsystem").string();
      out += line + "\n";
    }
    write_file(dir_ / "sshd_config", out);
    auto r = run_shell("/usr/sbin/sshd -f " + sh_quote((dir_ / "sshd_config").string()) + " -E " +
                       sh_quote((dir_ / "sshd.log").string()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    started_ = wait_until(
        [&] {
          return run_shell("bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) + "'")
                     .exit_code == 0;
        },
        std::chrono::seconds(10));
  }
  ~HostileServer() {
    run_shell("kill $(cat " + sh_quote((dir_ / "sshd.pid").string()) + ") 2>/dev/null");
  }
  bool started() const { return started_; }
  void mode(const std::string& m) { write_file(dir_ / "mode", m + "\n"); }
  /// herd get arguments that reach this server as the lab user (host "127.0.0.1").
  std::vector<std::string> get_args(std::vector<std::string> rest) const {
    auto& lab = Lab::get();
    std::vector<std::string> args{"get", "--no-agent", "--no-default-keys", "--no-record",
                                  "-i", lab.env("HERD_LAB_KEY_ED25519"), "-l", lab.user(),
                                  "-P", std::to_string(port_), "--known-hosts",
                                  (dir_ / "known_hosts").string(), "--host-key-policy",
                                  "accept-new"};
    args.insert(args.end(), rest.begin(), rest.end());
    return args;
  }

 private:
  fs::path dir_;
  std::uint16_t port_ = 0;
  bool started_ = false;
};

TEST(HostileSftp, NamesFromTheServerNeverLeaveTheTarget) {
  ::unlink("/tmp/herd-hostile-abs.txt");
  HostileServer server;
  ASSERT_TRUE(server.started());
  TempDir local;
  auto into = local.path() / "box" / "in";
  auto r = run_herd(server.get_args({"-r", "--checksum", "none", "127.0.0.1", "/data",
                                     into.string()}));
  EXPECT_NE(r.exit_code, 0) << "hostile names must fail the host";
  EXPECT_EQ(read_file(into / "127.0.0.1" / "data" / "good.txt"), "good\n") << r.err;
  for (const char* evil : {"../escape.txt", "/tmp/herd-hostile-abs.txt", "sub/inner.txt",
                           "../../escape2.txt"}) {
    EXPECT_NE(r.err.find(std::string("'") + evil + "'"), std::string::npos) << evil << r.err;
  }
  EXPECT_FALSE(fs::exists("/tmp/herd-hostile-abs.txt"));
  // Nothing anywhere in the test's tree but the one good file (and its directories).
  std::vector<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(local.path())) {
    if (!e.is_directory()) files.push_back(e.path().lexically_relative(local.path()).string());
  }
  EXPECT_EQ(files, std::vector<std::string>{"box/in/127.0.0.1/data/good.txt"});

  // A symlink's target is never followed out of the tree: link-out (to /etc/passwd) is skipped.
  EXPECT_FALSE(fs::exists(into / "127.0.0.1" / "data" / "link-out"));

  // A malformed packet ends that host with a protocol error at once, no hang.
  server.mode("badpacket");
  auto bad = run_herd(server.get_args({"--checksum", "none", "127.0.0.1", "/data/good.txt",
                                       (local.path() / "bad").string()}));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("malformed or oversized SFTP packet"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(local.path() / "bad" / "127.0.0.1" / "good.txt"));
}

}  // namespace
}  // namespace herd::test

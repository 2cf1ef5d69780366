// Replay driver for the fuzz targets in ordinary (GCC) builds, so `make test` runs every target:
// feeds each file of the target's committed corpus, then a fixed number of deterministic
// mutations of them (byte flips, insertions, truncations, splices). The sanitizer build turns
// any memory error or undefined behaviour into a failure. Real coverage-guided fuzzing:
// `make fuzz` (clang, libFuzzer) links the same targets against libFuzzer instead of this file.
//   <target>_replay CORPUS_DIR [MUTATIONS]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::string mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  static const char kInteresting[] = "[]-,!&^@:=#;\"'\\\n\t 0123456789aZ%*{}";
  switch (pick(5)) {
    case 0:
      if (!s.empty()) s[pick(s.size())] = kInteresting[pick(sizeof kInteresting - 1)];
      break;
    case 1: s.insert(pick(s.size() + 1), 1, kInteresting[pick(sizeof kInteresting - 1)]); break;
    case 2:
      if (!s.empty()) s.resize(pick(s.size()));
      break;
    case 3: s += corpus[pick(corpus.size())].substr(0, 64); break;
    default:
      if (!s.empty()) s[pick(s.size())] = static_cast<char>(pick(256));
      break;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS]\n", argv[0]);
    return 2;
  }
  const long mutations = argc > 2 ? std::atol(argv[2]) : 20000;
  std::vector<std::string> corpus;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(e.path(), std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "%s: empty corpus %s\n", argv[0], argv[1]);
    return 1;
  }
  auto feed = [](const std::string& s) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  for (const auto& c : corpus) feed(c);
  std::mt19937 rng(20261122);  // fixed seed: the same inputs every run
  std::string current = corpus[0];
  for (long i = 0; i < mutations; ++i) {
    current = (i % 8 == 0) ? corpus[static_cast<std::size_t>(i / 8) % corpus.size()] : current;
    current = mutate(current, corpus, rng);
    if (current.size() > 4096) current.resize(4096);
    feed(current);
  }
  std::printf("%zu corpus inputs and %ld mutations: no crash\n", corpus.size(), mutations);
  return 0;
}

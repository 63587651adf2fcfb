// Writes the seed corpora of seed_corpus.h as files, one directory per fuzz
// target, replacing what those directories held:
//
//   bazel run //tests/fuzz:seed_corpus_generator      # into tests/fuzz/corpus
//   seed_corpus_generator OUT_DIR                     # into OUT_DIR/<target>
//
// Commit the result; seed_corpus_test fails while the checked-in files and
// this output differ.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <system_error>

#include "tests/fuzz/seed_corpus.h"

namespace shmport::fuzz {
namespace {

namespace fs = std::filesystem;

// Makes `dir` hold exactly `corpus`'s seeds. False (with a message) on an I/O
// error.
bool WriteCorpus(const fs::path& dir, const SeedCorpus& corpus) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "creating %s: %s\n", dir.c_str(),
                 ec.message().c_str());
    return false;
  }
  std::set<std::string> names;
  for (const Seed& seed : corpus.seeds) names.insert(seed.name);
  // Stale seeds (renamed or removed in seed_corpus.cc) go.
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename();
    if (name[0] != '.' && names.count(name) == 0) fs::remove(e.path());
  }
  for (const Seed& seed : corpus.seeds) {
    const fs::path path = dir / seed.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seed.bytes.data()),
              static_cast<std::streamsize>(seed.bytes.size()));
    if (!out.good()) {
      std::fprintf(stderr, "writing %s failed\n", path.c_str());
      return false;
    }
  }
  std::printf("%zu seeds in %s\n", corpus.seeds.size(), dir.c_str());
  return true;
}

}  // namespace
}  // namespace shmport::fuzz

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path out;
  if (argc == 2) {
    out = argv[1];
  } else if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
             argc == 1 && ws != nullptr) {
    out = fs::path(ws) / "tests/fuzz/corpus";  // under `bazel run`
  } else {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  for (const shmport::fuzz::SeedCorpus& corpus :
       shmport::fuzz::AllSeedCorpora()) {
    if (!shmport::fuzz::WriteCorpus(out / corpus.target, corpus)) return 1;
  }
  return 0;
}

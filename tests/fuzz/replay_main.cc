// The main of every *_replay_test: runs each input file through the fuzz
// target's LLVMFuzzerTestOneInput, one gtest case per file, so that the seed
// corpus and the regression inputs run in `make test` (plain and under
// ASan+UBSan) without libFuzzer.
//
//   <target>_replay_test [FILE_OR_DIR]...
//
// Directories are read one level deep, skipping hidden files; a directory
// that does not exist is skipped (a target may have no regressions yet).
// Exits non-zero if a check in the target aborts or a sanitizer reports.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace shmport::fuzz {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> ListInputs(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& arg : args) {
    if (!IsDirectory(arg)) {
      struct stat st;
      if (::stat(arg.c_str(), &st) == 0) files.push_back(arg);
      continue;
    }
    DIR* dir = ::opendir(arg.c_str());
    if (dir == nullptr) continue;
    std::vector<std::string> in_dir;
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      in_dir.push_back(arg + "/" + e->d_name);
    }
    ::closedir(dir);
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

// gtest names must not contain '/' or '-' (filters treat them specially).
std::string TestName(const std::string& path) {
  std::string name;
  for (char c : path) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9');
    name.push_back(keep ? c : '_');
  }
  return name;
}

class ReplayedInputIsHandledCleanly : public ::testing::Test {
 public:
  explicit ReplayedInputIsHandledCleanly(std::string path)
      : path_(std::move(path)) {}

  void TestBody() override {
    std::ifstream in(path_, std::ios::binary);
    ASSERT_TRUE(in.good()) << "cannot read " << path_;
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    // An exact-size heap copy, as libFuzzer passes it, so that ASan flags a
    // read one byte past the input.
    auto copy = std::make_unique<uint8_t[]>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), copy.get());
    EXPECT_EQ(LLVMFuzzerTestOneInput(copy.get(), bytes.size()), 0);
  }

 private:
  const std::string path_;
};

class NoInputsToReplay : public ::testing::Test {
 public:
  void TestBody() override {
    GTEST_SKIP() << "no input files: add seeds under tests/fuzz/corpus/";
  }
};

}  // namespace
}  // namespace shmport::fuzz

int main(int argc, char** argv) {
  using shmport::fuzz::ReplayedInputIsHandledCleanly;
  ::testing::InitGoogleTest(&argc, argv);
  const std::vector<std::string> files =
      shmport::fuzz::ListInputs({argv + 1, argv + argc});
  for (const std::string& file : files) {
    ::testing::RegisterTest("ReplayedInputIsHandledCleanly",
                            shmport::fuzz::TestName(file).c_str(), nullptr,
                            file.c_str(), __FILE__, __LINE__,
                            [file]() -> ::testing::Test* {
                              return new ReplayedInputIsHandledCleanly(file);
                            });
  }
  if (files.empty()) {
    ::testing::RegisterTest("ReplayedInputIsHandledCleanly", "NoInputs",
                            nullptr, nullptr, __FILE__, __LINE__,
                            []() -> ::testing::Test* {
                              return new shmport::fuzz::NoInputsToReplay();
                            });
  }
  return RUN_ALL_TESTS();
}

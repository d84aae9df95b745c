#include "core/file_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "symphony_file_io_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
};

TEST_F(FileIoTest, WriteFileAtomicCreatesTheFileWithTheBytesAndNoTemporary) {
  const fs::path path = dir_ / "out.bin";
  const std::string bytes("binary\0data\n\xff", 13);
  ASSERT_TRUE(write_file_atomic(path, bytes).is_ok());
  EXPECT_EQ(read(path), bytes);
  EXPECT_FALSE(fs::exists(temp_path_for(path)));

  // A second write replaces the whole file, here with fewer bytes.
  ASSERT_TRUE(write_file_atomic(path, "new").is_ok());
  EXPECT_EQ(read(path), "new");
  ASSERT_TRUE(write_file_atomic(path, "").is_ok());
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_FALSE(fs::exists(temp_path_for(path)));
}

TEST_F(FileIoTest, WriteFileAtomicIntoMissingDirectoryNamesThePath) {
  const fs::path path = dir_ / "missing" / "out.txt";
  Status s = write_file_atomic(path, "text");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_THAT(s.message(), HasSubstr("missing/out.txt.tmp"));
  EXPECT_THAT(s.message(), HasSubstr("creating"));
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

TEST_F(FileIoTest, StreamedWriteIsVisibleOnlyAfterCommit) {
  const fs::path path = dir_ / "streamed.bin";
  Result<int> fd = create_temp_file(path);
  ASSERT_TRUE(fd.has_value()) << fd.error().message();
  ASSERT_TRUE(write_all(*fd, "abc", 3, temp_path_for(path)).is_ok());
  ASSERT_TRUE(write_all(*fd, "def", 3, temp_path_for(path)).is_ok());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::exists(temp_path_for(path)));
  ASSERT_TRUE(commit_temp_file(*fd, path).is_ok());
  EXPECT_EQ(read(path), "abcdef");
  EXPECT_FALSE(fs::exists(temp_path_for(path)));
}

TEST_F(FileIoTest, DiscardedWriteLeavesNoFile) {
  const fs::path path = dir_ / "discarded.bin";
  Result<int> fd = create_temp_file(path);
  ASSERT_TRUE(fd.has_value()) << fd.error().message();
  ASSERT_TRUE(write_all(*fd, "abc", 3, temp_path_for(path)).is_ok());
  discard_temp_file(*fd, path);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(temp_path_for(path)));
}

TEST_F(FileIoTest, FailuresNameThePathAndTheReason) {
  Status missing = os_error("opening", dir_ / "a.txt", ENOENT);
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("opening " + (dir_ / "a.txt").string() + ": "));
  EXPECT_THAT(missing.message(), HasSubstr("No such file or directory"));
  EXPECT_EQ(os_error("writing", "b.txt", EACCES).code(), ErrorCode::kIo);

  Status dir = fsync_directory(dir_ / "nowhere" / "c.txt");
  EXPECT_EQ(dir.code(), ErrorCode::kNotFound);
  EXPECT_THAT(dir.message(), HasSubstr("nowhere"));
  EXPECT_TRUE(fsync_directory("bare_file_name").is_ok());  // the current directory
}

}  // namespace
}  // namespace symphony

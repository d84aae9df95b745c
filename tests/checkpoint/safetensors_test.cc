#include "checkpoint/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "symphony_safetensors_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // Writes raw bytes: an 8-byte length, `header`, then `data`.
  std::string write_raw(const std::string& name, const std::string& header,
                        const std::string& data, uint64_t length_override = 0) {
    std::string path = file(name);
    std::ofstream out(path, std::ios::binary);
    uint64_t length = length_override ? length_override : header.size();
    out.write(reinterpret_cast<const char*>(&length), sizeof(length));
    out << header << data;
    return path;
  }

  fs::path dir_;
};

template <typename T>
std::vector<T> read_as(const SafetensorsTensor& t) {
  std::vector<T> values(size_t(t.bytes) / sizeof(T));
  std::memcpy(values.data(), t.data, size_t(t.bytes));
  return values;
}

TEST_F(SafetensorsTest, RoundTripsEveryTensorAndItsMetadata) {
  std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  std::vector<double> f64 = {3.141592653589793, -1e300, 2.0};
  std::vector<int32_t> i32 = {7, -1, 2147483647};
  std::vector<int64_t> i64 = {int64_t(1) << 40};
  std::vector<uint16_t> bf16 = {0x3f80, 0xc000, 0x0000, 0x7f80, 0x1234};  // odd count: 10 bytes
  std::vector<TensorRecord> records = {
      {"model.layers.0.weight", "F32", {2, 3}, f32.data(), 24},
      {"a.bf16", "BF16", {5}, bf16.data(), 10},
      {"targets", "I32", {3}, i32.data(), 12},
      {"scalar", "I64", {}, i64.data(), 8},
      {"empty", "F32", {0, 4}, nullptr, 0},
      {"doubles", "F64", {3, 1}, f64.data(), 24},
  };
  std::map<std::string, std::string> meta = {{"config", "{\"hidden_size\": 64}"},
                                             {"loss", "4.5"}};
  const std::string path = file("model.safetensors");
  ASSERT_TRUE(write_safetensors(path, records, meta).is_ok());
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  Result<SafetensorsFile> opened = SafetensorsFile::open(path);
  ASSERT_TRUE(opened.has_value()) << opened.error().message();
  const SafetensorsFile& f = *opened;
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.names().size(), records.size());
  // Data is laid out by descending element size, so every tensor is aligned in the file.
  for (const std::string& name : f.names()) {
    SafetensorsTensor t = *f.get(name);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % uintptr_t(safetensors_dtype_bytes(t.dtype)),
              0u)
        << name;
  }

  SafetensorsTensor w = *f.get("model.layers.0.weight");
  EXPECT_EQ(w.dtype, "F32");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w.numel(), 6);
  EXPECT_EQ(read_as<float>(w), f32);
  EXPECT_EQ(read_as<double>(*f.get("doubles")), f64);
  EXPECT_EQ(read_as<int32_t>(*f.get("targets")), i32);
  EXPECT_EQ(read_as<uint16_t>(*f.get("a.bf16")), bf16);
  SafetensorsTensor scalar = *f.get("scalar");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(read_as<int64_t>(scalar), i64);
  SafetensorsTensor empty = *f.get("empty");
  EXPECT_EQ(empty.bytes, 0);
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 4}));

  Result<SafetensorsTensor> missing = f.get("nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("nope"));
  EXPECT_THAT(missing.error().message(), HasSubstr(path));
}

TEST_F(SafetensorsTest, HeaderIsPaddedToEightBytesAndOmitsEmptyMetadata) {
  float x = 1.0f;
  const std::string path = file("one.safetensors");
  ASSERT_TRUE(write_safetensors(path, {{"x", "F32", {1}, &x, 4}}, {}).is_ok());
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t length;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + length + 4);
  std::string header = bytes.substr(8, length);
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"x":{"data_offsets":[0,4],"dtype":"F32","shape":[1]}})");
  Result<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_TRUE(f->metadata().empty());
}

TEST_F(SafetensorsTest, ReadsAHandWrittenFileWithMetadataOnly) {
  std::string path = write_raw("meta.safetensors", R"({"__metadata__":{"format":"pt"}})", "");
  Result<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_TRUE(f->names().empty());
  EXPECT_EQ(f->metadata().at("format"), "pt");
}

TEST_F(SafetensorsTest, TruncatedFilesAreCorrupt) {
  std::vector<float> values(16, 2.0f);
  const std::string path = file("full.safetensors");
  ASSERT_TRUE(write_safetensors(path, {{"w", "F32", {4, 4}, values.data(), 64}}, {}).is_ok());
  const auto full = fs::file_size(path);
  struct Case {
    uintmax_t size;
    const char* expect;
  };
  for (Case c : {Case{full - 4, "truncated"}, Case{20, "runs past the end"},
                 Case{5, "shorter than the 8-byte header length"}}) {
    SCOPED_TRACE(c.size);
    const std::string cut = file("cut.safetensors");
    fs::copy_file(path, cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, c.size);
    Result<SafetensorsFile> f = SafetensorsFile::open(cut);
    ASSERT_FALSE(f.has_value());
    EXPECT_EQ(f.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(f.error().message(), HasSubstr(cut));
    EXPECT_THAT(f.error().message(), HasSubstr(c.expect));
  }
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  Result<SafetensorsFile> f = SafetensorsFile::open(file("absent.safetensors"));
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(f.error().message(), HasSubstr("absent.safetensors"));
}

TEST_F(SafetensorsTest, BadHeadersNameTheFileAndTheProblem) {
  const std::string eight(8, '\0');
  struct Case {
    const char* label;
    std::string header, data;
    const char* expect;
  };
  std::vector<Case> cases = {
      {"not json", "{\"w\": {\"dtype\": ", eight, "JSON parse error"},
      {"not an object", "[1, 2]", "", "not a JSON object"},
      {"unknown dtype", R"({"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", eight,
       "unknown dtype \"F99\""},
      {"offsets beyond data", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight,
       "out of range"},
      {"reversed offsets", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight,
       "out of range"},
      {"size disagrees with shape", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
       eight, "needs 12"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       eight, "overlaps"},
      {"hole", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight,
       "belong to no tensor"},
      {"trailing bytes", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight,
       "trailing"},
      {"negative shape", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", eight,
       "non-negative integer"},
      {"missing offsets", R"({"a":{"dtype":"F32","shape":[2]}})", eight, "data_offsets"},
      {"metadata not strings", R"({"__metadata__":{"step":3}})", "", "metadata \"step\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    std::string path = write_raw("bad.safetensors", c.header, c.data);
    Result<SafetensorsFile> f = SafetensorsFile::open(path);
    ASSERT_FALSE(f.has_value());
    EXPECT_EQ(f.error().code(), ErrorCode::kCorrupt);
    EXPECT_THAT(f.error().message(), HasSubstr(path));
    EXPECT_THAT(f.error().message(), HasSubstr(c.expect));
  }
  // The entry's name appears in per-tensor errors.
  std::string path = write_raw(
      "named.safetensors", R"({"layer.7.w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
      eight);
  Result<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_FALSE(f.has_value());
  EXPECT_THAT(f.error().message(), HasSubstr("layer.7.w"));
}

TEST_F(SafetensorsTest, WriterRejectsInconsistentRecords) {
  float x[4] = {};
  struct Case {
    const char* label;
    std::vector<TensorRecord> records;
    const char* expect;
  };
  std::vector<Case> cases = {
      {"bytes disagree", {{"w", "F32", {3}, x, 16}}, "expected 12"},
      {"unknown dtype", {{"w", "Q4", {4}, x, 16}}, "unknown dtype"},
      {"duplicate", {{"w", "F32", {1}, x, 4}, {"w", "F32", {1}, x, 4}}, "appears twice"},
      {"reserved", {{"__metadata__", "F32", {1}, x, 4}}, "reserved"},
      {"negative dim", {{"w", "F32", {-4}, x, 16}}, "invalid shape"},
  };
  const std::string path = file("rejected.safetensors");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    Status s = write_safetensors(path, c.records, {});
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(path));
    EXPECT_THAT(s.message(), HasSubstr(c.expect));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
  }
}

TEST_F(SafetensorsTest, UnwritableDirectoryIsAnIoError) {
  float x = 0;
  Status s = write_safetensors(file("no/such/dir/x.safetensors"), {{"x", "F32", {1}, &x, 4}}, {});
  ASSERT_FALSE(s.is_ok());
  EXPECT_THAT(s.message(), HasSubstr("no/such/dir/x.safetensors.tmp"));
}

TEST_F(SafetensorsTest, RewritingReplacesTheFileAndOpenMappingsStayValid) {
  std::vector<float> first = {1, 2, 3}, second = {4, 5};
  const std::string path = file("replace.safetensors");
  ASSERT_TRUE(write_safetensors(path, {{"w", "F32", {3}, first.data(), 12}}, {}).is_ok());
  Result<SafetensorsFile> old_file = SafetensorsFile::open(path);
  ASSERT_TRUE(old_file.has_value());
  ASSERT_TRUE(write_safetensors(path, {{"w", "F32", {2}, second.data(), 8}}, {}).is_ok());
  EXPECT_EQ(read_as<float>(*old_file->get("w")), first);  // rename keeps the old inode alive
  SafetensorsFile moved = std::move(*old_file);
  EXPECT_EQ(read_as<float>(*moved.get("w")), first);
  Result<SafetensorsFile> new_file = SafetensorsFile::open(path);
  ASSERT_TRUE(new_file.has_value());
  EXPECT_EQ(read_as<float>(*new_file->get("w")), second);
}

}  // namespace
}  // namespace symphony

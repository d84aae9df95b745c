#include "train/hf_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoint/export_source.h"
#include "checkpoint/hf_export.h"
#include "checkpoint/safetensors.h"
#include "testkit/hf_testing.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A random model of `config` at dir/run/model.safetensors, exported to dir/hf.
void export_model(const testkit::TempDir& dir, const ModelConfig& config,
                  int64_t max_shard_bytes = 5'000'000'000) {
  testkit::write_hf_test_model(dir / "run/model.safetensors", testkit::hf_test_run_config(config),
                               11);
  Result<LoadedModel> loaded = load_model_for_export(dir / "run");
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  HfExportOptions options;
  options.max_shard_bytes = max_shard_bytes;
  Result<HfExportReport> r = export_hf(loaded->config, *loaded->model, dir / "hf", options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
}

// Every tensor of the two model files, under the same names with the same bytes.
void expect_bitwise_equal(const fs::path& a_path, const fs::path& b_path) {
  Result<SafetensorsFile> a = SafetensorsFile::open(a_path);
  Result<SafetensorsFile> b = SafetensorsFile::open(b_path);
  ASSERT_TRUE(a.has_value() && b.has_value());
  std::vector<std::string> a_names = a->names(), b_names = b->names();
  std::sort(a_names.begin(), a_names.end());
  std::sort(b_names.begin(), b_names.end());
  ASSERT_EQ(a_names, b_names);
  for (const std::string& name : a_names) {
    SafetensorsTensor x = *a->get(name), y = *b->get(name);
    EXPECT_EQ(x.dtype, y.dtype) << name;
    EXPECT_EQ(x.shape, y.shape) << name;
    ASSERT_EQ(x.bytes, y.bytes) << name;
    EXPECT_EQ(std::memcmp(x.data, y.data, size_t(x.bytes)), 0) << name;
  }
}

// Rewrites dir/hf/model.safetensors through `edit`, which may change the records.
void rewrite_weights(const testkit::TempDir& dir,
                     const std::function<void(std::vector<TensorRecord>&)>& edit) {
  const fs::path path = dir / "hf/model.safetensors";
  std::vector<std::vector<std::byte>> copies;
  std::vector<TensorRecord> records;
  {
    Result<SafetensorsFile> file = SafetensorsFile::open(path);
    ASSERT_TRUE(file.has_value());
    for (const std::string& name : file->names()) {
      SafetensorsTensor t = *file->get(name);
      copies.emplace_back(t.data, t.data + t.bytes);
      records.push_back({name, t.dtype, t.shape, nullptr, t.bytes});
    }
    for (size_t i = 0; i < records.size(); ++i) records[i].data = copies[i].data();
  }
  edit(records);
  Status s = write_safetensors(path, records, {{"format", "pt"}});
  ASSERT_TRUE(s.is_ok()) << s.message();
}

void patch_config(const testkit::TempDir& dir, const nlohmann::json& patch) {
  nlohmann::json j = nlohmann::json::parse(testkit::read_file_bytes(dir / "hf/config.json"));
  j.merge_patch(patch);
  dir.write("hf/config.json", j.dump());
}

TEST(HfImport, ExportThenImportGivesBitwiseTheSameTensorsForEveryArchitecture) {
  for (HfArch arch : {HfArch::kQwen3Moe, HfArch::kMixtral, HfArch::kQwen3, HfArch::kLlama}) {
    for (int64_t shard : {int64_t(5'000'000'000), int64_t(20'000)}) {
      SCOPED_TRACE(fmt::format("{} shard {}", hf_model_type(arch), shard));
      testkit::TempDir dir("hf_import");
      const ModelConfig config = testkit::hf_test_config(arch);
      export_model(dir, config, shard);
      EXPECT_EQ(fs::exists(dir / "hf/model.safetensors.index.json"), shard < 1'000'000);
      Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
      ASSERT_TRUE(r.has_value()) << r.error().message();
      EXPECT_EQ(r->arch, arch);
      expect_bitwise_equal(dir / "run/model.safetensors", dir / "back/model.safetensors");

      // `symphony generate` loads what import wrote: the model file with its config, and the
      // tokenizer it names.
      Result<LoadedModel> loaded =
          load_model_file(dir / "back/model.safetensors", {1, 4}, Recompute::kFull);
      ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
      EXPECT_EQ(loaded->config.model.num_experts, config.num_experts);
      EXPECT_EQ(loaded->config.model.qk_norm, config.qk_norm);
      EXPECT_EQ(loaded->config.model.first_k_dense_replace, config.first_k_dense_replace);
      EXPECT_EQ(loaded->config.data.tokenizer_path, fs::absolute(dir / "back/tokenizer.json"));
      Result<RunConfig> toml = load_run_config((dir / "back/config.toml").string(), {});
      ASSERT_TRUE(toml.has_value()) << toml.error().message();
      EXPECT_EQ(toml->model.vocab_size, config.vocab_size);
    }
  }
}

TEST(HfImport, Bf16AndF16TensorsAreConvertedExactly) {
  testkit::TempDir dir("hf_import");
  export_model(dir, testkit::hf_test_config(HfArch::kLlama));
  std::vector<std::vector<uint16_t>> halves;
  const std::string bf16_name = "model.embed_tokens.weight";
  const std::string f16_name = "model.layers.0.self_attn.q_proj.weight";
  rewrite_weights(dir, [&](std::vector<TensorRecord>& records) {
    for (TensorRecord& t : records) {
      if (t.name != bf16_name && t.name != f16_name) continue;
      const float* f = static_cast<const float*>(t.data);
      std::vector<uint16_t>& h = halves.emplace_back(size_t(t.bytes / 4));
      for (size_t i = 0; i < h.size(); ++i) {
        if (t.name == bf16_name) {
          uint32_t bits;
          std::memcpy(&bits, &f[i], 4);
          h[i] = uint16_t(bits >> 16);
        } else {  // a few representative halves: 1, -2, 0.5, the smallest subnormal, 0
          const uint16_t values[] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x0000};
          h[i] = values[i % 5];
        }
      }
      t.dtype = t.name == bf16_name ? "BF16" : "F16";
      t.data = h.data();
      t.bytes /= 2;
    }
  });
  Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  Result<SafetensorsFile> back = SafetensorsFile::open(dir / "back/model.safetensors");
  ASSERT_TRUE(back.has_value());
  SafetensorsTensor emb = *back->get(bf16_name);
  ASSERT_EQ(emb.dtype, "F32");
  for (size_t i = 0; i < halves[0].size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, emb.data + 4 * i, 4);
    ASSERT_EQ(bits, uint32_t(halves[0][i]) << 16) << i;
  }
  SafetensorsTensor q = *back->get(f16_name);
  const float expected[] = {1.0f, -2.0f, 0.5f, 5.9604644775390625e-08f, 0.0f};
  for (size_t i = 0; i < 10; ++i) {
    float v;
    std::memcpy(&v, q.data + 4 * i, 4);
    EXPECT_EQ(v, expected[i % 5]) << i;
  }
}

TEST(HfImport, MissingExtraAndMisshapenTensorsAreNamed) {
  testkit::TempDir dir("hf_import");
  export_model(dir, testkit::hf_test_config(HfArch::kQwen3Moe));
  const std::string gone = "model.layers.2.mlp.experts.3.up_proj.weight";
  rewrite_weights(dir, [&](std::vector<TensorRecord>& records) {
    std::erase_if(records, [&](const TensorRecord& t) { return t.name == gone; });
  });
  Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr("model.safetensors: no tensor named \"" + gone));

  testkit::TempDir dir2("hf_import");
  export_model(dir2, testkit::hf_test_config(HfArch::kQwen3Moe));
  const float bias[32] = {};
  rewrite_weights(dir2, [&](std::vector<TensorRecord>& records) {
    records.push_back({"model.layers.0.self_attn.q_proj.bias", "F32", {32}, bias, sizeof(bias)});
  });
  r = import_hf(dir2 / "hf", dir2 / "back");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(r.error().message(),
              HasSubstr("\"model.layers.0.self_attn.q_proj.bias\" is not part"));

  patch_config(dir2, {{"moe_intermediate_size", 8}});
  r = import_hf(dir2 / "hf", dir2 / "back");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(r.error().message(),
              HasSubstr("\"model.layers.1.mlp.experts.0.gate_proj.weight\" has shape [16, 32], "
                        "config.json implies [8, 32]"));
  EXPECT_FALSE(fs::exists(dir2 / "back/model.safetensors"));
}

TEST(HfImport, ConfigErrorsNameTheFile) {
  testkit::TempDir dir("hf_import");
  Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr("config.json: no such file"));

  export_model(dir, testkit::hf_test_config(HfArch::kQwen3));
  patch_config(dir, {{"model_type", "deepseek_v3"}});
  r = import_hf(dir / "hf", dir / "back");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("config.json: model_type \"deepseek_v3\" is not"));
}

TEST(HfImport, RotaryTablesAndTiedHeadsAreIgnoredWithANote) {
  testkit::TempDir dir("hf_import");
  export_model(dir, testkit::hf_test_config(HfArch::kLlama));  // tied
  const float table[4] = {1, 2, 3, 4};
  std::vector<float> head(320 * 32, 0.5f);
  rewrite_weights(dir, [&](std::vector<TensorRecord>& records) {
    records.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {4}, table, 16});
    records.push_back({"lm_head.weight", "F32", {320, 32}, head.data(), int64_t(head.size() * 4)});
  });
  Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_THAT(r->notes, ::testing::Contains(HasSubstr("rotary_emb.inv_freq")));
  EXPECT_THAT(r->notes, ::testing::Contains(HasSubstr("lm_head.weight")));
  expect_bitwise_equal(dir / "run/model.safetensors", dir / "back/model.safetensors");
}

}  // namespace
}  // namespace symphony

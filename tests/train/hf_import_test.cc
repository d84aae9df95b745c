#include "train/hf_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
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
  for (HfArch arch : {HfArch::kQwen3Moe, HfArch::kMixtral, HfArch::kQwen3, HfArch::kLlama,
                      HfArch::kDeepseekV3}) {
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

// The logits of the model file at `path` at every position of `tokens`, decoded through the KV
// cache as `symphony generate` does.
std::vector<float> decoded_logits(const fs::path& path, const std::vector<int32_t>& tokens) {
  Result<LoadedModel> m = load_model_file(path, {1, int64_t(tokens.size())}, Recompute::kFull);
  EXPECT_TRUE(m.has_value()) << m.error().message();
  if (!m.has_value()) return {};
  const int64_t v = m->config.model.vocab_size;
  std::vector<float> logits(tokens.size() * size_t(v));
  std::vector<KvCache> caches = m->model->make_kv_caches();
  for (size_t t = 0; t < tokens.size(); ++t)
    m->model->decode(Exec::cpu(), std::span<const int32_t>(&tokens[t], 1), caches,
                     View(logits.data() + t * size_t(v), DType::kF32, {v}));
  return logits;
}

// The deepseek-v3-tiny preset (MLA, sigmoid group-limited routing, shared expert, dense first
// layer, one MTP module) with non-zero selection biases, exported and imported: every tensor of
// the model file (the MTP module's and the biases included), the model config and the logits
// come back bitwise.
TEST(HfImport, DeepseekV3TinyRoundTripsBitwise) {
  Result<RunConfig> preset = load_run_config("deepseek-v3-tiny", {});
  ASSERT_TRUE(preset.has_value()) << preset.error().message();
  const ModelConfig& config = preset->model;
  ASSERT_GT(config.num_nextn_predict_layers, 0);
  for (int64_t shard : {int64_t(5'000'000'000), int64_t(1'000'000)}) {
    SCOPED_TRACE(fmt::format("shard {}", shard));
    testkit::TempDir dir("hf_import");
    testkit::write_hf_test_model(dir / "run/model.safetensors",
                                 testkit::hf_test_run_config(config), 5,
                                 testkit::BiasInit::kNonZero);
    Result<LoadedModel> loaded = load_model_for_export(dir / "run");
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
    HfExportOptions options;
    options.max_shard_bytes = shard;
    Result<HfExportReport> exported =
        export_hf(loaded->config, *loaded->model, dir / "hf", options);
    ASSERT_TRUE(exported.has_value()) << exported.error().message();
    EXPECT_EQ(exported->arch, HfArch::kDeepseekV3);
    EXPECT_EQ(fs::exists(dir / "hf/model.safetensors.index.json"), shard < 5'000'000);

    Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->arch, HfArch::kDeepseekV3);
    expect_bitwise_equal(dir / "run/model.safetensors", dir / "back/model.safetensors");
    // A bias the test set is non-zero, so the comparison above covers its values.
    Result<SafetensorsFile> back = SafetensorsFile::open(dir / "back/model.safetensors");
    ASSERT_TRUE(back.has_value());
    const std::string mtp_bias =
        fmt::format("model.layers.{}.mlp.gate.e_score_correction_bias", config.num_hidden_layers);
    ASSERT_TRUE(back->contains(mtp_bias));
    bool nonzero = false;
    const SafetensorsTensor b = *back->get(mtp_bias);
    for (int64_t i = 0; i < b.bytes; ++i) nonzero = nonzero || b.data[i] != std::byte{0};
    EXPECT_TRUE(nonzero);

    // The architecture comes back whole; the training-only settings are off.
    ModelConfig want = config;
    want.router_aux_loss_coef = want.router_z_loss_coef = want.router_seq_aux_loss_coef = 0.0;
    want.bias_update_rate = want.capacity_factor = 0.0;
    RunConfig a, b2;
    a.model = want;
    b2.model = r->config.model;
    EXPECT_EQ(to_toml(a), to_toml(b2));

    std::vector<int32_t> tokens;
    for (int32_t t = 0; t < 24; ++t) tokens.push_back((t * 37 + 11) % int32_t(config.vocab_size));
    const std::vector<float> ours = decoded_logits(dir / "run/model.safetensors", tokens);
    const std::vector<float> theirs = decoded_logits(dir / "back/model.safetensors", tokens);
    ASSERT_EQ(ours.size(), theirs.size());
    ASSERT_FALSE(ours.empty());
    EXPECT_EQ(std::memcmp(ours.data(), theirs.data(), ours.size() * sizeof(float)), 0);
  }
}

// transformers' DeepseekV3ForCausalLM builds no MTP modules and saves none (config.json still
// says num_nextn_predict_layers); DeepSeek's copies of the shared embedding and head may be left
// out too.
TEST(HfImport, DeepseekV3WithoutTheMtpTensorsImportsWithoutTheModules) {
  testkit::TempDir dir("hf_import");
  const ModelConfig config = testkit::hf_test_config(HfArch::kDeepseekV3);
  export_model(dir, config);
  const std::string mtp = fmt::format("model.layers.{}.", config.num_hidden_layers);
  rewrite_weights(dir, [&](std::vector<TensorRecord>& records) {
    std::erase_if(records, [&](const TensorRecord& t) { return t.name.rfind(mtp, 0) == 0; });
  });
  Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->config.model.num_nextn_predict_layers, 0);
  EXPECT_THAT(r->notes, ::testing::Contains(HasSubstr("transformers saves no MTP modules")));
  Result<SafetensorsFile> run = SafetensorsFile::open(dir / "run/model.safetensors");
  Result<SafetensorsFile> back = SafetensorsFile::open(dir / "back/model.safetensors");
  ASSERT_TRUE(run.has_value() && back.has_value());
  for (const std::string& name : back->names()) {
    SCOPED_TRACE(name);
    EXPECT_NE(name.rfind(mtp, 0), 0u);
    const SafetensorsTensor x = *run->get(name), y = *back->get(name);
    ASSERT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(std::memcmp(x.data, y.data, size_t(x.bytes)), 0);
  }

  testkit::TempDir dir2("hf_import");
  export_model(dir2, config);
  rewrite_weights(dir2, [&](std::vector<TensorRecord>& records) {
    std::erase_if(records, [&](const TensorRecord& t) {
      return t.name == mtp + "embed_tokens.weight" || t.name == mtp + "shared_head.head.weight";
    });
  });
  r = import_hf(dir2 / "hf", dir2 / "back");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->config.model.num_nextn_predict_layers, 1);
  expect_bitwise_equal(dir2 / "run/model.safetensors", dir2 / "back/model.safetensors");
}

TEST(HfImport, DeepseekV3MismatchesNameTheTensor) {
  const ModelConfig config = testkit::hf_test_config(HfArch::kDeepseekV3);
  const std::string mtp = fmt::format("model.layers.{}.", config.num_hidden_layers);
  struct Case {
    std::function<void(std::vector<TensorRecord>&)> edit;
    ErrorCode code;
    std::string message;
  };
  std::vector<float> changed;
  const float wrong_bias[3] = {};
  const std::string bias = "model.layers.1.mlp.gate.e_score_correction_bias";
  auto drop = [](std::string name) {
    return [name](std::vector<TensorRecord>& records) {
      std::erase_if(records, [&](const TensorRecord& t) { return t.name == name; });
    };
  };
  const Case cases[] = {
      {drop(bias), ErrorCode::kNotFound, "no tensor named \"" + bias + "\""},
      {drop(mtp + "eh_proj.weight"), ErrorCode::kNotFound,
       "no tensor named \"" + mtp + "eh_proj.weight\""},
      {[&](std::vector<TensorRecord>& records) {
         for (TensorRecord& t : records)
           if (t.name == bias) t = {bias, "F32", {3}, wrong_bias, sizeof(wrong_bias)};
       },
       ErrorCode::kCorrupt, "\"" + bias + "\" has shape [3], config.json implies [4]"},
      {[&](std::vector<TensorRecord>& records) {
         for (TensorRecord& t : records) {
           if (t.name != mtp + "shared_head.head.weight") continue;
           const float* f = static_cast<const float*>(t.data);
           changed.assign(f, f + t.bytes / 4);
           changed[5] += 1.0f;
           t.data = changed.data();
         }
       },
       ErrorCode::kCorrupt,
       "\"" + mtp + "shared_head.head.weight\" differs from \"lm_head.weight\" (element 5"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    testkit::TempDir dir("hf_import");
    export_model(dir, config);
    rewrite_weights(dir, c.edit);
    Result<HfImportReport> r = import_hf(dir / "hf", dir / "back");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), c.code);
    EXPECT_THAT(r.error().message(), HasSubstr("model.safetensors"));
    EXPECT_THAT(r.error().message(), HasSubstr(c.message));
    EXPECT_FALSE(fs::exists(dir / "back/model.safetensors"));
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
  patch_config(dir, {{"model_type", "deepseek_v2"}});
  r = import_hf(dir / "hf", dir / "back");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("config.json: model_type \"deepseek_v2\" is not"));
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

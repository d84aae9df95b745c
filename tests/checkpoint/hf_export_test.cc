#include "checkpoint/hf_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoint/export_source.h"
#include "checkpoint/hf_shards.h"
#include "data/byte_tokenizer.h"
#include "data/tokenizer.h"
#include "testkit/hf_testing.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Writes a random model of `config` into dir/run/model.safetensors and loads it for export.
LoadedModel make_model(const testkit::TempDir& dir, const ModelConfig& config,
                       testkit::BiasInit bias = testkit::BiasInit::kZero) {
  testkit::write_hf_test_model(dir / "run/model.safetensors", testkit::hf_test_run_config(config),
                               7, bias);
  Result<LoadedModel> loaded = load_model_for_export(dir / "run");
  EXPECT_TRUE(loaded.has_value()) << loaded.error().message();
  return std::move(loaded).value();
}

// The bytes of `name` in the exported weights and in the Symphony model file (a row of a stacked
// tensor when expert >= 0) are equal.
void expect_same_bytes(const HfWeights& hf, const std::string& hf_name, const SafetensorsFile& ours,
                       const std::string& name, int64_t expert = -1) {
  SCOPED_TRACE(hf_name);
  Result<SafetensorsTensor> a = hf.get(hf_name);
  Result<SafetensorsTensor> b = ours.get(name);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_TRUE(b.has_value());
  const std::byte* src = b->data;
  if (expert >= 0) {
    ASSERT_EQ(b->shape.size(), 3u);
    EXPECT_EQ(a->shape, std::vector<int64_t>(b->shape.begin() + 1, b->shape.end()));
    src += expert * a->bytes;
  } else {
    EXPECT_EQ(a->shape, b->shape);
  }
  EXPECT_EQ(a->dtype, "F32");
  EXPECT_EQ(std::memcmp(a->data, src, size_t(a->bytes)), 0);
}

TEST(HfExport, Qwen3MoeHasOneTensorPerExpertUnderTransformersNames) {
  testkit::TempDir dir("hf_export");
  LoadedModel m = make_model(dir, testkit::hf_test_config(HfArch::kQwen3Moe));
  Result<HfExportReport> r = export_hf(m.config, *m.model, dir / "hf", {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->arch, HfArch::kQwen3Moe);
  Result<HfWeights> hf = HfWeights::open(dir / "hf");
  ASSERT_TRUE(hf.has_value());
  Result<SafetensorsFile> ours = SafetensorsFile::open(dir / "run/model.safetensors");
  ASSERT_TRUE(ours.has_value());
  for (int64_t e = 0; e < 4; ++e)
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"})
      expect_same_bytes(*hf, fmt::format("model.layers.2.mlp.experts.{}.{}.weight", e, proj), *ours,
                        fmt::format("model.layers.2.mlp.experts.{}", proj), e);
  expect_same_bytes(*hf, "model.layers.1.mlp.gate.weight", *ours, "model.layers.1.mlp.gate.weight");
  expect_same_bytes(*hf, "model.layers.0.mlp.down_proj.weight", *ours,
                    "model.layers.0.mlp.down_proj.weight");
  expect_same_bytes(*hf, "model.layers.1.self_attn.q_norm.weight", *ours,
                    "model.layers.1.self_attn.q_norm.weight");
  expect_same_bytes(*hf, "lm_head.weight", *ours, "lm_head.weight");
  // 1 embedding + 1 head + 1 norm; per layer 2 norms + 4 projections + 2 QK norms; a dense MLP
  // of 3; two MoE layers of a router and 4 * 3 experts.
  EXPECT_EQ(hf->names().size(), size_t(3 + 3 * 8 + 3 + 2 * 13));
  EXPECT_EQ(r->tensors, int64_t(hf->names().size()));
  EXPECT_FALSE(fs::exists(dir / "hf.partial"));
}

TEST(HfExport, MixtralUsesBlockSparseMoeNamesAndTiesTheHead) {
  testkit::TempDir dir("hf_export");
  LoadedModel m = make_model(dir, testkit::hf_test_config(HfArch::kMixtral));
  Result<HfExportReport> r = export_hf(m.config, *m.model, dir / "hf", {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->arch, HfArch::kMixtral);
  Result<HfWeights> hf = HfWeights::open(dir / "hf");
  ASSERT_TRUE(hf.has_value());
  Result<SafetensorsFile> ours = SafetensorsFile::open(dir / "run/model.safetensors");
  ASSERT_TRUE(ours.has_value());
  for (int64_t e = 0; e < 4; ++e) {
    const std::string p = fmt::format("model.layers.1.block_sparse_moe.experts.{}.", e);
    expect_same_bytes(*hf, p + "w1.weight", *ours, "model.layers.1.mlp.experts.gate_proj", e);
    expect_same_bytes(*hf, p + "w3.weight", *ours, "model.layers.1.mlp.experts.up_proj", e);
    expect_same_bytes(*hf, p + "w2.weight", *ours, "model.layers.1.mlp.experts.down_proj", e);
  }
  expect_same_bytes(*hf, "model.layers.0.block_sparse_moe.gate.weight", *ours,
                    "model.layers.0.mlp.gate.weight");
  for (const std::string& name : hf->names()) {
    EXPECT_EQ(name.find(".mlp."), std::string::npos) << name;
    EXPECT_NE(name, "lm_head.weight");
  }
  const nlohmann::json config =
      nlohmann::json::parse(testkit::read_file_bytes(dir / "hf/config.json"));
  EXPECT_EQ(config["model_type"], "mixtral");
  EXPECT_EQ(config["tie_word_embeddings"], true);
}

TEST(HfExport, DeepseekV3WritesSelectionBiasesAndMtpModulesAsDeepSeekNamesThem) {
  testkit::TempDir dir("hf_export");
  LoadedModel m =
      make_model(dir, testkit::hf_test_config(HfArch::kDeepseekV3), testkit::BiasInit::kNonZero);
  Result<HfExportReport> r = export_hf(m.config, *m.model, dir / "hf", {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->arch, HfArch::kDeepseekV3);
  EXPECT_THAT(r->notes, ::testing::Contains(HasSubstr("model.layers.3.*")));
  Result<HfWeights> hf = HfWeights::open(dir / "hf");
  ASSERT_TRUE(hf.has_value());
  Result<SafetensorsFile> ours = SafetensorsFile::open(dir / "run/model.safetensors");
  ASSERT_TRUE(ours.has_value());
  // Layers 1, 2 and the MTP module's layer 3 are MoE, each with its bias (non-zero here).
  for (int64_t l : {1, 2, 3}) {
    const std::string bias = fmt::format("model.layers.{}.mlp.gate.e_score_correction_bias", l);
    expect_same_bytes(*hf, bias, *ours, bias);
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      expect_same_bytes(*hf, fmt::format("model.layers.{}.mlp.experts.3.{}.weight", l, proj),
                        *ours, fmt::format("model.layers.{}.mlp.experts.{}", l, proj), 3);
      const std::string shared =
          fmt::format("model.layers.{}.mlp.shared_experts.{}.weight", l, proj);
      expect_same_bytes(*hf, shared, *ours, shared);
    }
  }
  EXPECT_FALSE(hf->contains("model.layers.0.mlp.gate.e_score_correction_bias"));  // dense
  for (const char* name :
       {"model.layers.0.self_attn.q_a_proj.weight", "model.layers.0.self_attn.q_a_layernorm.weight",
        "model.layers.0.self_attn.q_b_proj.weight",
        "model.layers.2.self_attn.kv_a_proj_with_mqa.weight",
        "model.layers.2.self_attn.kv_a_layernorm.weight",
        "model.layers.2.self_attn.kv_b_proj.weight", "model.layers.2.self_attn.o_proj.weight",
        "model.layers.3.enorm.weight", "model.layers.3.hnorm.weight",
        "model.layers.3.eh_proj.weight", "model.layers.3.shared_head.norm.weight",
        "model.layers.3.self_attn.q_b_proj.weight", "model.layers.3.input_layernorm.weight"})
    expect_same_bytes(*hf, name, *ours, name);
  // The MTP module's copies of the shared embedding and head, as DeepSeek-V3's checkpoint has.
  expect_same_bytes(*hf, "model.layers.3.embed_tokens.weight", *ours, "model.embed_tokens.weight");
  expect_same_bytes(*hf, "model.layers.3.shared_head.head.weight", *ours, "lm_head.weight");
  // Parameters, one tensor per expert (4 experts in 3 MoE layers: 9 stacked tensors become 36),
  // 3 biases and the 2 copies.
  EXPECT_EQ(hf->names().size(), ours->names().size() + 9 * 3 + 2);
  EXPECT_EQ(r->tensors, int64_t(hf->names().size()));
}

TEST(HfExport, ByteTokenizerIsWrittenAsAnEquivalentTokenizerJson) {
  testkit::TempDir dir("hf_export");
  LoadedModel m = make_model(dir, testkit::hf_test_config(HfArch::kLlama));
  ASSERT_TRUE(export_hf(m.config, *m.model, dir / "hf", {}).has_value());
  Result<std::unique_ptr<Tokenizer>> tok = load_tokenizer((dir / "hf/tokenizer.json").string());
  ASSERT_TRUE(tok.has_value()) << tok.error().message();
  ByteTokenizer bytes;
  const std::string text = "Hello, world!\n  caf\xc3\xa9 \xff\xfe tabs\t<|endoftext|>";
  EXPECT_EQ((*tok)->encode(text), bytes.encode(text));
  EXPECT_EQ((*tok)->eot_token(), ByteTokenizer::kEotToken);
  const nlohmann::json gen =
      nlohmann::json::parse(testkit::read_file_bytes(dir / "hf/generation_config.json"));
  EXPECT_EQ(gen["eos_token_id"], ByteTokenizer::kEotToken);

  HfExportOptions none;
  none.tokenizer = "none";
  ASSERT_TRUE(export_hf(m.config, *m.model, dir / "hf_none", none).has_value());
  EXPECT_FALSE(fs::exists(dir / "hf_none/tokenizer.json"));
  const nlohmann::json config =
      nlohmann::json::parse(testkit::read_file_bytes(dir / "hf_none/config.json"));
  EXPECT_FALSE(config.contains("eos_token_id"));
}

TEST(HfExport, ModelsNoArchitectureReproducesAreRefusedBeforeWriting) {
  testkit::TempDir dir("hf_export");
  ModelConfig shared = testkit::hf_test_config(HfArch::kQwen3Moe);
  shared.n_shared_experts = 1;
  LoadedModel m = make_model(dir, shared);
  Result<HfExportReport> r = export_hf(m.config, *m.model, dir / "hf", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("model.n_shared_experts = 1"));
  EXPECT_FALSE(fs::exists(dir / "hf"));
  EXPECT_FALSE(fs::exists(dir / "hf.partial"));
}

TEST(HfExport, NonZeroSelectionBiasIsRefusedNamingTheTensor) {
  testkit::TempDir dir("hf_export");
  LoadedModel m =
      make_model(dir, testkit::hf_test_config(HfArch::kQwen3Moe), testkit::BiasInit::kNonZero);
  Result<HfExportReport> r = export_hf(m.config, *m.model, dir / "hf", {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(),
              HasSubstr("model.layers.1.mlp.gate.e_score_correction_bias is non-zero"));
  EXPECT_THAT(r.error().message(), HasSubstr("deepseek_v3"));
  EXPECT_FALSE(fs::exists(dir / "hf"));
}

TEST(HfExport, OutputMustBeNewOrEmptyAndTheTokenizerMustFitTheVocabulary) {
  testkit::TempDir dir("hf_export");
  ModelConfig small_vocab = testkit::hf_test_config(HfArch::kQwen3);
  small_vocab.vocab_size = 200;
  LoadedModel m = make_model(dir, small_vocab);
  dir.write("taken/file.txt", "x");
  HfExportOptions options;
  options.tokenizer = "none";
  Result<HfExportReport> r = export_hf(m.config, *m.model, dir / "taken", options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("taken: exists and is not an empty directory"));
  EXPECT_EQ(testkit::read_file_bytes(dir / "taken/file.txt"), "x");

  fs::create_directories(dir / "empty");
  EXPECT_TRUE(export_hf(m.config, *m.model, dir / "empty", options).has_value());
  EXPECT_TRUE(fs::exists(dir / "empty/model.safetensors"));

  r = export_hf(m.config, *m.model, dir / "hf", {});  // the byte tokenizer needs 257 ids
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("model.vocab_size = 200"));
}

TEST(HfExport, SourcesAreModelFilesOrRunDirectories) {
  testkit::TempDir dir("hf_export");
  testkit::write_hf_test_model(dir / "run/model.safetensors",
                               testkit::hf_test_run_config(testkit::hf_test_config(HfArch::kLlama)),
                               3);
  EXPECT_TRUE(load_model_for_export(dir / "run").has_value());
  EXPECT_TRUE(load_model_for_export(dir / "run/model.safetensors").has_value());
  Result<LoadedModel> missing = load_model_for_export(dir / "nothing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("nothing"));
  fs::create_directories(dir / "empty_run");
  Result<LoadedModel> empty = load_model_for_export(dir / "empty_run");
  ASSERT_FALSE(empty.has_value());
  EXPECT_THAT(empty.error().message(),
              HasSubstr("empty_run: holds no model.safetensors and no checkpoint"));
}

}  // namespace
}  // namespace symphony

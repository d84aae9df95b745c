#include "config/run_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "config/presets.h"
#include "config/toml_loader.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

// Parses `text` as "test.toml"; returns the error message ("" when parsing succeeded).
std::string parse_error(std::string_view text, std::vector<std::string> overrides = {}) {
  Result<RunConfig> r = parse_run_config(text, "test.toml", overrides);
  if (r.has_value()) return "";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  return r.error().message();
}

// Loads the tiny preset with overrides; returns the error message ("" on success).
std::string tiny_error(std::vector<std::string> overrides) {
  Result<RunConfig> r = load_run_config("tiny", overrides);
  return r.has_value() ? "" : r.error().message();
}

TEST(Presets, ListsEveryConfigFile) {
  const std::vector<std::string> names = list_presets();
  for (const char* expected :
       {"tiny", "small", "bench-dense-small", "bench-moe-small", "mixtral-8x7b", "qwen3-30b-a3b",
        "qwen3-235b-a22b", "deepseek-v3-671b", "kimi-k2-1t", "ling-1t", "deepseek-v3-tiny"}) {
    EXPECT_THAT(names, ::testing::Contains(expected));
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_FALSE(find_preset("no-such-preset").has_value());
}

TEST(Presets, EachLoadsAndValidates) {
  for (const std::string& name : list_presets()) {
    SCOPED_TRACE(name);
    Result<RunConfig> r = load_run_config(name, {});
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->source, name);
    EXPECT_TRUE(validate(*r).is_ok());
  }
}

TEST(Presets, TinyHasTheDocumentedShape) {
  Result<RunConfig> r = load_run_config("tiny", {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const ModelConfig& m = r->model;
  EXPECT_EQ(m.vocab_size, 512);
  EXPECT_EQ(m.hidden_size, 128);
  EXPECT_EQ(m.num_hidden_layers, 4);
  EXPECT_EQ(m.num_attention_heads, 4);
  EXPECT_EQ(m.num_key_value_heads, 2);
  EXPECT_EQ(m.head_dim, 32);
  EXPECT_TRUE(m.qk_norm);
  EXPECT_EQ(m.intermediate_size, 384);
  EXPECT_EQ(m.first_k_dense_replace, 1);
  EXPECT_EQ(m.num_experts, 8);
  EXPECT_EQ(m.num_experts_per_tok, 2);
  EXPECT_EQ(m.moe_intermediate_size, 64);
  EXPECT_EQ(m.n_shared_experts, 1);
  EXPECT_FALSE(m.tie_word_embeddings);
  EXPECT_EQ(r->train.seq_len, 64);
  EXPECT_EQ(r->train.micro_batch_size, 4);
  EXPECT_EQ(r->train.steps, 200);
  EXPECT_EQ(r->train.eval_every, 50);
  EXPECT_EQ(r->optim.warmup_steps, 20);
  EXPECT_DOUBLE_EQ(r->optim.lr, 3e-3);
}

TEST(Presets, SmallReadsItsData) {
  Result<RunConfig> r = load_run_config("small", {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->model.vocab_size, 320);
  EXPECT_EQ(r->optim.decay, LrDecay::kCosine);
  EXPECT_EQ(r->data.datasets, std::vector<std::string>{"data/brown"});
  EXPECT_TRUE(r->data.train_path.empty());
  EXPECT_EQ(r->data.prefetch_depth, 2);
  EXPECT_EQ(r->train.run_dir, "runs/small");
}

TEST(LoadRunConfig, ReadsAFile) {
  const std::string path =
      testing::TempDir() + "run_config_test_" + std::to_string(getpid()) + ".toml";
  {
    std::ofstream out(path);
    out << "[model]\nnum_hidden_layers = 2\n[train]\nsteps = 7\n[optim]\nwarmup_steps = 3\n";
  }
  Result<RunConfig> r = load_run_config(path, std::vector<std::string>{"train.steps=9"});
  std::remove(path.c_str());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->source, path);
  EXPECT_EQ(r->model.num_hidden_layers, 2);
  EXPECT_EQ(r->train.steps, 9);
  EXPECT_EQ(r->model.hidden_size, ModelConfig{}.hidden_size);  // absent keys keep defaults
}

TEST(LoadRunConfig, MissingFileOrPresetIsNotFound) {
  Result<RunConfig> file = load_run_config("/nonexistent/dir/x.toml", {});
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(file.error().message(), HasSubstr("/nonexistent/dir/x.toml"));

  Result<RunConfig> preset = load_run_config("tinyy", {});
  ASSERT_FALSE(preset.has_value());
  EXPECT_EQ(preset.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(preset.error().message(), HasSubstr("tinyy"));
  EXPECT_THAT(preset.error().message(), HasSubstr("tiny"));  // lists the presets
}

TEST(Overrides, SetValuesOfEveryType) {
  Result<RunConfig> r = load_run_config(
      "tiny", std::vector<std::string>{"train.steps=100", "optim.decay=linear",
                                       "model.qk_norm=false", "optim.lr = 1e-4",
                                       "model.rope_theta=500000", "data.train_path=data/x.tok",
                                       "train.recompute=\"full\"", "train.run_dir='runs/a b'",
                                       "parallel.zero_stage=2"});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->train.steps, 100);
  EXPECT_EQ(r->optim.decay, LrDecay::kLinear);
  EXPECT_FALSE(r->model.qk_norm);
  EXPECT_DOUBLE_EQ(r->optim.lr, 1e-4);
  EXPECT_DOUBLE_EQ(r->model.rope_theta, 500000.0);  // an integer for a double field
  EXPECT_EQ(r->data.train_path, "data/x.tok");
  EXPECT_EQ(r->train.recompute, Recompute::kFull);
  EXPECT_EQ(r->train.run_dir, "runs/a b");
  EXPECT_EQ(r->parallel.zero_stage, ZeroStage::kGradients);
}

TEST(Overrides, SetTheRouterAndRopeKeys) {
  Result<RunConfig> r = load_run_config(
      "tiny", std::vector<std::string>{"model.scoring_func=sigmoid", "model.n_group=4",
                                       "model.topk_group=2", "model.routed_scaling_factor=2.5",
                                       "model.router_seq_aux_loss_coef=1e-4",
                                       "model.partial_rotary_factor=0.5"});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->model.scoring_func, RouterScoring::kSigmoid);
  EXPECT_EQ(r->model.n_group, 4);
  EXPECT_EQ(r->model.topk_group, 2);
  EXPECT_EQ(r->model.routed_scaling_factor, 2.5);
  EXPECT_EQ(r->model.router_seq_aux_loss_coef, 1e-4);
  EXPECT_EQ(r->model.partial_rotary_factor, 0.5);
  EXPECT_EQ(r->model.rotary_dim(), 16);
  // Written back and read again.
  Result<RunConfig> reread = parse_run_config(to_toml(*r), "tiny", {});
  ASSERT_TRUE(reread.has_value()) << reread.error().message();
  EXPECT_THAT(to_toml(*reread), HasSubstr("scoring_func = \"sigmoid\"\n"));
  EXPECT_EQ(to_toml(*reread), to_toml(*r));
  // The default scoring is softmax.
  EXPECT_THAT(to_toml(RunConfig{}), HasSubstr("scoring_func = \"softmax\"\n"));
}

TEST(Overrides, LaterOnesWin) {
  Result<RunConfig> r =
      load_run_config("tiny", std::vector<std::string>{"train.steps=100", "train.steps=150"});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->train.steps, 150);
}

TEST(Overrides, CreateAMissingSection) {
  Result<RunConfig> r = parse_run_config("[model]\n", "test.toml",
                                         std::vector<std::string>{"data.val_fraction=0.25"});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_DOUBLE_EQ(r->data.val_fraction, 0.25);
}

TEST(Overrides, UnknownKeyIsNamedWithASuggestion) {
  const std::string message = tiny_error({"model.num_expert=4"});
  EXPECT_THAT(message, HasSubstr("--set model.num_expert=4"));
  EXPECT_THAT(message, HasSubstr("unknown key model.num_expert;"));
  EXPECT_THAT(message, HasSubstr("did you mean model.num_experts?"));
}

TEST(Overrides, UnknownSectionIsNamed) {
  const std::string message = tiny_error({"modle.num_experts=4"});
  EXPECT_THAT(message, HasSubstr("--set modle.num_experts=4"));
  EXPECT_THAT(message, HasSubstr("unknown section [modle]; did you mean [model]?"));
}

TEST(Overrides, WrongTypeNamesTheOverride) {
  const std::string message = tiny_error({"train.steps=abc"});
  EXPECT_THAT(message, HasSubstr("--set train.steps=abc"));
  EXPECT_THAT(message, HasSubstr("train.steps: expected a non-negative integer"));
  EXPECT_THAT(message, HasSubstr("string \"abc\""));
}

TEST(Overrides, MalformedOnesAreRejected) {
  for (const char* bad : {"train.steps", "trainsteps=3", "train.=3", ".steps=3", "train.steps.x=3",
                          "train.steps=\"unterminated", "train.steps=[1,"}) {
    SCOPED_TRACE(bad);
    const std::string message = tiny_error({bad});
    EXPECT_THAT(message, HasSubstr("override"));
    EXPECT_THAT(message, HasSubstr(bad));
  }
}

TEST(Overrides, ValidationSeesOverriddenValues) {
  const std::string message = tiny_error({"model.num_experts_per_tok=9"});
  EXPECT_THAT(message, HasSubstr("model.num_experts_per_tok = 9"));
  EXPECT_THAT(message, HasSubstr("model.num_experts = 8"));
  EXPECT_THAT(message, HasSubstr("configs/tiny.toml"));
}

TEST(ToToml, RoundTripsEveryPresetExactly) {
  for (const std::string& name : list_presets()) {
    SCOPED_TRACE(name);
    Result<RunConfig> original = load_run_config(name, {});
    ASSERT_TRUE(original.has_value()) << original.error().message();
    const std::string text = to_toml(*original);
    Result<RunConfig> reread = parse_run_config(text, name, {});
    ASSERT_TRUE(reread.has_value()) << reread.error().message() << "\n" << text;
    EXPECT_EQ(to_toml(*reread), text);
  }
}

TEST(ToToml, RoundTripsAwkwardValues) {
  RunConfig config;
  config.source = "awkward";
  config.model.rope_theta = 0.1 + 0.2;  // not the double nearest 0.3
  config.model.rms_norm_eps = 1e-300;
  config.model.initializer_range = 1.0 / 3.0;
  config.model.capacity_factor = 1e22;  // printed in exponent form
  config.optim.lr = 5.0;                // integral: must still be written as a float
  config.optim.decay = LrDecay::kConstant;
  config.train.recompute = Recompute::kFull;
  config.train.seed = 9223372036854775807ULL;
  config.train.run_dir = "runs/\"quoted\" \\ back\tslash\nnewline é";
  config.data.tokenizer_path = "";
  config.data.datasets = {"data/a \"b\"", "c"};
  config.data.weights = {0.1 + 0.2, 3.0};
  config.parallel.zero_stage = ZeroStage::kParameters;
  ASSERT_TRUE(validate(config).is_ok());

  const std::string text = to_toml(config);
  Result<RunConfig> r = parse_run_config(text, "awkward", {});
  ASSERT_TRUE(r.has_value()) << r.error().message() << "\n" << text;
  EXPECT_EQ(r->model.rope_theta, config.model.rope_theta);
  EXPECT_EQ(r->model.rms_norm_eps, config.model.rms_norm_eps);
  EXPECT_EQ(r->model.initializer_range, config.model.initializer_range);
  EXPECT_EQ(r->model.capacity_factor, config.model.capacity_factor);
  EXPECT_EQ(r->optim.lr, 5.0);
  EXPECT_EQ(r->optim.decay, LrDecay::kConstant);
  EXPECT_EQ(r->train.recompute, Recompute::kFull);
  EXPECT_EQ(r->train.seed, config.train.seed);
  EXPECT_EQ(r->train.run_dir, config.train.run_dir);
  EXPECT_EQ(r->data.datasets, config.data.datasets);
  EXPECT_EQ(r->data.weights, config.data.weights);
  EXPECT_EQ(r->parallel.zero_stage, ZeroStage::kParameters);
  EXPECT_THAT(text, HasSubstr("zero_stage = 3\n"));
  EXPECT_EQ(to_toml(*r), text);
}

TEST(ToToml, WritesEveryKey) {
  const std::string text = to_toml(RunConfig{});
  for (const char* key :
       {"[model]", "vocab_size =", "capacity_factor =", "[train]", "seed =", "run_dir =", "[optim]",
        "decay = \"cosine\"", "grad_clip =", "[data]", "datasets = []", "weights = []",
        "prefetch_depth = 2", "tokenizer_path ="}) {
    EXPECT_THAT(text, HasSubstr(key));
  }
}

TEST(TomlErrors, UnknownKeyNamesLineAndSuggestion) {
  const std::string message = parse_error("[model]\nhidden_size = 64\nnum_expert = 4\n");
  EXPECT_THAT(message, HasSubstr("test.toml:3:"));
  EXPECT_THAT(message, HasSubstr("unknown key model.num_expert;"));
  EXPECT_THAT(message, HasSubstr("did you mean model.num_experts?"));
}

TEST(TomlErrors, UnknownKeyWithoutNearNameListsTheKeys) {
  const std::string message = parse_error("[data]\nflavour = 1\n");
  EXPECT_THAT(message, HasSubstr("test.toml:2: unknown key data.flavour"));
  EXPECT_THAT(message, HasSubstr("train_path, val_path"));
}

TEST(TomlErrors, KeyInTheWrongSectionPointsToTheRightOne) {
  const std::string message = parse_error("[model]\nlr = 1e-3\n");
  EXPECT_THAT(message, HasSubstr("test.toml:2: unknown key model.lr; did you mean optim.lr?"));
}

TEST(TomlErrors, UnknownSection) {
  const std::string message = parse_error("[train]\nsteps = 10\n\n[optm]\nlr = 1e-3\n");
  EXPECT_THAT(message, HasSubstr("test.toml:4: unknown section [optm]; did you mean [optim]?"));
  EXPECT_THAT(parse_error("[weights]\n"), HasSubstr("the sections are [model], [train]"));
}

TEST(TomlErrors, KeyOutsideAnySection) {
  EXPECT_THAT(parse_error("steps = 10\n"), HasSubstr("test.toml:1: steps = ... is outside any"));
}

TEST(TomlErrors, NestedTableIsAnUnknownKey) {
  EXPECT_THAT(parse_error("[model.moe]\nnum_experts = 4\n"), HasSubstr("unknown key model.moe"));
}

TEST(TomlErrors, WrongTypesNameKeyTypeAndLine) {
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {
           Case{"[train]\nsteps = \"ten\"\n",
                "test.toml:2: train.steps: expected a non-negative integer, got string \"ten\""},
           Case{"[train]\n\nsteps = 2.5\n",
                "test.toml:3: train.steps: expected a non-negative integer, got float 2.5"},
           Case{"[model]\nnum_experts = -3\n",
                "test.toml:2: model.num_experts: expected a non-negative integer, got integer -3"},
           Case{"[model]\nqk_norm = 1\n",
                "test.toml:2: model.qk_norm: expected a boolean (true or false), got integer 1"},
           Case{"[optim]\nlr = \"fast\"\n", "test.toml:2: optim.lr: expected a number"},
           Case{"[model]\nscoring_func = \"relu\"\n",
                "test.toml:2: model.scoring_func: expected one of \"softmax\", \"sigmoid\", got "
                "string \"relu\""},
           Case{"[optim]\ndecay = \"cosin\"\n",
                "optim.decay: expected one of \"cosine\", \"linear\", \"constant\", got string "
                "\"cosin\""},
           Case{"[train]\nrecompute = true\n",
                "train.recompute: expected one of \"none\", \"selective\", \"full\", got boolean "
                "true"},
           Case{"[data]\ntrain_path = 3\n", "data.train_path: expected a string, got integer 3"},
           Case{"[parallel]\nzero_stage = 4\n",
                "test.toml:2: parallel.zero_stage = 4 is not one of 0, 1, 2, 3"},
           Case{"[parallel]\nzero_stage = \"full\"\n",
                "parallel.zero_stage: expected one of the integers 0, 1, 2, 3, got string"},
           Case{"[train]\nseed = [1]\n",
                "train.seed: expected a non-negative integer, got an array"},
           Case{"[data]\ndatasets = \"data/brown\"\n",
                "test.toml:2: data.datasets: expected an array, got string"},
           Case{"[data]\ndatasets = [\"a\", 3]\n",
                "data.datasets[1]: expected a string, got integer 3"},
           Case{"[data]\ndatasets = [\"a\"]\nweights = [1, \"x\"]\n",
                "data.weights[1]: expected a number, got string"},
       }) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(parse_error(c.text), HasSubstr(c.expected));
  }
}

TEST(TomlErrors, IntegerIsAcceptedForADouble) {
  Result<RunConfig> r = parse_run_config("[optim]\nlr = 1\nbeta2 = 0\n", "test.toml");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->optim.lr, 1.0);
  EXPECT_EQ(r->optim.beta2, 0.0);
}

TEST(TomlErrors, SyntaxErrorNamesLineAndColumn) {
  const std::string message = parse_error("[model]\nhidden_size = = 3\n");
  EXPECT_THAT(message, HasSubstr("test.toml:2:"));
}

TEST(Validation, HeadsMustDivide) {
  const std::string message = tiny_error({"model.num_key_value_heads=3"});
  EXPECT_THAT(message, HasSubstr("model.num_attention_heads = 4"));
  EXPECT_THAT(message, HasSubstr("model.num_key_value_heads = 3"));
}

TEST(Validation, TopKAboveExpertsNamesTheKey) {
  EXPECT_THAT(tiny_error({"model.num_experts_per_tok=9"}),
              HasSubstr("model.num_experts_per_tok = 9 must be in [1, model.num_experts = 8]"));
  EXPECT_THAT(tiny_error({"model.num_experts_per_tok=0"}),
              HasSubstr("model.num_experts_per_tok = 0"));
}

TEST(Validation, EachRuleNamesItsKey) {
  struct Case {
    const char* override_text;
    const char* expected;
  };
  for (const Case& c : {
           Case{"model.hidden_size=0", "model.hidden_size = 0 must be positive"},
           Case{"model.head_dim=31", "model.head_dim = 31 must be even"},
           Case{"model.first_k_dense_replace=5", "model.first_k_dense_replace = 5"},
           Case{"model.moe_intermediate_size=0", "model.moe_intermediate_size = 0"},
           Case{"model.rms_norm_eps=0", "model.rms_norm_eps = 0"},
           Case{"model.capacity_factor=0.25", "model.capacity_factor = 0.25"},
           Case{"model.n_group=3", "model.n_group = 3 does not divide model.num_experts = 8"},
           Case{"model.topk_group=2", "model.topk_group = 2 must be in [1, model.n_group = 1]"},
           Case{"model.routed_scaling_factor=0", "model.routed_scaling_factor = 0"},
           Case{"model.router_seq_aux_loss_coef=-1", "model.router_seq_aux_loss_coef = -1"},
           Case{"model.partial_rotary_factor=1.5", "model.partial_rotary_factor = 1.5"},
           Case{"train.seq_len=512", "train.seq_len = 512 exceeds model.max_position_embeddings"},
           Case{"train.global_batch_tokens=1000",
                "train.global_batch_tokens = 1000 must be 0 or a multiple of"},
           Case{"train.steps=0", "train.steps = 0 must be positive"},
           Case{"train.log_every=0", "train.log_every = 0"},
           Case{"train.recompute=\"selective\"",
                "train.recompute = \"selective\" is planned by `symphony plan` but not trained"},
           Case{"optim.warmup_steps=500", "optim.warmup_steps = 500 exceeds train.steps = 200"},
           Case{"optim.lr=0", "optim.lr = 0"},
           Case{"optim.beta1=1", "optim.beta1 = 1 must be in [0, 1)"},
           Case{"optim.beta2=-0.5", "optim.beta2 = -0.5"},
           Case{"optim.min_lr_ratio=2", "optim.min_lr_ratio = 2"},
           Case{"optim.eps=0", "optim.eps = 0"},
           Case{"data.val_fraction=1", "data.val_fraction = 1"},
           Case{"model.num_nextn_predict_layers=-1",
                "model.num_nextn_predict_layers: expected a non-negative integer"},
           Case{"model.mtp_loss_weight=-0.3", "model.mtp_loss_weight = -0.3"},
           Case{"monitor.metrics_port=70000", "monitor.metrics_port = 70000 must be 0 (off)"},
           Case{"monitor.metrics_host=\"\"", "monitor.metrics_host is empty"},
           Case{"monitor.metrics_linger_s=-1", "monitor.metrics_linger_s = -1"},
           Case{"monitor.rank_stats_every=-1",
                "monitor.rank_stats_every: expected a non-negative integer"},
           Case{"monitor.straggler_windows=0", "monitor.straggler_windows = 0 must be at least 1"},
           Case{"monitor.straggler_min_excess=0", "monitor.straggler_min_excess = 0"},
           Case{"monitor.straggler_mad_multiple=-2", "monitor.straggler_mad_multiple = -2"},
           Case{"monitor.peak_tflops=-1", "monitor.peak_tflops = -1"},
           Case{"monitor.debug_slow_factor=-0.5", "monitor.debug_slow_factor = -0.5"},
           Case{"monitor.debug_slow_from_step=0",
                "monitor.debug_slow_from_step = 0 must be at least 1"},
       }) {
    SCOPED_TRACE(c.override_text);
    EXPECT_THAT(tiny_error({c.override_text}), HasSubstr(c.expected));
  }
}

TEST(Validation, AcceptsTheBoundaries) {
  EXPECT_EQ(
      tiny_error({"model.capacity_factor=0.5", "train.global_batch_tokens=1024",
                  "optim.warmup_steps=200", "train.seq_len=256", "model.first_k_dense_replace=4",
                  "model.num_experts_per_tok=8", "optim.beta1=0"}),
      "");
}

TEST(EditDistance, CountsInsertionsDeletionsSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0);
  EXPECT_EQ(edit_distance("num_experts", "num_experts"), 0);
  EXPECT_EQ(edit_distance("num_expert", "num_experts"), 1);
  EXPECT_EQ(edit_distance("hiden_size", "hidden_size"), 1);
  EXPECT_EQ(edit_distance("lr", "rl"), 2);
  EXPECT_EQ(edit_distance("abc", ""), 3);
}

TEST(DataConfig, DatasetsWeightsAndPrefetchAreValidated) {
  Result<RunConfig> ok = parse_run_config(
      "[data]\ndatasets = [\"a\", \"b\"]\nweights = [3, 1.5]\nprefetch_depth = 0\n", "test.toml");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->data.datasets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ok->data.weights, (std::vector<double>{3.0, 1.5}));
  EXPECT_EQ(ok->data.prefetch_depth, 0);
  EXPECT_THAT(parse_error("[data]\ndatasets = [\"a\", \"b\"]\nweights = [1]\n"),
              HasSubstr("data.weights has 1 entries but data.datasets has 2"));
  EXPECT_THAT(parse_error("[data]\ndatasets = [\"a\"]\nweights = [0]\n"),
              HasSubstr("data.weights[0] = 0 must be a positive finite number"));
  EXPECT_THAT(parse_error("[data]\ndatasets = [\"a\"]\ntrain_path = \"x.tok\"\n"),
              HasSubstr("data.datasets and data.train_path"));
  EXPECT_THAT(parse_error("[data]\ndatasets = [\"\"]\n"), HasSubstr("data.datasets[0] is empty"));
  EXPECT_THAT(parse_error("[data]\nprefetch_depth = 1000\n"), HasSubstr("data.prefetch_depth"));
  // Overrides take TOML arrays too.
  EXPECT_EQ(tiny_error({"data.datasets=[\"x\", \"y\"]", "data.weights=[1, 2]"}), "");
}

}  // namespace
}  // namespace symphony

namespace symphony {
namespace {

TEST(Validate, SizesThatOverflowAreNamedNotComputed) {
  EXPECT_THAT(tiny_error({"model.num_hidden_layers=2147483648"}),
              HasSubstr("model.num_hidden_layers = 2147483648 must be at most 65536"));
  EXPECT_THAT(tiny_error({"model.num_hidden_layers=9223372036854775807"}),
              HasSubstr("model.num_hidden_layers = 9223372036854775807 must be at most 65536"));
  EXPECT_THAT(tiny_error({"model.num_experts=9223372036854775807"}),
              HasSubstr("model.num_experts = 9223372036854775807 must be at most 1048576"));
  EXPECT_THAT(tiny_error({"train.micro_batch_size=9223372036854775807"}),
              HasSubstr("train.micro_batch_size * train.seq_len = 9223372036854775807 * 64 = "
                        "over 2^63 tokens per micro-batch exceeds the limit of 2^32"));
  EXPECT_THAT(tiny_error({"train.micro_batch_size=67108864", "train.seq_len=128"}),
              HasSubstr("= 8589934592 tokens per micro-batch exceeds the limit of 2^32"));
}

TEST(Validate, ActivationBytesMustBeComputable) {
  // 2^32 tokens of a model with 2^32-wide attention: the activations overflow int64 bytes.
  EXPECT_THAT(tiny_error({"train.micro_batch_size=16384", "train.seq_len=262144",
                          "model.max_position_embeddings=262144",
                          "model.num_attention_heads=65536", "model.num_key_value_heads=65536",
                          "model.head_dim=65536"}),
              HasSubstr("train.micro_batch_size = 16384, train.seq_len = 262144: the activations "
                        "of a micro-batch of this model overflow 64-bit byte counts"));
}

TEST(ModelKeys, BlockVariantsLoadFromToml) {
  const std::vector<std::string> overrides = {"model.mlp_kind=relu2", "model.parallel_attn=true",
                                              "model.sliding_window=64",
                                              "model.sliding_window_pattern=2"};
  Result<RunConfig> r = load_run_config("tiny", overrides);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->model.mlp_kind, MlpKind::kSquaredRelu);
  EXPECT_TRUE(r->model.parallel_attn);
  EXPECT_EQ(r->model.sliding_window, 64);
  EXPECT_EQ(r->model.sliding_window_pattern, 2);
  EXPECT_THAT(tiny_error({"model.mlp_kind=tanh"}),
              HasSubstr("model.mlp_kind: expected one of \"swiglu\", \"geglu\", \"gelu\", "
                        "\"relu\", \"relu2\""));
}

}  // namespace
}  // namespace symphony

#include "model/fp8_linears.h"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/run_config.h"
#include "model/init.h"
#include "model/linear.h"
#include "model/memory_plan.h"
#include "model/transformer.h"
#include "testkit/gradient_check.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;
using namespace testkit;

constexpr int64_t kRows = 16, kIn = 256, kOut = 128;

struct TwoLinears {
  ParamStore store{DType::kF32};
  ParamId norm, w0, w1;
  TwoLinears() {
    norm = store.add("layers.0.norm.weight", {kIn}, Decay::kNo);
    w0 = store.add("layers.0.up_proj.weight", {kOut, kIn}, Decay::kYes);
    w1 = store.add("layers.0.down_proj.weight", {kIn, kOut}, Decay::kYes);
    store.allocate();
    copy_into(random_buffer(DType::kF32, {kOut, kIn}, 1, -0.1, 0.1).view(), store.param(w0));
    copy_into(random_buffer(DType::kF32, {kIn, kOut}, 2, -0.1, 0.1).view(), store.param(w1));
  }
};

Fp8Recipe tensor_recipe() {
  Fp8Recipe r;
  r.scaling = Fp8Scaling::kTensor;
  r.error_check_interval = 1;
  return r;
}

Exec fp8_exec(Fp8Linears& fp8) {
  Exec ex = Exec::cpu();
  ex.matmul = Precision::kBf16;
  ex.fp8 = &fp8;
  return ex;
}

// The workspace the memory plan gives holds every site's GEMMs region by region: a model that
// grows its own over a few steps stays within it, and one that reserves it never grows. Dense
// GQA, MoE and MLA with shared experts, blockwise and per-tensor scaling.
TEST(Fp8Linears, PlannedWorkspaceHoldsEveryGemmAndNeverGrows) {
  auto regions = [](const Fp8GemmWorkspaceSize& s) {
    return std::vector<int64_t>{s.operand_a, s.operand_b, s.scales_a, s.scales_b, s.output};
  };
  for (const char* preset : {"tiny", "deepseek-v3-tiny"}) {
    for (Fp8Scaling scaling : {Fp8Scaling::kBlock, Fp8Scaling::kTensor}) {
      SCOPED_TRACE(testing::Message() << preset << " scaling " << int(scaling));
      const std::vector<std::string> overrides = {"model.num_nextn_predict_layers=0"};
      Result<RunConfig> c = load_run_config(preset, overrides);
      ASSERT_TRUE(c.has_value()) << c.error().message();
      const BatchShape shape{2, 32};
      Fp8Recipe recipe;
      recipe.scaling = scaling;
      recipe.block_size = 32;
      const Fp8GemmWorkspaceSize plan = fp8_gemm_workspace_plan(c->model, shape, {}, recipe);
      std::vector<Fp8GemmWorkspaceSize> held;
      for (bool reserve : {false, true}) {
        Transformer model(c->model, DType::kF32, shape, Recompute::kNone);
        init_params(c->model, 3, model.params());
        Fp8Linears fp8(recipe, model.params());
        if (reserve) fp8.reserve_workspace(plan);
        for (uint64_t seed = 1; seed <= 2; ++seed) {
          const TokenBatch b = random_token_batch(c->model.vocab_size, shape, seed, 1);
          model.params().zero_grads();
          model.forward_backward(fp8_exec(fp8), shape, b.tokens, b.targets,
                                 LossScales{1.0 / 63, 1.0});
        }
        held.push_back(fp8.workspace_size());
      }
      const std::vector<int64_t> grown = regions(held[0]), planned = regions(plan);
      for (size_t r = 0; r < planned.size(); ++r) EXPECT_LE(grown[r], planned[r]) << "region " << r;
      EXPECT_GT(held[0].operand_a, 0);
      EXPECT_EQ(regions(held[1]), planned);
    }
  }
}

TEST(Fp8Linears, RegistersThreeSitesPerMatrixAndFindsThemByAddress) {
  TwoLinears m;
  Fp8Linears fp8(tensor_recipe(), m.store);
  EXPECT_EQ(fp8.sites().size(), 6);  // the norm has none
  ASSERT_TRUE(fp8.sites().find("layers.0.down_proj.weight wgrad"));
  const Exec ex = fp8_exec(fp8);
  Buffer x = random_buffer(DType::kF32, {kRows, kIn}, 3);
  Buffer y(DType::kF32, {kRows, kOut}), dy = random_buffer(DType::kF32, {kRows, kOut}, 4);
  Buffer dx(DType::kF32, {kRows, kIn});
  linear_forward(ex, x.view(), m.store.param(m.w0), y.view());
  linear_backward_input(ex, m.store.param(m.w0), dy.view(), dx.view(), Accumulate::kNo);
  m.store.zero_grads();
  linear_backward_weight(ex, x.view(), dy.view(), m.store.grad(m.w0));
  for (const char* kind : {"fwd", "dgrad", "wgrad"}) {
    const Fp8SiteState& s = fp8.sites().site(*fp8.sites().find(std::string("layers.0.up_proj.weight ") + kind));
    EXPECT_EQ(s.calls, 1) << kind;
    EXPECT_FALSE(s.fallen_back) << kind;
    EXPECT_LT(s.max_error, 0.1) << kind;  // FP8 rounding alone: about 0.035 to 0.06
  }
  EXPECT_EQ(fp8.sites().site(*fp8.sites().find("layers.0.down_proj.weight fwd")).calls, 0);
  // The quantized product differs from the BF16 one, but only by FP8's rounding.
  Buffer y_bf16(DType::kF32, {kRows, kOut});
  Exec bf16 = Exec::cpu();
  bf16.matmul = Precision::kBf16;
  linear_forward(bf16, x.view(), m.store.param(m.w0), y_bf16.view());
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < y.view().numel(); ++i) {
    const double d = element(y.view(), i) - element(y_bf16.view(), i);
    diff += d * d;
    norm += element(y_bf16.view(), i) * element(y_bf16.view(), i);
  }
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(std::sqrt(diff / norm), 0.1);
  // A weight that is no parameter runs unquantized: equal to BF16 exactly.
  Buffer w_copy = convert(m.store.param(m.w0), DType::kF32);
  linear_forward(ex, x.view(), w_copy.view(), y.view());
  EXPECT_TRUE(tensors_near(y.view(), y_bf16.view(), {0.0, 0.0}));
}

TEST(Fp8Linears, AnOutlierMakesItsSiteFallBackToBf16AndOthersStay) {
  TwoLinears m;
  Fp8Linears fp8(tensor_recipe(), m.store);
  fp8.set_step(7);
  const Exec ex = fp8_exec(fp8);
  Buffer x = random_buffer(DType::kF32, {kRows, kIn}, 5);
  Buffer y(DType::kF32, {kRows, kOut});
  linear_forward(ex, x.view(), m.store.param(m.w0), y.view());
  EXPECT_TRUE(fp8.take_new_fallbacks().empty());
  // One activation of 1e6 among values below 1: per-tensor scaling flushes the others to zero.
  set_element(x.view(), 3, 1e6);
  linear_forward(ex, x.view(), m.store.param(m.w0), y.view());
  const std::vector<Fp8Fallback> fell = fp8.take_new_fallbacks();
  ASSERT_EQ(fell.size(), 1u);
  EXPECT_EQ(fell[0].site, "layers.0.up_proj.weight fwd");
  EXPECT_EQ(fell[0].step, 7);
  EXPECT_GT(fell[0].error.worst(), 0.25);
  // From then on the site runs BF16: the result equals a BF16 linear.
  Buffer y_bf16(DType::kF32, {kRows, kOut});
  Exec bf16 = Exec::cpu();
  bf16.matmul = Precision::kBf16;
  linear_forward(bf16, x.view(), m.store.param(m.w0), y_bf16.view());
  linear_forward(ex, x.view(), m.store.param(m.w0), y.view());
  EXPECT_TRUE(tensors_near(y.view(), y_bf16.view(), {0.0, 0.0}));
  const Fp8Linears::Totals t = fp8.totals();
  EXPECT_EQ(t.fallen_back, 1);
  EXPECT_EQ(t.active, 0);
}

TEST(Fp8Linears, ReplicasAgreeOnFallbacksAndAmaxWindows) {
  Fp8Recipe recipe = tensor_recipe();
  recipe.scaling = Fp8Scaling::kDelayed;
  TwoLinears a, b;
  Fp8Linears fa(recipe, a.store), fb(recipe, b.store);
  Buffer x = random_buffer(DType::kF32, {kRows, kIn}, 6), y(DType::kF32, {kRows, kOut});
  linear_forward(fp8_exec(fa), x.view(), a.store.param(a.w0), y.view());
  Buffer x2 = random_buffer(DType::kF32, {kRows, kIn}, 7, -4.0, 4.0);
  set_element(x2.view(), 0, 1e6);  // replica b's site falls back
  linear_forward(fp8_exec(fb), x2.view(), b.store.param(b.w0), y.view());
  // The ranks agree: an element-wise max of the packed states, adopted by both.
  const int64_t width = fa.site_state_width();
  for (Fp8SiteId i = 0; i < fa.sites().size(); ++i) {
    std::vector<double> sa(static_cast<size_t>(width)), sb(static_cast<size_t>(width));
    fa.pack_site(i, sa);
    fb.pack_site(i, sb);
    for (size_t k = 0; k < sa.size(); ++k) sa[k] = std::max(sa[k], sb[k]);
    fa.unpack_site(i, sa);
    fb.unpack_site(i, sa);
  }
  const Fp8SiteId site = *fa.sites().find("layers.0.up_proj.weight fwd");
  EXPECT_TRUE(fa.sites().site(site).fallen_back);
  const std::vector<Fp8Fallback> adopted = fa.take_new_fallbacks();
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_TRUE(adopted[0].from_replica);
  EXPECT_EQ(fa.sites().site(site).history_a.max(), 1e6f);
  EXPECT_EQ(fa.to_json(), fb.to_json());
}

TEST(Fp8Linears, StateRoundTripsThroughJsonAndBadStateIsNamed) {
  Fp8Recipe recipe = tensor_recipe();
  recipe.scaling = Fp8Scaling::kDelayed;
  TwoLinears a, b;
  Fp8Linears fa(recipe, a.store), fb(recipe, b.store);
  Buffer x = random_buffer(DType::kF32, {kRows, kIn}, 8), y(DType::kF32, {kRows, kOut});
  for (int i = 0; i < 3; ++i) linear_forward(fp8_exec(fa), x.view(), a.store.param(a.w0), y.view());
  const nlohmann::json saved = fa.to_json();
  ASSERT_TRUE(fb.from_json(saved, "manifest.json").is_ok());
  EXPECT_EQ(fb.to_json(), saved);
  // Another stage's sites are skipped.
  nlohmann::json other = saved;
  other["sites"]["layers.9.up_proj.weight fwd"] = saved["sites"].begin().value();
  EXPECT_TRUE(fb.from_json(other, "ckpt/manifest.json").is_ok());
  EXPECT_EQ(fb.to_json(), saved);
  nlohmann::json bad = saved;
  bad["sites"].begin().value()["amax"][0]["slots"] = std::vector<float>{1.f};
  Status s = fb.from_json(bad, "ckpt/manifest.json");
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("ckpt/manifest.json"));
  EXPECT_THAT(s.message(), HasSubstr("amax window 0 must hold 16"));
  bad = saved;
  bad["sites"].begin().value()["calls"] = "three";
  EXPECT_THAT(fb.from_json(bad, "m.json").message(), HasSubstr("calls"));
}

}  // namespace
}  // namespace symphony

#include "model/transformer.h"

#include <fmt/format.h>
#include <gmock/gmock.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "kernels/gemm.h"
#include "model/init.h"
#include "model/memory_plan.h"
#include "tensor/memory_stats.h"
#include "testkit/gradient_check.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

ModelConfig grad_check_config() {
  ModelConfig c;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.qk_norm = true;
  c.tie_word_embeddings = false;
  c.intermediate_size = 12;
  c.first_k_dense_replace = 1;
  c.num_experts = 4;
  c.num_experts_per_tok = 2;
  c.moe_intermediate_size = 6;
  c.n_shared_experts = 1;
  c.router_aux_loss_coef = 0.05;
  c.router_z_loss_coef = 0.01;
  c.initializer_range = 0.5;  // large enough that every term has a visible gradient
  return c;
}

// grad_check_config with multi-head latent attention in place of GQA with QK-norm.
ModelConfig mla_grad_check_config(int64_t q_lora_rank = 7) {
  ModelConfig c = grad_check_config();
  c.qk_norm = false;
  c.q_lora_rank = q_lora_rank;
  c.kv_lora_rank = 5;
  c.qk_rope_head_dim = 4;
  c.qk_nope_head_dim = 3;
  c.v_head_dim = 6;
  return c;
}

using Batch = testkit::TokenBatch;

Batch random_batch(const ModelConfig& c, BatchShape shape, uint64_t seed) {
  return testkit::random_token_batch(c.vocab_size, shape, seed, /*ignored_row=*/1);
}

// Total objective of one micro-batch: mean CE + router losses.
double objective(Transformer& model, const Exec& ex, const Batch& b, const LossScales& scales) {
  model.reset_moe_stats();
  model.params().zero_grads();
  CrossEntropyResult ce = model.forward_backward(ex, b.shape, b.tokens, b.targets, scales);
  double total = ce.loss_sum * scales.token;
  for (const MoeStats& s : model.moe_stats())
    total += scales.aux * (s.aux_loss + s.seq_aux_loss + s.z_loss);
  return total;
}

void check_gradients(const ModelConfig& config, Recompute recompute) {
  BatchShape shape{2, 5};
  Transformer model(config, DType::kF64, shape, recompute);
  init_params(config, 7, model.params());
  Batch b = random_batch(config, shape, 99);
  LossScales scales{1.0 / 9.0, 1.0};
  Exec ex = Exec::reference();
  const int64_t checked = testkit::check_gradients_by_differences(
      model.params(), [&] { return objective(model, ex, b, scales); });
  EXPECT_GT(checked, 40);
}

TEST(Transformer, GradientsMatchFiniteDifferences) {
  check_gradients(grad_check_config(), Recompute::kNone);
}

TEST(Transformer, GradientsMatchFiniteDifferencesTiedDenseNoQkNorm) {
  ModelConfig c = grad_check_config();
  c.tie_word_embeddings = true;
  c.qk_norm = false;
  c.num_experts = 0;
  c.num_key_value_heads = 2;
  check_gradients(c, Recompute::kNone);
}

TEST(Transformer, GradientsMatchFiniteDifferencesWithCapacityDropsAndRecompute) {
  ModelConfig c = grad_check_config();
  c.first_k_dense_replace = 0;
  c.capacity_factor = 1.0;
  c.norm_topk_prob = false;
  c.n_shared_experts = 0;
  check_gradients(c, Recompute::kFull);
}

// DeepSeek-V3's routing (sigmoid scores, group-limited selection, a routed scaling factor, the
// sequence-wise balance loss beside the others) and Ling 2.0's partial RoPE with QK-norm.
ModelConfig published_routing_config() {
  ModelConfig c = grad_check_config();
  c.num_experts = 8;
  c.num_experts_per_tok = 3;
  c.scoring_func = RouterScoring::kSigmoid;
  c.n_group = 4;
  c.topk_group = 2;
  c.routed_scaling_factor = 2.5;
  c.router_seq_aux_loss_coef = 0.3;
  c.partial_rotary_factor = 0.5;
  return c;
}

TEST(Transformer, GradientsMatchFiniteDifferencesWithPublishedRoutingAndPartialRope) {
  check_gradients(published_routing_config(), Recompute::kNone);
}

TEST(Transformer, GradientsMatchFiniteDifferencesWithSoftmaxGroupsNoNormAndRecompute) {
  ModelConfig c = published_routing_config();
  c.scoring_func = RouterScoring::kSoftmax;
  c.norm_topk_prob = false;
  c.qk_norm = false;
  check_gradients(c, Recompute::kFull);
}

TEST(Transformer, GradientsMatchFiniteDifferencesMla) {
  check_gradients(mla_grad_check_config(), Recompute::kNone);
}

TEST(Transformer, GradientsMatchFiniteDifferencesMlaWithoutQueryCompressionAndRecompute) {
  ModelConfig c = mla_grad_check_config(/*q_lora_rank=*/0);
  c.tie_word_embeddings = true;
  check_gradients(c, Recompute::kFull);
}

TEST(Transformer, RecomputeGivesBitwiseIdenticalGradients) {
  ModelConfig gqa = grad_check_config();
  gqa.hidden_size = 32;
  gqa.head_dim = 8;
  ModelConfig mla = mla_grad_check_config();
  mla.hidden_size = 32;
  for (const ModelConfig& c : {gqa, mla}) {
    SCOPED_TRACE(c.mla() ? "mla" : "gqa");
    BatchShape shape{2, 16};
    Batch b = random_batch(c, shape, 5);
    std::vector<std::vector<float>> grads;
    for (Recompute mode : {Recompute::kNone, Recompute::kFull}) {
      Transformer model(c, DType::kF32, shape, mode);
      init_params(c, 3, model.params());
      model.forward_backward(Exec::cpu(), shape, b.tokens, b.targets, LossScales{1.0 / 31, 1.0});
      ConstView g = model.params().all_grads();
      grads.emplace_back(g.f32(), g.f32() + g.numel());
    }
    EXPECT_EQ(grads[0], grads[1]);
  }
}

// The GQA and MLA variants of grad_check_config that the kernel comparisons below run, at a
// width where the fast kernels' vector paths are taken.
std::vector<ModelConfig> kernel_check_configs() {
  ModelConfig gqa = grad_check_config();
  gqa.head_dim = 8;
  std::vector<ModelConfig> out = {gqa, mla_grad_check_config()};
  for (ModelConfig& c : out) {
    c.hidden_size = 32;
    c.initializer_range = 0.1;
  }
  return out;
}

// sqrt(sum (a - ref)^2 / sum ref^2) over every element: single elements near zero may change
// sign.
double normwise_relative(const Buffer& a, const Buffer& ref) {
  double diff2 = 0, norm2 = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.f32()[i], e = a.f32()[i] - r;
    diff2 += e * e;
    norm2 += r * r;
  }
  return std::sqrt(diff2 / norm2);
}

// A pipeline's last stage that runs the loss in its forward passes (PipelineStages::
// loss_in_forward: GPipe) returns the loss from forward_chunk and none from backward_chunk; with
// two micro-batches in two slots, both forwards before either backward, the gradients are bitwise
// those of the loss fused into the backward, untied and tied, and evaluation gives the same loss.
// With the reference kernels (which have no two-pass loss) the loss stays in the backward, with
// the same gradients. The memory plan counts each slot's kept logit gradients.
TEST(Transformer, LossInTheForwardIsTheFusedLossBitwise) {
  for (bool tied : {false, true})
    for (bool reference : {false, true}) {
      SCOPED_TRACE(fmt::format("{}{}", tied ? "tied" : "untied", reference ? ", reference" : ""));
      ModelConfig c = kernel_check_configs()[0];
      c.tie_word_embeddings = tied;
      const BatchShape shape{2, 16};
      const Batch b[2] = {random_batch(c, shape, 11), random_batch(c, shape, 12)};
      const LossScales scales{1.0 / 60, 0.5};
      ModelParallel parallel;
      parallel.placement.pipeline.in_flight = 2;
      parallel.placement.pipeline.loss_in_forward = true;
      const MemorySnapshot before = memory_stats_snapshot();
      Transformer split(c, DType::kF32, shape, Recompute::kNone, {}, parallel);
      const int64_t allocated = memory_stats_snapshot().current_bytes[size_t(
                                    MemoryCategory::kActivations)] -
                                before.current_bytes[size_t(MemoryCategory::kActivations)];
      EXPECT_EQ(allocated, plan_training_memory(c, DType::kF32, shape, Recompute::kNone,
                                                parallel.placement)
                               .activations);
      Transformer fused(c, DType::kF32, shape, Recompute::kNone);
      init_params(c, 3, fused.params());
      init_params(c, 3, split.params());
      const Exec ex = reference ? Exec::reference() : Exec::cpu();
      CrossEntropyResult want[2], got[2], back[2];
      for (int mb = 0; mb < 2; ++mb)
        want[mb] = fused.forward_backward(ex, shape, b[mb].tokens, b[mb].targets, scales);
      for (int mb = 0; mb < 2; ++mb)
        got[mb] =
            split.forward_chunk(ex, shape, 0, mb, b[mb].tokens, b[mb].targets, scales, true);
      for (int mb = 0; mb < 2; ++mb)
        back[mb] = split.backward_chunk(ex, shape, 0, mb, b[mb].tokens, b[mb].targets,
                                        ConstView(), scales, View());
      for (int mb = 0; mb < 2; ++mb) {
        const CrossEntropyResult& loss = reference ? back[mb] : got[mb];
        const CrossEntropyResult& none = reference ? got[mb] : back[mb];
        EXPECT_EQ(none.count, 0);
        EXPECT_EQ(loss.loss_sum, want[mb].loss_sum);
        EXPECT_EQ(loss.count, want[mb].count);
        EXPECT_GT(loss.count, 0);
      }
      ConstView gf = fused.params().all_grads(), gs = split.params().all_grads();
      ASSERT_EQ(gf.numel(), gs.numel());
      EXPECT_EQ(std::memcmp(gf.f32(), gs.f32(), size_t(gf.numel()) * sizeof(float)), 0);
      EXPECT_EQ(split.evaluate(ex, shape, b[0].tokens, b[0].targets).loss_sum,
                fused.evaluate(ex, shape, b[0].tokens, b[0].targets).loss_sum);
    }
}

TEST(Transformer, FastKernelsMatchReferenceKernels) {
  for (const ModelConfig& c : kernel_check_configs()) {
    SCOPED_TRACE(c.mla() ? "mla" : "gqa");
    BatchShape shape{2, 16};
    Batch b = random_batch(c, shape, 5);
    std::vector<Buffer> grads;
    std::vector<double> losses;
    for (Exec ex : {Exec::cpu(), Exec::reference()}) {
      Transformer model(c, DType::kF32, shape, Recompute::kNone);
      init_params(c, 3, model.params());
      losses.push_back(
          model.forward_backward(ex, shape, b.tokens, b.targets, LossScales{1.0 / 31, 1.0})
              .loss_sum);
      grads.push_back(testkit::convert(model.params().all_grads(), DType::kF32));
    }
    EXPECT_NEAR(losses[0], losses[1], 1e-4 * std::abs(losses[1]));
    EXPECT_TENSOR_NEAR(grads[0].view(), grads[1].view(), (testkit::Tolerance{1e-5, 2e-3}));
  }
}

// BF16 GEMMs through the whole model. Fast and reference kernels round the same GEMM inputs to
// bf16 and differ only in fp32 summation order, except where an input lies so near a rounding
// boundary that the two versions' slightly different values round apart (a 2^-8 relative step in
// that element): hence a looser tolerance than the fp32 comparison above. Against fp32 GEMMs the
// loss moves by about the bf16 rounding (2^-9 relative per input); the gradients, through
// chains of rounded GEMMs and the softmaxes' sensitivity, by a few percent normwise, but
// visibly: the rounding is really applied.
TEST(Transformer, Bf16GemmsMatchTheirReferenceAndStayNearFp32) {
  for (const ModelConfig& c : kernel_check_configs()) {
    SCOPED_TRACE(c.mla() ? "mla" : "gqa");
    BatchShape shape{2, 16};
    Batch b = random_batch(c, shape, 5);
    std::vector<Buffer> grads;
    std::vector<double> losses;
    for (Exec ex : {Exec::cpu().with_matmul(Precision::kBf16),
                    Exec::reference().with_matmul(Precision::kBf16), Exec::cpu()}) {
      Transformer model(c, DType::kF32, shape, Recompute::kNone);
      init_params(c, 3, model.params());
      losses.push_back(
          model.forward_backward(ex, shape, b.tokens, b.targets, LossScales{1.0 / 31, 1.0})
              .loss_sum);
      grads.push_back(testkit::convert(model.params().all_grads(), DType::kF32));
    }
    EXPECT_NEAR(losses[0], losses[1], 1e-4 * std::abs(losses[1]));
    EXPECT_TENSOR_NEAR(grads[0].view(), grads[1].view(), (testkit::Tolerance{1e-4, 2e-2}));
    EXPECT_NEAR(losses[0], losses[2], 1e-2 * std::abs(losses[2]));
    EXPECT_NE(losses[0], losses[2]);
    const double rel = normwise_relative(grads[0], grads[2]);
    fmt::print("bf16 loss {} ref {} fp32 {}; gradients vs fp32: {:.3}% normwise\n", losses[0],
               losses[1], losses[2], 100 * rel);
    EXPECT_LT(rel, 0.08);  // measured: 0.7% (GQA), 2.7% (MLA)
    EXPECT_GT(rel, 1e-4);
  }
}

// Activations saved in bf16 (model/act_stash.h) under bf16 GEMMs: the forward pass runs on the
// same fp32 values (the loss is bitwise the same); the backward pass reads the attention's q, k,
// v and output (MLA's latents), the SwiGLUs' g and u (a recomputed from them) and the experts'
// outputs rounded to bf16, and the normed inputs recomputed bitwise, so the gradients move by
// about that rounding: visibly, and far less than bf16 GEMMs move them from fp32 (0.7-2.7% above).
// Dense, MoE and shared-expert layers, with GQA (with and without qk_norm) and with MLA; fast and
// reference kernels; two runs bitwise equal.
TEST(Transformer, Bf16SavedActivationsKeepTheLossAndMoveGradientsByTheirRounding) {
  std::vector<ModelConfig> configs = kernel_check_configs();
  configs.push_back(configs[0]);
  configs.back().qk_norm = false;
  for (const ModelConfig& c : configs)
    for (Exec ex : {Exec::cpu(), Exec::reference()}) {
      SCOPED_TRACE(fmt::format("{}{}{}", c.mla() ? "mla" : "gqa", c.qk_norm ? " qk_norm" : "",
                               ex.impl == KernelImpl::kRef ? " reference kernels" : ""));
      const BatchShape shape{2, 16};
      const Batch b = random_batch(c, shape, 5);
      std::vector<Buffer> grads;
      std::vector<double> losses;
      for (Precision saved : {Precision::kFp32, Precision::kBf16, Precision::kBf16}) {
        Transformer model(c, DType::kF32, shape, Recompute::kNone, {}, {}, saved);
        init_params(c, 3, model.params());
        losses.push_back(model
                             .forward_backward(ex.with_matmul(Precision::kBf16), shape, b.tokens,
                                               b.targets, LossScales{1.0 / 31, 1.0})
                             .loss_sum);
        grads.push_back(testkit::convert(model.params().all_grads(), DType::kF32));
      }
      EXPECT_EQ(losses[1], losses[0]);
      EXPECT_EQ(losses[2], losses[1]);
      EXPECT_EQ(std::memcmp(grads[1].f32(), grads[2].f32(), size_t(grads[1].bytes())), 0);
      const double rel = normwise_relative(grads[1], grads[0]);
      fmt::print("bf16-saved activations: gradients {:.3}% normwise from fp32-saved\n",
                 100 * rel);
      EXPECT_LT(rel, 0.01);
      EXPECT_GT(rel, 1e-5);
    }
}

// Operands shared by several bf16 GEMMs (kernels/gemm.h Bf16SharedOperand: a projection's input,
// a gradient feeding the input- and the weight-gradient GEMM, the LM head's logit gradients) are
// converted once: the loss and gradients are bitwise those of converting every GEMM's inputs
// itself, with fewer elements converted. Dense, MoE and shared-expert layers, GQA and MLA,
// activations kept in fp32 and in bf16.
TEST(Transformer, SharedBf16OperandsKeepTheGradientsBitwise) {
  for (const ModelConfig& c : kernel_check_configs())
    for (Precision saved : {Precision::kFp32, Precision::kBf16}) {
      SCOPED_TRACE(fmt::format("{}, {}-saved", c.mla() ? "mla" : "gqa", precision_name(saved)));
      const BatchShape shape{2, 16};
      const Batch b = random_batch(c, shape, 5);
      std::vector<Buffer> grads;
      std::vector<double> losses;
      std::vector<int64_t> converted;
      for (bool sharing : {false, true}) {
        Bf16SharedOperand::set_enabled(sharing);
        Transformer model(c, DType::kF32, shape, Recompute::kNone, {}, {}, saved);
        init_params(c, 3, model.params());
        const int64_t before = cpu::gemm_bf16_converted_elems();
        losses.push_back(model
                             .forward_backward(Exec::cpu().with_matmul(Precision::kBf16), shape,
                                               b.tokens, b.targets, LossScales{1.0 / 31, 1.0})
                             .loss_sum);
        converted.push_back(cpu::gemm_bf16_converted_elems() - before);
        grads.push_back(testkit::convert(model.params().all_grads(), DType::kF32));
      }
      Bf16SharedOperand::set_enabled(true);
      EXPECT_EQ(losses[1], losses[0]);
      EXPECT_EQ(std::memcmp(grads[1].f32(), grads[0].f32(), size_t(grads[0].bytes())), 0);
      EXPECT_LT(converted[1], converted[0]);
      fmt::print("shared bf16 operands: {} elements converted, {} without\n", converted[1],
                 converted[0]);
    }
}

void check_decode_matches_full_forward(ModelConfig c) {
  c.hidden_size = 32;
  c.head_dim = 8;
  const int64_t t = 9;
  Batch b = random_batch(c, {1, t}, 17);
  // Logits of the last position from a full forward (evaluate's fused head gives only the loss,
  // so compare through decode of the whole prompt against prompt-then-one-token decoding).
  Transformer model(c, DType::kF64, {1, t}, Recompute::kFull);
  init_params(c, 3, model.params());
  Buffer full(DType::kF64, {c.vocab_size}), incremental(DType::kF64, {c.vocab_size});
  std::vector<KvCache> caches = model.make_kv_caches();
  model.decode(Exec::reference(), b.tokens, caches, full.view());
  std::vector<KvCache> caches2 = model.make_kv_caches();
  std::span<const int32_t> all(b.tokens);
  model.decode(Exec::reference(), all.subspan(0, t - 3), caches2, incremental.view());
  model.decode(Exec::reference(), all.subspan(t - 3, 2), caches2, incremental.view());
  model.decode(Exec::reference(), all.subspan(t - 1, 1), caches2, incremental.view());
  EXPECT_TENSOR_NEAR(incremental.view(), full.view(), (testkit::Tolerance{1e-10, 1e-9}));
  // And decode agrees with the training forward: the CE of the last target from logits.
  double mx = -1e300, sum = 0;
  for (int64_t v = 0; v < c.vocab_size; ++v) mx = std::max(mx, full.data<double>()[v]);
  for (int64_t v = 0; v < c.vocab_size; ++v) sum += std::exp(full.data<double>()[v] - mx);
  int32_t target = b.targets[size_t(t - 1)];
  double want = mx + std::log(sum) - full.data<double>()[target];
  std::vector<int32_t> only_last(size_t(t), -1);
  only_last[size_t(t - 1)] = target;
  CrossEntropyResult ce = model.evaluate(Exec::reference(), {1, t}, b.tokens, only_last);
  EXPECT_EQ(ce.count, 1);
  EXPECT_NEAR(ce.loss_sum, want, 1e-10);
}

TEST(Transformer, DecodeMatchesFullForward) { check_decode_matches_full_forward(grad_check_config()); }

TEST(Transformer, DecodeMatchesFullForwardWithPublishedRoutingAndPartialRope) {
  check_decode_matches_full_forward(published_routing_config());
}

// Cached MLA decoding attends over the latent cache with absorbed weights; the training forward
// over full keys and values is its uncached reference. Every position's log-probabilities from
// decoding (prompt in pieces, then token by token) against the training forward's, read through
// the loss: CE(target v at position t) = -log p_t(v).
TEST(Transformer, MlaCachedDecodeMatchesUncachedForward) {
  for (int64_t q_lora : {7, 0}) {
    SCOPED_TRACE(fmt::format("q_lora_rank {}", q_lora));
    ModelConfig c = mla_grad_check_config(q_lora);
    c.hidden_size = 32;
    c.initializer_range = 0.3;
    const int64_t t = 9, v = c.vocab_size;
    Batch b = random_batch(c, {1, t}, 17);
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(dtype_name(dtype));
      const Exec ex = dtype == DType::kF64 ? Exec::reference() : Exec::cpu();
      Transformer model(c, dtype, {1, t}, Recompute::kNone);
      init_params(c, 3, model.params());
      std::vector<KvCache> caches = model.make_kv_caches();
      EXPECT_EQ(caches[0].latent.shape(), (Shape{t, 5 + 4}));
      EXPECT_TRUE(caches[0].k.empty() && caches[0].v.empty());
      Buffer logits(dtype, {v});
      std::span<const int32_t> all(b.tokens);
      double worst = 0;
      for (int64_t pos = 0; pos < t; ++pos) {
        // Positions 0-3 arrive as one prompt, the rest one by one.
        if (pos < 3) continue;
        if (pos == 3)
          model.decode(ex, all.subspan(0, 4), caches, logits.view());
        else
          model.decode(ex, all.subspan(size_t(pos), 1), caches, logits.view());
        double mx = -1e300, sum = 0;
        for (int64_t i = 0; i < v; ++i) mx = std::max(mx, testkit::element(logits.view(), i));
        for (int64_t i = 0; i < v; ++i) sum += std::exp(testkit::element(logits.view(), i) - mx);
        for (int64_t i = 0; i < v; ++i) {
          std::vector<int32_t> one(size_t(t), -1);
          one[size_t(pos)] = int32_t(i);
          const CrossEntropyResult ce = model.evaluate(ex, {1, t}, b.tokens, one);
          const double decoded = testkit::element(logits.view(), i) - mx - std::log(sum);
          worst = std::max(worst, std::abs(-ce.loss_sum - decoded));
        }
      }
      EXPECT_LT(worst, dtype == DType::kF64 ? 1e-10 : 1e-4);
    }
  }
}

TEST(TransformerCreate, RefusesAModelLargerThanTheMemoryBeforeAllocating) {
  ModelConfig c = grad_check_config();
  c.vocab_size = 100'000;
  c.hidden_size = 64;
  HostMemory host;
  host.mem_available = int64_t(1) << 20;
  const MemorySnapshot before = memory_stats_snapshot();
  Result<std::unique_ptr<Transformer>> model =
      Transformer::create(c, DType::kF32, {1, 1}, Recompute::kFull, {}, host);
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(model.error().message(),
              testing::MatchesRegex("the model needs [0-9.]+ MiB for [0-9]+ parameters and a batch "
                                    "of 1 x 1 tokens \\(weights [0-9.]+ MiB the largest; the "
                                    "largest tensor is model.embed_tokens.weight \\[100000, 64\\]\\) "
                                    "but 1.0 MiB is available \\(MemAvailable; cgroup limit none\\)"));
  EXPECT_EQ(memory_stats_snapshot().total_current_bytes, before.total_current_bytes);
}

TEST(TransformerCreate, NamesTheBatchWhenActivationsDominate) {
  const ModelConfig c = grad_check_config();
  HostMemory host;
  host.mem_available = int64_t(64) << 20;
  Result<std::unique_ptr<Transformer>> model =
      Transformer::create(c, DType::kF32, {64, 4096}, Recompute::kNone, {}, host);
  ASSERT_FALSE(model.has_value());
  EXPECT_THAT(model.error().message(),
              testing::HasSubstr("a batch of 64 x 4096 tokens (activations "));
  EXPECT_THAT(model.error().message(), testing::Not(testing::HasSubstr("largest tensor")));
}

// The planner costs other block kinds; the engine refuses to train them, naming the keys.
TEST(TransformerCreate, RefusesBlockVariantsItDoesNotTrain) {
  for (int variant = 0; variant < 3; ++variant) {
    ModelConfig c = grad_check_config();
    if (variant == 0) c.mlp_kind = MlpKind::kGelu;
    if (variant == 1) c.parallel_attn = true;
    if (variant == 2) c.sliding_window = 4;
    Result<std::unique_ptr<Transformer>> model =
        Transformer::create(c, DType::kF32, {2, 8}, Recompute::kNone, {}, HostMemory{});
    ASSERT_FALSE(model.has_value());
    EXPECT_NE(model.error().message().find("model.mlp_kind"), std::string::npos);
    EXPECT_NE(model.error().message().find("costed by `symphony plan` only"), std::string::npos);
  }
}

TEST(TransformerCreate, BuildsWhatFitsOrWhenMemoryIsUnknown) {
  const ModelConfig c = grad_check_config();
  HostMemory host;
  host.mem_available = int64_t(1) << 30;
  Result<std::unique_ptr<Transformer>> model =
      Transformer::create(c, DType::kF32, {2, 8}, Recompute::kNone, {}, host);
  ASSERT_TRUE(model.has_value()) << model.error().message();
  EXPECT_EQ((*model)->params().numel(), Transformer::param_numel(c));
  EXPECT_TRUE(Transformer::create(c, DType::kF32, {2, 8}, Recompute::kNone, {}, HostMemory{})
                  .has_value());
}

TEST(TransformerCreate, RefusesInvalidConfigsAndOverflowingShapes) {
  ModelConfig c = grad_check_config();
  const HostMemory unknown;
  Result<std::unique_ptr<Transformer>> shape_overflow = Transformer::create(
      c, DType::kF32, {int64_t(1) << 40, int64_t(1) << 20}, Recompute::kNone, {}, unknown);
  ASSERT_FALSE(shape_overflow.has_value());
  EXPECT_THAT(shape_overflow.error().message(), testing::HasSubstr("overflows 64-bit byte counts"));
  c.num_hidden_layers = int64_t(1) << 31;
  Result<std::unique_ptr<Transformer>> invalid =
      Transformer::create(c, DType::kF32, {1, 1}, Recompute::kNone, {}, unknown);
  ASSERT_FALSE(invalid.has_value());
  EXPECT_THAT(invalid.error().message(),
              testing::HasSubstr("model.num_hidden_layers = 2147483648 must be at most 65536"));
}

TEST(TransformerCreate, RefusesSelectiveRecomputation) {
  Result<std::unique_ptr<Transformer>> model = Transformer::create(
      grad_check_config(), DType::kF32, {1, 8}, Recompute::kSelective, {}, HostMemory{});
  ASSERT_FALSE(model.has_value());
  EXPECT_THAT(model.error().message(), testing::HasSubstr("recompute = \"selective\""));
}

}  // namespace
}  // namespace symphony

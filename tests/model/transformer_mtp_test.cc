// Multi-token prediction (model/transformer_mtp.cc, model/mtp_block.h):
//   - the main loss and each depth's MTP loss equal a plainly written reference of DeepSeek-V3's
//     definition (each depth on the sequence shortened by k, h^0 the last layer's output);
//   - the gradients of the whole objective (main CE, lambda / D times each depth's mean CE, the
//     router losses of every MoE layer, the MTP layers' included) match central finite
//     differences in double, for D = 1 and 2, tied and untied, with full recomputation;
//   - full recomputation gives bitwise the gradients of none;
//   - a tiny MoE model with D = 1 and D = 2 trains (both losses fall) and reruns bitwise.
#include <gmock/gmock.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "model/init.h"
#include "model/transformer.h"
#include "testkit/gradient_check.h"
#include "train/train_step.h"
#include "zero/data_parallel.h"

namespace symphony {
namespace {

// ---------------------------------------------------------------------------------------------
// The reference: a dense model in double, one function per formula, on plain vectors.

using Matrix = std::vector<double>;  // row-major (rows, cols)

struct Weights {
  const Transformer& model;
  Matrix get(const std::string& name) const {
    const ParamId id = model.params().find(name);
    SYM_CHECK(id >= 0, "no tensor {}", name);
    ConstView v = model.params().param(id);
    return Matrix(v.data<double>(), v.data<double>() + v.numel());
  }
};

Matrix rmsnorm(const Matrix& x, const Matrix& w, double eps) {
  const size_t d = w.size(), rows = x.size() / d;
  Matrix y(x.size());
  for (size_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (size_t j = 0; j < d; ++j) ss += x[r * d + j] * x[r * d + j];
    const double inv = 1.0 / std::sqrt(ss / double(d) + eps);
    for (size_t j = 0; j < d; ++j) y[r * d + j] = x[r * d + j] * inv * w[j];
  }
  return y;
}

// y = x · W^T, W: (out, in).
Matrix linear(const Matrix& x, const Matrix& w, size_t in) {
  const size_t rows = x.size() / in, out = w.size() / in;
  Matrix y(rows * out, 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < out; ++o)
      for (size_t i = 0; i < in; ++i) y[r * out + o] += x[r * in + i] * w[o * in + i];
  return y;
}

// Rotate-half RoPE of each head of row t (position t of its sequence).
void rope(Matrix& x, size_t seq, size_t heads, size_t dh, double theta) {
  const size_t rows = x.size() / (heads * dh), half = dh / 2;
  for (size_t r = 0; r < rows; ++r)
    for (size_t h = 0; h < heads; ++h)
      for (size_t i = 0; i < half; ++i) {
        const double angle = double(r % seq) * std::pow(theta, -2.0 * double(i) / double(dh));
        double& a = x[r * heads * dh + h * dh + i];
        double& b = x[r * heads * dh + h * dh + i + half];
        const double xa = a, xb = b;
        a = xa * std::cos(angle) - xb * std::sin(angle);
        b = xb * std::cos(angle) + xa * std::sin(angle);
      }
}

// One dense decoder layer on `batch` sequences of `seq` rows each.
Matrix layer(const Weights& w, const ModelConfig& c, int64_t index, const Matrix& x, size_t batch,
             size_t seq) {
  const std::string p = "model.layers." + std::to_string(index);
  const size_t d = size_t(c.hidden_size), heads = size_t(c.num_attention_heads);
  const size_t kv_heads = size_t(c.num_key_value_heads), dh = size_t(c.head_dim);
  const Matrix h = rmsnorm(x, w.get(p + ".input_layernorm.weight"), c.rms_norm_eps);
  Matrix q = linear(h, w.get(p + ".self_attn.q_proj.weight"), d);
  Matrix k = linear(h, w.get(p + ".self_attn.k_proj.weight"), d);
  const Matrix v = linear(h, w.get(p + ".self_attn.v_proj.weight"), d);
  rope(q, seq, heads, dh, c.rope_theta);
  rope(k, seq, kv_heads, dh, c.rope_theta);
  Matrix att(batch * seq * heads * dh, 0.0);
  for (size_t b = 0; b < batch; ++b)
    for (size_t hd = 0; hd < heads; ++hd) {
      const size_t g = hd / (heads / kv_heads);
      for (size_t i = 0; i < seq; ++i) {
        std::vector<double> s(i + 1);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (size_t e = 0; e < dh; ++e)
            dot += q[((b * seq + i) * heads + hd) * dh + e] *
                   k[((b * seq + j) * kv_heads + g) * dh + e];
          s[j] = dot / std::sqrt(double(dh));
          mx = std::max(mx, s[j]);
        }
        for (size_t j = 0; j <= i; ++j) sum += std::exp(s[j] - mx);
        for (size_t j = 0; j <= i; ++j)
          for (size_t e = 0; e < dh; ++e)
            att[((b * seq + i) * heads + hd) * dh + e] +=
                std::exp(s[j] - mx) / sum * v[((b * seq + j) * kv_heads + g) * dh + e];
      }
    }
  const Matrix o = linear(att, w.get(p + ".self_attn.o_proj.weight"), heads * dh);
  Matrix mid(x.size());
  for (size_t i = 0; i < x.size(); ++i) mid[i] = x[i] + o[i];
  const Matrix h2 = rmsnorm(mid, w.get(p + ".post_attention_layernorm.weight"), c.rms_norm_eps);
  const Matrix gate = linear(h2, w.get(p + ".mlp.gate_proj.weight"), d);
  const Matrix up = linear(h2, w.get(p + ".mlp.up_proj.weight"), d);
  Matrix a(gate.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
  const Matrix down = linear(a, w.get(p + ".mlp.down_proj.weight"), size_t(c.intermediate_size));
  for (size_t i = 0; i < mid.size(); ++i) mid[i] += down[i];
  return mid;
}

Matrix embed(const Weights& w, const ModelConfig& c, const std::vector<int32_t>& ids) {
  const Matrix table = w.get("model.embed_tokens.weight");
  const size_t d = size_t(c.hidden_size);
  Matrix x;
  for (int32_t id : ids) x.insert(x.end(), table.begin() + id * d, table.begin() + (id + 1) * d);
  return x;
}

// Summed CE of the LM head over rows with a target >= 0.
CrossEntropyResult head_ce(const Weights& w, const ModelConfig& c, const Matrix& normed,
                           const std::vector<int32_t>& targets) {
  const Matrix head = w.get(c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  const size_t d = size_t(c.hidden_size), vocab = size_t(c.vocab_size);
  const Matrix logits = linear(normed, head, d);
  CrossEntropyResult ce;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] < 0) continue;
    double mx = -1e300, sum = 0;
    for (size_t j = 0; j < vocab; ++j) mx = std::max(mx, logits[r * vocab + j]);
    for (size_t j = 0; j < vocab; ++j) sum += std::exp(logits[r * vocab + j] - mx);
    ce.loss_sum += mx + std::log(sum) - logits[r * vocab + size_t(targets[r])];
    ce.count += 1;
  }
  return ce;
}

struct ReferenceLosses {
  CrossEntropyResult main;
  std::vector<CrossEntropyResult> mtp;  // [depth - 1]
};

// DeepSeek-V3 section 2.2: depth k runs on the first T - k positions of each sequence,
//   h'_i = eh_proj [RMSNorm_e(Emb(t_{i+k})) ; RMSNorm_h(h^{k-1}_i)],  h^k = TRM_k(h'),
// and predicts t_{i+k+1} through the shared head after its own RMSNorm.
ReferenceLosses reference_losses(const Transformer& model, int64_t batch, int64_t seq,
                                 const std::vector<int32_t>& tokens,
                                 const std::vector<int32_t>& targets) {
  const ModelConfig& c = model.config();
  const Weights w{model};
  const size_t d = size_t(c.hidden_size);
  Matrix x = embed(w, c, tokens);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    x = layer(w, c, l, x, size_t(batch), size_t(seq));
  ReferenceLosses out;
  out.main = head_ce(w, c, rmsnorm(x, w.get("model.norm.weight"), c.rms_norm_eps), targets);
  Matrix h_prev = x;  // (batch * (seq - k + 1), D) at depth k
  for (int64_t k = 1; k <= c.num_nextn_predict_layers && k < seq; ++k) {
    const int64_t len = seq - k;
    const std::string p = "model.layers." + std::to_string(c.num_hidden_layers + k - 1);
    std::vector<int32_t> ahead, want;
    Matrix h_kept;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < len; ++i) {
        ahead.push_back(tokens[size_t(b * seq + i + k)]);
        want.push_back(targets[size_t(b * seq + i + k)]);
        const size_t row = size_t(b * (len + 1) + i);
        h_kept.insert(h_kept.end(), h_prev.begin() + row * d, h_prev.begin() + (row + 1) * d);
      }
    const Matrix e = rmsnorm(embed(w, c, ahead), w.get(p + ".enorm.weight"), c.rms_norm_eps);
    const Matrix hn = rmsnorm(h_kept, w.get(p + ".hnorm.weight"), c.rms_norm_eps);
    Matrix cat;
    for (size_t r = 0; r < ahead.size(); ++r) {
      cat.insert(cat.end(), e.begin() + r * d, e.begin() + (r + 1) * d);
      cat.insert(cat.end(), hn.begin() + r * d, hn.begin() + (r + 1) * d);
    }
    const Matrix proj = linear(cat, w.get(p + ".eh_proj.weight"), 2 * d);
    h_prev = layer(w, c, c.num_hidden_layers + k - 1, proj, size_t(batch), size_t(len));
    out.mtp.push_back(head_ce(
        w, c, rmsnorm(h_prev, w.get(p + ".shared_head.norm.weight"), c.rms_norm_eps), want));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

ModelConfig dense_config(int64_t depths) {
  ModelConfig c;
  c.vocab_size = 13;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.qk_norm = false;
  c.tie_word_embeddings = false;
  c.intermediate_size = 12;
  c.num_experts = 0;
  c.initializer_range = 0.5;
  c.num_nextn_predict_layers = depths;
  c.mtp_loss_weight = 0.3;
  return c;
}

// The gradient-check model: MoE (its MTP layers too), shared expert, QK-norm, router losses.
ModelConfig moe_config(int64_t depths) {
  ModelConfig c = dense_config(depths);
  c.qk_norm = true;
  c.first_k_dense_replace = 1;
  c.num_experts = 4;
  c.num_experts_per_tok = 2;
  c.moe_intermediate_size = 6;
  c.n_shared_experts = 1;
  c.router_aux_loss_coef = 0.05;
  c.router_z_loss_coef = 0.01;
  return c;
}

using Batch = testkit::TokenBatch;

// Row 3's target is ignored: depths 1, 2 and 3 see it at positions 2, 1 and 0.
Batch random_batch(const ModelConfig& c, BatchShape shape, uint64_t seed) {
  return testkit::random_token_batch(c.vocab_size, shape, seed, /*ignored_row=*/3);
}

TEST(TransformerMtp, LossesMatchThePlainReference) {
  for (int64_t depths : {1, 2, 3}) {
    for (bool tied : {false, true}) {
      SCOPED_TRACE(testing::Message() << "D = " << depths << (tied ? " tied" : " untied"));
      ModelConfig c = dense_config(depths);
      c.tie_word_embeddings = tied;
      const BatchShape shape{2, 6};
      Transformer model(c, DType::kF64, shape, Recompute::kNone);
      init_params(c, 11, model.params());
      const Batch b = random_batch(c, shape, 5);
      model.reset_mtp_losses();
      const CrossEntropyResult ce = model.forward_backward(Exec::reference(), shape, b.tokens,
                                                           b.targets, LossScales{0.1, 1.0});
      const ReferenceLosses want = reference_losses(model, 2, 6, b.tokens, b.targets);
      EXPECT_NEAR(ce.loss_sum, want.main.loss_sum, 1e-10 * want.main.loss_sum);
      EXPECT_EQ(ce.count, want.main.count);
      ASSERT_EQ(model.mtp_losses().size(), size_t(depths));
      ASSERT_EQ(want.mtp.size(), size_t(depths));
      for (int64_t k = 0; k < depths; ++k) {
        EXPECT_NEAR(model.mtp_losses()[size_t(k)].loss_sum, want.mtp[size_t(k)].loss_sum,
                    1e-10 * want.mtp[size_t(k)].loss_sum)
            << "depth " << k + 1;
        // Depth k has a target at T - k positions of each sequence, less the ignored one.
        EXPECT_EQ(model.mtp_losses()[size_t(k)].count, 2 * (6 - (k + 1)) - (k + 1 <= 3 ? 1 : 0));
        EXPECT_EQ(model.mtp_losses()[size_t(k)].count, want.mtp[size_t(k)].count);
      }
      // Evaluation runs the main model only.
      model.reset_mtp_losses();
      const CrossEntropyResult eval =
          model.evaluate(Exec::reference(), shape, b.tokens, b.targets);
      EXPECT_NEAR(eval.loss_sum, want.main.loss_sum, 1e-10 * want.main.loss_sum);
      for (const CrossEntropyResult& m : model.mtp_losses()) EXPECT_EQ(m.count, 0);
    }
  }
}

// The objective forward_backward differentiates (model/transformer.h).
double objective(Transformer& model, const Exec& ex, const Batch& b, const LossScales& scales) {
  const ModelConfig& c = model.config();
  model.reset_moe_stats();
  model.reset_mtp_losses();
  model.params().zero_grads();
  const CrossEntropyResult ce = model.forward_backward(ex, b.shape, b.tokens, b.targets, scales);
  double total = ce.loss_sum * scales.token;
  const double t = double(b.shape.seq_len);
  for (int64_t k = 1; k <= c.num_nextn_predict_layers; ++k)
    total += c.mtp_loss_weight / double(c.num_nextn_predict_layers) * scales.token * t /
             (t - double(k)) * model.mtp_losses()[size_t(k - 1)].loss_sum;
  for (const MoeStats& s : model.moe_stats()) total += scales.aux * (s.aux_loss + s.z_loss);
  return total;
}

void check_gradients(const ModelConfig& config, Recompute recompute) {
  const BatchShape shape{2, 5};
  Transformer model(config, DType::kF64, shape, recompute);
  init_params(config, 7, model.params());
  const Batch b = random_batch(config, shape, 99);
  const LossScales scales{1.0 / 9.0, 1.0};
  const Exec ex = Exec::reference();
  // Every tensor is checked: the MTP modules' own and their layers' among them.
  const std::string first = "model.layers." + std::to_string(config.num_hidden_layers);
  for (const char* name : {".enorm.weight", ".hnorm.weight", ".eh_proj.weight",
                           ".shared_head.norm.weight", ".self_attn.q_proj.weight"})
    ASSERT_GE(model.params().find(first + name), 0) << first + name;
  const int64_t checked = testkit::check_gradients_by_differences(
      model.params(), [&] { return objective(model, ex, b, scales); });
  EXPECT_GT(checked, 60);
}

TEST(TransformerMtp, GradientsMatchFiniteDifferencesOneDepth) {
  check_gradients(moe_config(1), Recompute::kNone);
}

TEST(TransformerMtp, GradientsMatchFiniteDifferencesTwoDepthsTied) {
  ModelConfig c = moe_config(2);
  c.tie_word_embeddings = true;
  c.mtp_loss_weight = 0.7;
  check_gradients(c, Recompute::kNone);
}

TEST(TransformerMtp, GradientsMatchFiniteDifferencesTwoDepthsRecomputeDense) {
  check_gradients(dense_config(2), Recompute::kFull);
}

TEST(TransformerMtp, RecomputeGivesBitwiseIdenticalGradients) {
  ModelConfig c = moe_config(2);
  c.hidden_size = 32;
  c.head_dim = 8;
  const BatchShape shape{2, 16};
  const Batch b = random_batch(c, shape, 5);
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

// `tiny` with MTP trained for some steps on one process: per step the main and mean MTP losses.
struct Losses {
  std::vector<double> main, mtp;
};

Losses train_tiny(int64_t depths, int64_t steps) {
  const std::vector<std::string> overrides = {
      "train.seq_len=32", "train.micro_batch_size=2", "optim.warmup_steps=4",
      "model.num_nextn_predict_layers=" + std::to_string(depths), "model.bias_update_rate=0.001",
      "train.global_batch_tokens=128"};
  const Result<RunConfig> c = load_run_config("tiny", overrides);
  SYM_CHECK(c.has_value(), "{}", c.error().message());
  Transformer model(c->model, DType::kF32, {2, 32}, Recompute::kNone);
  DeviceMesh mesh = DeviceMesh::single();
  DataParallel dp(ZeroStage::kNone, mesh, model, c->optim, 25);
  dp.init_params(c->model, c->train.seed);
  TrainStep step(c->train, c->optim, model, dp);
  Losses out;
  for (int64_t s = 0; s < steps; ++s) {
    int64_t j = 0;
    const BatchSource source = [&](std::span<int32_t> in, std::span<int32_t> tgt) {
      // A learnable stream: each token determines the next, so every depth can learn.
      const uint64_t key = key_for(3, "mtp") ^ (uint64_t(s) << 20) ^ uint64_t(j++);
      const uint64_t v = uint64_t(c->model.vocab_size);
      for (size_t i = 0; i < in.size(); ++i) {
        in[i] = i % 32 == 0 ? int32_t(splitmix64(key ^ i) % v) : tgt[i - 1];
        tgt[i] = int32_t((uint64_t(in[i]) * 7 + 3) % v);
      }
    };
    const Result<StepResult> r = step.run(Exec::cpu(), s, source);
    SYM_CHECK(r.has_value(), "{}", r.error().message());
    EXPECT_EQ(r->mtp_losses.size(), size_t(depths));
    double mean = 0;
    for (double l : r->mtp_losses) mean += l / double(depths);
    out.main.push_back(r->loss);
    out.mtp.push_back(mean);
  }
  return out;
}

TEST(TransformerMtp, TinyMoeTrainsAndRerunsBitwise) {
  for (int64_t depths : {1, 2}) {
    SCOPED_TRACE(testing::Message() << "D = " << depths);
    const Losses a = train_tiny(depths, 30), b = train_tiny(depths, 30);
    EXPECT_EQ(a.main, b.main);
    EXPECT_EQ(a.mtp, b.mtp);
    EXPECT_LT(a.main.back(), a.main.front() * 0.9);
    EXPECT_LT(a.mtp.back(), a.mtp.front() * 0.9);
    std::printf("  D = %lld: loss %.3f -> %.3f, mtp_loss %.3f -> %.3f\n", (long long)depths,
                a.main.front(), a.main.back(), a.mtp.front(), a.mtp.back());
  }
}

}  // namespace
}  // namespace symphony

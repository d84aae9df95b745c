#include "model/mla_block.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "kernels/rope.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::element;

ModelConfig mla_config(int64_t q_lora_rank) {
  ModelConfig c;
  c.hidden_size = 10;
  c.num_attention_heads = 3;
  c.q_lora_rank = q_lora_rank;
  c.kv_lora_rank = 5;
  c.qk_rope_head_dim = 4;
  c.qk_nope_head_dim = 3;
  c.v_head_dim = 6;
  c.rope_theta = 50.0;
  c.rms_norm_eps = 1e-6;
  return c;
}

// One block with its parameters (every value random, norms around 1), activations and scratch.
struct BlockCase {
  ModelConfig config;
  BatchShape shape;
  ParamStore store;
  MlaBlock block;
  Buffer rope;
  MlaActs acts;
  MlaScratch scratch;

  BlockCase(const ModelConfig& c, BatchShape s, DType dtype, uint64_t seed)
      : config(c),
        shape(s),
        store(dtype),
        block(c, "model.layers.0", store),
        rope(rope_table(dtype, s.seq_len, c.qk_rope_head_dim, c.rope_theta)),
        acts(c, s.rows(), s.rows(), dtype),
        scratch(c, s.rows(), dtype) {
    store.allocate();
    for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
      const ParamInfo& info = store.info(id);
      const bool norm = info.decay == Decay::kNo;
      Buffer values = testkit::random_buffer(dtype, info.shape, seed + uint64_t(id),
                                             norm ? 0.7 : -0.5, norm ? 1.3 : 0.5);
      testkit::copy_into(values.view(), store.param(id));
    }
  }
  ConstView param(const char* name) const {
    const ParamId id = store.find(std::string("model.layers.0.") + name);
    EXPECT_GE(id, 0) << name;
    return store.param(id);
  }
};

// A row-major matrix read as doubles.
struct Mat {
  ConstView v;
  double operator()(int64_t r, int64_t c) const { return element(v, r * v.dim(-1) + c); }
};

std::vector<double> rmsnorm(const std::vector<double>& x, ConstView w, double eps) {
  double ss = 0;
  for (double e : x) ss += e * e;
  const double inv = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * element(w, int64_t(i));
  return y;
}

// y = x · W^T for W (out, in).
std::vector<double> linear(const std::vector<double>& x, ConstView w) {
  std::vector<double> y(size_t(w.dim(0)), 0.0);
  for (int64_t o = 0; o < w.dim(0); ++o)
    for (int64_t i = 0; i < w.dim(1); ++i) y[size_t(o)] += x[size_t(i)] * Mat{w}(o, i);
  return y;
}

// DeepSeek's rotary embedding of x[begin, begin + dim) at position pos: pairs (2i, 2i + 1).
void rotate(std::vector<double>& x, int64_t begin, int64_t dim, int64_t pos, double theta) {
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(dim));
    const double a = x[size_t(begin + 2 * i)], b = x[size_t(begin + 2 * i + 1)];
    x[size_t(begin + 2 * i)] = a * std::cos(angle) - b * std::sin(angle);
    x[size_t(begin + 2 * i + 1)] = b * std::cos(angle) + a * std::sin(angle);
  }
}

// The MLA sub-layer written out from the published formulas, token by token in double.
std::vector<double> naive_forward(const BlockCase& b, ConstView x) {
  const ModelConfig& c = b.config;
  const int64_t d = c.hidden_size, heads = c.num_attention_heads, nope = c.qk_nope_head_dim,
                rope = c.qk_rope_head_dim, vd = c.v_head_dim, lora = c.kv_lora_rank;
  const int64_t dq = nope + rope, n = b.shape.rows(), t = b.shape.seq_len;
  const double eps = c.rms_norm_eps;
  const auto rows = static_cast<size_t>(n);
  std::vector<std::vector<double>> q(rows), k_nope(rows), v(rows), k_pe(rows);
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> xr(static_cast<size_t>(d));
    for (int64_t i = 0; i < d; ++i) xr[size_t(i)] = Mat{x}(r, i);
    const std::vector<double> h = rmsnorm(xr, b.param("input_layernorm.weight"), eps);
    if (c.q_lora_rank > 0) {
      const std::vector<double> q_lat = rmsnorm(linear(h, b.param("self_attn.q_a_proj.weight")),
                                                b.param("self_attn.q_a_layernorm.weight"), eps);
      q[size_t(r)] = linear(q_lat, b.param("self_attn.q_b_proj.weight"));
    } else {
      q[size_t(r)] = linear(h, b.param("self_attn.q_proj.weight"));
    }
    const std::vector<double> kv_a = linear(h, b.param("self_attn.kv_a_proj_with_mqa.weight"));
    const std::vector<double> latent(kv_a.begin(), kv_a.begin() + lora);
    k_pe[size_t(r)].assign(kv_a.begin() + lora, kv_a.end());
    const std::vector<double> kv = linear(
        rmsnorm(latent, b.param("self_attn.kv_a_layernorm.weight"), eps),
        b.param("self_attn.kv_b_proj.weight"));
    for (int64_t hd = 0; hd < heads; ++hd) {
      rotate(q[size_t(r)], hd * dq + nope, rope, r % t, c.rope_theta);
      for (int64_t i = 0; i < nope; ++i)
        k_nope[size_t(r)].push_back(kv[size_t(hd * (nope + vd) + i)]);
      for (int64_t i = 0; i < vd; ++i)
        v[size_t(r)].push_back(kv[size_t(hd * (nope + vd) + nope + i)]);
    }
    rotate(k_pe[size_t(r)], 0, rope, r % t, c.rope_theta);
  }
  std::vector<double> out(static_cast<size_t>(n * d));
  ConstView w_o = b.param("self_attn.o_proj.weight");
  for (int64_t r = 0; r < n; ++r) {
    const int64_t first = r - r % t;  // the sequence's first row
    std::vector<double> o(static_cast<size_t>(heads * vd), 0.0);
    for (int64_t hd = 0; hd < heads; ++hd) {
      std::vector<double> score;
      double mx = -1e300;
      for (int64_t j = first; j <= r; ++j) {
        double s = 0;
        for (int64_t i = 0; i < nope; ++i)
          s += q[size_t(r)][size_t(hd * dq + i)] * k_nope[size_t(j)][size_t(hd * nope + i)];
        for (int64_t i = 0; i < rope; ++i)
          s += q[size_t(r)][size_t(hd * dq + nope + i)] * k_pe[size_t(j)][size_t(i)];
        score.push_back(s / std::sqrt(double(dq)));
        mx = std::max(mx, score.back());
      }
      double sum = 0;
      for (double s : score) sum += std::exp(s - mx);
      for (int64_t j = first; j <= r; ++j) {
        const double p = std::exp(score[size_t(j - first)] - mx) / sum;
        for (int64_t i = 0; i < vd; ++i)
          o[size_t(hd * vd + i)] += p * v[size_t(j)][size_t(hd * vd + i)];
      }
    }
    const std::vector<double> y = linear(o, w_o);
    for (int64_t i = 0; i < d; ++i) out[size_t(r * d + i)] = Mat{x}(r, i) + y[size_t(i)];
  }
  return out;
}

TEST(MlaBlock, DeclaresDeepSeekV3Names) {
  ParamStore store(DType::kF32);
  MlaBlock block(mla_config(7), "model.layers.3", store);
  std::vector<std::string> names;
  for (const ParamInfo& info : store.infos())
    names.push_back(fmt::format("{} [{}, {}]", info.name, info.shape[0],
                                info.shape.ndim > 1 ? info.shape[1] : 0));
  const std::vector<std::string> want = {
      "model.layers.3.input_layernorm.weight [10, 0]",
      "model.layers.3.self_attn.q_a_proj.weight [7, 10]",
      "model.layers.3.self_attn.q_a_layernorm.weight [7, 0]",
      "model.layers.3.self_attn.q_b_proj.weight [21, 7]",  // 3 heads x (3 + 4)
      "model.layers.3.self_attn.kv_a_proj_with_mqa.weight [9, 10]",  // 5 + 4
      "model.layers.3.self_attn.kv_a_layernorm.weight [5, 0]",
      "model.layers.3.self_attn.kv_b_proj.weight [27, 5]",  // 3 heads x (3 + 6)
      "model.layers.3.self_attn.o_proj.weight [10, 18]"};
  EXPECT_EQ(names, want);
  ParamStore direct(DType::kF32);
  MlaBlock no_q_lora(mla_config(0), "model.layers.0", direct);
  EXPECT_GE(direct.find("model.layers.0.self_attn.q_proj.weight"), 0);
  EXPECT_LT(direct.find("model.layers.0.self_attn.q_a_proj.weight"), 0);
}

TEST(MlaBlock, ForwardMatchesNaiveReference) {
  for (int64_t q_lora : {7, 0}) {
    SCOPED_TRACE(fmt::format("q_lora_rank {}", q_lora));
    const ModelConfig c = mla_config(q_lora);
    const BatchShape shape{2, 5};
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(dtype_name(dtype));
      BlockCase b(c, shape, dtype, 11);
      Buffer x = testkit::random_buffer(dtype, {shape.rows(), c.hidden_size}, 3);
      Buffer y(dtype, {shape.rows(), c.hidden_size});
      TensorParallel one_rank;
      const Exec ex = dtype == DType::kF64 ? Exec::reference() : Exec::cpu();
      b.block.forward(ex, b.store, b.rope.view(), shape, one_rank, x.view(), b.acts, b.scratch,
                      y.view());
      const std::vector<double> want = naive_forward(b, x.view());
      Buffer want_buffer(DType::kF64, {shape.rows(), c.hidden_size});
      for (size_t i = 0; i < want.size(); ++i)
        testkit::set_element(want_buffer.view(), int64_t(i), want[i]);
      const testkit::Tolerance tol =
          dtype == DType::kF64 ? testkit::Tolerance{1e-12, 1e-12} : testkit::Tolerance{1e-5, 1e-4};
      EXPECT_TENSOR_NEAR(testkit::convert(y.view(), DType::kF64).view(), want_buffer.view(), tol);
    }
  }
}

// L = sum(x_out * r): backward with dx_out = r against central differences of every input and
// parameter, in double.
TEST(MlaBlock, BackwardMatchesFiniteDifferences) {
  for (int64_t q_lora : {7, 0}) {
    SCOPED_TRACE(fmt::format("q_lora_rank {}", q_lora));
    const ModelConfig c = mla_config(q_lora);
    const BatchShape shape{2, 4};
    BlockCase b(c, shape, DType::kF64, 5);
    const Exec ex = Exec::reference();
    TensorParallel one_rank;
    Buffer x = testkit::random_buffer(DType::kF64, {shape.rows(), c.hidden_size}, 8);
    Buffer r = testkit::random_buffer(DType::kF64, {shape.rows(), c.hidden_size}, 9);
    Buffer y(DType::kF64, {shape.rows(), c.hidden_size});
    auto loss = [&] {
      b.block.forward(ex, b.store, b.rope.view(), shape, one_rank, x.view(), b.acts, b.scratch,
                      y.view());
      double l = 0;
      for (int64_t i = 0; i < y.numel(); ++i) l += element(y.view(), i) * element(r.view(), i);
      return l;
    };
    loss();
    b.store.zero_grads();
    Buffer dx(DType::kF64, {shape.rows(), c.hidden_size});
    b.block.backward(ex, b.store, b.rope.view(), shape, one_rank, x.view(), b.acts, b.scratch,
                     r.view(), dx.view());
    const double h = 1e-6;
    auto check = [&](View values, ConstView grads, const std::string& what) {
      for (int64_t i = 0; i < values.numel(); ++i) {
        const double saved = element(values, i);
        testkit::set_element(values, i, saved + h);
        const double up = loss();
        testkit::set_element(values, i, saved - h);
        const double down = loss();
        testkit::set_element(values, i, saved);
        const double numeric = (up - down) / (2 * h);
        EXPECT_NEAR(element(grads, i), numeric, 1e-7 + 1e-6 * std::abs(numeric))
            << what << " element " << i;
      }
    };
    check(x.view(), dx.view(), "x");
    for (ParamId id = 0; id < ParamId(b.store.infos().size()); ++id)
      check(b.store.param(id), b.store.grad(id), b.store.info(id).name);
  }
}

}  // namespace
}  // namespace symphony

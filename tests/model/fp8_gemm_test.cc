#include "model/fp8_gemm.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

constexpr testkit::Tolerance kExact{0.0, 0.0};

// op(X) as an fp32 row-major matrix, in the coordinates of the product.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> v;
  float& at(int64_t r, int64_t c) { return v[size_t(r * cols + c)]; }
  float at(int64_t r, int64_t c) const { return v[size_t(r * cols + c)]; }
};

Matrix op(ConstView x, Trans t) {
  Matrix m;
  m.rows = t == Trans::kNo ? x.dim(0) : x.dim(1);
  m.cols = t == Trans::kNo ? x.dim(1) : x.dim(0);
  m.v.resize(size_t(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c)
      m.at(r, c) = t == Trans::kNo ? x.f32()[r * x.dim(1) + c] : x.f32()[c * x.dim(1) + r];
  return m;
}

// The FP8 values from the bit layout alone (sign aside): exponent field e, mantissa field m.
float fp8_value(Fp8Format format, int code) {
  const int m_bits = format == Fp8Format::kE4M3 ? 3 : 2;
  const int bias = format == Fp8Format::kE4M3 ? 7 : 15;
  const int e = code >> m_bits, m = code & ((1 << m_bits) - 1);
  if (e == 0) return float(std::ldexp(m, 1 - bias - m_bits));
  return float(std::ldexp((1 << m_bits) + m, e - bias - m_bits));
}

// Nearest FP8 value by search, ties to the even code, clamped to the largest finite value.
float nearest_fp8(Fp8Format format, float v) {
  const int max_code = format == Fp8Format::kE4M3 ? 0x7E : 0x7B;
  const double a = std::fabs(double(v));
  int best = 0;
  for (int c = 1; c <= max_code; ++c) {
    const double d_c = std::fabs(double(fp8_value(format, c)) - a);
    const double d_best = std::fabs(double(fp8_value(format, best)) - a);
    if (d_c < d_best || (d_c == d_best && c % 2 == 0)) best = c;
  }
  return std::copysign(fp8_value(format, best), v);
}

// Quantizes op(X) in blocks of (br x bc) of the product's coordinates: scale = max / amax per
// block (1 for an all-zero block), as an FP8 GEMM with those scales sees it.
Matrix quantize(const Matrix& x, int64_t br, int64_t bc, Fp8Format format) {
  const float max = format == Fp8Format::kE4M3 ? 448.f : 57344.f;
  Matrix q = x;
  for (int64_t r0 = 0; r0 < x.rows; r0 += br)
    for (int64_t c0 = 0; c0 < x.cols; c0 += bc) {
      float amax = 0.f;
      for (int64_t r = r0; r < std::min(x.rows, r0 + br); ++r)
        for (int64_t c = c0; c < std::min(x.cols, c0 + bc); ++c)
          amax = std::max(amax, std::fabs(x.at(r, c)));
      const float s = amax > 0.f ? max / amax : 1.f;
      for (int64_t r = r0; r < std::min(x.rows, r0 + br); ++r)
        for (int64_t c = c0; c < std::min(x.cols, c0 + bc); ++c)
          q.at(r, c) = nearest_fp8(format, x.at(r, c) * s) * (1.f / s);
    }
  return q;
}

// alpha * a * b in double, rounded to fp32.
Matrix product(const Matrix& a, const Matrix& b, double alpha) {
  Matrix c{a.rows, b.cols, std::vector<float>(size_t(a.rows * b.cols))};
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < b.cols; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < a.cols; ++k) s += double(a.at(i, k)) * double(b.at(k, j));
      c.at(i, j) = float(alpha * s);
    }
  return c;
}

double relative_error(ConstView got, const Matrix& want, int64_t skip_row = -1) {
  double e2 = 0.0, w2 = 0.0;
  for (int64_t i = 0; i < want.rows; ++i) {
    if (i == skip_row) continue;
    for (int64_t j = 0; j < want.cols; ++j) {
      const double d = double(got.f32()[i * want.cols + j]) - double(want.at(i, j));
      e2 += d * d;
      w2 += double(want.at(i, j)) * double(want.at(i, j));
    }
  }
  return std::sqrt(e2 / w2);
}

struct GemmCase {
  const char* name;  // which training GEMM it stands for
  Fp8Operand role_a, role_b;
  Trans trans_a, trans_b;
  Shape a, b;
};

// y = x W^T, dx = dy W, dW = dy^T x of a linear with in = 20, out = 11, 13 tokens: every
// operand role and transposition a linear layer uses, with partial blocks at block_size 8.
const GemmCase kLinearCases[] = {
    {"fwd",
     Fp8Operand::kActivation,
     Fp8Operand::kWeight,
     Trans::kNo,
     Trans::kYes,
     {13, 20},
     {11, 20}},
    {"dgrad",
     Fp8Operand::kGradient,
     Fp8Operand::kWeight,
     Trans::kNo,
     Trans::kNo,
     {13, 11},
     {11, 20}},
    {"wgrad",
     Fp8Operand::kGradient,
     Fp8Operand::kActivation,
     Trans::kYes,
     Trans::kNo,
     {13, 11},
     {13, 20}},
};

// The block shape, in product coordinates, that a role gets: tiles along the reduction dim (the
// columns of op(A), the rows of op(B)) for activations and gradients, squares for weights.
void product_blocks(Fp8Operand role, Fp8Side side, int64_t bs, int64_t* br, int64_t* bc) {
  if (role == Fp8Operand::kWeight) {
    *br = *bc = bs;
  } else if (side == Fp8Side::kA) {
    *br = 1;
    *bc = bs;
  } else {
    *br = bs;
    *bc = 1;
  }
}

Fp8Format role_format(Fp8Operand role) {
  return role == Fp8Operand::kGradient ? Fp8Format::kE5M2 : Fp8Format::kE4M3;
}

TEST(Fp8Gemm, MatchesAnIndependentReference) {
  for (Fp8Scaling scaling : {Fp8Scaling::kTensor, Fp8Scaling::kDelayed, Fp8Scaling::kBlock})
    for (const GemmCase& g : kLinearCases)
      for (Exec ex : {Exec::cpu(), Exec::reference()}) {
        SCOPED_TRACE(
            fmt::format("scaling={} {} ref={}", int(scaling), g.name, ex.impl == KernelImpl::kRef));
        Fp8Recipe recipe;
        recipe.scaling = scaling;
        recipe.block_size = 8;
        recipe.error_check_interval = 1;
        Fp8SiteRegistry sites(recipe);
        const Fp8SiteId id = sites.add(g.name, g.role_a, g.role_b);
        Fp8GemmWorkspace workspace(
            fp8_gemm_workspace_size(recipe, g.role_a, g.role_b, g.trans_a, g.trans_b, g.a, g.b));
        Buffer a = random_buffer(DType::kF32, g.a, 1, -2.0, 2.0);
        Buffer b = random_buffer(DType::kF32, g.b, 2, -0.5, 0.5);
        const Matrix op_a = op(a.view(), g.trans_a), op_b = op(b.view(), g.trans_b);
        Buffer c = random_buffer(DType::kF32, {op_a.rows, op_b.cols}, 3);
        Buffer c0 = testkit::convert(c.view(), DType::kF32);
        fp8_gemm(ex, sites, id, workspace, g.trans_a, g.trans_b, 0.5, a.view(), b.view(), 1.0,
                 c.view());

        // Per-tensor scalings (delayed on its first call, with an empty history, included) use
        // one block covering the whole operand.
        int64_t ar = op_a.rows, ac = op_a.cols, br = op_b.rows, bc = op_b.cols;
        if (scaling == Fp8Scaling::kBlock) {
          product_blocks(g.role_a, Fp8Side::kA, 8, &ar, &ac);
          product_blocks(g.role_b, Fp8Side::kB, 8, &br, &bc);
        }
        Matrix want = product(quantize(op_a, ar, ac, role_format(g.role_a)),
                              quantize(op_b, br, bc, role_format(g.role_b)), 0.5);
        for (int64_t i = 0; i < c.numel(); ++i) want.v[size_t(i)] += c0.f32()[i];
        // fp32 accumulation of up to 20 products against double: a few fp32 ulps of the sums.
        EXPECT_LT(relative_error(c.view(), want), 1e-6);

        // Against the unquantized product: FP8's error, and no more.
        const Matrix exact = product(op_a, op_b, 0.5);
        Buffer fp8_only(DType::kF32, c.shape());
        for (int64_t i = 0; i < c.numel(); ++i) fp8_only.f32()[i] = c.f32()[i] - c0.f32()[i];
        const double err = relative_error(fp8_only.view(), exact);
        const bool has_e5m2 = g.role_a == Fp8Operand::kGradient;
        EXPECT_GT(err, 0.002);
        EXPECT_LT(err, has_e5m2 ? 0.12 : 0.06);  // measured 0.047-0.059 and 0.033-0.035
        const Fp8SiteState& s = sites.site(id);
        EXPECT_EQ(s.calls, 1);
        EXPECT_EQ(s.checks, 1);
        EXPECT_FALSE(s.fallen_back);
        EXPECT_NEAR(s.last_error.frobenius, err, 0.02 * err + 1e-6);
      }
}

// One row of activations 1e5 times larger than the rest: a per-tensor scale pushes the other
// rows into E4M3's subnormals; 1 x 128 tiles give each row its own scale.
TEST(Fp8Gemm, BlockwiseBeatsPerTensorOnAnOutlierRow) {
  const int64_t tokens = 32, in = 256, out = 24, outlier_row = 5;
  Buffer x = random_buffer(DType::kF32, {tokens, in}, 4);
  for (int64_t c = 0; c < in; ++c) x.f32()[outlier_row * in + c] *= 1e5f;
  Buffer w = random_buffer(DType::kF32, {out, in}, 5, -0.1, 0.1);
  const Matrix exact = product(op(x.view(), Trans::kNo), op(w.view(), Trans::kYes), 1.0);
  double err[2];
  for (Fp8Scaling scaling : {Fp8Scaling::kTensor, Fp8Scaling::kBlock}) {
    Fp8Recipe recipe;
    recipe.scaling = scaling;
    recipe.error_threshold = 10.0;  // measure, never fall back
    Fp8SiteRegistry sites(recipe);
    const Fp8SiteId id =
        sites.add("layers.0.mlp.up_proj fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
    Fp8GemmWorkspace workspace(fp8_gemm_workspace_size(recipe, Fp8Operand::kActivation,
                                                       Fp8Operand::kWeight, Trans::kNo, Trans::kYes,
                                                       x.shape(), w.shape()));
    Buffer y(DType::kF32, {tokens, out});
    fp8_gemm(Exec::cpu(), sites, id, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
             0.0, y.view());
    err[scaling == Fp8Scaling::kBlock] = relative_error(y.view(), exact, outlier_row);
  }
  EXPECT_LT(err[1], 0.05);          // measured 0.037: E4M3 rounding
  EXPECT_GT(err[0], 4.0 * err[1]);  // measured 0.21
}

Buffer unquantized(ConstView a, ConstView b, Trans ta, Trans tb, Shape c_shape) {
  Buffer c(DType::kF32, c_shape);
  gemm(Exec::cpu(), ta, tb, 1.0, a, b, 0.0, c.view());
  return c;
}

TEST(Fp8Gemm, FallbackTriggersOnAnOutlierAndNotOnWellScaledData) {
  Fp8Recipe recipe;
  recipe.scaling = Fp8Scaling::kTensor;
  recipe.error_check_interval = 1;
  Fp8SiteRegistry sites(recipe);
  const Fp8SiteId bad =
      sites.add("layers.0.mlp.up_proj fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
  const Fp8SiteId good =
      sites.add("layers.1.mlp.up_proj fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
  const Shape xs{16, 64}, ws{32, 64};
  Fp8GemmWorkspace workspace(fp8_gemm_workspace_size(
      recipe, Fp8Operand::kActivation, Fp8Operand::kWeight, Trans::kNo, Trans::kYes, xs, ws));
  Buffer w = random_buffer(DType::kF32, ws, 6, -0.2, 0.2);
  Buffer x(DType::kF32, xs);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = (i % 3 == 0) ? -1.f : 1.f;
  Buffer y(DType::kF32, {16, 32});

  // Well scaled: FP8's rounding error only, several calls, no fallback.
  sites.set_step(3);
  for (int call = 0; call < 3; ++call)
    fp8_gemm(Exec::cpu(), sites, good, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
             0.0, y.view());
  EXPECT_FALSE(sites.site(good).fallen_back);
  EXPECT_EQ(sites.site(good).checks, 3);
  EXPECT_GT(sites.site(good).last_error.worst(), 0.001);
  EXPECT_LT(sites.site(good).last_error.worst(), 0.1);
  EXPECT_EQ(sites.site(good).stats_a.underflow, 0);

  // One value of 1e6: the per-tensor scale flushes every other activation to zero.
  x.f32()[37] = 1e6f;
  sites.set_step(7);
  fp8_gemm(Exec::cpu(), sites, bad, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
           0.0, y.view());
  const Fp8SiteState& s = sites.site(bad);
  EXPECT_TRUE(s.fallen_back);
  EXPECT_GT(s.stats_a.last_underflow_fraction, 0.99);
  EXPECT_EQ(s.stats_a.last_amax, 1e6f);
  // The outlier's row dominates ||C||: the Frobenius ratio, at FP8's rounding level, would not
  // have caught it.
  EXPECT_LT(s.last_error.frobenius, 0.05);
  EXPECT_GT(s.last_error.rows, 0.9);
  ASSERT_EQ(sites.fallbacks().size(), 1u);
  EXPECT_EQ(sites.fallbacks()[0].site, "layers.0.mlp.up_proj fwd");
  EXPECT_EQ(sites.fallbacks()[0].step, 7);
  EXPECT_GT(sites.fallbacks()[0].error.worst(), recipe.error_threshold);
  // The call that measured the error already returns the unquantized product, and so do the
  // later ones, without quantizing.
  Buffer want = unquantized(x.view(), w.view(), Trans::kNo, Trans::kYes, y.shape());
  EXPECT_TENSOR_NEAR(y.view(), want.view(), kExact);
  x.f32()[37] = 1.f;
  fp8_gemm(Exec::cpu(), sites, bad, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
           0.0, y.view());
  want = unquantized(x.view(), w.view(), Trans::kNo, Trans::kYes, y.shape());
  EXPECT_TENSOR_NEAR(y.view(), want.view(), kExact);
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(sites.fallbacks().size(), 1u);
  EXPECT_FALSE(sites.site(good).fallen_back);
}

// The same outlier under blockwise scaling stays within its own tile: no fallback.
TEST(Fp8Gemm, BlockwiseScalingKeepsTheOutlierSiteInFp8) {
  Fp8Recipe recipe;
  recipe.scaling = Fp8Scaling::kBlock;
  recipe.block_size = 32;
  recipe.error_check_interval = 1;
  Fp8SiteRegistry sites(recipe);
  const Fp8SiteId id = sites.add("fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
  const Shape xs{16, 64}, ws{32, 64};
  Fp8GemmWorkspace workspace(fp8_gemm_workspace_size(
      recipe, Fp8Operand::kActivation, Fp8Operand::kWeight, Trans::kNo, Trans::kYes, xs, ws));
  Buffer w = random_buffer(DType::kF32, ws, 6, -0.2, 0.2);
  Buffer x = random_buffer(DType::kF32, xs, 7);
  x.f32()[37] = 1e6f;
  Buffer y(DType::kF32, {16, 32});
  fp8_gemm(Exec::cpu(), sites, id, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(), 0.0,
           y.view());
  EXPECT_FALSE(sites.site(id).fallen_back);
  EXPECT_LT(sites.site(id).last_error.worst(), 0.25);
  // Only the outlier's tile (32 values) loses its small values.
  EXPECT_LE(sites.site(id).stats_a.underflow, 31);
}

TEST(Fp8Gemm, ErrorChecksFollowTheInterval) {
  Fp8Recipe recipe;
  recipe.scaling = Fp8Scaling::kBlock;
  recipe.error_check_interval = 3;
  Fp8SiteRegistry sites(recipe);
  const Fp8SiteId id = sites.add("fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
  const Shape xs{8, 40}, ws{12, 40};
  Fp8GemmWorkspace workspace(fp8_gemm_workspace_size(
      recipe, Fp8Operand::kActivation, Fp8Operand::kWeight, Trans::kNo, Trans::kYes, xs, ws));
  Buffer x = random_buffer(DType::kF32, xs, 8);
  Buffer w = random_buffer(DType::kF32, ws, 9);
  Buffer first(DType::kF32, {8, 12}), y(DType::kF32, {8, 12});
  for (int call = 0; call < 7; ++call) {
    fp8_gemm(Exec::cpu(), sites, id, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
             0.0, (call == 0 ? first : y).view());
    // Measured (calls 0, 3, 6) or not, the output is the same FP8 product.
    if (call > 0) {
      EXPECT_TENSOR_NEAR(y.view(), first.view(), kExact);
    }
  }
  EXPECT_EQ(sites.site(id).calls, 7);
  EXPECT_EQ(sites.site(id).checks, 3);
}

// Delayed scaling takes the scale from the site's history: a tensor 4x larger than the last one
// saturates, where current scaling would not.
TEST(Fp8Gemm, DelayedScalingUsesTheSiteHistory) {
  int64_t saturated[2];
  for (Fp8Scaling scaling : {Fp8Scaling::kDelayed, Fp8Scaling::kTensor}) {
    Fp8Recipe recipe;
    recipe.scaling = scaling;
    recipe.amax_history_length = 4;
    Fp8SiteRegistry sites(recipe);
    const Fp8SiteId id = sites.add("fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
    const Shape xs{8, 40}, ws{12, 40};
    Fp8GemmWorkspace workspace(fp8_gemm_workspace_size(
        recipe, Fp8Operand::kActivation, Fp8Operand::kWeight, Trans::kNo, Trans::kYes, xs, ws));
    Buffer x = random_buffer(DType::kF32, xs, 10);
    Buffer w = random_buffer(DType::kF32, ws, 11);
    Buffer y(DType::kF32, {8, 12});
    fp8_gemm(Exec::cpu(), sites, id, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
             0.0, y.view());
    EXPECT_EQ(sites.site(id).stats_a.saturated, 0);
    for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] *= 4.f;
    fp8_gemm(Exec::cpu(), sites, id, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
             0.0, y.view());
    saturated[scaling == Fp8Scaling::kTensor] = sites.site(id).stats_a.saturated;
    if (scaling == Fp8Scaling::kDelayed) {
      EXPECT_EQ(sites.site(id).history_a.size(), 2);
      EXPECT_EQ(sites.site(id).history_a.max(), sites.site(id).stats_a.last_amax);
    }
  }
  EXPECT_GT(saturated[0], 100);  // about 3/4 of the 320 values exceed the old amax
  EXPECT_EQ(saturated[1], 0);
}

TEST(Fp8Gemm, WorkspaceSizesFollowTheBlocks) {
  Fp8Recipe recipe;
  recipe.block_size = 128;
  // wgrad: dy^T (out x tokens) * x (tokens x in): both tiled along tokens (128 x 1 in storage).
  const Fp8GemmWorkspaceSize s =
      fp8_gemm_workspace_size(recipe, Fp8Operand::kGradient, Fp8Operand::kActivation, Trans::kYes,
                              Trans::kNo, {300, 24}, {300, 40});
  EXPECT_EQ(s.operand_a, 300 * 24);
  EXPECT_EQ(s.operand_b, 300 * 40);
  EXPECT_EQ(s.scales_a, 3 * 24);
  EXPECT_EQ(s.scales_b, 3 * 40);
  EXPECT_EQ(s.output, 24 * 40);
  EXPECT_EQ(s.bytes(), 4 * (300 * 24 + 300 * 40 + 3 * 24 + 3 * 40 + 2 * 24 * 40));
  // fwd: x (tokens x in) 1 x 128 tiles, W (out x in) 128 x 128 blocks.
  const Fp8GemmWorkspaceSize f =
      fp8_gemm_workspace_size(recipe, Fp8Operand::kActivation, Fp8Operand::kWeight, Trans::kNo,
                              Trans::kYes, {300, 260}, {200, 260});
  EXPECT_EQ(f.scales_a, 300 * 3);
  EXPECT_EQ(f.scales_b, 2 * 3);
  recipe.scaling = Fp8Scaling::kTensor;
  EXPECT_EQ(fp8_gemm_workspace_size(recipe, Fp8Operand::kActivation, Fp8Operand::kWeight,
                                    Trans::kNo, Trans::kYes, {300, 260}, {200, 260})
                .scales_a,
            0);
}

}  // namespace
}  // namespace symphony

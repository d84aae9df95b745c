// FlashAttention-2 on the CPU. Queries and keys are cut into tiles of kBQ and kBK rows; a tile
// pair is a few small matrix products on packed, zero-padded copies held in per-thread scratch
// (O(tile * Dh) floats), so no (T, T) matrix exists. Tiles wholly above the causal diagonal are
// skipped.
//
// Forward: one task per (batch, head, query tile) keeps a running max m and sum l per row:
//   m' = max(m, rowmax(S)),  P = exp(S - m'),  l' = l e^(m - m') + rowsum(P),  O' = O e^(m - m') + P V
// and finishes with out = O / l, lse = m + log l.
// Backward recomputes P = exp(S - lse) tile by tile, in two passes: one task per
// (batch, kv head, key tile) owns those rows of dk and dv (summing over the query heads of the
// group), then one task per (batch, head, query tile) owns those rows of dq. Every output
// element is written by one task in a fixed order, so results do not depend on the thread count
// or the schedule.
//
// The small products run a 4 x 16 register-blocked microkernel; 16 columns are two AVX2 vectors.
// Packed tiles pad Dh to a multiple of 16 and the key count to a multiple of 16 (score columns)
// with zeros, and row counts to a multiple of 4. A BLAS sgemm is not used: on 64 x 64 x 64 tiles
// a single-threaded BLIS call ran at about a quarter of the microkernel's speed, and the
// multithreaded gemm may not be called from inside the parallel region.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/simd.h"
#include "kernels/attention.h"

namespace symphony::cpu {
namespace {

constexpr int64_t kBQ = 64;  // query rows per tile
constexpr int64_t kBK = 64;  // key rows per tile; also the row stride of score tiles
constexpr int64_t kMR = 4;   // microkernel rows
constexpr int64_t kNR = 16;  // microkernel columns

constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// exp(x) for x <= 88 (the callers pass x <= 0), relative error below 1e-7; below -87.3 it
// returns ~1e-38 rather than 0. Written with plain arithmetic and bit casts so loops calling it
// vectorise (libm's expf does not without -ffast-math). Range reduction x = n ln2 + r,
// |r| <= ln2/2, then a degree-6 polynomial for e^r (Cephes expf) and 2^n built in the exponent
// bits. The lower clamp is a bitwise select: written as std::max, GCC turns it into a branch
// that the AVX2 clone's loops do not vectorise through.
inline float fast_exp(float x) {
  constexpr float kLowest = -87.33654f;  // exp(kLowest) is the smallest normal float
  const int32_t below = -static_cast<int32_t>(x < kLowest);  // all ones where x < kLowest
  x = std::bit_cast<float>((std::bit_cast<int32_t>(x) & ~below) |
                           (std::bit_cast<int32_t>(kLowest) & below));
  // (t + 1.5 * 2^23) - 1.5 * 2^23 rounds t to the nearest integer.
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const float two_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return p * two_n;
}

// C[4 x 16] (+)= sum_k A(r, k) B[k, 0:16], A(r, k) = a[r * a_rs + k * a_ks]. The 64 sums live in
// eight AVX2 registers for the whole k loop.
inline void kernel_4x16(int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks, const float* b,
                        int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kdim; ++k) {
    const float* bk = b + k * ldb;
    const float* ak = a + k * a_ks;
    for (int64_t r = 0; r < kMR; ++r) {
      const float ar = ak[r * a_rs];
#pragma omp simd
      for (int64_t j = 0; j < kNR; ++j) acc[r][j] += ar * bk[j];
    }
  }
  for (int64_t r = 0; r < kMR; ++r) {
    float* cr = c + r * ldc;
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < kNR; ++j) cr[j] += acc[r][j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < kNR; ++j) cr[j] = acc[r][j];
    }
  }
}

// C (m x n) (+)= A (m x kdim) B (kdim x n), with A(r, k) = a[r * a_rs + k * a_ks] so that A may be
// a transposed tile. m must be a multiple of kMR and n of kNR.
SYM_VECTORIZED void tile_matmul(int64_t m, int64_t n, int64_t kdim, const float* a, int64_t a_rs,
                                int64_t a_ks, const float* b, int64_t ldb, float* c, int64_t ldc,
                                bool accumulate) {
  for (int64_t i = 0; i < m; i += kMR)
    for (int64_t j = 0; j < n; j += kNR)
      kernel_4x16(kdim, a + i * a_rs, a_rs, a_ks, b + j, ldb, c + i * ldc + j, ldc, accumulate);
}

// dst (rows_pad x dp) = scale * src (rows x dh, row stride ld), zero-padded.
SYM_VECTORIZED void pack_rows(const float* src, int64_t ld, int64_t rows, int64_t dh, float scale,
                              float* dst, int64_t rows_pad, int64_t dp) {
  for (int64_t r = 0; r < rows_pad; ++r) {
    float* d = dst + r * dp;
    if (r < rows) {
      const float* s = src + r * ld;
#pragma omp simd
      for (int64_t c = 0; c < dh; ++c) d[c] = scale * s[c];
      for (int64_t c = dh; c < dp; ++c) d[c] = 0.f;
    } else {
#pragma omp simd
      for (int64_t c = 0; c < dp; ++c) d[c] = 0.f;
    }
  }
}

// dst (dh x kBK) = src^T for src (rows x dh, row stride ld); columns [rows, cols_pad) are zero.
SYM_VECTORIZED void pack_transposed(const float* src, int64_t ld, int64_t rows, int64_t dh,
                                    float* dst, int64_t cols_pad) {
  for (int64_t j = 0; j < rows; ++j) {
    const float* s = src + j * ld;
    for (int64_t c = 0; c < dh; ++c) dst[c * kBK + j] = s[c];
  }
  for (int64_t c = 0; c < dh; ++c)
    for (int64_t j = rows; j < cols_pad; ++j) dst[c * kBK + j] = 0.f;
}

SYM_VECTORIZED float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

SYM_VECTORIZED void zero(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = 0.f;
}

// Visible keys of tile row r: row r sees tile columns [0, first_visible + r), clamped to
// [0, nk]; padding rows (r >= nq) see none.
inline int64_t visible(int64_t r, int64_t nq, int64_t first_visible, int64_t nk) {
  return r < nq ? std::clamp(first_visible + r, int64_t{0}, nk) : 0;
}

// One key tile of the forward online softmax. Turns the scores s (mq x kBK, columns < ncols
// computed) into P = exp(s - m') with masked and padding entries 0, and rescales the running
// sums l and outputs o (mq x dp) of every row whose max moved.
SYM_VECTORIZED void online_softmax(float* s, int64_t mq, int64_t nq, int64_t ncols,
                                   int64_t first_visible, int64_t nk, float* m, float* l, float* o,
                                   int64_t dp) {
  for (int64_t r = 0; r < mq; ++r) {
    float* sr = s + r * kBK;
    const int64_t vis = visible(r, nq, first_visible, nk);
    if (vis == 0) {
      for (int64_t c = 0; c < ncols; ++c) sr[c] = 0.f;
      continue;
    }
    float mx = m[r];
#pragma omp simd reduction(max : mx)
    for (int64_t c = 0; c < vis; ++c) mx = std::max(mx, sr[c]);
    const float alpha = m[r] == -std::numeric_limits<float>::infinity() ? 0.f
                                                                       : std::exp(m[r] - mx);
    // Masked columns are cleared by a loop of their own: a `c < vis` select inside the exp
    // loop makes GCC split that loop and lose its vectorisation.
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < vis; ++c) {
      const float p = fast_exp(sr[c] - mx);
      sr[c] = p;
      sum += p;
    }
    for (int64_t c = vis; c < ncols; ++c) sr[c] = 0.f;
    m[r] = mx;
    l[r] = l[r] * alpha + sum;
    if (alpha != 1.f) {
      float* orow = o + r * dp;
#pragma omp simd
      for (int64_t d = 0; d < dp; ++d) orow[d] *= alpha;
    }
  }
}

// Backward: s (scores) becomes P = exp(s - lse) and dp (dO V^T) becomes dS = P (dp - D), both
// zero at masked and padding entries.
SYM_VECTORIZED void probs_and_dscores(float* s, float* dp, int64_t mq, int64_t nq, int64_t ncols,
                                      int64_t first_visible, int64_t nk, const float* lse,
                                      const float* D) {
  for (int64_t r = 0; r < mq; ++r) {
    float* sr = s + r * kBK;
    float* dr = dp + r * kBK;
    const int64_t vis = visible(r, nq, first_visible, nk);
    const float row_lse = vis > 0 ? lse[r] : 0.f;  // padding rows have no lse or D
    const float row_d = vis > 0 ? D[r] : 0.f;
#pragma omp simd
    for (int64_t c = 0; c < vis; ++c) {
      const float p = fast_exp(sr[c] - row_lse);
      sr[c] = p;
      dr[c] = p * (dr[c] - row_d);
    }
    for (int64_t c = vis; c < ncols; ++c) {
      sr[c] = 0.f;
      dr[c] = 0.f;
    }
  }
}

// Index arithmetic for the (tokens, heads * Dh) layouts and the tiling.
struct Plan {
  int64_t B, Tq, Tk, H, Hkv, Dh, Dp, group, offset, nqt, nkt;
  float scale;

  explicit Plan(const AttentionShape& s)
      : B(s.batch),
        Tq(s.q_len),
        Tk(s.kv_len),
        H(s.heads),
        Hkv(s.kv_heads),
        Dh(s.head_dim),
        Dp(round_up(s.head_dim, kNR)),
        group(s.heads / s.kv_heads),
        offset(s.kv_len - s.q_len),
        nqt((s.q_len + kBQ - 1) / kBQ),
        nkt((s.kv_len + kBK - 1) / kBK),
        scale(float(1.0 / std::sqrt(double(s.head_dim)))) {}

  int64_t q_at(int64_t b, int64_t i, int64_t h) const { return ((b * Tq + i) * H + h) * Dh; }
  int64_t kv_at(int64_t b, int64_t j, int64_t g) const { return ((b * Tk + j) * Hkv + g) * Dh; }
  int64_t lse_at(int64_t b, int64_t i, int64_t h) const { return (b * Tq + i) * H + h; }
  // Key tiles [0, n) hold every key visible to query rows [i0, i0 + nq).
  int64_t key_tiles_for(int64_t i0, int64_t nq) const { return (i0 + nq - 1 + offset) / kBK + 1; }
  // The first query tile with a row that sees key j0.
  int64_t first_query_tile_for(int64_t j0) const {
    return std::max<int64_t>(0, j0 - offset) / kBQ;
  }
};

// Per-thread tiles, each 64-byte aligned. Sized for the largest use (backward).
struct Scratch {
  std::vector<float> mem;
  float *q, *dout, *kt, *vt, *k, *v, *s, *dp, *acc, *acc2, *row_a, *row_b;

  explicit Scratch(int64_t dp_cols) {
    const int64_t tile_qd = kBQ * dp_cols, tile_kd = kBK * dp_cols, tile_qk = kBQ * kBK;
    const int64_t sizes[] = {tile_qd, tile_qd, tile_kd, tile_kd, tile_kd, tile_kd,
                             tile_qk, tile_qk, std::max(tile_qd, tile_kd), tile_kd,
                             round_up(kBQ, 16), round_up(kBQ, 16)};
    int64_t total = 16;
    for (int64_t n : sizes) total += round_up(n, 16);
    mem.assign(static_cast<size_t>(total), 0.f);
    auto addr = reinterpret_cast<uintptr_t>(mem.data());
    float* p = mem.data() + (round_up(int64_t(addr), 64) - int64_t(addr)) / 4;
    float** slots[] = {&q, &dout, &kt, &vt, &k, &v, &s, &dp, &acc, &acc2, &row_a, &row_b};
    for (int i = 0; i < 12; ++i) {
      *slots[i] = p;
      p += round_up(sizes[i], 16);
    }
  }
};

// Packs query tile (b, h, qt): q scaled into sc.q; with `grads`, also dO into sc.dout and the
// per-row lse into sc.row_a and D = rowsum(dO * O) into sc.row_b.
void load_query_tile(const Plan& P, Scratch& sc, const float* q, const float* out,
                     const float* lse, const float* dout, int64_t b, int64_t h, int64_t i0,
                     int64_t nq, bool grads) {
  const int64_t mq = round_up(nq, kMR);
  pack_rows(q + P.q_at(b, i0, h), P.H * P.Dh, nq, P.Dh, P.scale, sc.q, mq, P.Dp);
  if (!grads) return;
  pack_rows(dout + P.q_at(b, i0, h), P.H * P.Dh, nq, P.Dh, 1.f, sc.dout, mq, P.Dp);
  for (int64_t r = 0; r < nq; ++r) {
    sc.row_a[r] = lse[P.lse_at(b, i0 + r, h)];
    sc.row_b[r] = dot(dout + P.q_at(b, i0 + r, h), out + P.q_at(b, i0 + r, h), P.Dh);
  }
}

// For packed query tile rows and key tile (b, g, j0): S = (scale Q) K^T into sc.s and
// dP = dO V^T into sc.dp, then P and dS in place. sc.kt and sc.vt must hold the key tile.
void scores_and_dscores(const Plan& P, Scratch& sc, int64_t i0, int64_t nq, int64_t j0,
                        int64_t nk) {
  const int64_t mq = round_up(nq, kMR), ncols = round_up(nk, kNR);
  tile_matmul(mq, ncols, P.Dh, sc.q, P.Dp, 1, sc.kt, kBK, sc.s, kBK, false);
  tile_matmul(mq, ncols, P.Dh, sc.dout, P.Dp, 1, sc.vt, kBK, sc.dp, kBK, false);
  probs_and_dscores(sc.s, sc.dp, mq, nq, ncols, i0 + P.offset - j0 + 1, nk, sc.row_a, sc.row_b);
}

}  // namespace

void attention_forward(const AttentionShape& s, ConstView qv, ConstView kv, ConstView vv,
                       View outv, View lsev) {
  const Plan P(s);
  const float* q = qv.f32();
  const float* k = kv.f32();
  const float* v = vv.f32();
  float* out = outv.f32();
  float* lse = lsev.f32();
  const int64_t bh = P.B * P.H, tasks = bh * P.nqt;
#pragma omp parallel
  {
    Scratch sc(P.Dp);
    // Tasks run from the last query tile (most key tiles) to the first, to balance the load.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t qt = P.nqt - 1 - t / bh, b = (t % bh) / P.H, h = t % P.H, g = h / P.group;
      const int64_t i0 = qt * kBQ, nq = std::min(kBQ, P.Tq - i0), mq = round_up(nq, kMR);
      load_query_tile(P, sc, q, nullptr, nullptr, nullptr, b, h, i0, nq, false);
      float* m = sc.row_a;
      float* l = sc.row_b;
      for (int64_t r = 0; r < mq; ++r) {
        m[r] = -std::numeric_limits<float>::infinity();
        l[r] = 0.f;
      }
      zero(sc.acc, mq * P.Dp);
      const int64_t key_tiles = P.key_tiles_for(i0, nq);
      for (int64_t kt = 0; kt < key_tiles; ++kt) {
        const int64_t j0 = kt * kBK, nk = std::min(kBK, P.Tk - j0), ncols = round_up(nk, kNR);
        pack_transposed(k + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, sc.kt, ncols);
        pack_rows(v + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, 1.f, sc.v, nk, P.Dp);
        tile_matmul(mq, ncols, P.Dh, sc.q, P.Dp, 1, sc.kt, kBK, sc.s, kBK, false);
        online_softmax(sc.s, mq, nq, ncols, i0 + P.offset - j0 + 1, nk, m, l, sc.acc, P.Dp);
        tile_matmul(mq, P.Dp, nk, sc.s, kBK, 1, sc.v, P.Dp, sc.acc, P.Dp, true);
      }
      for (int64_t r = 0; r < nq; ++r) {
        const float inv = 1.f / l[r];
        float* orow = out + P.q_at(b, i0 + r, h);
        const float* arow = sc.acc + r * P.Dp;
        for (int64_t d = 0; d < P.Dh; ++d) orow[d] = arow[d] * inv;
        lse[P.lse_at(b, i0 + r, h)] = m[r] + std::log(l[r]);
      }
    }
  }
}

void attention_backward(const AttentionShape& s, ConstView qv, ConstView kv, ConstView vv,
                        ConstView outv, ConstView lsev, ConstView doutv, View dqv, View dkv,
                        View dvv) {
  const Plan P(s);
  const float* q = qv.f32();
  const float* k = kv.f32();
  const float* v = vv.f32();
  const float* out = outv.f32();
  const float* lse = lsev.f32();
  const float* dout = doutv.f32();
  float* dq = dqv.f32();
  float* dk = dkv.f32();
  float* dv = dvv.f32();

  // Pass 1: dk and dv, one task per (batch, kv head, key tile).
  const int64_t bg = P.B * P.Hkv, kv_tasks = bg * P.nkt;
#pragma omp parallel
  {
    Scratch sc(P.Dp);
    // Early key tiles are seen by the most query tiles: run them first.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < kv_tasks; ++t) {
      const int64_t kt = t / bg, b = (t % bg) / P.Hkv, g = t % P.Hkv;
      const int64_t j0 = kt * kBK, nk = std::min(kBK, P.Tk - j0), mk = round_up(nk, kMR);
      const int64_t ncols = round_up(nk, kNR);
      pack_transposed(k + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, sc.kt, ncols);
      pack_transposed(v + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, sc.vt, ncols);
      float* dk_acc = sc.acc;
      float* dv_acc = sc.acc2;
      zero(dk_acc, mk * P.Dp);
      zero(dv_acc, mk * P.Dp);
      for (int64_t h = g * P.group; h < (g + 1) * P.group; ++h) {
        for (int64_t qt = P.first_query_tile_for(j0); qt < P.nqt; ++qt) {
          const int64_t i0 = qt * kBQ, nq = std::min(kBQ, P.Tq - i0);
          load_query_tile(P, sc, q, out, lse, dout, b, h, i0, nq, true);
          scores_and_dscores(P, sc, i0, nq, j0, nk);
          // dv += P^T dO and dk += dS^T (scale Q): the transposed tiles are read with row
          // stride 1 and k stride kBK.
          tile_matmul(mk, P.Dp, nq, sc.s, 1, kBK, sc.dout, P.Dp, dv_acc, P.Dp, true);
          tile_matmul(mk, P.Dp, nq, sc.dp, 1, kBK, sc.q, P.Dp, dk_acc, P.Dp, true);
        }
      }
      for (int64_t r = 0; r < nk; ++r) {
        float* dkr = dk + P.kv_at(b, j0 + r, g);
        float* dvr = dv + P.kv_at(b, j0 + r, g);
        for (int64_t d = 0; d < P.Dh; ++d) {
          dkr[d] = dk_acc[r * P.Dp + d];
          dvr[d] = dv_acc[r * P.Dp + d];
        }
      }
    }
  }

  // Pass 2: dq = scale dS K, one task per (batch, head, query tile).
  const int64_t bh = P.B * P.H, q_tasks = bh * P.nqt;
#pragma omp parallel
  {
    Scratch sc(P.Dp);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < q_tasks; ++t) {
      const int64_t qt = P.nqt - 1 - t / bh, b = (t % bh) / P.H, h = t % P.H, g = h / P.group;
      const int64_t i0 = qt * kBQ, nq = std::min(kBQ, P.Tq - i0), mq = round_up(nq, kMR);
      load_query_tile(P, sc, q, out, lse, dout, b, h, i0, nq, true);
      zero(sc.acc, mq * P.Dp);
      const int64_t key_tiles = P.key_tiles_for(i0, nq);
      for (int64_t kt = 0; kt < key_tiles; ++kt) {
        const int64_t j0 = kt * kBK, nk = std::min(kBK, P.Tk - j0), ncols = round_up(nk, kNR);
        pack_transposed(k + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, sc.kt, ncols);
        pack_transposed(v + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, sc.vt, ncols);
        pack_rows(k + P.kv_at(b, j0, g), P.Hkv * P.Dh, nk, P.Dh, 1.f, sc.k, nk, P.Dp);
        scores_and_dscores(P, sc, i0, nq, j0, nk);
        tile_matmul(mq, P.Dp, nk, sc.dp, kBK, 1, sc.k, P.Dp, sc.acc, P.Dp, true);
      }
      for (int64_t r = 0; r < nq; ++r) {
        float* dqr = dq + P.q_at(b, i0 + r, h);
        const float* arow = sc.acc + r * P.Dp;
        for (int64_t d = 0; d < P.Dh; ++d) dqr[d] = arow[d] * P.scale;
      }
    }
  }
}

}  // namespace symphony::cpu

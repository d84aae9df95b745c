// FlashAttention-2 on the CPU. Queries and keys are cut into tiles of kBQ and kBK rows; a tile
// pair is a few small matrix products on packed, zero-padded copies held in per-thread scratch
// (O(tile * Dh) floats), so no (T, T) matrix exists. Tiles wholly above the causal diagonal are
// skipped.
//
// Forward: one task per (batch, head, query tile) keeps a running max m and sum l per query:
//   m' = max(m, rowmax(S)),  P = exp(S - m'),
//   l' = l e^(m - m') + rowsum(P),  O' = O e^(m - m') + P V,
// and finishes with out = O / l, lse = m + log l.
// Backward recomputes P = exp(S - lse) tile by tile, on one of two schedules:
//  - one pass: one task per (batch, kv head) walks its key tiles, owns those rows of dk and dv
//    (summing over the query heads of the group) and accumulates the group's dq in per-thread
//    scratch. Five products per tile pair (S, dP, dv, dk, dq). Taken when there are enough
//    (batch, kv head) pairs to share among the threads and the group's dq fits in 4 MiB.
//  - two passes: one task per (batch, kv head, key tile) owns those rows of dk and dv, then one
//    task per (batch, head, query tile) owns those rows of dq. Seven products per tile pair (S
//    and dP are recomputed for dq), but many more tasks, for long sequences on few heads.
// Both compute every score, probability and tile product with the same operations in the same
// order, and sum each output element's tile contributions in key or query tile order, so they
// agree bitwise; every output element is written by one task in a fixed order, so results
// depend neither on the thread count nor on the schedule.
//
// Layouts: a task packs its own tile once and the other side's tiles once per pair. Tasks that
// own a query tile (forward, dq) hold it transposed and compute the transposed scores
// S^T = K Q^T (keys as rows), so per pair they only copy key and value rows, and the softmax
// statistics of the queries run along vector lanes. The dk/dv task holds its key tile
// transposed and computes S = Q K^T.
//
// Where Dh is already a multiple of kTileCols, rows that need no zero padding are read in place
// (rows_operand) instead of being copied. Values, outputs and their gradients have Dv columns per
// head (padded to Dvp), queries and keys Dh (padded to Dp); a tile of either kind fits the
// per-thread scratch.
//
// The small products run on register-blocked microkernels (kernels/tile_matmul.h: AVX-512 or
// AVX2). Packed tiles pad Dh and the score columns to multiples of kTileCols with zeros, and row
// counts to multiples of kTileRows. A BLAS sgemm is not used: on 64 x 64 x 64 tiles a
// single-threaded BLIS call ran at about a quarter of the microkernel's speed, and the
// multithreaded gemm may not be called from inside the parallel region.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <vector>

#include "core/simd.h"
#include "kernels/attention.h"
#include "kernels/fast_exp.h"
#include "kernels/tile_matmul.h"

namespace symphony::cpu {
namespace {

constexpr int64_t kBQ = 64;    // query rows per tile
constexpr int64_t kBK = 64;    // key rows per tile
constexpr int64_t kMR = kTileRows;
constexpr int64_t kNR = kTileCols;
constexpr int64_t kLanes = 8;  // partial results kept by the reductions (one AVX2 vector)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// dst (rows_pad x dp) = scale * src (rows x dh, row stride ld), zero-padded.
SYM_VECTORIZED void pack_rows(const float* src, int64_t ld, int64_t rows, int64_t dh, float scale,
                              float* dst, int64_t rows_pad, int64_t dp) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * ld;
    float* d = dst + r * dp;
#pragma omp simd
    for (int64_t c = 0; c < dh; ++c) d[c] = scale * s[c];
    for (int64_t c = dh; c < dp; ++c) d[c] = 0.f;
  }
  for (int64_t i = rows * dp; i < rows_pad * dp; ++i) dst[i] = 0.f;
}

// dst (dh x cols_pad, row stride ldd) = scale * src^T for src (rows x dh, row stride ld);
// columns [rows, cols_pad) are zero. Goes through 8 x 8 blocks held in a local array, which
// GCC transposes with vector shuffles: about twice as fast as scattering single floats.
SYM_VECTORIZED void pack_transposed(const float* src, int64_t ld, int64_t rows, int64_t dh,
                                    float scale, float* dst, int64_t ldd, int64_t cols_pad) {
  int64_t j = 0;
  for (; j + 8 <= rows; j += 8) {
    int64_t c = 0;
    for (; c + 8 <= dh; c += 8) {
      float blk[8][8];
      for (int64_t r = 0; r < 8; ++r)
        for (int64_t x = 0; x < 8; ++x) blk[r][x] = src[(j + r) * ld + c + x];
      for (int64_t x = 0; x < 8; ++x)
        for (int64_t r = 0; r < 8; ++r) dst[(c + x) * ldd + j + r] = scale * blk[r][x];
    }
    for (; c < dh; ++c)
      for (int64_t r = 0; r < 8; ++r) dst[c * ldd + j + r] = scale * src[(j + r) * ld + c];
  }
  for (; j < rows; ++j)
    for (int64_t c = 0; c < dh; ++c) dst[c * ldd + j] = scale * src[j * ld + c];
  for (int64_t c = 0; c < dh; ++c)
    for (int64_t jj = rows; jj < cols_pad; ++jj) dst[c * ldd + jj] = 0.f;
}

// dot keeps kLanes partial results in a fixed-size array, which GCC holds in a
// register; `omp simd reduction` would zero a stack array through a memset call on every call.
SYM_VECTORIZED float dot(const float* a, const float* b, int64_t n) {
  float part[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l) part[l] += a[i + l] * b[i + l];
  float acc = 0.f;
  for (; i < n; ++i) acc += a[i] * b[i];
  for (int64_t l = 0; l < kLanes; ++l) acc += part[l];
  return acc;
}

// dst (rows x cols, row stride ldd) = scale * src (row stride lds).
SYM_VECTORIZED void copy_rows(const float* src, int64_t lds, int64_t rows, int64_t cols,
                              float scale, float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;
    float* d = dst + r * ldd;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) d[c] = scale * s[c];
  }
}

SYM_VECTORIZED void zero(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.f;
}

// Causal mask inside a tile pair, with fv = i0 + offset - j0 + 1 for query tile row 0 at i0 and
// key tile row 0 at j0: tile query i sees tile key j iff j < fv + i, i.e. i >= j - fv + 1.
//   Keys visible to query i: [0, clamp(fv + i, 0, nk)).
//   Queries that see key j:  [clamp(j - fv + 1, 0, ncols), ncols).
inline int64_t visible_keys(int64_t i, int64_t fv, int64_t nk) {
  return std::clamp(fv + i, int64_t{0}, nk);
}
inline int64_t first_query(int64_t j, int64_t fv, int64_t ncols) {
  return std::clamp(j - fv + 1, int64_t{0}, ncols);
}

// Forward, one key tile, on transposed scores st (nk x ncols, row stride kBQ; query i is column
// i). Updates the running max m and sum l of each query column, turns st into P^T with masked
// entries 0, and leaves in alpha the factor e^(m - m') by which the caller rescales O.
SYM_VECTORIZED void online_softmax_t(float* st, int64_t nk, int64_t ncols, int64_t fv, float* m,
                                     float* l, float* alpha) {
  // alpha holds the new max until the end.
  for (int64_t i = 0; i < ncols; ++i) alpha[i] = m[i];
  for (int64_t j = 0; j < nk; ++j) {
    const float* sj = st + j * kBQ;
#pragma omp simd
    for (int64_t i = first_query(j, fv, ncols); i < ncols; ++i)
      alpha[i] = std::max(alpha[i], sj[i]);
  }
  // Every query sees key 0 of the first key tile, so the new max is finite for all columns.
#pragma omp simd
  for (int64_t i = 0; i < ncols; ++i) {
    const float new_max = alpha[i];
    // m = -inf on the first tile gives ~1e-38, times l = 0.
    alpha[i] = exp_nonpositive(m[i] - new_max);
    m[i] = new_max;
    l[i] *= alpha[i];
  }
  for (int64_t j = 0; j < nk; ++j) {
    float* sj = st + j * kBQ;
    const int64_t first = first_query(j, fv, ncols);
    for (int64_t i = 0; i < first; ++i) sj[i] = 0.f;
#pragma omp simd
    for (int64_t i = first; i < ncols; ++i) {
      const float p = exp_nonpositive(sj[i] - m[i]);
      sj[i] = p;
      l[i] += p;
    }
  }
}

// Backward on transposed tiles st (scores) and dpt (dO V^T), nk x ncols with row stride kBQ:
// st becomes P^T = exp(S^T - lse) and dpt becomes dS^T = P^T (dP^T - D), masked entries 0.
// lse and D are per query column.
SYM_VECTORIZED void probs_and_dscores_t(float* st, float* dpt, int64_t nk, int64_t ncols,
                                        int64_t fv, const float* lse, const float* D) {
  for (int64_t j = 0; j < nk; ++j) {
    float* sj = st + j * kBQ;
    float* dj = dpt + j * kBQ;
    const int64_t first = first_query(j, fv, ncols);
    for (int64_t i = 0; i < first; ++i) {
      sj[i] = 0.f;
      dj[i] = 0.f;
    }
#pragma omp simd
    for (int64_t i = first; i < ncols; ++i) {
      const float p = exp_nonpositive(sj[i] - lse[i]);
      sj[i] = p;
      dj[i] = p * (dj[i] - D[i]);
    }
  }
}

// The same on untransposed tiles s and dp (mq x ncols, row stride kBK; query r is row r), with
// lse and D per row; rows r >= nq are padding and become 0.
SYM_VECTORIZED void probs_and_dscores(float* s, float* dp, int64_t mq, int64_t nq, int64_t ncols,
                                      int64_t fv, int64_t nk, const float* lse, const float* D) {
  for (int64_t r = 0; r < mq; ++r) {
    float* sr = s + r * kBK;
    float* dr = dp + r * kBK;
    const int64_t vis = r < nq ? visible_keys(r, fv, nk) : 0;
    if (vis > 0) {
      const float row_lse = lse[r], row_d = D[r];
#pragma omp simd
      for (int64_t c = 0; c < vis; ++c) {
        const float p = exp_nonpositive(sr[c] - row_lse);
        sr[c] = p;
        dr[c] = p * (dr[c] - row_d);
      }
    }
    for (int64_t c = vis; c < ncols; ++c) {
      sr[c] = 0.f;
      dr[c] = 0.f;
    }
  }
}

// o (rows x dp) row i *= alpha[i].
SYM_VECTORIZED void scale_rows(float* o, int64_t rows, int64_t dp, const float* alpha) {
  for (int64_t i = 0; i < rows; ++i) {
    const float a = alpha[i];
    if (a == 1.f) continue;
    float* oi = o + i * dp;
#pragma omp simd
    for (int64_t d = 0; d < dp; ++d) oi[d] *= a;
  }
}

// Index arithmetic for the (tokens, heads * Dh) layouts and the tiling.
struct Plan {
  int64_t B, Tq, Tk, H, Hkv, Dh, Dp, Dv, Dvp, group, offset, nqt, nkt;
  float scale;

  explicit Plan(const AttentionShape& s)
      : B(s.batch),
        Tq(s.q_len),
        Tk(s.kv_len),
        H(s.heads),
        Hkv(s.kv_heads),
        Dh(s.head_dim),
        Dp(round_up(s.head_dim, kNR)),
        Dv(s.value_dim()),
        Dvp(round_up(s.value_dim(), kNR)),
        group(s.heads / s.kv_heads),
        offset(s.kv_len - s.q_len),
        nqt((s.q_len + kBQ - 1) / kBQ),
        nkt((s.kv_len + kBK - 1) / kBK),
        scale(float(s.softmax_scale())) {}

  int64_t q_at(int64_t b, int64_t i, int64_t h) const { return ((b * Tq + i) * H + h) * Dh; }
  int64_t kv_at(int64_t b, int64_t j, int64_t g) const { return ((b * Tk + j) * Hkv + g) * Dh; }
  int64_t o_at(int64_t b, int64_t i, int64_t h) const { return ((b * Tq + i) * H + h) * Dv; }
  int64_t v_at(int64_t b, int64_t j, int64_t g) const { return ((b * Tk + j) * Hkv + g) * Dv; }
  int64_t lse_at(int64_t b, int64_t i, int64_t h) const { return (b * Tq + i) * H + h; }
  int64_t q_ld() const { return H * Dh; }
  int64_t kv_ld() const { return Hkv * Dh; }
  int64_t o_ld() const { return H * Dv; }
  int64_t v_ld() const { return Hkv * Dv; }
  // Padded columns of the widest tile: scratch tiles hold either kind.
  int64_t tile_cols() const { return std::max(Dp, Dvp); }
  // Key tiles [0, n) hold every key visible to query rows [i0, i0 + nq).
  int64_t key_tiles_for(int64_t i0, int64_t nq) const { return (i0 + nq - 1 + offset) / kBK + 1; }
  // The first query tile with a row that sees key j0.
  int64_t first_query_tile_for(int64_t j0) const { return std::max<int64_t>(0, j0 - offset) / kBQ; }
  int64_t first_visible(int64_t i0, int64_t j0) const { return i0 + offset - j0 + 1; }
};

// Task t of a loop over (batch, head, query tile): the last query tiles (which see the most key
// tiles) come first, to balance the load.
struct QueryTile {
  int64_t b, h, g, i0, nq, mq, ncols;
  QueryTile(const Plan& P, int64_t t) {
    const int64_t bh = P.B * P.H, qt = P.nqt - 1 - t / bh;
    b = (t % bh) / P.H;
    h = t % P.H;
    g = h / P.group;
    i0 = qt * kBQ;
    nq = std::min(kBQ, P.Tq - i0);
    mq = round_up(nq, kMR);
    ncols = round_up(nq, kNR);
  }
};

// Per-thread tiles, each 64-byte aligned: a tile of each kind, whichever pass uses it.
struct Scratch {
  std::vector<float> mem;
  float* q;      // query tile, scaled: rows (kBQ x Dp) or transposed (Dp x kBQ)
  float* dout;   // dO tile, laid out as q with Dvp columns
  float* k;      // key tile: rows (kBK x Dp) or transposed (Dp x kBK)
  float* v;      // value tile, laid out as k with Dvp columns
  float* k_rows; // key rows (kBK x Dp) where the key tile is held transposed
  float* s;      // scores, then P (kBQ * kBK)
  float* dp;     // dO V^T, then dS (kBQ * kBK)
  float* acc;    // O (kBQ x Dvp) or dq (kBQ x Dp), or dk (kBK x Dp)
  float* acc2;   // dv (kBK x Dvp)
  float* row_a;  // per query: running max m, or lse
  float* row_b;  // per query: running sum l, or D
  float* row_c;  // per query: rescale factor

  explicit Scratch(int64_t dp_cols) {
    const int64_t tile_d = std::max(kBQ, kBK) * dp_cols, tile_qk = kBQ * kBK;
    const int64_t sizes[] = {tile_d, tile_d, tile_d, tile_d, tile_d, tile_qk,
                             tile_qk, tile_d, tile_d, kBQ,    kBQ,    kBQ};
    float** slots[] = {&q,  &dout, &k,   &v,     &k_rows, &s,
                       &dp, &acc,  &acc2, &row_a, &row_b, &row_c};
    int64_t total = 16;
    for (int64_t n : sizes) total += round_up(n, 16);
    mem.assign(static_cast<size_t>(total), 0.f);
    const auto addr = reinterpret_cast<uintptr_t>(mem.data());
    float* p = mem.data() + (round_up(int64_t(addr), 64) - int64_t(addr)) / 4;
    for (size_t i = 0; i < std::size(sizes); ++i) {
      *slots[i] = p;
      p += round_up(sizes[i], 16);
    }
  }
};

// Runs fn(scratch, task) for every (batch, head, query tile) task on the OpenMP threads, each
// thread with its own scratch.
template <typename Fn>
void for_each_query_tile(const Plan& P, Fn fn) {
  const int64_t tasks = P.B * P.H * P.nqt;
#pragma omp parallel
  {
    Scratch sc(P.tile_cols());
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) fn(sc, QueryTile(P, t));
  }
}

// A tile operand of `rows` rows of d floats at src (row stride ld), read as `rows_pad` rows of
// dp = round_up(d, kNR) columns: src itself when no zero padding is needed (d == dp and
// rows == rows_pad), else a padded copy in dst (row stride dp). An A operand is read as a
// multiple of kMR rows, a B operand as its k rows exactly.
struct Rows {
  const float* p;
  int64_t ld;
};
Rows rows_operand(const float* src, int64_t ld, int64_t rows, int64_t rows_pad, int64_t d,
                  int64_t dp, float* dst) {
  if (d == dp && rows == rows_pad) return {src, ld};
  pack_rows(src, ld, rows, d, 1.f, dst, rows_pad, dp);
  return {dst, dp};
}

// D = rowsum(dO * O) for every query row and head, laid out as lse.
std::vector<float> row_dots(const Plan& P, const float* out, const float* dout) {
  std::vector<float> d(static_cast<size_t>(P.B * P.Tq * P.H));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < P.B * P.Tq; ++r)
    for (int64_t h = 0; h < P.H; ++h)
      d[size_t(r * P.H + h)] = dot(dout + r * P.o_ld() + h * P.Dv, out + r * P.o_ld() + h * P.Dv,
                                   P.Dv);
  return d;
}

// Fills sc.row_a with lse and sc.row_b with D for query rows [i0, i0 + nq) of head h, and zeros
// up to ncols.
void load_lse_and_d(const Plan& P, Scratch& sc, const float* lse, const float* d, int64_t b,
                    int64_t h, int64_t i0, int64_t nq, int64_t ncols) {
  for (int64_t r = 0; r < nq; ++r) {
    sc.row_a[r] = lse[P.lse_at(b, i0 + r, h)];
    sc.row_b[r] = d[P.lse_at(b, i0 + r, h)];
  }
  for (int64_t r = nq; r < ncols; ++r) sc.row_a[r] = sc.row_b[r] = 0.f;
}

// The backward pass's inputs and outputs; d is row_dots().
struct BackwardArgs {
  const float *q, *k, *v, *lse, *dout, *d;
  float *dq, *dk, *dv;
};

// The products of one (query tile, key tile) pair that give dv and dk, on untransposed scores:
// sc.q holds the scaled query rows, sc.k and sc.v the transposed key tile. Leaves dS in sc.dp.
void dkdv_pair(const Plan& P, Scratch& sc, const BackwardArgs& x, int64_t b, int64_t h,
               int64_t i0, int64_t j0, Rows dout, float* dk_acc, float* dv_acc) {
  const int64_t nq = std::min(kBQ, P.Tq - i0), mq = round_up(nq, kMR);
  const int64_t nk = std::min(kBK, P.Tk - j0), mk = round_up(nk, kMR), ncols = round_up(nk, kNR);
  load_lse_and_d(P, sc, x.lse, x.d, b, h, i0, nq, nq);
  // S = (scale Q) K^T and dP = dO V^T, then P and dS.
  tile_matmul(mq, ncols, P.Dh, sc.q, P.Dp, 1, sc.k, kBK, sc.s, kBK, false);
  tile_matmul(mq, ncols, P.Dv, dout.p, dout.ld, 1, sc.v, kBK, sc.dp, kBK, false);
  probs_and_dscores(sc.s, sc.dp, mq, nq, ncols, P.first_visible(i0, j0), nk, sc.row_a, sc.row_b);
  // dv += P^T dO and dk += dS^T (scale Q), reading P and dS transposed.
  tile_matmul(mk, P.Dvp, nq, sc.s, 1, kBK, dout.p, dout.ld, dv_acc, P.Dvp, true);
  tile_matmul(mk, P.Dp, nq, sc.dp, 1, kBK, sc.q, P.Dp, dk_acc, P.Dp, true);
}

// Loads key tile [j0, j0 + nk) of kv head g transposed into sc.k and sc.v, and zeros the dk and
// dv accumulators.
void begin_key_tile(const Plan& P, Scratch& sc, const BackwardArgs& x, int64_t b, int64_t g,
                    int64_t j0) {
  const int64_t nk = std::min(kBK, P.Tk - j0), mk = round_up(nk, kMR), ncols = round_up(nk, kNR);
  pack_transposed(x.k + P.kv_at(b, j0, g), P.kv_ld(), nk, P.Dh, 1.f, sc.k, kBK, ncols);
  pack_transposed(x.v + P.v_at(b, j0, g), P.v_ld(), nk, P.Dv, 1.f, sc.v, kBK, ncols);
  zero(sc.acc, mk * P.Dp);
  zero(sc.acc2, mk * P.Dvp);
}

// Writes the dk and dv accumulators of key tile [j0, j0 + nk) of kv head g.
void end_key_tile(const Plan& P, const Scratch& sc, const BackwardArgs& x, int64_t b, int64_t g,
                  int64_t j0) {
  const int64_t nk = std::min(kBK, P.Tk - j0);
  copy_rows(sc.acc, P.Dp, nk, P.Dh, 1.f, x.dk + P.kv_at(b, j0, g), P.kv_ld());
  copy_rows(sc.acc2, P.Dvp, nk, P.Dv, 1.f, x.dv + P.v_at(b, j0, g), P.v_ld());
}

// Query tile qt of head h as untransposed rows: sc.q = scale Q, and dO in place or in sc.dout.
Rows load_query_rows(const Plan& P, Scratch& sc, const BackwardArgs& x, int64_t b, int64_t h,
                     int64_t i0) {
  const int64_t nq = std::min(kBQ, P.Tq - i0), mq = round_up(nq, kMR);
  pack_rows(x.q + P.q_at(b, i0, h), P.q_ld(), nq, P.Dh, P.scale, sc.q, mq, P.Dp);
  return rows_operand(x.dout + P.o_at(b, i0, h), P.o_ld(), nq, mq, P.Dv, P.Dvp, sc.dout);
}

void backward_one_pass(const Plan& P, const BackwardArgs& x) {
  const int64_t tasks = P.B * P.Hkv, head_rows = P.nqt * kBQ;
#pragma omp parallel
  {
    Scratch sc(P.tile_cols());
    // dq of the group's query heads, (group, head_rows, Dp).
    std::vector<float> dq_acc(static_cast<size_t>(P.group * head_rows * P.Dp));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t b = t / P.Hkv, g = t % P.Hkv;
      zero(dq_acc.data(), int64_t(dq_acc.size()));
      for (int64_t kt = 0; kt < P.nkt; ++kt) {
        const int64_t j0 = kt * kBK, nk = std::min(kBK, P.Tk - j0);
        begin_key_tile(P, sc, x, b, g, j0);
        const Rows k_rows =
            rows_operand(x.k + P.kv_at(b, j0, g), P.kv_ld(), nk, nk, P.Dh, P.Dp, sc.k_rows);
        for (int64_t h = g * P.group; h < (g + 1) * P.group; ++h) {
          float* dq_head = dq_acc.data() + (h - g * P.group) * head_rows * P.Dp;
          for (int64_t qt = P.first_query_tile_for(j0); qt < P.nqt; ++qt) {
            const int64_t i0 = qt * kBQ, mq = round_up(std::min(kBQ, P.Tq - i0), kMR);
            const Rows dout = load_query_rows(P, sc, x, b, h, i0);
            dkdv_pair(P, sc, x, b, h, i0, j0, dout, sc.acc, sc.acc2);
            // dq += dS K (scaled when written).
            tile_matmul(mq, P.Dp, nk, sc.dp, kBK, 1, k_rows.p, k_rows.ld, dq_head + i0 * P.Dp,
                        P.Dp, true);
          }
        }
        end_key_tile(P, sc, x, b, g, j0);
      }
      for (int64_t h = g * P.group; h < (g + 1) * P.group; ++h) {
        copy_rows(dq_acc.data() + (h - g * P.group) * head_rows * P.Dp, P.Dp, P.Tq, P.Dh,
                  P.scale, x.dq + P.q_at(b, 0, h), P.q_ld());
      }
    }
  }
}

void backward_two_passes(const Plan& P, const BackwardArgs& x) {
  // Pass 1: dk and dv, one task per (batch, kv head, key tile), untransposed scores.
  const int64_t bg = P.B * P.Hkv, kv_tasks = bg * P.nkt;
#pragma omp parallel
  {
    Scratch sc(P.tile_cols());
    // Early key tiles are seen by the most query tiles: run them first.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < kv_tasks; ++t) {
      const int64_t kt = t / bg, b = (t % bg) / P.Hkv, g = t % P.Hkv, j0 = kt * kBK;
      begin_key_tile(P, sc, x, b, g, j0);
      for (int64_t h = g * P.group; h < (g + 1) * P.group; ++h) {
        for (int64_t qt = P.first_query_tile_for(j0); qt < P.nqt; ++qt) {
          const Rows dout = load_query_rows(P, sc, x, b, h, qt * kBQ);
          dkdv_pair(P, sc, x, b, h, qt * kBQ, j0, dout, sc.acc, sc.acc2);
        }
      }
      end_key_tile(P, sc, x, b, g, j0);
    }
  }

  // Pass 2: dq = scale dS K, one task per (batch, head, query tile), transposed scores.
  for_each_query_tile(P, [&](Scratch& sc, const QueryTile& task) {
    const int64_t b = task.b, h = task.h, g = task.g, i0 = task.i0, nq = task.nq;
    const int64_t mq = task.mq, ncols = task.ncols;
    pack_transposed(x.q + P.q_at(b, i0, h), P.q_ld(), nq, P.Dh, P.scale, sc.q, kBQ, ncols);
    pack_transposed(x.dout + P.o_at(b, i0, h), P.o_ld(), nq, P.Dv, 1.f, sc.dout, kBQ, ncols);
    load_lse_and_d(P, sc, x.lse, x.d, b, h, i0, nq, ncols);
    zero(sc.acc, mq * P.Dp);
    const int64_t key_tiles = P.key_tiles_for(i0, nq);
    for (int64_t kt = 0; kt < key_tiles; ++kt) {
      const int64_t j0 = kt * kBK, nk = std::min(kBK, P.Tk - j0), mk = round_up(nk, kMR);
      const Rows k_rows =
          rows_operand(x.k + P.kv_at(b, j0, g), P.kv_ld(), nk, mk, P.Dh, P.Dp, sc.k);
      const Rows v_rows =
          rows_operand(x.v + P.v_at(b, j0, g), P.v_ld(), nk, mk, P.Dv, P.Dvp, sc.v);
      // S^T = K (scale Q)^T and dP^T = V dO^T, then P^T and dS^T; dq += dS K.
      tile_matmul(mk, ncols, P.Dh, k_rows.p, k_rows.ld, 1, sc.q, kBQ, sc.s, kBQ, false);
      tile_matmul(mk, ncols, P.Dv, v_rows.p, v_rows.ld, 1, sc.dout, kBQ, sc.dp, kBQ, false);
      probs_and_dscores_t(sc.s, sc.dp, nk, ncols, P.first_visible(i0, j0), sc.row_a, sc.row_b);
      tile_matmul(mq, P.Dp, nk, sc.dp, 1, kBQ, k_rows.p, k_rows.ld, sc.acc, P.Dp, true);
    }
    copy_rows(sc.acc, P.Dp, nq, P.Dh, P.scale, x.dq + P.q_at(b, i0, h), P.q_ld());
  });
}

bool use_one_pass(const Plan& P, AttentionBackwardPasses passes) {
  if (passes != AttentionBackwardPasses::kAuto) return passes == AttentionBackwardPasses::kOne;
  const int64_t tasks = P.B * P.Hkv, threads = omp_get_max_threads();
  const bool dq_fits = P.group * P.nqt * kBQ * P.Dp <= (int64_t(1) << 20);
  return dq_fits && tasks >= threads && (tasks % threads == 0 || tasks >= 4 * threads);
}

}  // namespace

void attention_forward(const AttentionShape& s, ConstView qv, ConstView kv, ConstView vv, View outv,
                       View lsev) {
  const Plan P(s);
  const float* q = qv.f32();
  const float* k = kv.f32();
  const float* v = vv.f32();
  float* out = outv.f32();
  float* lse = lsev.f32();
  for_each_query_tile(P, [&](Scratch& sc, const QueryTile& task) {
    const int64_t b = task.b, h = task.h, g = task.g, i0 = task.i0, nq = task.nq;
    const int64_t mq = task.mq, ncols = task.ncols;
    pack_transposed(q + P.q_at(b, i0, h), P.q_ld(), nq, P.Dh, P.scale, sc.q, kBQ, ncols);
    float* m = sc.row_a;
    float* l = sc.row_b;
    for (int64_t i = 0; i < ncols; ++i) {
      m[i] = kNegInf;
      l[i] = 0.f;
    }
    zero(sc.acc, mq * P.Dvp);
    const int64_t key_tiles = P.key_tiles_for(i0, nq);
    for (int64_t kt = 0; kt < key_tiles; ++kt) {
      const int64_t j0 = kt * kBK, nk = std::min(kBK, P.Tk - j0), mk = round_up(nk, kMR);
      const Rows k_rows = rows_operand(k + P.kv_at(b, j0, g), P.kv_ld(), nk, mk, P.Dh, P.Dp, sc.k);
      const Rows v_rows = rows_operand(v + P.v_at(b, j0, g), P.v_ld(), nk, nk, P.Dv, P.Dvp, sc.v);
      // S^T = K (scale Q)^T, then P^T; O = O * alpha + P V.
      tile_matmul(mk, ncols, P.Dh, k_rows.p, k_rows.ld, 1, sc.q, kBQ, sc.s, kBQ, false);
      online_softmax_t(sc.s, nk, ncols, P.first_visible(i0, j0), m, l, sc.row_c);
      scale_rows(sc.acc, mq, P.Dvp, sc.row_c);
      tile_matmul(mq, P.Dvp, nk, sc.s, 1, kBQ, v_rows.p, v_rows.ld, sc.acc, P.Dvp, true);
    }
    for (int64_t i = 0; i < nq; ++i) {
      copy_rows(sc.acc + i * P.Dvp, P.Dvp, 1, P.Dv, 1.f / l[i], out + P.o_at(b, i0 + i, h),
                P.o_ld());
      lse[P.lse_at(b, i0 + i, h)] = m[i] + std::log(l[i]);
    }
  });
}

void attention_backward(const AttentionShape& s, ConstView qv, ConstView kv, ConstView vv,
                        ConstView outv, ConstView lsev, ConstView doutv, View dqv, View dkv,
                        View dvv, AttentionBackwardPasses passes) {
  const Plan P(s);
  const std::vector<float> d = row_dots(P, outv.f32(), doutv.f32());
  const BackwardArgs x{qv.f32(),    kv.f32(),  vv.f32(),  lsev.f32(), doutv.f32(),
                       d.data(),    dqv.f32(), dkv.f32(), dvv.f32()};
  if (use_one_pass(P, passes))
    backward_one_pass(P, x);
  else
    backward_two_passes(P, x);
}

}  // namespace symphony::cpu

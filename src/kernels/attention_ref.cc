#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention.h"

namespace symphony::ref {
namespace {

// Index helpers for the row-major (tokens, heads * Dh) layouts of the header; values and outputs
// have Dv columns per head.
struct Layout {
  int64_t B, Tq, Tk, H, Hkv, Dh, Dv, group, offset;
  double scale;

  explicit Layout(const AttentionShape& s)
      : B(s.batch),
        Tq(s.q_len),
        Tk(s.kv_len),
        H(s.heads),
        Hkv(s.kv_heads),
        Dh(s.head_dim),
        Dv(s.value_dim()),
        group(s.heads / s.kv_heads),
        offset(s.kv_len - s.q_len),
        scale(s.softmax_scale()) {}
  int64_t q_at(int64_t b, int64_t i, int64_t h) const { return ((b * Tq + i) * H + h) * Dh; }
  int64_t kv_at(int64_t b, int64_t j, int64_t g) const { return ((b * Tk + j) * Hkv + g) * Dh; }
  int64_t o_at(int64_t b, int64_t i, int64_t h) const { return ((b * Tq + i) * H + h) * Dv; }
  int64_t v_at(int64_t b, int64_t j, int64_t g) const { return ((b * Tk + j) * Hkv + g) * Dv; }
  int64_t lse_at(int64_t b, int64_t i, int64_t h) const { return (b * Tq + i) * H + h; }
};

template <typename T>
double dot(const T* a, const T* b, int64_t n) {
  double acc = 0;
  for (int64_t d = 0; d < n; ++d) acc += double(a[d]) * double(b[d]);
  return acc;
}

template <typename T>
void forward(const AttentionShape& s, ConstView qv, ConstView kv, ConstView vv, View outv,
             View lsev) {
  const Layout L(s);
  const T* q = qv.data<T>();
  const T* k = kv.data<T>();
  const T* v = vv.data<T>();
  T* out = outv.data<T>();
  T* lse = lsev.data<T>();
  std::vector<double> score(L.Tk), acc(L.Dv);
  for (int64_t b = 0; b < L.B; ++b) {
    for (int64_t h = 0; h < L.H; ++h) {
      const int64_t g = h / L.group;
      for (int64_t i = 0; i < L.Tq; ++i) {
        const T* qi = q + L.q_at(b, i, h);
        const int64_t keys = i + L.offset + 1;  // keys [0, keys) are visible to row i
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < keys; ++j) {
          score[j] = L.scale * dot(qi, k + L.kv_at(b, j, g), L.Dh);
          mx = std::max(mx, score[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < keys; ++j) sum += std::exp(score[j] - mx);
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < keys; ++j) {
          const double p = std::exp(score[j] - mx) / sum;
          const T* vj = v + L.v_at(b, j, g);
          for (int64_t d = 0; d < L.Dv; ++d) acc[d] += p * double(vj[d]);
        }
        T* oi = out + L.o_at(b, i, h);
        for (int64_t d = 0; d < L.Dv; ++d) oi[d] = T(acc[d]);
        lse[L.lse_at(b, i, h)] = T(mx + std::log(sum));
      }
    }
  }
}

// With P the softmax probabilities recomputed from the saved lse:
//   dP = dO V^T,  D_i = sum_d dO[i,d] O[i,d],  dS = P * (dP - D),
//   dq = scale dS K,  dk = scale dS^T Q,  dv = P^T dO,
// where dk and dv sum over the query heads that share a kv head.
template <typename T>
void backward(const AttentionShape& s, ConstView qv, ConstView kv, ConstView vv, ConstView outv,
              ConstView lsev, ConstView doutv, View dqv, View dkv, View dvv) {
  const Layout L(s);
  const T* q = qv.data<T>();
  const T* k = kv.data<T>();
  const T* v = vv.data<T>();
  const T* out = outv.data<T>();
  const T* lse = lsev.data<T>();
  const T* dout = doutv.data<T>();
  T* dq = dqv.data<T>();
  T* dk = dkv.data<T>();
  T* dv = dvv.data<T>();
  std::vector<double> dk_acc(static_cast<size_t>(dkv.numel()), 0.0);
  std::vector<double> dv_acc(static_cast<size_t>(dvv.numel()), 0.0);
  std::vector<double> dq_acc(L.Dh);
  for (int64_t b = 0; b < L.B; ++b) {
    for (int64_t h = 0; h < L.H; ++h) {
      const int64_t g = h / L.group;
      for (int64_t i = 0; i < L.Tq; ++i) {
        const T* qi = q + L.q_at(b, i, h);
        const T* doi = dout + L.o_at(b, i, h);
        const double row_lse = lse[L.lse_at(b, i, h)];
        const double D = dot(doi, out + L.o_at(b, i, h), L.Dv);
        std::fill(dq_acc.begin(), dq_acc.end(), 0.0);
        const int64_t keys = i + L.offset + 1;
        for (int64_t j = 0; j < keys; ++j) {
          const T* kj = k + L.kv_at(b, j, g);
          const T* vj = v + L.v_at(b, j, g);
          const double p = std::exp(L.scale * dot(qi, kj, L.Dh) - row_lse);
          const double ds = p * (dot(doi, vj, L.Dv) - D);
          double* dkj = dk_acc.data() + L.kv_at(b, j, g);
          double* dvj = dv_acc.data() + L.v_at(b, j, g);
          for (int64_t d = 0; d < L.Dh; ++d) {
            dq_acc[d] += L.scale * ds * double(kj[d]);
            dkj[d] += L.scale * ds * double(qi[d]);
          }
          for (int64_t d = 0; d < L.Dv; ++d) dvj[d] += p * double(doi[d]);
        }
        T* dqi = dq + L.q_at(b, i, h);
        for (int64_t d = 0; d < L.Dh; ++d) dqi[d] = T(dq_acc[d]);
      }
    }
  }
  for (size_t e = 0; e < dk_acc.size(); ++e) dk[e] = T(dk_acc[e]);
  for (size_t e = 0; e < dv_acc.size(); ++e) dv[e] = T(dv_acc[e]);
}

}  // namespace

void attention_forward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View out,
                       View lse) {
  if (q.dtype() == DType::kF64) return forward<double>(s, q, k, v, out, lse);
  forward<float>(s, q, k, v, out, lse);
}

void attention_backward(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                        ConstView out, ConstView lse, ConstView dout, View dq, View dk, View dv) {
  if (q.dtype() == DType::kF64) return backward<double>(s, q, k, v, out, lse, dout, dq, dk, dv);
  backward<float>(s, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace symphony::ref

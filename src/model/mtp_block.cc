#include "model/mtp_block.h"

#include <cstring>
#include <string>

#include "kernels/rmsnorm.h"
#include "model/linear.h"
#include "model/weight_grad_queue.h"

namespace symphony {
namespace {

Buffer act(DType dtype, Shape shape) { return Buffer(dtype, shape, MemoryCategory::kActivations); }

// Views are dense row blocks, so the two (rows, D) halves of the (rows, 2D) concatenation are
// copied in and out rather than viewed.
void join_halves(ConstView left, ConstView right, View joined) {
  const int64_t rows = left.dim(0), half_bytes = left.bytes() / (rows == 0 ? 1 : rows);
  const auto* a = static_cast<const char*>(left.raw());
  const auto* b = static_cast<const char*>(right.raw());
  auto* out = static_cast<char*>(joined.raw());
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(out + 2 * r * half_bytes, a + r * half_bytes, size_t(half_bytes));
    std::memcpy(out + (2 * r + 1) * half_bytes, b + r * half_bytes, size_t(half_bytes));
  }
}

void split_halves(ConstView joined, View left, View right) {
  const int64_t rows = left.dim(0), half_bytes = left.bytes() / (rows == 0 ? 1 : rows);
  const auto* in = static_cast<const char*>(joined.raw());
  auto* a = static_cast<char*>(left.raw());
  auto* b = static_cast<char*>(right.raw());
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(a + r * half_bytes, in + 2 * r * half_bytes, size_t(half_bytes));
    std::memcpy(b + r * half_bytes, in + (2 * r + 1) * half_bytes, size_t(half_bytes));
  }
}

}  // namespace

MtpActs::MtpActs(int64_t rows, int64_t hidden, DType dtype)
    : emb(act(dtype, {rows, hidden})),
      inv_e(act(dtype, {rows})),
      inv_h(act(dtype, {rows})),
      cat(act(dtype, {rows, 2 * hidden})),
      x(act(dtype, {rows, hidden})),
      h(act(dtype, {rows, hidden})),
      head_h(act(dtype, {rows, hidden})),
      head_inv(act(dtype, {rows})) {}

MtpScratch::MtpScratch(int64_t rows, int64_t hidden, DType dtype)
    : dcat(act(dtype, {rows, 2 * hidden})),
      de(act(dtype, {rows, hidden})),
      dh(act(dtype, {rows, hidden})) {}

MtpBlock::MtpBlock(const ModelConfig& config, int64_t depth, ParamStore& store)
    : hidden_(config.hidden_size), eps_(config.rms_norm_eps) {
  const std::string prefix =
      "model.layers." + std::to_string(config.num_hidden_layers + depth - 1);
  const int64_t d = config.hidden_size;
  enorm_ = store.add(prefix + ".enorm.weight", {d}, Decay::kNo);
  hnorm_ = store.add(prefix + ".hnorm.weight", {d}, Decay::kNo);
  eh_proj_ = store.add(prefix + ".eh_proj.weight", {d, 2 * d}, Decay::kYes);
  head_norm_ = store.add(prefix + ".shared_head.norm.weight", {d}, Decay::kNo);
}

void MtpBlock::combine_forward(const Exec& ex, const ParamStore& store, ConstView emb,
                               ConstView h_prev, MtpActs& acts, View x) const {
  const int64_t rows = emb.dim(0);
  // The normed halves go to x and the head's buffer first: both are overwritten below.
  View e_normed = acts.head_h.view().rows(0, rows);
  View h_normed = x;
  rmsnorm_forward(ex, emb, store.param(enorm_), eps_, e_normed, acts.inv_e.view().rows(0, rows));
  rmsnorm_forward(ex, h_prev, store.param(hnorm_), eps_, h_normed,
                  acts.inv_h.view().rows(0, rows));
  View cat = acts.cat.view().rows(0, rows);
  join_halves(e_normed, h_normed, cat);
  linear_forward(ex, cat, store.param(eh_proj_), x);
}

void MtpBlock::combine_backward(const Exec& ex, ParamStore& store, ConstView emb,
                                ConstView h_prev, ConstView dx, const MtpActs& acts,
                                MtpScratch& scratch) const {
  const int64_t rows = dx.dim(0);
  ConstView cat = acts.cat.view().rows(0, rows);
  View dcat = scratch.dcat.view().rows(0, rows);
  View de = scratch.de.view().rows(0, rows), dh = scratch.dh.view().rows(0, rows);
  linear_backward_weight(ex, cat, dx, store.grad(eh_proj_), store.weight_grad_queue());
  linear_backward_input(ex, store.param(eh_proj_), dx, dcat, Accumulate::kNo);
  split_halves(dcat, de, dh);
  rmsnorm_backward(ex, emb, store.param(enorm_), acts.inv_e.view().rows(0, rows), de, de,
                   store.grad(enorm_));
  rmsnorm_backward(ex, h_prev, store.param(hnorm_), acts.inv_h.view().rows(0, rows), dh, dh,
                   store.grad(hnorm_));
}

}  // namespace symphony

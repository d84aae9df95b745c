#include "kernels/embedding.h"

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

// An id outside the table would read or write outside its memory, so every id is checked.
void check_tokens(std::span<const int32_t> tokens, int64_t vocab) {
  for (size_t n = 0; n < tokens.size(); ++n)
    SYM_CHECK(tokens[n] >= 0 && tokens[n] < vocab,
              "embedding: token {} at position {} is outside the vocabulary [0, {})", tokens[n], n,
              vocab);
}

}  // namespace

void embedding_forward(const Exec& ex, ConstView table, std::span<const int32_t> tokens,
                       View out) {
  SYM_CHECK(table.ndim() == 2 && out.ndim() == 2, "embedding: table and out must be 2-d");
  SYM_CHECK(out.dim(0) == int64_t(tokens.size()) && out.dim(1) == table.dim(1),
            "embedding: out is ({}, {}), expected ({}, {})", out.dim(0), out.dim(1),
            tokens.size(), table.dim(1));
  SYM_CHECK(table.dtype() == out.dtype(), "embedding: table and out dtypes differ");
  check_tokens(tokens, table.dim(0));
  if (use_ref(ex, table)) return ref::embedding_forward(table, tokens, out);
  cpu::embedding_forward(table, tokens, out);
}

void embedding_backward(const Exec& ex, std::span<const int32_t> tokens, ConstView dout,
                        View dtable) {
  SYM_CHECK(dtable.ndim() == 2 && dout.ndim() == 2, "embedding_backward: 2-d views required");
  SYM_CHECK(dout.dim(0) == int64_t(tokens.size()) && dout.dim(1) == dtable.dim(1),
            "embedding_backward: dout is ({}, {}), expected ({}, {})", dout.dim(0), dout.dim(1),
            tokens.size(), dtable.dim(1));
  SYM_CHECK(dtable.dtype() == dout.dtype(), "embedding_backward: dtable and dout dtypes differ");
  check_tokens(tokens, dtable.dim(0));
  if (use_ref(ex, dtable)) return ref::embedding_backward(tokens, dout, dtable);
  cpu::embedding_backward(tokens, dout, dtable);
}

}  // namespace symphony

#include "kernels/embedding.h"

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

// Ids past the block belong to other blocks and are legal; a negative id belongs to none.
void check_tokens(std::span<const int32_t> tokens, int64_t first) {
  SYM_CHECK(first >= 0, "embedding: block starts at vocabulary row {} < 0", first);
  for (size_t n = 0; n < tokens.size(); ++n)
    SYM_CHECK(tokens[n] >= 0, "embedding: token {} at position {} is negative", tokens[n], n);
}

}  // namespace

void embedding_forward(const Exec& ex, ConstView table, std::span<const int32_t> tokens, View out,
                       int64_t first) {
  SYM_CHECK(table.ndim() == 2 && out.ndim() == 2, "embedding: table and out must be 2-d");
  SYM_CHECK(out.dim(0) == int64_t(tokens.size()) && out.dim(1) == table.dim(1),
            "embedding: out is ({}, {}), expected ({}, {})", out.dim(0), out.dim(1),
            tokens.size(), table.dim(1));
  SYM_CHECK(table.dtype() == out.dtype(), "embedding: table and out dtypes differ");
  check_tokens(tokens, first);
  if (use_ref(ex, table)) return ref::embedding_forward(table, tokens, out, first);
  cpu::embedding_forward(table, tokens, out, first);
}

void embedding_backward(const Exec& ex, std::span<const int32_t> tokens, ConstView dout,
                        View dtable, int64_t first) {
  SYM_CHECK(dtable.ndim() == 2 && dout.ndim() == 2, "embedding_backward: 2-d views required");
  SYM_CHECK(dout.dim(0) == int64_t(tokens.size()) && dout.dim(1) == dtable.dim(1),
            "embedding_backward: dout is ({}, {}), expected ({}, {})", dout.dim(0), dout.dim(1),
            tokens.size(), dtable.dim(1));
  SYM_CHECK(dtable.dtype() == dout.dtype(), "embedding_backward: dtable and dout dtypes differ");
  check_tokens(tokens, first);
  if (use_ref(ex, dtable)) return ref::embedding_backward(tokens, dout, dtable, first);
  cpu::embedding_backward(tokens, dout, dtable, first);
}

}  // namespace symphony

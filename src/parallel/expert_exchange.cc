#include "parallel/expert_exchange.h"

#include <chrono>

#include "core/check.h"

namespace symphony {
namespace {
double now_s() { return steady_seconds(); }
}  // namespace

ExchangePlan::ExchangePlan(int64_t num_experts, int ranks, int chunks, int64_t max_recv_rows)
    : send_counts_(size_t(num_experts), 0),
      recv_counts_(size_t(num_experts), 0),
      chunk_send_rows_(size_t(chunks * ranks), 0),
      chunk_recv_rows_(size_t(chunks * ranks), 0),
      send_begin_(size_t(chunks + 1), 0),
      recv_begin_(size_t(chunks + 1), 0),
      expert_begin_(size_t(num_experts / ranks + 1), 0),
      segment_begin_(size_t(num_experts + 1), 0) {
  to_expert_major_.reserve(size_t(max_recv_rows));
  to_source_major_.reserve(size_t(max_recv_rows));
}

ExpertExchange::ExpertExchange(Comm& ep, int64_t num_experts, int chunks)
    : ep_(ep), ranks_(ep.size()), num_experts_(num_experts), chunks_(chunks) {
  SYM_CHECK(num_experts % ranks_ == 0, "{} experts over {} ranks", num_experts, ranks_);
  local_experts_ = num_experts / ranks_;
  SYM_CHECK(chunks >= 1 && local_experts_ % chunks == 0, "{} local experts in {} chunks",
            local_experts_, chunks);
  elem_send_.assign(size_t(chunks * ranks_), 0);
  elem_recv_.assign(size_t(chunks * ranks_), 0);
  cursor_.assign(size_t(local_experts_ / chunks), 0);
  in_flight_.resize(size_t(chunks));
}

int ExpertExchange::chunks_for(int64_t num_experts, int ep) {
  if (ep <= 1 || num_experts % ep != 0) return 1;
  return (num_experts / ep) % 2 == 0 ? 2 : 1;
}

int64_t ExpertExchange::send_position(int64_t e) const {
  const int64_t per_chunk = local_experts_ / chunks_;
  const int64_t rank = e / local_experts_, j = e % local_experts_;
  const int64_t c = j / per_chunk, jj = j % per_chunk;
  return (c * ranks_ + rank) * per_chunk + jj;
}

Status ExpertExchange::exchange_counts(std::span<const int64_t> rows_by_position,
                                       ExchangePlan& p) {
  SYM_CHECK(int64_t(rows_by_position.size()) == num_experts_, "{} counts for {} experts",
            rows_by_position.size(), num_experts_);
  SYM_CHECK(int64_t(p.send_counts_.size()) == num_experts_ &&
                int64_t(p.chunk_send_rows_.size()) == chunks_ * ranks_ &&
                int64_t(p.expert_begin_.size()) == local_experts_ + 1,
            "an exchange plan sized for {} experts and {} chunk-ranks, not {} and {} x {}",
            p.send_counts_.size(), p.chunk_send_rows_.size(), num_experts_, chunks_, ranks_);
  const int64_t el = local_experts_, per_chunk = el / chunks_;
  for (int64_t e = 0; e < num_experts_; ++e)
    p.send_counts_[size_t(e)] = rows_by_position[size_t(send_position(e))];
  SYM_TRY(ep_.all_to_all(p.send_counts_.data(), p.recv_counts_.data(), el, CommDType::kI64));

  std::fill(p.chunk_send_rows_.begin(), p.chunk_send_rows_.end(), 0);
  std::fill(p.chunk_recv_rows_.begin(), p.chunk_recv_rows_.end(), 0);
  for (int64_t r = 0; r < ranks_; ++r)
    for (int64_t j = 0; j < el; ++j) {
      const size_t at = size_t((j / per_chunk) * ranks_ + r);
      p.chunk_send_rows_[at] += p.send_counts_[size_t(r * el + j)];
      p.chunk_recv_rows_[at] += p.recv_counts_[size_t(r * el + j)];
    }
  for (int c = 0; c < chunks_; ++c) {
    int64_t s = 0, r = 0;
    for (int q = 0; q < ranks_; ++q) {
      s += p.chunk_send_rows_[size_t(c * ranks_ + q)];
      r += p.chunk_recv_rows_[size_t(c * ranks_ + q)];
    }
    p.send_begin_[size_t(c + 1)] = p.send_begin_[size_t(c)] + s;
    p.recv_begin_[size_t(c + 1)] = p.recv_begin_[size_t(c)] + r;
  }

  // Expert-major rows: local expert j's rows from source 0, 1, ... Chunks are ranges of local
  // experts, so expert-major order runs through the chunks in order too.
  for (int64_t j = 0; j < el; ++j) {
    int64_t rows = 0;
    for (int q = 0; q < ranks_; ++q) {
      const size_t seg = size_t(j * ranks_ + q);
      p.segment_begin_[seg + 1] = p.segment_begin_[seg] + p.recv_counts_[size_t(q * el + j)];
      rows += p.recv_counts_[size_t(q * el + j)];
    }
    p.expert_begin_[size_t(j + 1)] = p.expert_begin_[size_t(j)] + rows;
  }
  const int64_t total = p.recv_rows();
  SYM_CHECK(size_t(total) <= p.to_expert_major_.capacity(),
            "{} received rows for an exchange plan sized for {}", total,
            p.to_expert_major_.capacity());
  p.to_expert_major_.resize(size_t(total));
  p.to_source_major_.resize(size_t(total));
  for (int c = 0; c < chunks_; ++c) {
    // Source-major within the chunk: [source q][local expert j of the chunk].
    int64_t source_row = p.recv_begin_[size_t(c)];
    std::vector<int64_t>& cursor = cursor_;  // next expert-major row of each expert of the chunk
    for (int64_t j = c * per_chunk; j < (c + 1) * per_chunk; ++j)
      cursor[size_t(j - c * per_chunk)] = p.expert_begin_[size_t(j)];
    for (int q = 0; q < ranks_; ++q)
      for (int64_t j = c * per_chunk; j < (c + 1) * per_chunk; ++j)
        for (int64_t i = 0; i < p.recv_counts_[size_t(q * el + j)]; ++i) {
          const int64_t expert_row = cursor[size_t(j - c * per_chunk)]++;
          p.to_expert_major_[size_t(expert_row)] = int32_t(source_row);
          p.to_source_major_[size_t(source_row)] = int32_t(expert_row);
          ++source_row;
        }
  }
  return Status::ok();
}

void ExpertExchange::start(int c, const float* send, std::span<const int64_t> send_rows,
                           float* recv, std::span<const int64_t> recv_rows, int64_t row_elems) {
  int64_t* s = elem_send_.data() + c * ranks_;
  int64_t* r = elem_recv_.data() + c * ranks_;
  for (int q = 0; q < ranks_; ++q) {
    s[q] = send_rows[size_t(q)] * row_elems;
    r[q] = recv_rows[size_t(q)] * row_elems;
  }
  InFlight& f = in_flight_[size_t(c)];
  f.issued_s = now_s();
  f.handle = ep_.all_to_all_v_async(send, std::span<const int64_t>(s, size_t(ranks_)), recv,
                                    std::span<const int64_t>(r, size_t(ranks_)), CommDType::kF32);
}

void ExpertExchange::dispatch_async(const ExchangePlan& p, int c, const float* send, float* recv,
                                    int64_t row_elems) {
  const size_t at = size_t(c * ranks_), n = size_t(ranks_);
  start(c, send + p.send_begin(c) * row_elems,
        std::span<const int64_t>(p.chunk_send_rows_).subspan(at, n),
        recv + p.recv_begin(c) * row_elems,
        std::span<const int64_t>(p.chunk_recv_rows_).subspan(at, n), row_elems);
}

void ExpertExchange::combine_async(const ExchangePlan& p, int c, const float* send, float* recv,
                                   int64_t row_elems) {
  const size_t at = size_t(c * ranks_), n = size_t(ranks_);
  start(c, send + p.recv_begin(c) * row_elems,
        std::span<const int64_t>(p.chunk_recv_rows_).subspan(at, n),
        recv + p.send_begin(c) * row_elems,
        std::span<const int64_t>(p.chunk_send_rows_).subspan(at, n), row_elems);
}

Status ExpertExchange::wait(int c) {
  InFlight& f = in_flight_[size_t(c)];
  const double waited_from = now_s();
  Status s = f.handle.wait();
  const double end = now_s();
  times_.exposed_s += end - waited_from;
  // Completed before the wait: in flight until then; else until the wait returned.
  const double completed = f.handle.completed_s();
  times_.in_flight_s += (completed > 0 ? std::min(completed, end) : end) - f.issued_s;
  f.handle = CommHandle();
  return s;
}

ExchangeTimes ExpertExchange::take_times() {
  ExchangeTimes t = times_;
  times_ = ExchangeTimes{};
  return t;
}

}  // namespace symphony

#include "data/data_loader.h"

#include "core/check.h"
#include "core/checked_math.h"

namespace symphony {

Result<std::unique_ptr<DataLoader>> DataLoader::create(std::vector<BlendSource> sources,
                                                       const LoaderOptions& options) {
  if (options.seq_len < 1) return Error::invalid("loader seq_len {} must be >= 1", options.seq_len);
  if (options.micro_batch_size < 1)
    return Error::invalid("loader micro_batch_size {} must be >= 1", options.micro_batch_size);
  if (options.dp_size < 1 || options.dp_rank < 0 || options.dp_rank >= options.dp_size)
    return Error::invalid("loader dp_rank {} must be in [0, dp_size {})", options.dp_rank,
                          options.dp_size);
  if (options.prefetch_depth < 0)
    return Error::invalid("loader prefetch_depth {} must be >= 0", options.prefetch_depth);
  // A draw covers every rank's micro-batch; its sample and token counts must be computable.
  if (!checked_product({options.micro_batch_size, options.seq_len, options.dp_size}))
    return Error::invalid("loader micro_batch_size {} x seq_len {} x dp_size {} overflows int64",
                          options.micro_batch_size, options.seq_len, options.dp_size);
  SYM_TRY_ASSIGN(SampleStream stream,
                 SampleStream::create(std::move(sources), options.seq_len, options.seed));
  return std::unique_ptr<DataLoader>(new DataLoader(std::move(stream), options));
}

DataLoader::DataLoader(SampleStream stream, const LoaderOptions& options)
    : stream_(std::move(stream)), options_(options), consumed_(stream_.state()) {
  const size_t tokens = static_cast<size_t>(options_.micro_batch_size * options_.seq_len);
  for (int i = 0; i < options_.prefetch_depth; ++i)
    free_.push_back(Batch{std::vector<int32_t>(tokens), std::vector<int32_t>(tokens), {}});
  start_prefetch();
}

DataLoader::~DataLoader() { stop_prefetch(); }

void DataLoader::produce(std::span<int32_t> inputs, std::span<int32_t> targets) {
  const int64_t mb = options_.micro_batch_size;
  const int64_t first = options_.dp_rank * mb;
  const int64_t step = options_.dp_size * mb;
  const size_t row = static_cast<size_t>(options_.seq_len);
  for (int64_t q = 0; q < step; ++q) {
    const SampleStream::Sample sample = stream_.next();
    if (q < first || q >= first + mb) continue;  // another rank's sample
    const size_t offset = static_cast<size_t>(q - first) * row;
    stream_.fill(sample, inputs.subspan(offset, row), targets.subspan(offset, row));
  }
}

void DataLoader::next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  const size_t expected = static_cast<size_t>(options_.micro_batch_size * options_.seq_len);
  SYM_CHECK(inputs.size() == expected && targets.size() == expected,
            "batch spans of {} and {} tokens, expected {} x {}", inputs.size(), targets.size(),
            options_.micro_batch_size, options_.seq_len);
  if (options_.prefetch_depth == 0) {
    produce(inputs, targets);
    consumed_ = stream_.state();
    return;
  }
  Batch batch;
  {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return !ready_.empty(); });
    batch = std::move(ready_.front());
    ready_.pop_front();
  }
  std::copy(batch.inputs.begin(), batch.inputs.end(), inputs.begin());
  std::copy(batch.targets.begin(), batch.targets.end(), targets.begin());
  consumed_ = batch.after;
  {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(batch));
  }
  changed_.notify_all();
}

Status DataLoader::set_state(const LoaderState& state) {
  stop_prefetch();
  // On failure the stream keeps the consumed state and the loader goes on from there.
  Status status = stream_.set_state(state);
  consumed_ = stream_.state();
  start_prefetch();
  return status;
}

void DataLoader::start_prefetch() {
  if (options_.prefetch_depth == 0) return;
  stop_ = false;
  thread_ = std::thread([this] { prefetch_loop(); });
}

void DataLoader::stop_prefetch() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
  // Batches drawn ahead are dropped: the stream restarts from the consumed state.
  while (!ready_.empty()) {
    free_.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  SYM_CHECK(stream_.set_state(consumed_).is_ok(), "rewinding the loader to its consumed state");
}

void DataLoader::prefetch_loop() {
  while (true) {
    Batch batch;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return stop_ || !free_.empty(); });
      if (stop_) return;
      batch = std::move(free_.back());
      free_.pop_back();
    }
    produce(batch.inputs, batch.targets);
    batch.after = stream_.state();
    {
      std::lock_guard lock(mu_);
      ready_.push_back(std::move(batch));
    }
    changed_.notify_all();
  }
}

}  // namespace symphony

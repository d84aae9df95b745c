#include "data/sample_stream.h"

#include <cmath>

#include "core/check.h"
#include "core/rng.h"

namespace symphony {

Result<SampleStream> SampleStream::create(std::vector<BlendSource> sources, int64_t seq_len,
                                          uint64_t seed) {
  SYM_CHECK(seq_len >= 1, "seq_len {}", seq_len);
  if (sources.empty()) return Error::invalid("no training data: the loader needs a dataset");
  for (const BlendSource& s : sources) {
    SYM_CHECK(s.dataset != nullptr, "blend source without a dataset");
    if (!(s.weight > 0.0 && std::isfinite(s.weight)))
      return Error::invalid("{}: blend weight {} must be positive and finite", s.dataset->name(),
                            s.weight);
    if (s.dataset->size() < seq_len + 1)
      return Error::invalid("{}: {} tokens, too short for one window of seq_len + 1 = {} tokens",
                            s.dataset->name(), s.dataset->size(), seq_len + 1);
  }
  return SampleStream(std::move(sources), seq_len, seed);
}

SampleStream::SampleStream(std::vector<BlendSource> sources, int64_t seq_len, uint64_t seed)
    : sources_(std::move(sources)), seq_len_(seq_len), blend_key_(key_for(seed, "data.blend")) {
  double total = 0;
  for (const BlendSource& s : sources_) total += s.weight;
  double sum = 0;
  const uint64_t base_key = key_for(seed, "data.window_order");
  for (size_t i = 0; i < sources_.size(); ++i) {
    sum += sources_[i].weight;
    cumulative_.push_back(i + 1 == sources_.size() ? 1.0 : sum / total);
    num_windows_.push_back((sources_[i].dataset->size() - 1) / seq_len_);
    // Source 0 keeps the key of a single-dataset run: adding a blend partner changes the
    // interleaving, not source 0's own window order.
    order_keys_.push_back(i == 0 ? base_key : splitmix64(base_key + i));
    state_.sources.push_back({});
  }
  for (int s = 0; s < num_sources(); ++s) orders_.push_back(order_for(s, 0));
}

KeyedPermutation SampleStream::order_for(int source, int64_t epoch) const {
  const size_t s = static_cast<size_t>(source);
  return KeyedPermutation(num_windows_[s],
                          splitmix64(order_keys_[s] ^ splitmix64(static_cast<uint64_t>(epoch))));
}

int SampleStream::source_of(int64_t sample) const {
  if (sources_.size() == 1) return 0;
  const double u = uniform_at(blend_key_, static_cast<uint64_t>(sample));
  int s = 0;
  while (u >= cumulative_[static_cast<size_t>(s)] && s + 1 < num_sources()) ++s;
  return s;
}

SampleStream::Sample SampleStream::next() {
  const int s = source_of(state_.samples);
  const size_t i = static_cast<size_t>(s);
  SamplerState& at = state_.sources[i];
  Sample sample{s, orders_[i](at.position) * seq_len_};
  ++state_.samples;
  if (++at.position == num_windows_[i]) {
    at.position = 0;
    ++at.epoch;
    orders_[i] = order_for(s, at.epoch);
  }
  return sample;
}

void SampleStream::fill(const Sample& sample, std::span<int32_t> inputs,
                        std::span<int32_t> targets) const {
  SYM_CHECK(inputs.size() == static_cast<size_t>(seq_len_) && targets.size() == inputs.size(),
            "rows of {} and {} tokens, expected seq_len {}", inputs.size(), targets.size(),
            seq_len_);
  const TokenDataset& dataset = *sources_[static_cast<size_t>(sample.source)].dataset;
  dataset.read(sample.start, inputs);
  dataset.read(sample.start + 1, targets);
}

Status SampleStream::set_state(const LoaderState& state) {
  if (state.sources.size() != sources_.size())
    return Error::invalid("loader state has {} sources, the loader blends {}", state.sources.size(),
                          sources_.size());
  if (state.samples < 0) return Error::invalid("loader state: {} samples drawn", state.samples);
  for (size_t i = 0; i < sources_.size(); ++i) {
    const SamplerState& s = state.sources[i];
    if (s.epoch < 0 || s.position < 0 || s.position >= num_windows_[i])
      return Error::invalid("{}: loader state (epoch {}, position {}) does not fit {} windows",
                            sources_[i].dataset->name(), s.epoch, s.position, num_windows_[i]);
  }
  state_ = state;
  for (int s = 0; s < num_sources(); ++s)
    orders_[static_cast<size_t>(s)] = order_for(s, state_.sources[static_cast<size_t>(s)].epoch);
  return Status::ok();
}

}  // namespace symphony

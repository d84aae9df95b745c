#include "model/init.h"

#include <cmath>

#include "core/rng.h"

namespace symphony {
namespace {

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

template <typename T>
void fill(View v, const ParamInfo& info, uint64_t seed, double std_dev) {
  T* p = v.data<T>();
  const int64_t n = v.numel();
  if (info.decay == Decay::kNo) {  // norms
    for (int64_t i = 0; i < n; ++i) p[i] = T(1);
    return;
  }
  // Values are those of the whole tensor's element index, so a rank holding one block of a
  // sharded tensor initialises it exactly as one process initialises that block.
  uint64_t key = key_for(seed, info.name.c_str());
  const int64_t run_start = info.global_run_start();
  if (run_start >= 0) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = T(std_dev * normal_at(key, uint64_t(run_start + i)));
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] = T(std_dev * normal_at(key, uint64_t(info.global_index(i))));
}

}  // namespace

void init_params(const ModelConfig& config, uint64_t seed, ParamStore& store) {
  for (int u = 0; u < store.num_units(); ++u) init_unit_params(config, seed, store, u);
}

void init_unit_params(const ModelConfig& config, uint64_t seed, ParamStore& store, int unit) {
  const double base = config.initializer_range;
  const double scaled = base / std::sqrt(2.0 * double(config.num_hidden_layers));
  for (ParamId id = store.unit(unit).first; id < store.unit(unit).end; ++id) {
    const ParamInfo& info = store.info(id);
    bool residual_out = ends_with(info.name, "o_proj.weight") ||
                        ends_with(info.name, "down_proj.weight") ||
                        ends_with(info.name, "down_proj");
    double std_dev = residual_out ? scaled : base;
    if (store.dtype() == DType::kF64)
      fill<double>(store.param(id), info, seed, std_dev);
    else
      fill<float>(store.param(id), info, seed, std_dev);
  }
}

}  // namespace symphony

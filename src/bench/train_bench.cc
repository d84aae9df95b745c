#include "bench/train_bench.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "core/timer.h"
#include "model/init.h"
#include "parallel/comm.h"
#include "zero/data_parallel.h"
#include "monitor/flops.h"
#include "train/train_step.h"

namespace symphony {

TrainBenchResult bench_train(const RunConfig& config, const Exec& ex, int64_t warmup_steps,
                             int64_t timed_steps, const std::function<void()>& after_step) {
  const TrainConfig& tc = config.train;
  Transformer model(config.model, DType::kF32, {tc.micro_batch_size, tc.seq_len},
                    tc.recompute);
  DeviceMesh mesh = DeviceMesh::single();
  DataParallel dp(ZeroStage::kNone, mesh, model, config.optim, config.parallel.bucket_mb);
  dp.init_params(config.model, tc.seed);
  TrainStep step(tc, config.optim, model, dp);
  Rng rng(tc.seed);
  const uint64_t vocab = uint64_t(config.model.vocab_size);
  BatchSource random_batch = [&](std::span<int32_t> in, std::span<int32_t> tgt) {
    for (size_t i = 0; i < in.size(); ++i) in[i] = int32_t(rng.next_u64() % vocab);
    for (size_t i = 0; i < tgt.size(); ++i) tgt[i] = int32_t(rng.next_u64() % vocab);
  };
  TrainBenchResult r;
  std::vector<double> times;
  for (int64_t s = 0; s < warmup_steps + timed_steps; ++s) {
    Timer t;
    // One process: no communication, so the step cannot fail.
    StepResult sr = *step.run(ex, s, random_batch);
    if (s >= warmup_steps) {
      times.push_back(t.elapsed_s());
      if (after_step) after_step();
    }
    if (s == 0) r.first_loss = sr.loss;
    r.last_loss = sr.loss;
    r.tokens_per_step = sr.tokens;
  }
  r.step_times_s = times;
  std::sort(times.begin(), times.end());
  r.step_time_s = times.empty() ? 0 : times[times.size() / 2];
  r.tokens_per_s = r.step_time_s > 0 ? double(r.tokens_per_step) / r.step_time_s : 0;
  r.flops_per_token = training_flops_per_token(config.model, tc.seq_len);
  r.gflops = r.flops_per_token * r.tokens_per_s * 1e-9;
  return r;
}

}  // namespace symphony

#include "testkit/parallel_run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/rng.h"
#include "testkit/sanitizer_build.h"
#include "train/gather_param.h"
#include "train/model_layout.h"

namespace symphony::testkit {

void fill_micro_batch(uint64_t tag, int64_t vocab, int64_t step, int64_t j,
                      std::span<int32_t> in, std::span<int32_t> tgt) {
  const uint64_t key = tag ^ (uint64_t(step) << 20) ^ uint64_t(j);
  const uint64_t v = uint64_t(vocab);
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = int32_t(splitmix64(key ^ splitmix64(i)) % v);
    tgt[i] = int32_t((uint64_t(in[i]) * 7 + 3) % v);
  }
}

DeviceMesh mesh_for(const RunConfig& c, Comm& world) {
  Result<ParallelLayout> layout = ParallelLayout::create(c.parallel, world.size());
  SYM_CHECK(layout.has_value(), "{}", layout.error().message());
  Result<DeviceMesh> mesh = DeviceMesh::create(*layout, world);
  SYM_CHECK(mesh.has_value(), "{}", mesh.error().message());
  return std::move(mesh).value();
}

std::vector<std::string> published_architecture_overrides() {
  return {"model.scoring_func=sigmoid",          "model.n_group=4",
          "model.topk_group=2",                  "model.routed_scaling_factor=2.5",
          "model.router_seq_aux_loss_coef=0.001", "model.partial_rotary_factor=0.5"};
}

RunConfig single_process(RunConfig c) {
  c.parallel = ParallelConfig{};
  return c;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& ref) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]);
    norm += double(ref[i]) * ref[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

TrainingRun::TrainingRun(const RunConfig& c, DeviceMesh m, int64_t global_micro_batches,
                         uint64_t tag_, Recompute recompute)
    : config(c), mesh(std::move(m)), tag(tag_) {
  const ZeroStage zero = mesh.layout().zero_stage();
  ranks = mesh.replicas(ReplicaGroup::kDense).size();
  config.train.global_batch_tokens =
      config.train.micro_batch_size * config.train.seq_len * global_micro_batches;
  Result<ModelParallel> parallel = model_parallel_for(
      config, mesh, TrainStep::micro_batches_for(config.train, ranks));
  SYM_CHECK(parallel.has_value(), "{}", parallel.error().message());
  SYM_CHECK(config.train.precision != Precision::kFp8, "the layout tests run fp32 or bf16");
  exec = Exec::cpu().with_matmul(config.train.precision);
  model = std::make_unique<Transformer>(
      config.model, DType::kF32, BatchShape{config.train.micro_batch_size, config.train.seq_len},
      recompute, DataParallel::residency_for(zero), *parallel,
      saved_activations_for(config.train.precision));
  dp = std::make_unique<DataParallel>(zero, mesh, *model, config.optim, /*bucket_mb=*/0.05);
  dp->init_params(config.model, config.train.seed);
  step = std::make_unique<TrainStep>(config.train, config.optim, *model, *dp,
                                     config.parallel.pp_schedule);
}

BatchSource TrainingRun::source(int64_t s) {
  auto next = std::make_shared<int64_t>(0);
  const int64_t rank = mesh.replicas(ReplicaGroup::kDense).rank();
  return [this, s, next, rank](std::span<int32_t> in, std::span<int32_t> tgt) {
    fill_micro_batch(tag, config.model.vocab_size, s, *next * ranks + rank, in, tgt);
    ++*next;
  };
}

void TrainingRun::backward_only() {
  Result<CrossEntropyResult> r = step->accumulate_gradients(exec, source(0));
  SYM_CHECK(r.has_value(), "{}", r.error().message());
}

std::vector<std::vector<float>> TrainingRun::gathered_grads() {
  std::vector<std::vector<float>> out;
  const ParamStore& store = model->params();
  for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
    const ParamInfo& info = store.info(id);
    std::vector<float> whole(size_t(info.global_shape.numel()));
    Status s = gather_param(mesh, info, store.grad(id),
                            View(whole.data(), DType::kF32, info.global_shape));
    SYM_CHECK(s.is_ok(), "{}", s.message());
    out.push_back(std::move(whole));
  }
  return out;
}

std::vector<double> TrainingRun::train(int64_t steps) {
  std::vector<double> losses;
  for (int64_t s = 0; s < steps; ++s) {
    Result<StepResult> r = step->run(exec, s, source(s));
    SYM_CHECK(r.has_value(), "{}", r.error().message());
    losses.push_back(r->loss);
  }
  return losses;
}

Comparison compare_one_step(const RunConfig& c, Comm& world, int64_t global, uint64_t tag) {
  TrainingRun reference(single_process(c), DeviceMesh::single(), global, tag);
  reference.backward_only();
  Comparison out;
  out.run = std::make_unique<TrainingRun>(c, mesh_for(c, world), global, tag, c.train.recompute);
  TrainingRun second(c, mesh_for(c, world), global, tag, c.train.recompute);
  out.run->backward_only();
  second.backward_only();
  const auto ref = reference.gathered_grads();
  const auto a = out.run->gathered_grads(), b = second.gathered_grads();
  // A pipeline stage holds some of the tensors: each is compared with one process's by name.
  const ParamStore& store = out.run->model->params();
  const ParamStore& ref_store = reference.model->params();
  for (size_t t = 0; t < a.size(); ++t) {
    const std::string& name = store.info(ParamId(t)).name;
    size_t r = 0;
    while (r < ref.size() && ref_store.info(ParamId(r)).name != name) ++r;
    EXPECT_LT(r, ref.size()) << name << " is not a tensor of one process's model";
    if (r == ref.size()) continue;
    const double rel = relative_difference(a[t], ref[r]);
    out.worst = std::max(out.worst, rel);
    EXPECT_LE(rel, 1e-5) << name;
    EXPECT_EQ(std::memcmp(a[t].data(), b[t].data(), a[t].size() * sizeof(float)), 0)
        << name << " differs between two identical runs";
  }
  return out;
}

Comparison compare_training(const RunConfig& c, Comm& world, int64_t global, uint64_t tag,
                            int64_t steps, size_t tight_steps) {
  const bool cut = steps_for_build(steps) < steps;
  steps = steps_for_build(steps);
  // One process's losses, from rank 0 (the others would only repeat them, on the same cores).
  std::vector<double> reference(size_t(steps), 0.0);
  if (world.rank() == 0)
    reference = TrainingRun(single_process(c), DeviceMesh::single(), global, tag).train(steps);
  const Status shared = world.broadcast(std::span<double>(reference), 0);
  SYM_CHECK(shared.is_ok(), "{}", shared.message());
  Comparison out;
  out.run = std::make_unique<TrainingRun>(c, mesh_for(c, world), global, tag, c.train.recompute);
  const std::vector<double> first = out.run->train(steps);
  const std::vector<double> second =
      TrainingRun(c, mesh_for(c, world), global, tag, c.train.recompute).train(steps);
  EXPECT_EQ(first.size(), reference.size());
  for (size_t s = 0; s < reference.size() && s < first.size(); ++s) {
    const double rel = std::abs(first[s] - reference[s]) / std::abs(reference[s]);
    if (s < tight_steps) out.worst = std::max(out.worst, rel);
    EXPECT_LE(rel, s < tight_steps ? 1e-5 : 1e-3)
        << "step " << s << ": " << first[s] << " vs one process " << reference[s];
    EXPECT_EQ(first[s], second[s]) << "step " << s << " differs between two identical runs";
  }
  if (!first.empty() && !cut) {
    EXPECT_LT(first.back(), first.front() * 0.9);
  }
  return out;
}

}  // namespace symphony::testkit

#include "train/memory_check.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/checked_math.h"
#include "kernels/gemm.h"
#include "model/memory_plan.h"
#include "parallel/layout.h"
#include "train/model_layout.h"
#include "train/train_step.h"
#include "zero/shard_layout.h"

namespace symphony {
namespace {

// Processes the launcher put on this host, from its environment; 1 when launched otherwise.
int processes_on_this_host() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    const char* text = std::getenv(var);
    if (text == nullptr) continue;
    int n = 0;
    auto [end, ec] = std::from_chars(text, text + std::strlen(text), n);
    if (ec == std::errc() && *end == '\0' && n >= 1) return n;
  }
  return 1;
}

// What lowers the largest category.
std::string advice(const RunConfig& config, std::string_view largest) {
  if (largest == "activations") {
    std::string text = "lower train.micro_batch_size or train.seq_len";
    if (config.train.recompute == Recompute::kNone) text += ", or set train.recompute = \"full\"";
    return text;
  }
  if (largest == "other") return "lower train.seq_len";
  std::string text =
      "train a smaller model (model.num_hidden_layers, model.hidden_size, model.vocab_size";
  if (config.model.num_experts > 0) text += ", model.num_experts";
  text += ")";
  if (config.parallel.zero_stage != ZeroStage::kParameters)
    text += " or shard it over more ranks with parallel.zero_stage = 3";
  return text;
}

}  // namespace

int64_t gemm_scratch_bytes(const RunConfig& config, const ShardPlacement& placement) {
  if (config.train.precision == Precision::kFp32) return 0;
  const BatchShape shape{config.train.micro_batch_size, config.train.seq_len};
  int64_t bytes = cpu::gemm_bf16_scratch_bytes(
      bf16_gemm_scratch_elems(config.model, shape, placement, config.parallel.sequence_parallel));
  // Experts side by side, each further thread with its own scratch (fp8 runs evaluate with bf16
  // GEMMs, experts side by side).
  if (cpu::blas_runs_nested())
    bytes += int64_t(omp_get_max_threads() - 1) *
             cpu::gemm_bf16_scratch_bytes(
                 bf16_expert_gemm_scratch_elems(config.model, shape, placement));
  if (config.train.precision == Precision::kFp8)
    bytes += fp8_gemm_workspace_plan(config.model, shape, placement, config.fp8.recipe()).bytes();
  return bytes;
}

void reserve_bf16_gemm_scratch(const RunConfig& config, const ShardPlacement& placement) {
  if (config.train.precision == Precision::kFp32) return;
  const BatchShape shape{config.train.micro_batch_size, config.train.seq_len};
  cpu::gemm_bf16_reserve(
      bf16_gemm_scratch_elems(config.model, shape, placement, config.parallel.sequence_parallel));
  if (cpu::blas_runs_nested())
    cpu::gemm_bf16_reserve_workers(bf16_expert_gemm_scratch_elems(config.model, shape, placement));
}

ProcessMemory plan_process_memory(const RunConfig& config, const ParallelLayout& layout) {
  ProcessMemory most;
  for (int stage = 0; stage < layout.size(Axis::kPipeline); ++stage) {
    Result<ProcessMemory> m = plan_stage_memory(config, layout, stage);
    SYM_CHECK(m.has_value(), "{}", m.has_value() ? "" : m.error().message());
    if (m->total() > most.total()) most = *m;
  }
  return most;
}

Result<ProcessMemory> plan_stage_memory(const RunConfig& config, const ParallelLayout& layout,
                                        int stage) {
  // Within a stage every rank holds equal blocks of the sharded parameters: its first rank
  // stands for all.
  std::array<int, kNumAxes> coords{};
  coords[int(Axis::kPipeline)] = stage;
  ShardPlacement placement = ShardPlacement::of(layout, layout.rank_of_dense(coords));
  const int64_t dp = layout.size(Axis::kData) * layout.size(Axis::kContext);
  SYM_TRY_ASSIGN(placement.pipeline,
                 pipeline_stages_for(config, stage, TrainStep::micro_batches_for(config.train, dp)));
  const MemoryPlan plan =
      plan_training_memory(config.model, DType::kF32,
                           {config.train.micro_batch_size, config.train.seq_len},
                           config.train.recompute, placement, config.parallel.sequence_parallel,
                           saved_activations_for(config.train.precision));
  // The sharded state replaces weights, gradients and moments; with one rank and no ZeRO it equals
  // the plan's.
  const ShardedMemory sharded = plan_sharded_memory(config.model, placement, layout.zero_stage(),
                                                         config.parallel.grad_dtype);
  ProcessMemory m;
  m.weights = sharded.weights;
  m.grads = sharded.grads;
  m.optimizer = sharded.optimizer;
  m.communication = sharded.communication;
  m.activations = plan.activations + gemm_scratch_bytes(config, placement);
  m.other = plan.other;
  return m;
}

Status check_training_memory(const RunConfig& config, int world_size, int processes_on_host,
                             const HostMemory& host, std::string_view override_hint) {
  SYM_TRY_ASSIGN(const ParallelLayout layout, ParallelLayout::create(config.parallel, world_size));
  if (Result<ProcessMemory> stage0 = plan_stage_memory(config, layout, 0); !stage0)
    return stage0.error();  // the pipeline schedule's
  const std::optional<int64_t> available = host.available();
  if (!available) return Status::ok();
  const ProcessMemory m = plan_process_memory(config, layout);
  const std::pair<const char*, int64_t> categories[] = {
      {"weights", m.weights},         {"gradients", m.grads},
      {"optimizer state", m.optimizer}, {"communication buffers", m.communication},
      {"activations", m.activations}, {"other", m.other}};
  auto largest = std::max_element(std::begin(categories), std::end(categories),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
  // Bounded by the validated config, but a host full of ranks multiplies it once more.
  const CheckedInt needed = CheckedInt(m.total()) * processes_on_host;
  if (!needed.overflowed() && *needed.value() <= *available) return Status::ok();

  std::string per_host = fmt::format("{} per process", format_bytes(m.total()));
  if (processes_on_host > 1)
    per_host += fmt::format(" x {} processes on this host = {}", processes_on_host,
                            needed.overflowed() ? "more than 8 EiB"
                                                : format_bytes(*needed.value()));
  return Error::invalid("train: the run needs {} ({} {} the largest) but {} is available ({}); {}{}{}",
                        per_host, largest->first, format_bytes(largest->second),
                        format_bytes(*available), host.describe_available(),
                        advice(config, largest->first), override_hint.empty() ? "" : ", or ",
                        override_hint);
}

Status check_training_memory(const RunConfig& config, int world_size,
                             std::string_view override_hint) {
  return check_training_memory(config, world_size, processes_on_this_host(), read_host_memory(),
                               override_hint);
}

}  // namespace symphony

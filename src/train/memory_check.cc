#include "train/memory_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/checked_math.h"
#include "model/memory_plan.h"
#include "model/pipeline_split.h"
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

ProcessMemory plan_process_memory(const RunConfig& config, const ParallelLayout& layout) {
  // Every rank holds equal blocks of the sharded parameters: rank 0 stands for all.
  ShardPlacement placement = ShardPlacement::of(layout, 0);
  // Rank 0 is on the first pipeline stage: its layers, and as many micro-batches in flight as the
  // schedule keeps there. A schedule that cannot run the step's micro-batches is the trainer's
  // error to report; here the layer split alone stands in for it (one micro-batch in flight).
  if (layout.size(Axis::kPipeline) > 1) {
    const int64_t dp = int64_t(layout.size(Axis::kData)) * layout.size(Axis::kContext);
    Result<PipelineStages> stages =
        pipeline_stages_for(config, 0, TrainStep::micro_batches_for(config.train, dp));
    if (stages.has_value()) {
      placement.pipeline = std::move(stages).value();
    } else {
      placement.pipeline.virtual_stages = int(config.parallel.vpp);
      placement.pipeline.layers =
          pipeline_layer_split(config.model, config.parallel, config.train.seq_len);
    }
  }
  const MemoryPlan plan =
      plan_training_memory(config.model, DType::kF32,
                           {config.train.micro_batch_size, config.train.seq_len},
                           config.train.recompute, placement, config.parallel.sequence_parallel);
  // The sharded state replaces weights, gradients and moments; with one rank and no ZeRO it equals
  // the plan's.
  const ShardedMemory sharded = plan_sharded_memory(config.model, placement, layout.zero_stage());
  ProcessMemory m;
  m.weights = sharded.weights;
  m.grads = sharded.grads;
  m.optimizer = sharded.optimizer;
  m.communication = sharded.communication;
  m.activations = plan.activations;
  m.other = plan.other;
  return m;
}

Status check_training_memory(const RunConfig& config, int world_size, int processes_on_host,
                             const HostMemory& host, std::string_view override_hint) {
  SYM_TRY_ASSIGN(const ParallelLayout layout, ParallelLayout::create(config.parallel, world_size));
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

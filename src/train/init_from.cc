#include "train/init_from.h"

#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_io.h"
#include "checkpoint/checkpointer.h"
#include "config/run_config.h"
#include "train/model_file.h"

namespace symphony {

namespace fs = std::filesystem;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("({})", fmt::join(shape, ", "));
}

// Whether the MoE settings take part in comparing two architectures: not when both are dense.
enum class MoeSettings : uint8_t { kCompared, kIgnored };

// `c` with what shapes neither the model's weights nor its function set to the default: the
// training-only settings, and the MoE settings when they are ignored.
ModelConfig architecture_of(const ModelConfig& c, MoeSettings moe) {
  const ModelConfig d;
  ModelConfig a = c;
  a.initializer_range = d.initializer_range;
  a.router_aux_loss_coef = d.router_aux_loss_coef;
  a.router_z_loss_coef = d.router_z_loss_coef;
  a.router_seq_aux_loss_coef = d.router_seq_aux_loss_coef;
  a.bias_update_rate = d.bias_update_rate;
  a.capacity_factor = d.capacity_factor;
  if (moe == MoeSettings::kIgnored) {
    a.first_k_dense_replace = d.first_k_dense_replace;
    a.num_experts_per_tok = d.num_experts_per_tok;
    a.moe_intermediate_size = d.moe_intermediate_size;
    a.n_shared_experts = d.n_shared_experts;
    a.norm_topk_prob = d.norm_topk_prob;
    a.scoring_func = d.scoring_func;
    a.routed_scaling_factor = d.routed_scaling_factor;
    a.n_group = d.n_group;
    a.topk_group = d.topk_group;
  }
  return a;
}

std::optional<ModelConfigDifference> architecture_difference(const ModelConfig& source,
                                                             const ModelConfig& config) {
  const MoeSettings moe = source.num_experts == 0 && config.num_experts == 0
                              ? MoeSettings::kIgnored
                              : MoeSettings::kCompared;
  RunConfig a, b;
  a.model = architecture_of(source, moe);
  b.model = architecture_of(config, moe);
  return first_model_config_difference(to_toml(a), to_toml(b));
}

// A tensor a model of the config holds, whole.
struct WantedTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool required = true;  // selection biases are not: absent, they are zero
};

std::vector<WantedTensor> wanted_tensors(const ModelConfig& config) {
  std::vector<WantedTensor> wanted;
  const ParamStore declared = Transformer::declare_params(config);
  for (const ParamInfo& info : declared.infos())
    wanted.push_back({info.name,
                      {info.global_shape.dims.begin(),
                       info.global_shape.dims.begin() + info.global_shape.ndim},
                      true});
  for (int64_t l = 0; l < config.num_layers_with_mtp(); ++l)
    if (config.is_moe_layer(l))
      wanted.push_back({balance_bias_name(l), {config.num_experts}, false});
  return wanted;
}

bool is_inside(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  const fs::path d = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  const fs::path rel = p.lexically_relative(d);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

Result<WeightSource> open_init_source(const fs::path& path) {
  Result<WeightSource> source = WeightSource::open(path);
  if (source.has_value()) return source;
  const Status& e = source.error();
  const ErrorCode code = e.code() == ErrorCode::kIo ? ErrorCode::kInvalidArgument : e.code();
  return Status(code, "--init-from: " + e.message());
}

Status check_weight_source(const WeightSource& source, const ModelConfig& config) {
  const std::optional<ModelConfigDifference> difference =
      architecture_difference(source.model(), config);
  const std::string because =
      difference ? fmt::format(" ({} = {} in the source, {} here)", difference->key,
                               difference->saved, difference->current)
                 : std::string();
  std::set<std::string> wanted_names;
  for (const WantedTensor& w : wanted_tensors(config)) {
    wanted_names.insert(w.name);
    const SourceTensor* t = source.find(w.name);
    if (t == nullptr) {
      if (!w.required) continue;
      return Error::invalid("{}: no tensor {} {}, which this config needs{}",
                            source.path().string(), w.name, shape_text(w.shape), because);
    }
    if (t->shape != w.shape)
      return Error::invalid("{}: {} in {}, {} for this config{}", w.name, shape_text(t->shape),
                            t->file, shape_text(w.shape), because);
  }
  for (const SourceTensor& t : source.tensors())
    if (wanted_names.count(t.name) == 0)
      return Error::invalid("{} in {} has no place in this config{}", t.name, t.file, because);
  if (difference)
    return Error::invalid(
        "{} holds a model of another architecture: {} = {} in the source, {} here; the config's "
        "[model] section must match the source's (training-only settings aside)",
        source.path().string(), difference->key, difference->saved, difference->current);
  return Status::ok();
}

Result<InitFromReport> init_weights_from(const WeightSource& source, Transformer& model,
                                         DataParallel& data_parallel) {
  SYM_TRY(check_weight_source(source, model.config()));
  InitFromReport report;
  report.kind = source.kind();
  report.path = source.path();
  report.notes = source.notes();
  for (const WantedTensor& w : wanted_tensors(model.config())) {
    if (source.find(w.name) != nullptr) ++report.tensors;
    else ++report.zero_biases;
  }
  std::vector<TensorRead> reads, absent;
  for (TensorRead& r : plan_weight_reads(model, data_parallel))
    (source.find(r.tensor) != nullptr ? reads : absent).push_back(std::move(r));
  SYM_TRY(source.read(reads));
  // Only selection biases may be absent (check_weight_source): a source without them, as a
  // Hugging Face model, starts them at zero.
  for (const TensorRead& r : absent) std::fill(r.dst, r.dst + (r.end - r.begin), 0.0f);
  return report;
}

Status check_init_source_outside(const fs::path& source, const fs::path& run_dir,
                                 const fs::path& checkpoint_dir) {
  for (const fs::path& dir : {run_dir, checkpoint_dir})
    if (is_inside(source, dir))
      return Error::invalid("--init-from {} lies inside {}, which this run writes (its model "
                            "file, metrics and checkpoints); copy the source elsewhere or give "
                            "the run another train.run_dir",
                            source.string(), dir.string());
  return Status::ok();
}

Status check_no_checkpoints(const fs::path& checkpoint_dir) {
  const std::vector<StepDir> steps = list_step_dirs(checkpoint_dir);
  if (steps.empty()) return Status::ok();
  return Error::invalid("{} already holds checkpoints (the newest {}) that this new run would "
                        "overwrite; continue that run with --resume auto (which takes precedence "
                        "over --init-from), or give this one another train.run_dir or "
                        "checkpoint.dir",
                        checkpoint_dir.string(), steps.back().path.filename().string());
}

}  // namespace symphony

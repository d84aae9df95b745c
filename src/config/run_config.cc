#include "config/run_config.h"

#include <algorithm>

#include <fmt/ranges.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/overrides.h"
#include "core/checked_math.h"
#include "model/memory_plan.h"
#include "config/presets.h"
#include "config/toml_loader.h"
#include "parallel/pipeline_stages.h"

namespace symphony {

namespace {

bool is_finite_positive(double v) { return v > 0.0 && std::isfinite(v); }
bool is_finite_non_negative(double v) { return v >= 0.0 && std::isfinite(v); }
bool in_unit_interval_open_right(double v) { return v >= 0.0 && v < 1.0; }

Result<std::string> read_text_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Error::not_found("{}: no such file", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::io("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::io("{}: read failed: {}", path, std::strerror(errno));
  return text.str();
}

bool names_a_file(std::string_view preset_or_path) {
  return preset_or_path.ends_with(".toml") || preset_or_path.find('/') != std::string_view::npos;
}

}  // namespace

Status validate(const TrainConfig& train) {
  if (train.steps <= 0) return Error::invalid("train.steps = {} must be positive", train.steps);
  if (train.seq_len <= 0) {
    return Error::invalid("train.seq_len = {} must be positive", train.seq_len);
  }
  if (train.micro_batch_size <= 0) {
    return Error::invalid("train.micro_batch_size = {} must be positive", train.micro_batch_size);
  }
  const std::optional<int64_t> tokens = checked_mul(train.micro_batch_size, train.seq_len);
  if (!tokens || *tokens > kMaxMicroBatchTokens) {
    return Error::invalid(
        "train.micro_batch_size * train.seq_len = {} * {} = {} tokens per micro-batch exceeds the "
        "limit of 2^32",
        train.micro_batch_size, train.seq_len, tokens ? fmt::format("{}", *tokens) : "over 2^63");
  }
  const int64_t micro_batch_tokens = *tokens;
  if (train.global_batch_tokens < 0 || train.global_batch_tokens % micro_batch_tokens != 0) {
    return Error::invalid(
        "train.global_batch_tokens = {} must be 0 or a multiple of train.micro_batch_size * "
        "train.seq_len = {} * {} = {}",
        train.global_batch_tokens, train.micro_batch_size, train.seq_len, micro_batch_tokens);
  }
  // TOML integers are signed 64-bit; a larger seed could not be saved and read back.
  if (train.seed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Error::invalid("train.seed = {} must be at most 2^63 - 1", train.seed);
  }
  if (train.eval_every < 0) {
    return Error::invalid("train.eval_every = {} must be >= 0 (0 disables eval)", train.eval_every);
  }
  if (train.eval_every > 0 && train.eval_batches <= 0) {
    return Error::invalid("train.eval_batches = {} must be positive when train.eval_every = {}",
                          train.eval_batches, train.eval_every);
  }
  if (train.recompute == Recompute::kSelective) {
    return Error::invalid("train.recompute = \"selective\" is planned by `symphony plan` but not "
                          "trained by this engine; use \"none\" or \"full\"");
  }
  if (train.log_every <= 0) {
    return Error::invalid("train.log_every = {} must be positive", train.log_every);
  }
  if (train.run_dir.empty()) return Error::invalid("train.run_dir must not be empty");
  return Status::ok();
}

Status validate(const OptimConfig& optim) {
  if (!is_finite_positive(optim.lr)) {
    return Error::invalid("optim.lr = {} must be a positive finite number", optim.lr);
  }
  if (!(optim.min_lr_ratio >= 0.0 && optim.min_lr_ratio <= 1.0)) {
    return Error::invalid("optim.min_lr_ratio = {} must be in [0, 1]", optim.min_lr_ratio);
  }
  if (optim.warmup_steps < 0) {
    return Error::invalid("optim.warmup_steps = {} must be >= 0", optim.warmup_steps);
  }
  if (!in_unit_interval_open_right(optim.beta1)) {
    return Error::invalid("optim.beta1 = {} must be in [0, 1)", optim.beta1);
  }
  if (!in_unit_interval_open_right(optim.beta2)) {
    return Error::invalid("optim.beta2 = {} must be in [0, 1)", optim.beta2);
  }
  if (!is_finite_positive(optim.eps)) {
    return Error::invalid("optim.eps = {} must be a positive finite number", optim.eps);
  }
  if (!is_finite_non_negative(optim.weight_decay)) {
    return Error::invalid("optim.weight_decay = {} must be a finite number >= 0",
                          optim.weight_decay);
  }
  if (!is_finite_non_negative(optim.grad_clip)) {
    return Error::invalid("optim.grad_clip = {} must be a finite number >= 0 (0 disables)",
                          optim.grad_clip);
  }
  return Status::ok();
}

Status validate(const DataConfig& data) {
  if (!in_unit_interval_open_right(data.val_fraction)) {
    return Error::invalid("data.val_fraction = {} must be in [0, 1)", data.val_fraction);
  }
  if (!data.datasets.empty() && (!data.train_path.empty() || !data.val_path.empty())) {
    return Error::invalid("data.datasets and data.train_path / data.val_path are both set; name "
                          "the training data one way only");
  }
  for (size_t i = 0; i < data.datasets.size(); ++i) {
    if (data.datasets[i].empty()) return Error::invalid("data.datasets[{}] is empty", i);
  }
  if (!data.weights.empty() && data.weights.size() != data.datasets.size()) {
    return Error::invalid("data.weights has {} entries but data.datasets has {}; give one weight "
                          "per dataset or none", data.weights.size(), data.datasets.size());
  }
  for (size_t i = 0; i < data.weights.size(); ++i) {
    if (!is_finite_positive(data.weights[i])) {
      return Error::invalid("data.weights[{}] = {} must be a positive finite number", i,
                            data.weights[i]);
    }
  }
  if (data.prefetch_depth > 64) {
    return Error::invalid("data.prefetch_depth = {} must be at most 64", data.prefetch_depth);
  }
  return Status::ok();
}

Status validate(const ParallelConfig& parallel) {
  // Sizes against the world are checked when the run starts (ParallelLayout::create); here what
  // the config alone decides.
  // Probing with a world that fits the other axes leaves the per-key checks (sizes >= 1, order,
  // ep dividing dp*cp*tp when dp is given) to ParallelLayout, the one place that knows
  // them.
  ParallelConfig probe = parallel;
  int64_t world = 1;
  for (int64_t size : {parallel.pp, parallel.cp, parallel.tp}) world *= std::max<int64_t>(size, 1);
  if (parallel.dp == 0) {
    // dp is whatever the world leaves: probe with the smallest that could hold the expert axes.
    probe.dp = std::max<int64_t>(parallel.ep, 1) * std::max<int64_t>(parallel.etp, 1);
  }
  world *= std::max<int64_t>(probe.dp, 1);
  if (world > (int64_t(1) << 24))
    return Error::invalid("parallel: pp*dp*cp*tp = {} ranks is beyond any cluster", world);
  Result<ParallelLayout> layout = ParallelLayout::create(probe, int(world));
  if (!layout) return layout.error();
  if (parallel.grad_dtype == Precision::kFp8)
    return Error::invalid("parallel.grad_dtype = \"fp8\": gradients are reduced in \"fp32\" or "
                          "\"bf16\"");
  if (!(parallel.bucket_mb > 0))
    return Error::invalid("parallel.bucket_mb = {} must be positive", parallel.bucket_mb);
  if (!(parallel.timeout_s > 0))
    return Error::invalid("parallel.timeout_s = {} must be positive", parallel.timeout_s);
  if (parallel.cp > 1)
    return Error::invalid("parallel.cp = {}: this build trains with data (dp), tensor and "
                          "sequence (tp), pipeline (pp) and expert (ep, etp) parallelism and "
                          "ZeRO; set parallel.cp = 1", parallel.cp);
  if (parallel.vpp < 1)
    return Error::invalid("parallel.vpp = {} must be at least 1", parallel.vpp);
  if (parallel.pp_schedule == PipelineSchedule::kDualPipe)
    return Error::invalid("parallel.pp_schedule = \"dualpipe\" is costed by `symphony plan` "
                          "only; train with one of gpipe, 1f1b, interleaved or zb-h1");
  if (parallel.vpp > 1 && parallel.pp_schedule != PipelineSchedule::kInterleaved)
    return Error::invalid("parallel.vpp = {} needs parallel.pp_schedule = \"interleaved\" (it "
                          "is \"{}\")", parallel.vpp, pipeline_schedule_name(parallel.pp_schedule));
  if (parallel.pp_schedule == PipelineSchedule::kInterleaved && parallel.pp > 1 &&
      parallel.vpp < 2)
    return Error::invalid("parallel.pp_schedule = \"interleaved\" needs parallel.vpp >= 2 model "
                          "chunks per stage (it is {})", parallel.vpp);
  if (parallel.vpp > 1 && parallel.pp < 2)
    return Error::invalid("parallel.vpp = {} needs parallel.pp >= 2 (it is {})", parallel.vpp,
                          parallel.pp);
  if (!parallel.pp_layers.empty() && parallel.pp < 2)
    return Error::invalid("parallel.pp_layers is set but parallel.pp = {}: it splits the layers "
                          "over pipeline stages", parallel.pp);
  if (!(parallel.pp_head_share >= 0 && parallel.pp_head_share < 1))
    return Error::invalid("parallel.pp_head_share = {} must be in [0, 1): the share of each "
                          "micro-batch's rows whose LM head the first pipeline stage runs",
                          parallel.pp_head_share);
  if (parallel.pp_head_share > 0) {
    if (parallel.pp != 2)
      return Error::invalid("parallel.pp_head_share = {} needs parallel.pp = 2 (it is {}): with "
                            "more stages the hidden states' round trip to the first stage holds "
                            "up the last stage's backward",
                            parallel.pp_head_share, parallel.pp);
    if (parallel.pp_schedule != PipelineSchedule::kZeroBubble)
      return Error::invalid("parallel.pp_head_share = {} needs parallel.pp_schedule = \"zb-h1\" "
                            "(it is \"{}\"): the last stage's backward waits for the first "
                            "stage's LM-head pass, and only ZB-H1 has deferred weight-gradient "
                            "passes to run meanwhile",
                            parallel.pp_head_share, pipeline_schedule_name(parallel.pp_schedule));
    if (parallel.tp > 1)
      return Error::invalid("parallel.pp_head_share = {} with parallel.tp = {}: the head split "
                            "runs without tensor parallelism (whose loss is split by vocabulary "
                            "already)",
                            parallel.pp_head_share, parallel.tp);
  }
  return Status::ok();
}

// What pipeline parallelism asks of the model: a layer or more per virtual stage and an explicit
// split that covers every layer. Expert parallelism (ep, etp) composes with it: each ep group
// lies within one stage and each micro-batch in flight keeps its own exchange plan.
Status validate_pipeline_parallel(const ParallelConfig& parallel, const ModelConfig& model) {
  if (parallel.pp <= 1) return Status::ok();
  if (parallel.pp_head_share > 0 && model.num_nextn_predict_layers > 0)
    return Error::invalid("parallel.pp_head_share = {} with model.num_nextn_predict_layers = {}: "
                          "the head split runs without multi-token prediction",
                          parallel.pp_head_share, model.num_nextn_predict_layers);
  const int64_t virtual_stages = parallel.pp * parallel.vpp;
  if (!parallel.pp_layers.empty())
    return check_pipeline_layers(parallel.pp_layers, int(virtual_stages),
                                 model.num_hidden_layers);
  if (virtual_stages > model.num_hidden_layers)
    return Error::invalid("parallel.pp = {}{}: {} virtual stages for model.num_hidden_layers = {}; "
                          "every stage needs a layer (or give parallel.pp_layers)",
                          parallel.pp,
                          parallel.vpp > 1 ? fmt::format(" x parallel.vpp = {}", parallel.vpp)
                                           : std::string(),
                          virtual_stages, model.num_hidden_layers);
  return Status::ok();
}

// What the layout asks of the model: experts to spread, in equal blocks, and their width over etp.
Status validate_expert_parallel(const ParallelConfig& parallel, const ModelConfig& model) {
  if (parallel.etp > 1) {
    if (model.num_experts == 0)
      return Error::invalid("parallel.etp = {}: the model is dense (model.num_experts = 0); "
                            "expert tensor parallelism needs routed experts", parallel.etp);
    if (model.moe_intermediate_size % parallel.etp != 0)
      return Error::invalid("parallel.etp = {} does not divide model.moe_intermediate_size = {}: "
                            "each expert's width is split over the etp ranks", parallel.etp,
                            model.moe_intermediate_size);
  }
  if (parallel.ep <= 1) return Status::ok();
  if (model.num_experts == 0)
    return Error::invalid("parallel.ep = {}: the model is dense (model.num_experts = 0); expert "
                          "parallelism needs routed experts", parallel.ep);
  if (model.num_experts % parallel.ep != 0)
    return Error::invalid("parallel.ep = {} does not divide model.num_experts = {}: every ep rank "
                          "holds the same number of experts", parallel.ep, model.num_experts);
  return Status::ok();
}

// What tensor parallelism asks of the model: heads, widths and vocabulary in equal blocks, and
// micro-batches whose rows split over the group.
Status validate_tensor_parallel(const ParallelConfig& parallel, const TrainConfig& train,
                                const ModelConfig& model) {
  const int64_t tp = parallel.tp;
  if (tp <= 1) return Status::ok();
  if (model.num_attention_heads % tp != 0)
    return Error::invalid("parallel.tp = {} does not divide model.num_attention_heads = {}: every "
                          "tp rank runs the same number of heads", tp, model.num_attention_heads);
  // Multi-head latent attention splits its heads alone (model/mla_block.h).
  const int64_t kv = model.num_key_value_heads;
  if (!model.mla() && kv % tp != 0 && tp % kv != 0)
    return Error::invalid("parallel.tp = {} and model.num_key_value_heads = {}: the KV heads must "
                          "split evenly over tp, or tp be a multiple of them (each KV head then "
                          "replicated on tp / {} ranks)", tp, kv, kv);
  if (model.hidden_size % tp != 0)
    return Error::invalid("parallel.tp = {} does not divide model.hidden_size = {}", tp,
                          model.hidden_size);
  bool any_dense = false;
  for (int64_t l = 0; l < model.num_hidden_layers; ++l) any_dense |= !model.is_moe_layer(l);
  if (any_dense && model.intermediate_size % tp != 0)
    return Error::invalid("parallel.tp = {} does not divide model.intermediate_size = {}: the "
                          "dense MLPs are split by width", tp, model.intermediate_size);
  if (model.vocab_size % tp != 0)
    return Error::invalid("parallel.tp = {} does not divide model.vocab_size = {}: the embedding "
                          "and LM head are split by vocabulary", tp, model.vocab_size);
  if ((train.micro_batch_size * train.seq_len) % tp != 0)
    return Error::invalid("train.seq_len = {}: a micro-batch of {} x {} tokens does not split "
                          "over parallel.tp = {} ranks (its rows are sharded along the sequence)",
                          train.seq_len, train.micro_batch_size, train.seq_len, tp);
  return Status::ok();
}

Status validate(const CheckpointConfig& checkpoint) {
  if (checkpoint.every < 0)
    return Error::invalid("checkpoint.every = {} must be 0 (off) or positive", checkpoint.every);
  if (checkpoint.keep_last < 1)
    return Error::invalid("checkpoint.keep_last = {} must be at least 1", checkpoint.keep_last);
  if (checkpoint.keep_every < 0)
    return Error::invalid("checkpoint.keep_every = {} must be 0 (off) or positive",
                          checkpoint.keep_every);
  return Status::ok();
}

Status validate(const MonitorConfig& monitor) {
  if (monitor.metrics_port < 0 || monitor.metrics_port > 65535)
    return Error::invalid("monitor.metrics_port = {} must be 0 (off) or a TCP port (1-65535)",
                          monitor.metrics_port);
  if (monitor.metrics_host.empty())
    return Error::invalid("monitor.metrics_host is empty: give an address such as 127.0.0.1");
  if (!(monitor.metrics_linger_s >= 0))
    return Error::invalid("monitor.metrics_linger_s = {} must be 0 or positive",
                          monitor.metrics_linger_s);
  if (!(monitor.straggler_mad_multiple > 0))
    return Error::invalid("monitor.straggler_mad_multiple = {} must be positive",
                          monitor.straggler_mad_multiple);
  if (!(monitor.straggler_min_excess > 0))
    return Error::invalid("monitor.straggler_min_excess = {} must be positive",
                          monitor.straggler_min_excess);
  if (monitor.straggler_windows < 1)
    return Error::invalid("monitor.straggler_windows = {} must be at least 1",
                          monitor.straggler_windows);
  if (!(monitor.peak_tflops >= 0))
    return Error::invalid("monitor.peak_tflops = {} must be 0 (unknown) or positive",
                          monitor.peak_tflops);
  if (!(monitor.debug_slow_factor >= 0))
    return Error::invalid("monitor.debug_slow_factor = {} must be 0 or positive",
                          monitor.debug_slow_factor);
  if (monitor.debug_slow_from_step < 1)
    return Error::invalid("monitor.debug_slow_from_step = {} must be at least 1 (steps count from "
                          "1)", monitor.debug_slow_from_step);
  return Status::ok();
}

Status validate(const Fp8Config& fp8, const ModelConfig& model) {
  if (fp8.block_size < 1)
    return Error::invalid("fp8.block_size = {} must be at least 1", fp8.block_size);
  if (fp8.scaling == Fp8Scaling::kBlock && model.hidden_size % fp8.block_size != 0)
    return Error::invalid("fp8.block_size = {} does not divide model.hidden_size = {}: blockwise "
                          "scaling tiles every GEMM's hidden dimension in blocks of it",
                          fp8.block_size, model.hidden_size);
  if (fp8.amax_history < 1 || fp8.amax_history > 1024)
    return Error::invalid("fp8.amax_history = {} must be in [1, 1024]", fp8.amax_history);
  if (!(fp8.error_threshold > 0))
    return Error::invalid("fp8.error_threshold = {} must be positive", fp8.error_threshold);
  if (fp8.check_every < 1 || fp8.check_every > (int64_t(1) << 30))
    return Error::invalid("fp8.check_every = {} must be in [1, 2^30]", fp8.check_every);
  return Status::ok();
}

Status validate(const RunConfig& config) {
  SYM_TRY(config.model.validate());
  SYM_TRY(validate(config.train));
  SYM_TRY(validate(config.optim));
  SYM_TRY(validate(config.data));
  SYM_TRY(validate(config.parallel));
  SYM_TRY(validate_expert_parallel(config.parallel, config.model));
  SYM_TRY(validate_tensor_parallel(config.parallel, config.train, config.model));
  SYM_TRY(validate_pipeline_parallel(config.parallel, config.model));
  SYM_TRY(validate(config.checkpoint));
  SYM_TRY(validate(config.monitor));
  if (config.train.precision == Precision::kFp8) SYM_TRY(validate(config.fp8, config.model));
  if (config.train.seq_len > config.model.max_position_embeddings) {
    return Error::invalid("train.seq_len = {} exceeds model.max_position_embeddings = {}",
                          config.train.seq_len, config.model.max_position_embeddings);
  }
  // Every byte count of the run must be computable: the activations grow with the micro-batch.
  if (!plan_training_memory_checked(config.model, DType::kF32,
                                    {config.train.micro_batch_size, config.train.seq_len},
                                    config.train.recompute)) {
    return Error::invalid(
        "train.micro_batch_size = {}, train.seq_len = {}: the activations of a micro-batch of "
        "this model overflow 64-bit byte counts",
        config.train.micro_batch_size, config.train.seq_len);
  }
  if (config.optim.warmup_steps > config.train.steps) {
    return Error::invalid("optim.warmup_steps = {} exceeds train.steps = {}",
                          config.optim.warmup_steps, config.train.steps);
  }
  return Status::ok();
}

Result<RunConfig> parse_run_config(std::string_view toml_text, std::string_view source_name,
                                   std::span<const std::string> overrides) {
  SYM_TRY_ASSIGN(toml::table root, parse_toml(toml_text, source_name));
  SYM_TRY(apply_overrides(root, overrides));
  SYM_TRY_ASSIGN(RunConfig config, run_config_from_toml(root, source_name));
  SYM_TRY(validate(config).with_context("{}", source_name));
  return config;
}

Result<RunConfig> load_run_config(std::string_view preset_or_path,
                                  std::span<const std::string> overrides) {
  const std::string name(preset_or_path);
  if (!names_a_file(preset_or_path)) {
    if (std::optional<std::string_view> text = find_preset(preset_or_path)) {
      // Errors point at the file the preset was built from.
      SYM_TRY_ASSIGN(RunConfig config,
                     parse_run_config(*text, fmt::format("configs/{}.toml", name), overrides));
      config.source = name;
      return config;
    }
  }
  std::error_code ec;
  if (!names_a_file(preset_or_path) && !std::filesystem::exists(name, ec)) {
    return Error::not_found("no preset or file named '{}'; the presets are: {}", name,
                            fmt::join(list_presets(), ", "));
  }
  SYM_TRY_ASSIGN(std::string text, read_text_file(name));
  return parse_run_config(text, name, overrides);
}

}  // namespace symphony

#pragma once
// Published training runs and the planner's prediction for each: the validation tables of
// docs/plan.md, printed by `symphony plan --validate` and checked by tests/plan/validation_test.cc.
//
// The runs form two sets. The fitting set pins the efficiency factors of plan/efficiency.cc: each
// factor was set so that the runs it names land near their published figures. The evaluation set
// is never used to set anything: it measures how well the planner predicts runs it was not fitted
// to. No evaluation run shares its model, system, precision and parallel layout with a fitting
// run.
//
// A run fixes what its source publishes (model, GPUs, tp, pp, cp, dp, ep, micro-batch size,
// virtual stages and whatever else it states); the fields it leaves out (recomputation, ZeRO
// stage, ...) are chosen by the planner's own search among layouts that match the published ones.
// Predictions are compared as throughput: tokens/s per GPU, or TFLOP/s per GPU counted in the
// source's own FLOP convention over the predicted step time, or the step time itself; the error
// is predicted throughput / published throughput - 1 in every case.

#include <optional>
#include <string>
#include <vector>

#include "plan/evaluation.h"

namespace symphony::plan {

enum class FlopConvention : uint8_t {
  kMegatron2021,  // 96 B s l h^2 (1 + s/6h + V/16lh): recomputation included, full (non-causal)
                  // attention scores (Narayanan et al. 2021, eq. 3)
  kModel,         // model FLOPs of plan/model_costs.h (6 N_active + causal attention)
};

enum class ValidationSet : uint8_t { kFitting, kEvaluation };

// What the source publishes.
enum class PublishedMetric : uint8_t {
  kTflopsPerGpu,  // in `convention`
  kTokensPerGpuS,
  kStepSeconds,
};

struct ValidationRun {
  std::string name;
  ValidationSet set = ValidationSet::kEvaluation;
  ModelConfig model;
  std::string cluster;        // cluster preset
  int64_t gpus_per_node = 0;  // NVLink domain the job used, when not the preset's (0)
  int64_t gpus = 0;
  int64_t seq_len = 0;
  int64_t global_batch_tokens = 0;
  // Published layout fields; unset ones are searched.
  int64_t tp = 1, pp = 1, cp = 1, ep = 1;
  std::optional<int64_t> mbs, vpp;
  std::optional<ZeroStage> zero;
  std::optional<Recompute> recompute;
  // When `recompute` is unset: the modes the search may choose from (the run's framework's).
  std::vector<Recompute> recompute_choices = {Recompute::kNone, Recompute::kSelective,
                                              Recompute::kFull};
  std::vector<PipelineSchedule> schedules = {PipelineSchedule::k1F1B,
                                             PipelineSchedule::kInterleaved};
  double tp_overlap = PlanOptions{}.tp_overlap;  // what the run's framework could hide
  double dp_overlap = PlanOptions{}.dp_overlap;
  Precision precision = Precision::kBf16;
  Fp8Recipe fp8_recipe = Fp8Recipe::kTensorwise;
  // How its framework moved routed tokens between nodes (DeepEP: once per node).
  ExpertDispatch ep_dispatch = ExpertDispatch::kAllToAll;
  // Whether the recipe pairs micro-batches to hide the expert all-to-all (Megatron-Core's
  // overlap_moe_expert_parallel_comm); the others expose it.
  ExpertOverlap ep_overlap = ExpertOverlap::kNone;
  // Megatron-LM and NeMo split the layers evenly unless a recipe says otherwise.
  StageSplit stage_split = StageSplit::kEven;
  PublishedMetric metric = PublishedMetric::kTflopsPerGpu;
  FlopConvention convention = FlopConvention::kModel;
  double published = 0;        // in `metric`
  std::string published_note;  // how the figure was read or derived
  std::string source;          // a key of validation_sources()
  std::string hardware() const;  // "H100", "GB200", ...: the accelerator of `cluster`
  bool moe() const { return model.num_experts > 0; }
};

struct ValidationRow {
  ValidationRun run;
  std::string layout;  // the full layout the prediction used
  double predicted = 0;       // in the run's metric
  double relative_error = 0;  // predicted throughput / published throughput - 1
  bool fits = false;          // whether the planner's memory model fits the layout
  double memory_bytes = 0;    // its predicted memory per GPU
  double capacity_bytes = 0;  // the accelerator's
};

// A published source: the key runs cite, and its full reference.
struct ValidationSource {
  std::string key;
  std::string reference;
};
std::vector<ValidationSource> validation_sources();

std::vector<ValidationRun> validation_runs();
// Predicts one run; the cluster presets are embedded, so this cannot fail for the runs above.
ValidationRow predict_run(const ValidationRun& run);
std::vector<ValidationRow> run_validation();

// Absolute relative errors of a set of rows: median and 90th percentile (nearest rank), overall
// and for the MoE and dense runs.
struct ErrorSummary {
  int64_t runs = 0, moe_runs = 0;
  double median = 0, p90 = 0;
  double moe_median = 0, moe_p90 = 0;
  double dense_median = 0, dense_p90 = 0;
  double mean_signed = 0, moe_mean_signed = 0;  // bias: mean of the signed errors
};
ErrorSummary summarize(const std::vector<ValidationRow>& rows, ValidationSet set);

// Markdown: one table per set (run, hardware, GPUs, precision, published layout, the planner's
// full layout, published and predicted figures, error, source), each followed by its summary, then
// the sources.
std::string format_validation_table(const std::vector<ValidationRow>& rows);

}  // namespace symphony::plan

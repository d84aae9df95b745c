#pragma once
// Published training runs and the planner's prediction for each: the validation table of
// docs/plan.md, printed by `symphony plan --validate` and checked by tests/plan/validation_test.cc
// (every prediction within 15% of the published TFLOP/s per GPU).
//
// A run fixes what its source publishes (model, GPUs, tp, pp, cp, dp, ep and whatever else it
// states); the fields it leaves out (micro-batch size, virtual stages, ZeRO stage, ...) are
// chosen by the planner's own search among layouts that match the published ones. Predicted
// TFLOP/s are counted in the source's own FLOP convention: predicted = source FLOPs per step /
// predicted step time / GPUs, so the comparison is one of step times.

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

struct ValidationRun {
  std::string name;
  ModelConfig model;
  std::string cluster;  // cluster preset
  int64_t gpus = 0;
  int64_t seq_len = 0;
  int64_t global_batch_tokens = 0;
  // Published layout fields; unset ones are searched.
  int64_t tp = 1, pp = 1, cp = 1, ep = 1;
  std::optional<ZeroStage> zero;
  std::optional<Recompute> recompute;
  std::vector<PipelineSchedule> schedules;       // the schedules the run's framework offered
  double tp_overlap = PlanOptions{}.tp_overlap;  // what the run's framework could hide
  double dp_overlap = PlanOptions{}.dp_overlap;
  Precision precision = Precision::kBf16;
  FlopConvention convention = FlopConvention::kModel;
  double published_tflops = 0;  // per GPU, in the source's convention
  std::string published_note;   // how the figure was read or derived
  std::string source;
};

struct ValidationRow {
  ValidationRun run;
  std::string layout;  // the full layout the prediction used
  double predicted_tflops = 0;
  double relative_error = 0;  // predicted / published - 1
  bool fits = false;          // whether the planner's memory model fits the layout
  double memory_bytes = 0;    // its predicted memory per GPU
};

std::vector<ValidationRun> validation_runs();
// Predicts one run; the cluster presets are embedded, so this cannot fail for the runs above.
ValidationRow predict_run(const ValidationRun& run);
std::vector<ValidationRow> run_validation();
// Markdown table: run, GPUs, published layout, chosen layout, published and predicted TFLOP/s.
std::string format_validation_table(const std::vector<ValidationRow>& rows);

}  // namespace symphony::plan

#pragma once
// What `symphony plan` is asked, before anything is loaded, and the checks that turn it into a
// PlanContext. The command-line client only fills a PlanRequest and prints the results.

#include <optional>
#include <string>

#include "plan/evaluation.h"
#include "plan/search.h"

namespace symphony::plan {

struct PlanRequest {
  std::string model;                // preset name or run-config .toml
  std::string cluster;              // cluster preset name or cluster .toml
  std::optional<int64_t> num_gpus;  // unset: the cluster's own count
  std::optional<int64_t> seq_len;              // unset: the run config's train.seq_len
  std::optional<int64_t> global_batch_tokens;  // unset: the run config's train.global_batch_tokens
  double train_tokens = 15e12;  // at most PlanOptions' int64 count (about 9.2e18)
  std::string calibration_path;  // empty: default efficiencies
  std::optional<double> pue, energy_usd_per_kwh, gpu_hour_usd;
  PlanOptions options;
};

// Loads the model and cluster, applies the overrides and checks what a plan needs: at least one
// GPU, a positive sequence no longer than the model's positions, a positive global batch of whole
// sequences, a positive token count the planner can count. Each error names the option.
Result<PlanContext> make_plan_context(const PlanRequest& request);

// Evaluates a layout given as "dp=..,tp=..". dp left out fills the world. Errors name the bad
// field. A layout that does not fit is evaluated (fits = false), not an error.
Result<Evaluation> plan_layout(const PlanContext& ctx, std::string_view layout_text,
                               Precision precision);

// Searches; when nothing fits, the error names the least memory any layout needs and what to
// change: a GPU count at which a layout does fit (found by evaluating the model on more whole
// nodes: the count the leanest layout's memory suggests, then doublings), or that no count does
// with this batch; an accelerator with more memory; a shorter sequence.
Result<SearchResult> plan_search(const PlanContext& ctx, const SearchSpace& space, int64_t top_k);

}  // namespace symphony::plan

#pragma once
// Renders plans for people (aligned text, Markdown-friendly) and for programs (JSON). The text
// and JSON carry the same numbers; docs/plan.md describes every field.

#include <nlohmann/json.hpp>
#include <string>

#include "plan/evaluation.h"
#include "plan/search.h"

namespace symphony::plan {

enum class Detail : uint8_t { kSummary, kExplain };

// The model, cluster and batch being planned, and the efficiency factors in use.
std::string format_context(const PlanContext& ctx);
// One evaluated layout: the headline numbers, and with kExplain the memory and time breakdowns.
std::string format_evaluation(const PlanContext& ctx, const Evaluation& e, Detail detail);
// The top layouts of a search, the reason each lost to the best, and the search statistics.
std::string format_search(const PlanContext& ctx, const SearchResult& r, Detail detail);

nlohmann::json context_json(const PlanContext& ctx);
nlohmann::json evaluation_json(const Evaluation& e);
nlohmann::json search_json(const PlanContext& ctx, const SearchResult& r);

}  // namespace symphony::plan

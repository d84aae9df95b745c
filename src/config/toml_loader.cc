#include "config/toml_loader.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "config/overrides.h"

namespace symphony {

namespace {

// ---------------------------------------------------------------------------------------------
// The schema: one table per section, in struct declaration order. Reading and writing both walk
// these tables, so a field added here is loaded, checked and saved in one place.

template <typename S>
using MemberPtr = std::variant<int64_t S::*, uint64_t S::*, double S::*, bool S::*,
                               std::string S::*, LrDecay S::*, Recompute S::*, ZeroStage S::*,
                               RouterScoring S::*, MlpKind S::*, Precision S::*,
                               Fp8Scaling S::*, Fp8Format S::*,
                               PipelineSchedule S::*, std::vector<std::string> S::*,
                               std::vector<double> S::*, std::vector<int64_t> S::*>;

template <typename S>
struct Field {
  std::string_view key;
  MemberPtr<S> member;
};

const Field<ModelConfig> kModelFields[] = {
    {"vocab_size", &ModelConfig::vocab_size},
    {"hidden_size", &ModelConfig::hidden_size},
    {"num_hidden_layers", &ModelConfig::num_hidden_layers},
    {"num_attention_heads", &ModelConfig::num_attention_heads},
    {"num_key_value_heads", &ModelConfig::num_key_value_heads},
    {"head_dim", &ModelConfig::head_dim},
    {"max_position_embeddings", &ModelConfig::max_position_embeddings},
    {"rope_theta", &ModelConfig::rope_theta},
    {"rms_norm_eps", &ModelConfig::rms_norm_eps},
    {"qk_norm", &ModelConfig::qk_norm},
    {"partial_rotary_factor", &ModelConfig::partial_rotary_factor},
    {"q_lora_rank", &ModelConfig::q_lora_rank},
    {"kv_lora_rank", &ModelConfig::kv_lora_rank},
    {"qk_rope_head_dim", &ModelConfig::qk_rope_head_dim},
    {"qk_nope_head_dim", &ModelConfig::qk_nope_head_dim},
    {"v_head_dim", &ModelConfig::v_head_dim},
    {"tie_word_embeddings", &ModelConfig::tie_word_embeddings},
    {"initializer_range", &ModelConfig::initializer_range},
    {"mlp_kind", &ModelConfig::mlp_kind},
    {"parallel_attn", &ModelConfig::parallel_attn},
    {"sliding_window", &ModelConfig::sliding_window},
    {"sliding_window_pattern", &ModelConfig::sliding_window_pattern},
    {"intermediate_size", &ModelConfig::intermediate_size},
    {"first_k_dense_replace", &ModelConfig::first_k_dense_replace},
    {"num_experts", &ModelConfig::num_experts},
    {"num_experts_per_tok", &ModelConfig::num_experts_per_tok},
    {"moe_intermediate_size", &ModelConfig::moe_intermediate_size},
    {"n_shared_experts", &ModelConfig::n_shared_experts},
    {"norm_topk_prob", &ModelConfig::norm_topk_prob},
    {"scoring_func", &ModelConfig::scoring_func},
    {"routed_scaling_factor", &ModelConfig::routed_scaling_factor},
    {"n_group", &ModelConfig::n_group},
    {"topk_group", &ModelConfig::topk_group},
    {"router_aux_loss_coef", &ModelConfig::router_aux_loss_coef},
    {"router_z_loss_coef", &ModelConfig::router_z_loss_coef},
    {"router_seq_aux_loss_coef", &ModelConfig::router_seq_aux_loss_coef},
    {"bias_update_rate", &ModelConfig::bias_update_rate},
    {"capacity_factor", &ModelConfig::capacity_factor},
    {"num_nextn_predict_layers", &ModelConfig::num_nextn_predict_layers},
    {"mtp_loss_weight", &ModelConfig::mtp_loss_weight},
};

const Field<TrainConfig> kTrainFields[] = {
    {"steps", &TrainConfig::steps},
    {"seq_len", &TrainConfig::seq_len},
    {"micro_batch_size", &TrainConfig::micro_batch_size},
    {"global_batch_tokens", &TrainConfig::global_batch_tokens},
    {"seed", &TrainConfig::seed},
    {"recompute", &TrainConfig::recompute},
    {"precision", &TrainConfig::precision},
    {"eval_every", &TrainConfig::eval_every},
    {"eval_batches", &TrainConfig::eval_batches},
    {"log_every", &TrainConfig::log_every},
    {"trace_steps", &TrainConfig::trace_steps},
    {"run_dir", &TrainConfig::run_dir},
};

const Field<OptimConfig> kOptimFields[] = {
    {"lr", &OptimConfig::lr},
    {"min_lr_ratio", &OptimConfig::min_lr_ratio},
    {"warmup_steps", &OptimConfig::warmup_steps},
    {"decay", &OptimConfig::decay},
    {"beta1", &OptimConfig::beta1},
    {"beta2", &OptimConfig::beta2},
    {"eps", &OptimConfig::eps},
    {"weight_decay", &OptimConfig::weight_decay},
    {"grad_clip", &OptimConfig::grad_clip},
};

const Field<DataConfig> kDataFields[] = {
    {"datasets", &DataConfig::datasets},
    {"weights", &DataConfig::weights},
    {"prefetch_depth", &DataConfig::prefetch_depth},
    {"train_path", &DataConfig::train_path},
    {"val_path", &DataConfig::val_path},
    {"val_fraction", &DataConfig::val_fraction},
    {"tokenizer_path", &DataConfig::tokenizer_path},
};

const Field<ParallelConfig> kParallelFields[] = {
    {"dp", &ParallelConfig::dp},
    {"tp", &ParallelConfig::tp},
    {"pp", &ParallelConfig::pp},
    {"vpp", &ParallelConfig::vpp},
    {"pp_schedule", &ParallelConfig::pp_schedule},
    {"pp_layers", &ParallelConfig::pp_layers},
    {"pp_head_share", &ParallelConfig::pp_head_share},
    {"ep", &ParallelConfig::ep},
    {"etp", &ParallelConfig::etp},
    {"cp", &ParallelConfig::cp},
    {"sequence_parallel", &ParallelConfig::sequence_parallel},
    {"order", &ParallelConfig::order},
    {"zero_stage", &ParallelConfig::zero_stage},
    {"bucket_mb", &ParallelConfig::bucket_mb},
    {"grad_dtype", &ParallelConfig::grad_dtype},
    {"timeout_s", &ParallelConfig::timeout_s},
};

const Field<CheckpointConfig> kCheckpointFields[] = {
    {"dir", &CheckpointConfig::dir},
    {"every", &CheckpointConfig::every},
    {"keep_last", &CheckpointConfig::keep_last},
    {"keep_every", &CheckpointConfig::keep_every},
    {"async", &CheckpointConfig::async},
};

const Field<MonitorConfig> kMonitorFields[] = {
    {"metrics_port", &MonitorConfig::metrics_port},
    {"metrics_host", &MonitorConfig::metrics_host},
    {"metrics_linger_s", &MonitorConfig::metrics_linger_s},
    {"rank_stats_every", &MonitorConfig::rank_stats_every},
    {"straggler_mad_multiple", &MonitorConfig::straggler_mad_multiple},
    {"straggler_min_excess", &MonitorConfig::straggler_min_excess},
    {"straggler_windows", &MonitorConfig::straggler_windows},
    {"peak_tflops", &MonitorConfig::peak_tflops},
    {"debug_slow_rank", &MonitorConfig::debug_slow_rank},
    {"debug_slow_factor", &MonitorConfig::debug_slow_factor},
    {"debug_slow_from_step", &MonitorConfig::debug_slow_from_step},
};

const Field<Fp8Config> kFp8Fields[] = {
    {"scaling", &Fp8Config::scaling},
    {"block_size", &Fp8Config::block_size},
    {"amax_history", &Fp8Config::amax_history},
    {"gradient_format", &Fp8Config::gradient_format},
    {"error_threshold", &Fp8Config::error_threshold},
    {"check_every", &Fp8Config::check_every},
};

// Calls fn(section_name, fields, member_of_RunConfig) for each section, in file order.
template <typename Fn>
Status for_each_section(Fn&& fn) {
  SYM_TRY(fn(std::string_view("model"), std::span(kModelFields), &RunConfig::model));
  SYM_TRY(fn(std::string_view("train"), std::span(kTrainFields), &RunConfig::train));
  SYM_TRY(fn(std::string_view("optim"), std::span(kOptimFields), &RunConfig::optim));
  SYM_TRY(fn(std::string_view("data"), std::span(kDataFields), &RunConfig::data));
  SYM_TRY(fn(std::string_view("parallel"), std::span(kParallelFields), &RunConfig::parallel));
  SYM_TRY(fn(std::string_view("checkpoint"), std::span(kCheckpointFields), &RunConfig::checkpoint));
  SYM_TRY(fn(std::string_view("monitor"), std::span(kMonitorFields), &RunConfig::monitor));
  SYM_TRY(fn(std::string_view("fp8"), std::span(kFp8Fields), &RunConfig::fp8));
  return Status::ok();
}

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

constexpr EnumName<LrDecay> kLrDecayNames[] = {
    {"cosine", LrDecay::kCosine}, {"linear", LrDecay::kLinear}, {"constant", LrDecay::kConstant}};
constexpr EnumName<Recompute> kRecomputeNames[] = {
    {recompute_name(Recompute::kNone), Recompute::kNone},
    {recompute_name(Recompute::kSelective), Recompute::kSelective},
    {recompute_name(Recompute::kFull), Recompute::kFull}};
constexpr EnumName<RouterScoring> kRouterScoringNames[] = {
    {"softmax", RouterScoring::kSoftmax}, {"sigmoid", RouterScoring::kSigmoid}};

std::span<const EnumName<LrDecay>> enum_names(LrDecay) { return kLrDecayNames; }
std::span<const EnumName<Recompute>> enum_names(Recompute) { return kRecomputeNames; }
std::span<const EnumName<RouterScoring>> enum_names(RouterScoring) { return kRouterScoringNames; }
constexpr EnumName<MlpKind> kMlpKindNames[] = {{"swiglu", MlpKind::kSwiGlu},
                                               {"geglu", MlpKind::kGeGlu},
                                               {"gelu", MlpKind::kGelu},
                                               {"relu", MlpKind::kRelu},
                                               {"relu2", MlpKind::kSquaredRelu}};
std::span<const EnumName<MlpKind>> enum_names(MlpKind) { return kMlpKindNames; }
constexpr EnumName<Fp8Scaling> kFp8ScalingNames[] = {{"block", Fp8Scaling::kBlock},
                                                     {"tensor", Fp8Scaling::kTensor},
                                                     {"delayed", Fp8Scaling::kDelayed}};
std::span<const EnumName<Fp8Scaling>> enum_names(Fp8Scaling) { return kFp8ScalingNames; }
constexpr EnumName<Fp8Format> kFp8FormatNames[] = {{"e4m3", Fp8Format::kE4M3},
                                                   {"e5m2", Fp8Format::kE5M2}};
std::span<const EnumName<Fp8Format>> enum_names(Fp8Format) { return kFp8FormatNames; }

std::vector<std::string_view> section_names() {
  std::vector<std::string_view> names;
  (void)for_each_section([&](std::string_view name, auto, auto) {
    names.push_back(name);
    return Status::ok();
  });
  return names;
}

std::vector<std::string_view> section_keys(std::string_view section) {
  std::vector<std::string_view> keys;
  (void)for_each_section([&](std::string_view name, auto fields, auto) {
    if (name == section) {
      for (const auto& field : fields) keys.push_back(field.key);
    }
    return Status::ok();
  });
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Locations and descriptions for messages.

std::string location(const toml::source_region& region, std::string_view fallback) {
  if (!region.path) return std::string(fallback);
  const std::string& path = *region.path;
  if (path.starts_with(kOverrideSourcePrefix)) return path;
  return fmt::format("{}:{}", path, region.begin.line);
}

// A section table made by an override has no source of its own; its first entry does.
std::string table_location(const toml::table& table, std::string_view fallback) {
  if (table.source().path) return location(table.source(), fallback);
  for (auto&& [key, node] : table) {
    if (node.source().path) return location(node.source(), fallback);
  }
  return std::string(fallback);
}

std::string quoted(std::string_view s) { return fmt::format("\"{}\"", s); }

std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "string " + quoted(*node.value<std::string_view>());
    case toml::node_type::integer:
      return fmt::format("integer {}", *node.value<int64_t>());
    case toml::node_type::floating_point:
      return fmt::format("float {}", *node.value<double>());
    case toml::node_type::boolean:
      return fmt::format("boolean {}", *node.value<bool>());
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// The known name closest to `name` within edit distance 2, or empty.
std::string_view closest(std::string_view name, const std::vector<std::string_view>& known) {
  std::string_view best;
  int best_distance = 3;
  for (std::string_view candidate : known) {
    const int d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string join(const std::vector<std::string_view>& names, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += separator;
    out += names[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading one value.

struct Site {
  std::string_view section;
  std::string_view key;
  const toml::node& node;
  std::string_view fallback_location;
};

Status type_error(const Site& site, std::string_view expected) {
  return Error::invalid("{}: {}.{}: expected {}, got {}",
                        location(site.node.source(), site.fallback_location), site.section,
                        site.key, expected, describe(site.node));
}

Status read_value(const Site& site, int64_t& out) {
  const std::optional<int64_t> v =
      site.node.is_integer() ? site.node.value<int64_t>() : std::nullopt;
  if (!v || *v < 0) return type_error(site, "a non-negative integer");
  out = *v;
  return Status::ok();
}

Status read_value(const Site& site, uint64_t& out) {
  int64_t v = 0;
  SYM_TRY(read_value(site, v));
  out = static_cast<uint64_t>(v);
  return Status::ok();
}

Status read_value(const Site& site, double& out) {
  if (site.node.is_floating_point()) {
    out = *site.node.value<double>();
  } else if (site.node.is_integer()) {
    out = static_cast<double>(*site.node.value<int64_t>());
  } else {
    return type_error(site, "a number");
  }
  return Status::ok();
}

Status read_value(const Site& site, bool& out) {
  if (!site.node.is_boolean()) return type_error(site, "a boolean (true or false)");
  out = *site.node.value<bool>();
  return Status::ok();
}

Status read_value(const Site& site, std::string& out) {
  if (!site.node.is_string()) return type_error(site, "a string");
  out = *site.node.value<std::string>();
  return Status::ok();
}

// Arrays: each element is read as a value of its own, so errors name the element's position.
template <typename T>
Status read_value(const Site& site, std::vector<T>& out) {
  const toml::array* array = site.node.as_array();
  if (array == nullptr) return type_error(site, "an array");
  std::vector<T> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string key = fmt::format("{}[{}]", site.key, i);
    const Site element{site.section, key, *array->get(i), site.fallback_location};
    T value{};
    SYM_TRY(read_value(element, value));
    values.push_back(std::move(value));
  }
  out = std::move(values);
  return Status::ok();
}

template <typename E>
Status read_enum(const Site& site, E& out) {
  std::vector<std::string_view> names;
  for (const auto& entry : enum_names(E{})) names.push_back(entry.name);
  const std::string expected = "one of \"" + join(names, "\", \"") + "\"";
  if (!site.node.is_string()) return type_error(site, expected);
  const std::string_view text = *site.node.value<std::string_view>();
  for (const auto& entry : enum_names(E{})) {
    if (entry.name == text) {
      out = entry.value;
      return Status::ok();
    }
  }
  return type_error(site, expected);
}

Status read_value(const Site& site, LrDecay& out) { return read_enum(site, out); }
Status read_value(const Site& site, Recompute& out) { return read_enum(site, out); }
Status read_value(const Site& site, RouterScoring& out) { return read_enum(site, out); }
Status read_value(const Site& site, MlpKind& out) { return read_enum(site, out); }
Status read_value(const Site& site, Fp8Scaling& out) { return read_enum(site, out); }
Status read_value(const Site& site, Fp8Format& out) { return read_enum(site, out); }

// The precisions training runs.
constexpr Precision kTrainPrecisions[] = {Precision::kFp32, Precision::kBf16, Precision::kFp8};

Status read_value(const Site& site, Precision& out) {
  std::vector<std::string_view> names;
  for (Precision p : kTrainPrecisions) names.push_back(precision_name(p));
  const std::string expected = "one of \"" + join(names, "\", \"") + "\"";
  const std::optional<std::string_view> text =
      site.node.is_string() ? site.node.value<std::string_view>() : std::nullopt;
  const std::optional<Precision> p = text ? parse_precision(*text) : std::nullopt;
  if (!p) return type_error(site, expected);
  if (std::find(std::begin(kTrainPrecisions), std::end(kTrainPrecisions), *p) ==
      std::end(kTrainPrecisions))
    return Error::invalid("{}: {}.{} = \"{}\" is not available yet: training runs {}",
                          location(site.node.source(), site.fallback_location), site.section,
                          site.key, *text, expected);
  out = *p;
  return Status::ok();
}

Status read_value(const Site& site, PipelineSchedule& out) {
  const std::optional<std::string_view> text =
      site.node.is_string() ? site.node.value<std::string_view>() : std::nullopt;
  const std::optional<PipelineSchedule> v = text ? parse_pipeline_schedule(*text) : std::nullopt;
  if (!v) return type_error(site, fmt::format("one of {}", kPipelineScheduleChoices));
  out = *v;
  return Status::ok();
}

// Written as the stage's number, as ZeRO stages are known.
Status read_value(const Site& site, ZeroStage& out) {
  const std::optional<int64_t> v =
      site.node.is_integer() ? site.node.value<int64_t>() : std::nullopt;
  if (!v) return type_error(site, "one of the integers 0, 1, 2, 3");
  if (*v < 0 || *v > 3)
    return Error::invalid("{}: {}.{} = {} is not one of 0, 1, 2, 3",
                          location(site.node.source(), site.fallback_location), site.section,
                          site.key, *v);
  out = ZeroStage(*v);
  return Status::ok();
}

Status unknown_key_error(std::string_view section, std::string_view key, const toml::node& node,
                         std::string_view fallback) {
  const std::string where = location(node.source(), fallback);
  const std::vector<std::string_view> known = section_keys(section);
  if (std::string_view near = closest(key, known); !near.empty()) {
    return Error::invalid("{}: unknown key {}.{}; did you mean {}.{}?", where, section, key,
                          section, near);
  }
  for (std::string_view other : section_names()) {
    const std::vector<std::string_view> other_keys = section_keys(other);
    if (std::find(other_keys.begin(), other_keys.end(), key) != other_keys.end()) {
      return Error::invalid("{}: unknown key {}.{}; did you mean {}.{}?", where, section, key,
                            other, key);
    }
  }
  return Error::invalid("{}: unknown key {}.{}; the keys of [{}] are: {}", where, section, key,
                        section, join(known, ", "));
}

template <typename Fields, typename S>
Status read_section(const toml::table& table, std::string_view section, const Fields& fields,
                    std::string_view fallback, S& out) {
  // Report problems in document order, not in the table's key order.
  std::vector<std::pair<std::string_view, const toml::node*>> entries;
  for (auto&& [key, node] : table) entries.emplace_back(key.str(), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin.line < b.second->source().begin.line;
  });

  for (const auto& entry : entries) {
    // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in a lambda.
    const std::string_view key = entry.first;
    const toml::node* node = entry.second;
    const auto field =
        std::find_if(fields.begin(), fields.end(), [&](const Field<S>& f) { return f.key == key; });
    if (field == fields.end()) return unknown_key_error(section, key, *node, fallback);
    const Site site{section, key, *node, fallback};
    SYM_TRY(std::visit([&](auto member) { return read_value(site, out.*member); }, field->member));
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Writing one value.

std::string format_value(int64_t v) { return fmt::format("{}", v); }
std::string format_value(uint64_t v) { return fmt::format("{}", v); }
std::string format_value(bool v) { return v ? "true" : "false"; }
std::string format_value(const std::string& v) { return toml_quote(v); }

// fmt's default format is the shortest text that reads back as the same double.
std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";  // keep it a TOML float
  return text;
}

template <typename T>
std::string format_value(const std::vector<T>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + format_value(values[i]);
  return out + "]";
}

template <typename E>
std::string format_enum(E v) {
  for (const auto& entry : enum_names(E{})) {
    if (entry.value == v) return toml_quote(entry.name);
  }
  return toml_quote("?");
}
std::string format_value(LrDecay v) { return format_enum(v); }
std::string format_value(Recompute v) { return format_enum(v); }
std::string format_value(RouterScoring v) { return format_enum(v); }
std::string format_value(MlpKind v) { return format_enum(v); }
std::string format_value(Fp8Scaling v) { return format_enum(v); }
std::string format_value(Fp8Format v) { return format_enum(v); }
std::string format_value(ZeroStage v) { return fmt::format("{}", int(v)); }
std::string format_value(PipelineSchedule v) { return toml_quote(pipeline_schedule_name(v)); }
std::string format_value(Precision v) { return toml_quote(precision_name(v)); }

}  // namespace

std::string toml_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned>(u));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int edit_distance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

Result<toml::table> parse_toml(std::string_view text, std::string_view source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return Error::invalid("{}:{}:{}: {}", source_name, e.source().begin.line,
                          e.source().begin.column, e.description());
  } catch (const std::exception& e) {
    return Error::internal("{}: {}", source_name, e.what());
  }
}

Result<RunConfig> run_config_from_toml(const toml::table& root, std::string_view source) {
  // Sections first, in document order, so a misspelt section is reported as such rather than
  // through its keys.
  std::vector<std::pair<std::string_view, const toml::node*>> entries;
  for (auto&& [key, node] : root) entries.emplace_back(key.str(), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin.line < b.second->source().begin.line;
  });
  const std::vector<std::string_view> sections = section_names();
  for (const auto& [name, node] : entries) {
    const bool known = std::find(sections.begin(), sections.end(), name) != sections.end();
    if (!node->is_table()) {
      return Error::invalid("{}: {} = ... is outside any section; the sections are [{}]",
                            location(node->source(), source), name, join(sections, "], ["));
    }
    if (!known) {
      const std::string where = table_location(*node->as_table(), source);
      if (std::string_view near = closest(name, sections); !near.empty()) {
        return Error::invalid("{}: unknown section [{}]; did you mean [{}]?", where, name, near);
      }
      return Error::invalid("{}: unknown section [{}]; the sections are [{}]", where, name,
                            join(sections, "], ["));
    }
  }

  RunConfig config;
  config.source = std::string(source);
  SYM_TRY(for_each_section([&](std::string_view name, auto fields, auto member) {
    const toml::table* table = root.get_as<toml::table>(name);
    if (table == nullptr) return Status::ok();
    return read_section(*table, name, fields, source, config.*member);
  }));
  return config;
}

std::string to_toml(const RunConfig& config) {
  std::string source = config.source;
  std::replace(source.begin(), source.end(), '\n', ' ');
  std::string out = fmt::format("# Symphony run configuration, resolved from: {}\n", source);
  (void)for_each_section([&](std::string_view name, auto fields, auto member) {
    const auto& section = config.*member;
    out += fmt::format("\n[{}]\n", name);
    for (const auto& field : fields) {
      const std::string value =
          std::visit([&](auto ptr) { return format_value(section.*ptr); }, field.member);
      out += fmt::format("{} = {}\n", field.key, value);
    }
    return Status::ok();
  });
  return out;
}

}  // namespace symphony

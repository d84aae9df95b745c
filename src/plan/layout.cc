#include "plan/layout.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "model/pipeline_split.h"
#include "plan/cluster.h"

namespace symphony::plan {
namespace {

constexpr std::string_view kFields =
    "dp, tp, pp, ep, cp, zero, vpp, mbs, recompute, schedule, precision, split";

Result<int64_t> parse_count(std::string_view key, std::string_view value) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < 0)
    return Error::invalid("--layout field {}='{}' is not a non-negative integer", key, value);
  return v;
}

}  // namespace

std::string PlanLayout::to_string() const {
  return fmt::format(
      "dp={},tp={},pp={},ep={},cp={},zero={},vpp={},mbs={},recompute={},schedule={},precision={}",
      dp(), tp(), pp(), ep(), cp(), int(zero()), vpp, mbs, recompute_name(recompute),
      pipeline_schedule_name(schedule), precision_name(precision)) +
         (stage_split == StageSplit::kEven ? ",split=even" : "");
}

Result<PlanLayout> parse_layout(std::string_view text, int64_t num_gpus, PlanLayout l) {
  if (num_gpus < 1 || num_gpus > Cluster::kMaxGpus)
    return Error::invalid("a layout of {} GPUs: the planner covers 1 to 2^24", num_gpus);
  ParallelConfig parallel;  // dp = 0: the GPUs the other axes leave
  bool schedule_given = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) {
      if (comma == text.size()) break;
      continue;
    }
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return Error::invalid("--layout item '{}' is not key=value; the fields are {}", item,
                            kFields);
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    auto count_field = [&](int64_t& field) -> Status {
      SYM_TRY_ASSIGN(field, parse_count(key, value));
      return Status::ok();
    };
    if (key == "dp") {
      SYM_TRY(count_field(parallel.dp));
    } else if (key == "tp") {
      SYM_TRY(count_field(parallel.tp));
    } else if (key == "pp") {
      SYM_TRY(count_field(parallel.pp));
    } else if (key == "ep") {
      SYM_TRY(count_field(parallel.ep));
    } else if (key == "cp") {
      SYM_TRY(count_field(parallel.cp));
    } else if (key == "vpp") {
      SYM_TRY(count_field(l.vpp));
    } else if (key == "mbs") {
      SYM_TRY(count_field(l.mbs));
    } else if (key == "zero") {
      int64_t z = 0;
      SYM_TRY_ASSIGN(z, parse_count(key, value));
      if (z > 3) return Error::invalid("--layout field zero={} must be 0, 1, 2 or 3", z);
      parallel.zero_stage = ZeroStage(z);
    } else if (key == "recompute") {
      const std::optional<Recompute> r = parse_recompute(value);
      if (!r)
        return Error::invalid("--layout field recompute='{}' must be none, selective or full",
                              value);
      l.recompute = *r;
    } else if (key == "schedule") {
      schedule_given = true;
      const std::optional<PipelineSchedule> schedule = parse_pipeline_schedule(value);
      if (!schedule)
        return Error::invalid("--layout field schedule='{}' must be {}", value,
                              kPipelineScheduleChoices);
      l.schedule = *schedule;
    } else if (key == "precision") {
      if (value == "fp32")
        l.precision = Precision::kFp32;
      else if (value == "bf16")
        l.precision = Precision::kBf16;
      else if (value == "fp8")
        l.precision = Precision::kFp8;
      else
        return Error::invalid("--layout field precision='{}' must be fp32, bf16 or fp8", value);
    } else if (key == "split") {
      if (value == "balanced")
        l.stage_split = StageSplit::kBalanced;
      else if (value == "even")
        l.stage_split = StageSplit::kEven;
      else
        return Error::invalid("--layout field split='{}' must be balanced or even", value);
    } else {
      return Error::invalid("--layout field '{}' is unknown; the fields are {}", key, kFields);
    }
  }
  if (!schedule_given && l.vpp > 1) l.schedule = PipelineSchedule::kInterleaved;
  SYM_TRY_ASSIGN(l.parallel, ParallelLayout::create(parallel, int(num_gpus)));
  return l;
}

Status check_layout(const PlanLayout& l, const ModelCosts& m, const BatchSpec& b, int64_t num_gpus,
                    int64_t gpus_per_node, TpPlacement tp_placement) {
  const ModelConfig& c = m.config;
  const int64_t dp = l.dp(), tp = l.tp(), pp = l.pp(), ep = l.ep(), cp = l.cp();
  if (l.world() != num_gpus)
    return Error::invalid("dp*cp*tp*pp = {}*{}*{}*{} = {} GPUs, but the cluster has {}", dp, cp, tp,
                          pp, l.world(), num_gpus);
  if (l.parallel.size(Axis::kExpertTensor) != 1)
    return Error::invalid("etp={}: the planner models whole experts on each GPU (etp = 1)",
                          l.parallel.size(Axis::kExpertTensor));
  for (auto [name, v] : {std::pair{"vpp", l.vpp}, {"mbs", l.mbs}})
    if (v < 1) return Error::invalid("--layout field {}={} must be at least 1", name, v);
  if (c.num_attention_heads % tp != 0)
    return Error::invalid("tp={} does not divide num_attention_heads {}", tp,
                          c.num_attention_heads);
  // Multi-head latent attention splits its heads, each with its own keys and values. Grouped-
  // query attention splits its KV heads, or replicates each over tp / KV heads ranks.
  if (!c.mla() && c.num_key_value_heads % tp != 0 && tp % c.num_key_value_heads != 0)
    return Error::invalid(
        "tp={} neither divides num_key_value_heads {} nor is a multiple of it (to replicate each "
        "KV head)",
        tp, c.num_key_value_heads);
  if (m.num_dense_layers > 0 && c.intermediate_size % tp != 0)
    return Error::invalid("tp={} does not divide intermediate_size {}", tp, c.intermediate_size);
  if (c.num_experts > 0 && c.n_shared_experts > 0 && c.moe_intermediate_size % tp != 0)
    return Error::invalid("tp={} does not divide the shared experts' moe_intermediate_size {}", tp,
                          c.moe_intermediate_size);
  if (tp_placement == TpPlacement::kWithinNode && tp > gpus_per_node)
    return Error::invalid(
        "tp={} spans more than one {}-GPU node; lower tp or allow it with --tp-across-nodes", tp,
        gpus_per_node);
  if (c.num_experts == 0 && ep != 1)
    return Error::invalid("ep={} needs a model with experts; this one is dense (use ep=1)", ep);
  if (c.num_experts > 0 && c.num_experts % ep != 0)
    return Error::invalid("ep={} does not divide num_experts {}", ep, c.num_experts);
  if (pp * l.vpp > m.num_layers)
    return Error::invalid("pp*vpp = {}*{} exceeds the {} layers", pp, l.vpp, m.num_layers);
  if (l.vpp > 1 && l.schedule != PipelineSchedule::kInterleaved)
    return Error::invalid("vpp={} needs schedule=interleaved", l.vpp);
  if (l.schedule == PipelineSchedule::kInterleaved && l.vpp < 2)
    return Error::invalid("schedule=interleaved needs vpp of at least 2");
  if (pp == 1 && l.schedule != PipelineSchedule::k1F1B)
    return Error::invalid("schedule={} needs pp > 1", pipeline_schedule_name(l.schedule));
  if (l.schedule == PipelineSchedule::kDualPipe && pp % 2 != 0)
    return Error::invalid("schedule=dualpipe needs an even pp (got pp={})", pp);
  if (cp > 1 && b.seq_len % (2 * cp) != 0)
    return Error::invalid("cp={} needs seq_len {} divisible by 2*cp for load-balanced chunks", cp,
                          b.seq_len);
  if (b.global_batch_tokens % b.seq_len != 0)
    return Error::invalid("global batch of {} tokens is not a whole number of {}-token sequences",
                          b.global_batch_tokens, b.seq_len);
  if (b.sequences() % (dp * l.mbs) != 0)
    return Error::invalid("dp*mbs = {}*{} does not divide the global batch of {} sequences", dp,
                          l.mbs, b.sequences());
  const int64_t micro = num_microbatches(l, b);
  if (l.schedule == PipelineSchedule::kInterleaved && micro % pp != 0)
    return Error::invalid("schedule=interleaved needs micro-batches ({}) divisible by pp={}", micro,
                          pp);
  if (l.schedule == PipelineSchedule::kDualPipe && micro < 2 * pp)
    return Error::invalid("schedule=dualpipe needs at least 2*pp = {} micro-batches (got {})",
                          2 * pp, micro);
  if (l.zero() != ZeroStage::kNone && dp * cp == 1 && l.expert_dp() == 1)
    return Error::invalid("zero={} needs data parallel ranks to shard over (dp*cp = 1)",
                          int(l.zero()));
  return Status::ok();
}

std::vector<LayerRange> virtual_stage_ranges(const ModelCosts& model, const PlanLayout& layout) {
  ParallelConfig parallel;
  parallel.pp = layout.pp();
  parallel.vpp = layout.vpp;
  parallel.pp_schedule = layout.schedule;
  std::vector<int64_t> counts;
  if (layout.stage_split == StageSplit::kEven) {
    const int64_t chunks = layout.pp() * layout.vpp;
    for (int64_t c = 0; c < chunks; ++c)
      counts.push_back(model.num_layers / chunks + (c < model.num_layers % chunks));
  } else {
    // Whole layers: the stage model costs layers, not their attention and feed-forward apart.
    std::vector<int64_t>& cached = (*model.split_cache)[{layout.pp(), layout.vpp}];
    if (cached.empty())
      cached = pipeline_layer_split(model.config, parallel, model.seq_len, StageUnit::kLayer);
    counts = cached;
  }
  if (counts.empty()) counts = {model.num_layers};  // one virtual stage
  std::vector<LayerRange> ranges;
  int64_t next = 0;
  for (int64_t n : counts) {
    ranges.push_back({next, next + n});
    next += n;
  }
  return ranges;
}

int64_t layers_in_stage(const ModelCosts& model, const PlanLayout& layout, int64_t stage) {
  const std::vector<LayerRange> ranges = virtual_stage_ranges(model, layout);
  int64_t n = 0;
  for (size_t c = size_t(stage); c < ranges.size(); c += size_t(layout.pp()))
    n += ranges[c].last - ranges[c].first;
  return n;
}

}  // namespace symphony::plan

#include "plan/search.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/request.h"

namespace symphony::plan {
namespace {

using ::testing::HasSubstr;

PlanContext context(const std::string& model, const std::string& cluster, int64_t gpus,
                    int64_t seq_len, int64_t batch_tokens) {
  PlanRequest q;
  q.model = model;
  q.cluster = cluster;
  q.num_gpus = gpus;
  q.seq_len = seq_len;
  q.global_batch_tokens = batch_tokens;
  Result<PlanContext> ctx = make_plan_context(q);
  EXPECT_TRUE(ctx.has_value()) << ctx.error().message();
  return *ctx;
}

TEST(Search, EveryLayoutIsValidAndTheTopIsSorted) {
  PlanContext ctx = context("kimi-k2-1t", "h800", 2048, 4096, 4096 * 4096);
  const ModelConfig& c = ctx.model.config;
  std::vector<PlanLayout> all = enumerate_layouts(ctx, SearchSpace{});
  ASSERT_GT(all.size(), 10000u);
  for (const PlanLayout& l : all) {
    ASSERT_EQ(check_layout(l, ctx.model, ctx.batch, 2048, 8, TpPlacement::kWithinNode).message(),
              "")
        << l.to_string();
    ASSERT_EQ(c.num_attention_heads % l.tp(), 0);
    ASSERT_EQ(c.num_experts % l.ep(), 0);
    ASSERT_EQ(ctx.batch.sequences() % (l.dp() * l.mbs), 0);
    ASSERT_LE(l.pp() * l.vpp, ctx.model.num_layers);
  }
  Result<SearchResult> r = plan_search(ctx, SearchSpace{}, 10);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->evaluated, int64_t(all.size()));
  EXPECT_EQ(r->evaluated, r->fitting + r->out_of_memory);
  EXPECT_GT(r->out_of_memory, 0);
  ASSERT_EQ(r->top.size(), 10u);
  for (size_t i = 0; i < r->top.size(); ++i) {
    const RankedLayout& x = r->top[i];
    EXPECT_TRUE(x.eval.fits);
    EXPECT_LE(x.eval.memory.total(), ctx.cluster.accelerator.memory_bytes);
    if (i > 0) {
      EXPECT_GE(x.eval.time.step_s, r->top[i - 1].eval.time.step_s);
      if (x.slowdown > 1e-9) {
        EXPECT_NE(x.reason, LossReason::kNone);
      }
    }
  }
  // Every slower layout has a reason (ties with the best have none).
  EXPECT_LE(
      r->lost_to_bubble + r->lost_to_communication + r->lost_to_compute + r->lost_to_optimizer,
      r->fitting - 1);
  EXPECT_GT(r->lost_to_bubble, 0);
  EXPECT_GT(r->lost_to_communication, 0);
}

TEST(Search, LosersAreAttributedToTheComponentThatGrew) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  Result<PlanLayout> fast = parse_layout("dp=8,tp=8,ep=8,mbs=1", 64);
  // Eight pipeline stages over eight micro-batches: a bubble of 7 / 15 of the step.
  Result<PlanLayout> deep = parse_layout("dp=1,tp=8,pp=8,ep=8,mbs=32", 64);
  ASSERT_TRUE(fast.has_value() && deep.has_value());
  const Evaluation a = evaluate(ctx, *fast);
  Evaluation b = evaluate(ctx, *deep);
  b.fits = true;  // attribution of time, whatever the memory
  ASSERT_LT(a.time.step_s, b.time.step_s);
  EXPECT_EQ(rank_against(a, b).reason, LossReason::kBubble);
  Evaluation oom = b;
  oom.fits = false;
  EXPECT_EQ(rank_against(a, oom).reason, LossReason::kOutOfMemory);
}

TEST(Search, TensorParallelismStaysInTheNodeUnlessAllowed) {
  PlanContext ctx = context("kimi-k2-1t", "h100", 256, 4096, 1024 * 4096);  // 64 MLA heads
  for (const PlanLayout& l : enumerate_layouts(ctx, SearchSpace{})) ASSERT_LE(l.tp(), 8);
  ctx.options.tp_placement = TpPlacement::kAnywhere;
  int64_t wide = 0;
  for (const PlanLayout& l : enumerate_layouts(ctx, SearchSpace{})) wide += l.tp() > 8;
  EXPECT_GT(wide, 0);
}

TEST(Search, ModelThatFitsNowhereSaysWhatToChange) {
  PlanContext ctx = context("kimi-k2-1t", "h100", 16, 4096, 64 * 4096);
  Result<SearchResult> r = plan_search(ctx, SearchSpace{}, 5);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("fits in no layout on 16"));
  EXPECT_THAT(r.error().message(), HasSubstr("GiB per GPU"));
  // A count that was checked to fit, in whole nodes, with the layout that fits.
  EXPECT_THAT(r.error().message(), testing::ContainsRegex("[0-9]+ GPUs \\([0-9.]+x\\) would fit it"));
  const std::string message = r.error().message();
  const size_t at = message.find(" GPUs (");
  const int64_t gpus = std::stoll(message.substr(message.rfind(' ', at - 1) + 1));
  EXPECT_EQ(gpus % 8, 0);
  PlanContext more = context("kimi-k2-1t", "h100", gpus, 4096, 64 * 4096);
  EXPECT_TRUE(plan_search(more, SearchSpace{}, 1).has_value());
}

TEST(Search, ModelThatFitsOnNoCountSaysSo) {
  // An accelerator smaller than the runtime's own reserve: no count of GPUs helps.
  PlanContext ctx = context("mixtral-8x7b", "h100", 8, 4096, 64 * 4096);
  ctx.cluster.accelerator.memory_bytes = 1.0 * (1 << 30);
  Result<SearchResult> r = plan_search(ctx, SearchSpace{}, 5);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("no count of GPUs up to 2^24 fits it"));
  EXPECT_THAT(r.error().message(), HasSubstr("--global-batch-tokens"));
}

TEST(Search, BadRequestsAreClearErrors) {
  PlanRequest q;
  q.model = "kimi-k2-1t";
  q.cluster = "h100";
  q.num_gpus = 0;
  EXPECT_THAT(make_plan_context(q).error().message(), HasSubstr("at least one GPU"));
  q.num_gpus = 12;
  EXPECT_THAT(make_plan_context(q).error().message(), HasSubstr("multiple of 8"));
  q.num_gpus = 64;
  q.cluster = "tpu-v9";
  EXPECT_THAT(make_plan_context(q).error().message(), HasSubstr("the cluster presets are: "));
  q.cluster = "h100";
  q.model = "gpt-5";
  EXPECT_THAT(make_plan_context(q).error().message(), HasSubstr("gpt-5"));
  q.model = "kimi-k2-1t";
  q.global_batch_tokens = 1000;
  EXPECT_THAT(make_plan_context(q).error().message(), HasSubstr("--global-batch-tokens"));
  for (int64_t bad : {0, -4096}) {
    q.global_batch_tokens = bad;
    EXPECT_THAT(make_plan_context(q).error().message(),
                HasSubstr(fmt::format("--global-batch-tokens {} must be a positive", bad)));
  }
  q.global_batch_tokens.reset();
  for (int64_t bad : {0, -5}) {
    q.seq_len = bad;
    EXPECT_THAT(make_plan_context(q).error().message(),
                HasSubstr(fmt::format("--seq-len {} must be a positive", bad)));
  }
  q.seq_len.reset();
  q.train_tokens = 1e19;  // beyond int64: would wrap into negative days and cost
  EXPECT_THAT(make_plan_context(q).error().message(), HasSubstr("--tokens 1e+19 is more than"));
  q.train_tokens = 15e12;
  Result<PlanContext> ctx = make_plan_context(q);
  ASSERT_TRUE(ctx.has_value());
  EXPECT_THAT(plan_layout(*ctx, "tp=8,pp=8,ep=7", Precision::kBf16).error().message(),
              HasSubstr("ep=7"));
  EXPECT_THAT(plan_layout(*ctx, "tp=8,pipeline=8", Precision::kBf16).error().message(),
              HasSubstr("'pipeline' is unknown"));
  EXPECT_THAT(plan_layout(*ctx, "tp=3", Precision::kBf16).error().message(),
              HasSubstr("not a multiple of pp*cp*tp = 3"));
  Result<Evaluation> e = plan_layout(*ctx, "tp=8,pp=8,ep=1", Precision::kBf16);
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->fits);  // evaluated, flagged, not an error
}

}  // namespace
}  // namespace symphony::plan

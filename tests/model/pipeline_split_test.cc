#include "model/pipeline_split.h"

#include <gmock/gmock.h>

#include "config/run_config.h"

namespace symphony {
namespace {

using ::testing::ElementsAre;

ParallelConfig pipeline_of(int64_t pp) {
  ParallelConfig p;
  p.pp = pp;
  return p;
}

TEST(PipelineSplit, TheLastStageTakesFewerLayersWithTheHead) {
  const Result<RunConfig> c = load_run_config("bench-dense-small", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  // 8 layers of about 20.6M FLOPs per token each; the LM head about 25.2M.
  EXPECT_THAT(pipeline_layer_split(c->model, pipeline_of(2), 64), ElementsAre(5, 3));
  // A multi-token prediction module on the last stage adds an eh_proj, a layer and the head
  // again (about 48.9M): [6, 2] is then the most even split.
  ModelConfig mtp = c->model;
  mtp.num_nextn_predict_layers = 1;
  EXPECT_THAT(pipeline_layer_split(mtp, pipeline_of(2), 64), ElementsAre(6, 2));
}

TEST(PipelineSplit, GivenLayersAreKept) {
  const Result<RunConfig> c = load_run_config("tiny", {});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  ParallelConfig p = pipeline_of(2);
  p.pp_layers = {1, 3};
  EXPECT_THAT(pipeline_layer_split(c->model, p, 64), ElementsAre(1, 3));
}

}  // namespace
}  // namespace symphony

// manifest.json reading of input that is not what manifest_to_json() writes. The pieces' coverage
// rules are tested in checkpoint_manifest_test.cc; fuzz/regressions holds the inputs behind these
// cases.
#include "checkpoint/checkpoint_manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace symphony {
namespace {

using ::testing::HasSubstr;

// A manifest with one tensor "w" of `shape`; `top` holds the "step" member (and may repeat others,
// the last of a repeated name counting). Valid for top = "\"step\": 3" and the default shape.
std::string manifest_text(const std::string& top, const std::string& shape = "[2, 3]") {
  return R"({"format": "symphony-checkpoint", "format_version": 1, )" + top +
         R"(, "tokens_seen": 0, "optimizer_steps": 3, "lr": 0.001, "seed": 7,
  "tokenizer_fingerprint": "", "config": "",
  "loader_state": {"samples": 0, "sources": []},
  "layout": {"world": 1, "dp": 1, "zero_stage": 0, "description": "one"},
  "files": [{"name": "a.safetensors", "bytes": 24, "xxh3": "0000000000000000"}],
  "tensors": {"w": {"shape": )" + shape + R"(, "dtype": "F32",
    "pieces": [{"file": "a.safetensors", "key": "w", "begin": 0, "end": 6}]}}})";
}

std::string read_error(const std::string& text) {
  Result<CheckpointManifest> m = manifest_from_json(text, "m.json");
  return m.has_value() ? "read without error" : m.error().message();
}

TEST(CheckpointManifest, ReadsTheValidExample) {
  Result<CheckpointManifest> m = manifest_from_json(manifest_text(R"("step": 3)"), "m.json");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->step, 3);
  EXPECT_EQ(m->tensors.at(0).numel(), 6);
  // A layout from before expert and pipeline parallelism: one of each.
  EXPECT_EQ(m->layout.ep, 1);
  EXPECT_EQ(m->layout.pp, 1);
}

TEST(CheckpointManifest, NumberBeyondDoubleIsInvalidJson) {
  EXPECT_THAT(read_error(manifest_text(R"("step": 1e999)")),
              HasSubstr("m.json: not valid JSON: [json.exception.out_of_range.406]"));
}

TEST(CheckpointManifest, FormatThatIsNotAStringIsNotAManifest) {
  EXPECT_THAT(read_error(R"({"format": 7})"), HasSubstr("m.json: not a Symphony checkpoint"));
  EXPECT_THAT(read_error(R"([1, 2])"), HasSubstr("m.json: not a Symphony checkpoint"));
}

TEST(CheckpointManifest, IntegerFieldsTakeOnlyIntegersInRange) {
  EXPECT_THAT(read_error(manifest_text(R"("step": 1e300)")),
              HasSubstr("m.json: step has the wrong type or range (number 1e+300)"));
  EXPECT_THAT(read_error(manifest_text(R"("step": 2.5)")),
              HasSubstr("m.json: step has the wrong type or range (number 2.5)"));
  EXPECT_THAT(read_error(manifest_text(R"("step": true)")),
              HasSubstr("m.json: step has the wrong type or range (boolean)"));
  EXPECT_THAT(read_error(manifest_text(R"("step": 9223372036854775808)")),
              HasSubstr("step has the wrong type or range (number 9223372036854775808)"));
  EXPECT_THAT(read_error(manifest_text(R"("step": 3, "format_version": 4294967297)")),
              HasSubstr("format_version has the wrong type or range"));
  EXPECT_THAT(read_error(manifest_text(R"("step": 3)", "[2, 3.0]")),
              HasSubstr(R"(m.json: tensors["w"].shape has the wrong type or range (array))"));
}

}  // namespace
}  // namespace symphony

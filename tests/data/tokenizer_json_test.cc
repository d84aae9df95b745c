#include "data/tokenizer_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "data/bpe_tokenizer.h"
#include "data/byte_level.h"
#include "testkit/bpe_testing.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ByteLevel, MapsEveryByteAndBack) {
  EXPECT_EQ(byte_to_unicode(' '), U'\u0120');  // 'Ġ'
  EXPECT_EQ(byte_to_unicode('\n'), U'\u010a');
  EXPECT_EQ(byte_to_unicode('a'), U'a');
  EXPECT_EQ(byte_to_unicode(0xad), U'\u0143');
  const std::string all = testkit::random_bytes(4096, 3);
  EXPECT_EQ(byte_level_to_bytes(bytes_to_byte_level(all)), all);
  EXPECT_EQ(bytes_to_byte_level(" hello"), "\xc4\xa0hello");
  EXPECT_FALSE(byte_level_to_bytes("a b").has_value());  // a raw space maps from no byte
  EXPECT_FALSE(byte_level_to_bytes("\xe2\x82\xac").has_value());
}

TEST(TokenizerJson, SaveLoadRoundTrip) {
  const BpeModel model = testkit::train_sample_bpe(450);
  const fs::path path = testkit::make_temp_dir("tokenizer_json") / "tokenizer.json";
  ASSERT_TRUE(save_tokenizer_json(model, path).is_ok());
  Result<std::unique_ptr<Tokenizer>> loaded = load_tokenizer(path.string());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  auto original = std::move(BpeTokenizer::create(model, "").value());
  EXPECT_EQ((*loaded)->fingerprint(), original->fingerprint());
  EXPECT_EQ((*loaded)->name(), path.string());
  EXPECT_EQ((*loaded)->eot_token(), original->eot_token());
  for (const std::string& text : {testkit::sample_text(), testkit::random_bytes(3000, 9)}) {
    EXPECT_EQ((*loaded)->encode(text), original->encode(text));
  }
  // What the Hugging Face library reads: model type, byte-level steps, merges as "a b".
  std::ifstream in(path);
  const Json json = Json::parse(in);
  EXPECT_EQ(json["model"]["type"], "BPE");
  EXPECT_EQ(json["pre_tokenizer"]["type"], "ByteLevel");
  EXPECT_EQ(json["decoder"]["type"], "ByteLevel");
  EXPECT_EQ(json["added_tokens"][0]["content"], "<|endoftext|>");
  EXPECT_EQ(json["model"]["vocab"]["<|endoftext|>"], 449);
  EXPECT_EQ(json["model"]["vocab"]["\xc4\xa0"], ' ');
  EXPECT_TRUE(json["model"]["merges"][0].is_string());
}

TEST(TokenizerJson, MergesAsPairsLoadTheSame) {
  const BpeModel model = testkit::train_sample_bpe(500);
  Json json = Json::parse(tokenizer_json_text(model));
  for (Json& m : json["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    const size_t space = s.find(' ');
    m = Json::array({s.substr(0, space), s.substr(space + 1)});
  }
  Result<BpeModel> pairs = parse_tokenizer_json(json.dump(), "pairs.json");
  ASSERT_TRUE(pairs.has_value()) << pairs.error().message();
  EXPECT_EQ(bpe_fingerprint(*pairs), bpe_fingerprint(model));
}

std::string error_of(const std::string& json_text) {
  Result<BpeModel> r = parse_tokenizer_json(json_text, "bad/tokenizer.json");
  EXPECT_FALSE(r.has_value());
  return r.has_value() ? "" : r.error().message();
}

TEST(TokenizerJson, ErrorsNameTheFileAndTheField) {
  const Json good = Json::parse(tokenizer_json_text(testkit::train_sample_bpe(300)));
  EXPECT_THAT(error_of("{\"model\": "), HasSubstr("bad/tokenizer.json: invalid JSON"));

  Json j = good;
  j["model"].erase("vocab");
  EXPECT_THAT(error_of(j.dump()), HasSubstr("bad/tokenizer.json: missing field model.vocab"));

  j = good;
  j["model"]["merges"][3] = "\xc4\xa0q zzz";
  EXPECT_THAT(error_of(j.dump()),
              HasSubstr("bad/tokenizer.json: model.merges[3]: '\xc4\xa0q' is not in the vocabulary"));

  j = good;
  j["model"]["merges"][0] = "nospace";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("model.merges[0] is \"nospace\", expected"));

  j = good;
  j["model"]["vocab"]["x"] = "seven";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("model.vocab[\"x\"] is \"seven\""));

  j = good;
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  EXPECT_THAT(error_of(j.dump()), HasSubstr("pre_tokenizer.type is \"Metaspace\""));

  j = good;
  j["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("pre_tokenizer.add_prefix_space is true"));

  j = good;
  j["model"]["type"] = "WordPiece";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("model.type is \"WordPiece\""));

  j = good;
  j["model"]["vocab"].erase("A");
  EXPECT_THAT(error_of(j.dump()), HasSubstr("bad/tokenizer.json: no token for byte 0x41 'A'"));

  // A vocabulary entry spelling an added token with another id (found by the fuzz target: writing
  // such a file back kept one of the two ids).
  j = good;
  j["model"]["vocab"]["<|endoftext|>"] = 5;
  EXPECT_THAT(error_of(j.dump()),
              HasSubstr("model.vocab[\"<|endoftext|>\"] is 5 but added_tokens gives"));

  Result<BpeModel> missing = load_tokenizer_json("/no/such/tokenizer.json");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("/no/such/tokenizer.json"));
}

// Inputs the fuzz target found (fuzz/regressions/tokenizer_json): option flags of another type made
// nlohmann throw, and an id near 2^30 or 2^31 allocated tables of tens of gigabytes.
TEST(TokenizerJson, MistypedFlagsAreErrors) {
  const Json good = Json::parse(tokenizer_json_text(testkit::train_sample_bpe(300)));
  Json j = good;
  j["model"]["ignore_merges"] = 0;
  EXPECT_THAT(error_of(j.dump()),
              HasSubstr("bad/tokenizer.json: model.ignore_merges is 0, expected true or false"));

  j = good;
  j["pre_tokenizer"]["add_prefix_space"] = "no";
  EXPECT_THAT(error_of(j.dump()), HasSubstr("pre_tokenizer.add_prefix_space is \"no\", expected"));

  j = good;
  j["decoder"]["use_regex"] = nullptr;  // null: the default
  EXPECT_TRUE(parse_tokenizer_json(j.dump(), "null.json").has_value());
  j["decoder"]["use_regex"] = 1;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("decoder.use_regex is 1, expected true or false"));
}

TEST(TokenizerJson, IdsMayNotLeaveLargeGaps) {
  const Json good = Json::parse(tokenizer_json_text(testkit::train_sample_bpe(300)));
  // With one more added token, the file lists `listed` tokens; ids go up to twice that plus 1023.
  const int64_t listed =
      static_cast<int64_t>(good["model"]["vocab"].size() + good["added_tokens"].size()) + 1;
  const int64_t limit = 2 * listed + 1024;
  Json j = good;
  j["added_tokens"].push_back({{"id", limit - 1}, {"content", "<|pad|>"}});
  Result<BpeModel> gap = parse_tokenizer_json(j.dump(), "gap.json");
  ASSERT_TRUE(gap.has_value()) << gap.error().message();
  EXPECT_EQ(gap->id_limit(), limit);

  j["added_tokens"].back()["id"] = limit;
  EXPECT_THAT(error_of(j.dump()),
              HasSubstr(fmt::format("added_tokens[1].id is {}, expected an id (an integer from 0 "
                                    "to {} for the tokens listed)", limit, limit - 1)));

  j = good;
  j["model"]["vocab"]["zz"] = int64_t{1} << 30;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("model.vocab[\"zz\"] is 1073741824, expected an id"));

  j = good;
  j["added_tokens"][0]["id"] = (int64_t{1} << 31) - 1;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("added_tokens[0].id is 2147483647, expected an id"));
  j["added_tokens"][0]["id"] = int64_t{1} << 40;  // once truncated to id 0
  EXPECT_THAT(error_of(j.dump()), HasSubstr("added_tokens[0].id is 1099511627776, expected an id"));
  j["added_tokens"][0]["id"] = -1;
  EXPECT_THAT(error_of(j.dump()), HasSubstr("added_tokens[0].id is -1, expected an id"));
}

// GPT-2's two files, written from a small model: encoder.json (token: id) and vocab.bpe.
fs::path write_gpt2_files(const BpeModel& model) {
  const fs::path dir = testkit::make_temp_dir("gpt2_files");
  const Json json = Json::parse(tokenizer_json_text(model));
  write_text(dir / "encoder.json", json["model"]["vocab"].dump());
  std::string bpe = "#version: 0.2\n";
  for (const Json& m : json["model"]["merges"]) bpe += m.get<std::string>() + "\n";
  write_text(dir / "vocab.bpe", bpe);
  return dir;
}

TEST(Gpt2Files, LoadLikeTokenizerJson) {
  const BpeModel model = testkit::train_sample_bpe(400);
  const fs::path dir = write_gpt2_files(model);
  auto expected = std::move(BpeTokenizer::create(model, "").value());
  for (const std::string& spec :
       {dir.string(), (dir / "encoder.json").string() + "," + (dir / "vocab.bpe").string()}) {
    Result<std::unique_ptr<Tokenizer>> t = load_tokenizer(spec);
    ASSERT_TRUE(t.has_value()) << t.error().message();
    EXPECT_EQ((*t)->fingerprint(), expected->fingerprint());
    EXPECT_EQ((*t)->eot_token(), 399);
    EXPECT_EQ((*t)->encode(testkit::sample_text()), expected->encode(testkit::sample_text()));
  }
}

TEST(Gpt2Files, ErrorsNameTheFileAndLine) {
  const fs::path dir = write_gpt2_files(testkit::train_sample_bpe(300));
  std::ofstream(dir / "vocab.bpe", std::ios::app) << "\xc4\xa0the nope\n";
  Result<std::unique_ptr<Tokenizer>> t = load_tokenizer(dir.string());
  ASSERT_FALSE(t.has_value());
  EXPECT_THAT(t.error().message(), HasSubstr("vocab.bpe: line 45: 'nope' is not in the vocabulary"));
}

TEST(LoadTokenizer, UnknownSpecListsTheForms) {
  Result<std::unique_ptr<Tokenizer>> t = load_tokenizer("no-such-tokenizer");
  ASSERT_FALSE(t.has_value());
  EXPECT_THAT(t.error().message(), HasSubstr("unknown tokenizer 'no-such-tokenizer'"));
  EXPECT_THAT(t.error().message(), HasSubstr("tokenizer.json"));
  EXPECT_TRUE(load_tokenizer("bytes").has_value());
}

}  // namespace
}  // namespace symphony

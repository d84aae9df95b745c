#include "train/hf_import.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "checkpoint/hf_config.h"
#include "core/file_io.h"
#include "data/tokenizer.h"
#include "model/transformer.h"
#include "train/model_file.h"
#include "train/weight_source.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

Result<std::string> read_text(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Error::not_found("{}: no such file", path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::io("{}: cannot be read", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<HfModelConfig> read_hf_config(const fs::path& hf_dir) {
  const fs::path config_path = hf_dir / "config.json";
  SYM_TRY_ASSIGN(const std::string config_text, read_text(config_path));
  return parse_hf_config(config_text, config_path.string());
}

Result<HfModel> read_hf_model(const fs::path& hf_dir) {
  HfModel loaded;
  HfImportReport& report = loaded.report;
  SYM_TRY_ASSIGN(const HfModelConfig hf, read_hf_config(hf_dir));
  const fs::path config_path = hf_dir / "config.json";
  report.arch = hf.arch;
  RunConfig& rc = report.config;
  rc.model = hf.model;
  rc.train.seq_len = std::min(rc.train.seq_len, rc.model.max_position_embeddings);
  rc.source = config_path.string();

  // Checked against the memory before anything is allocated or the weights are looked at:
  // config.json may claim any size.
  auto build = [&]() -> Status {
    loaded.model.reset();
    Result<std::unique_ptr<Transformer>> built =
        Transformer::create(rc.model, DType::kF32, {1, 1}, Recompute::kFull);
    if (!built.has_value()) return built.error().with_context("{}", config_path.string());
    loaded.model = std::move(*built);
    return Status::ok();
  };
  SYM_TRY(build());
  SYM_TRY_ASSIGN(const WeightSource source, WeightSource::open_hf_directory(hf_dir, hf));
  // The MTP modules a transformers-saved directory leaves out: the model without them.
  if (source.model().num_nextn_predict_layers != rc.model.num_nextn_predict_layers) {
    rc.model = source.model();
    SYM_TRY(build());
  }
  Transformer& model = *loaded.model;
  std::vector<TensorRead> reads;
  auto read_whole = [&reads](const std::string& name, View dst) {
    const std::vector<int64_t> shape(dst.shape().dims.begin(),
                                     dst.shape().dims.begin() + dst.shape().ndim);
    reads.push_back({name, shape, TensorBox::whole(shape), 0, dst.numel(), dst.f32()});
  };
  ParamStore& params = model.params();
  for (ParamId id = 0; id < ParamId(params.infos().size()); ++id)
    read_whole(params.info(id).name, params.param(id));
  // Selection biases: deepseek_v3 stores them; the other architectures have none (zero).
  for (int64_t l = 0; l < rc.model.num_layers_with_mtp(); ++l) {
    if (!rc.model.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    if (source.find(balance_bias_name(l)) != nullptr)
      read_whole(balance_bias_name(l), b);
    else
      std::memset(b.raw(), 0, size_t(b.bytes()));
  }
  SYM_TRY(source.read(reads));
  report.tensors = source.file_tensors();
  report.notes = source.notes();
  return loaded;
}

Result<HfImportReport> import_hf(const fs::path& hf_dir, const fs::path& out) {
  SYM_TRY_ASSIGN(HfModel loaded, read_hf_model(hf_dir));
  HfImportReport& report = loaded.report;
  RunConfig& rc = report.config;
  rc.train.run_dir = out.string();
  Transformer& model = *loaded.model;

  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Error::io("creating {}: {}", out.string(), ec.message());
  const fs::path tokenizer_src = hf_dir / "tokenizer.json";
  if (fs::exists(tokenizer_src, ec)) {
    Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(tokenizer_src.string());
    if (tokenizer.has_value()) {
      SYM_TRY_ASSIGN(const std::string text, read_text(tokenizer_src));
      const fs::path dst = fs::absolute(out / "tokenizer.json");
      SYM_TRY(write_file_atomic(dst, text));
      rc.data.tokenizer_path = dst.string();
      report.notes.push_back(fmt::format("tokenizer: {}", dst.string()));
    } else {
      report.notes.push_back(
          fmt::format("tokenizer.json not used ({}); pass --tokenizer to "
                      "symphony generate",
                      tokenizer.error().message()));
    }
  } else {
    report.notes.push_back(
        "no tokenizer.json in the source; pass --tokenizer to symphony generate");
  }
  SYM_TRY(save_model_file(out / "model.safetensors", rc, model));
  SYM_TRY(write_file_atomic(out / "config.toml", to_toml(rc)));
  return std::move(report);
}

}  // namespace symphony

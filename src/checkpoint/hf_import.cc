#include "checkpoint/hf_import.h"

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "checkpoint/hf_config.h"
#include "checkpoint/hf_names.h"
#include "checkpoint/hf_shards.h"
#include "core/file_io.h"
#include "data/tokenizer.h"
#include "model/transformer.h"
#include "train/model_file.h"

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

// IEEE half to float; exact, as every half is a float.
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Copies `t` into the f32 view `dst`, converting BF16 and F16 exactly.
Status copy_tensor(const HfWeights& weights, const std::string& name, const SafetensorsTensor& t,
                   View dst) {
  float* out = dst.f32();
  const int64_t n = dst.numel();
  if (t.dtype == "F32") {
    std::memcpy(out, t.data, size_t(n) * sizeof(float));
  } else if (t.dtype == "BF16" || t.dtype == "F16") {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, sizeof(h));  // the file gives no alignment guarantee
      if (t.dtype == "BF16") {
        const uint32_t bits = uint32_t(h) << 16;
        std::memcpy(&out[i], &bits, sizeof(float));
      } else {
        out[i] = half_to_float(h);
      }
    }
  } else {
    return Error::corrupt("{}: tensor \"{}\" is {}; Symphony imports F32, BF16 and F16",
                          weights.file_of(name).string(), name, t.dtype);
  }
  return Status::ok();
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Tensors a transformers checkpoint may hold that carry no weights of the model.
bool ignorable(const std::string& name, const ModelConfig& c) {
  if (name.ends_with(".rotary_emb.inv_freq")) return true;   // older Llama checkpoints
  return c.tie_word_embeddings && name == "lm_head.weight";  // tied: transformers ignores it
}

}  // namespace

Result<HfModel> read_hf_model(const fs::path& hf_dir) {
  HfModel loaded;
  HfImportReport& report = loaded.report;
  const fs::path config_path = hf_dir / "config.json";
  SYM_TRY_ASSIGN(const std::string config_text, read_text(config_path));
  SYM_TRY_ASSIGN(HfModelConfig hf, parse_hf_config(config_text, config_path.string()));
  report.arch = hf.arch;
  RunConfig& rc = report.config;
  rc.model = hf.model;
  rc.train.seq_len = std::min(rc.train.seq_len, rc.model.max_position_embeddings);
  rc.source = config_path.string();

  SYM_TRY_ASSIGN(HfWeights weights, HfWeights::open(hf_dir));
  // Checked against the memory before anything is allocated: config.json may claim any size.
  Result<std::unique_ptr<Transformer>> built =
      Transformer::create(rc.model, DType::kF32, {1, 1}, Recompute::kFull);
  if (!built.has_value()) return built.error().with_context("{}", config_path.string());
  loaded.model = std::move(*built);
  Transformer& model = *loaded.model;
  std::set<std::string> used, converted;  // tensor names; dtypes converted to F32
  for (const HfTensorMap& m : hf_tensor_map(model.params(), hf.arch)) {
    SYM_TRY_ASSIGN(SafetensorsTensor t, weights.get(m.hf_name));
    if (t.shape != m.shape)
      return Error::corrupt("{}: tensor \"{}\" has shape {}, config.json implies {}",
                            weights.file_of(m.hf_name).string(), m.hf_name, shape_string(t.shape),
                            shape_string(m.shape));
    SYM_TRY(copy_tensor(weights, m.hf_name, t, hf_tensor_view(model.params(), m)));
    if (t.dtype != "F32") converted.insert(t.dtype);
    ++report.tensors;
    used.insert(m.hf_name);
  }
  for (const std::string& dtype : converted)
    report.notes.push_back(fmt::format("{} tensors converted exactly to F32", dtype));
  for (const std::string& name : weights.names()) {
    if (used.count(name) != 0) continue;
    if (ignorable(name, rc.model)) {
      report.notes.push_back(fmt::format("ignored tensor \"{}\"", name));
      continue;
    }
    return Error::corrupt(
        "{}: tensor \"{}\" is not part of a {} model as config.json describes "
        "it; Symphony would drop it and compute different logits",
        weights.file_of(name).string(), name, hf_model_type(hf.arch));
  }
  for (int64_t l = 0; l < rc.model.num_hidden_layers; ++l)
    if (rc.model.is_moe_layer(l)) {
      View b = model.balance_bias(l);
      std::memset(b.raw(), 0, size_t(b.bytes()));
    }
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

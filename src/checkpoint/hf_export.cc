#include "checkpoint/hf_export.h"

#include <cmath>
#include <optional>

#include "checkpoint/hf_config.h"
#include "checkpoint/hf_names.h"
#include "checkpoint/hf_shards.h"
#include "checkpoint/hf_tokenizer.h"
#include "core/file_io.h"
#include "data/tokenizer_json.h"
#include "model/param_names.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

// Aux-loss-free balancing adds a per-expert bias to the routing scores before top-k. Only
// deepseek_v3 has it (e_score_correction_bias), with MLA attention and sigmoid scores, so a
// model of another architecture whose bias moved cannot be exported exactly.
Status check_selection_bias(const ModelConfig& c, HfArch arch, Transformer& model) {
  if (hf_arch_has_selection_bias(arch)) return Status::ok();
  for (int64_t l = 0; l < c.num_layers_with_mtp(); ++l) {
    if (!c.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    const float* v = b.f32();
    double max_abs = 0;
    for (int64_t e = 0; e < b.numel(); ++e) max_abs = std::max(max_abs, std::fabs(double(v[e])));
    if (max_abs != 0)
      return Error::invalid(
          "{} is non-zero (max |b| = {:.3g}): the aux-loss-free selection bias changes which "
          "experts are chosen, and of the exported architectures only deepseek_v3 (which needs "
          "multi-head latent attention, model.kv_lora_rank > 0) has it; export {} models "
          "trained with model.bias_update_rate = 0",
          balance_bias_name(l), max_abs, hf_model_type(arch));
  }
  return Status::ok();
}

Status prepare_output(const fs::path& out, const fs::path& staging) {
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec)))
    return Error::invalid("{}: exists and is not an empty directory; export into a new directory",
                          out.string());
  fs::remove_all(staging, ec);
  if (!fs::create_directories(staging, ec) || ec)
    return Error::io("creating {}: {}", staging.string(), ec ? ec.message() : "already exists");
  return Status::ok();
}

}  // namespace

Result<HfExportReport> export_hf(const RunConfig& config, Transformer& model, const fs::path& out,
                                 const HfExportOptions& options) {
  const ModelConfig& c = config.model;
  SYM_CHECK(model.params().dtype() == DType::kF32, "export reads f32 weights");
  HfExportReport report;
  SYM_TRY_ASSIGN(report.arch, choose_hf_arch(c));
  SYM_TRY(check_selection_bias(c, report.arch, model));

  // Resolve the tokenizer before writing anything.
  std::string spec = options.tokenizer;
  if (spec.empty())
    spec = config.data.tokenizer_path.empty() ? "bytes" : config.data.tokenizer_path;
  std::optional<BpeModel> bpe;
  std::optional<int32_t> eos;
  if (spec != "none") {
    SYM_TRY_ASSIGN(std::unique_ptr<Tokenizer> tokenizer, load_tokenizer(spec));
    SYM_TRY_ASSIGN(BpeModel m, bpe_model_for_hf(*tokenizer));
    if (m.id_limit() > c.vocab_size)
      return Error::invalid(
          "tokenizer '{}' uses ids up to {}, beyond model.vocab_size = {}: it is "
          "not this model's tokenizer (pass --tokenizer SPEC or none)",
          spec, m.id_limit() - 1, c.vocab_size);
    eos = tokenizer->eot_token();
    report.notes.push_back(
        spec == "bytes"
            ? "tokenizer.json: the byte tokenizer as a byte-level BPE without merges (ids 0-255 "
              "are the bytes, 256 is <|endoftext|>)"
            : fmt::format("tokenizer.json: from '{}'", spec));
    bpe = std::move(m);
  } else {
    report.notes.push_back("no tokenizer.json written (--tokenizer none)");
  }
  if (c.num_experts > 0 && c.capacity_factor != 0)
    report.notes.push_back(fmt::format(
        "model.capacity_factor = {} is a training setting: transformers' {} runs dropless",
        c.capacity_factor, hf_model_type(report.arch)));

  if (c.num_nextn_predict_layers > 0)
    report.notes.push_back(fmt::format(
        "multi-token prediction modules written as layers {} to {} (model.layers.{}.*, ...), "
        "as DeepSeek-V3's checkpoints hold them; transformers' deepseek_v3 does not load them",
        c.num_hidden_layers, c.num_layers_with_mtp() - 1, c.num_hidden_layers));

  fs::path staging = out;
  staging += ".partial";
  SYM_TRY(prepare_output(out, staging));

  const std::vector<HfTensorMap> map = hf_tensor_map(model.params(), c, report.arch);
  std::vector<TensorRecord> records;
  for (const HfTensorMap& m : map) {
    ConstView v = m.role == HfTensorRole::kSelectionBias ? ConstView(model.balance_bias(m.layer))
                                                          : hf_tensor_view(model.params(), m);
    records.push_back({m.hf_name, "F32", m.shape, v.raw(), v.bytes()});
    report.tensor_bytes += v.bytes();
  }
  report.tensors = int64_t(records.size());
  SYM_TRY_ASSIGN(report.files, write_hf_weights(staging, records, options.max_shard_bytes));
  SYM_TRY(write_file_atomic(staging / "config.json", hf_config_json_text(c, report.arch, eos)));
  report.files.push_back("config.json");
  SYM_TRY(
      write_file_atomic(staging / "generation_config.json", hf_generation_config_json_text(eos)));
  report.files.push_back("generation_config.json");
  if (bpe.has_value()) {
    SYM_TRY(save_tokenizer_json(*bpe, staging / "tokenizer.json"));
    report.files.push_back("tokenizer.json");
  }

  std::error_code ec;
  if (fs::exists(out, ec)) fs::remove(out, ec);  // an empty directory, checked above
  fs::rename(staging, out, ec);
  if (ec) return Error::io("renaming {} to {}: {}", staging.string(), out.string(), ec.message());
  SYM_TRY(fsync_directory(out));
  return report;
}

}  // namespace symphony

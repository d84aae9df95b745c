#include "checkpoint/hf_names.h"

#include <string_view>

#include "core/check.h"
#include "model/param_names.h"

namespace symphony {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<int64_t> dims_of(const Shape& s) { return {s.dims.begin(), s.dims.begin() + s.ndim}; }

// The layer index of a name "model.layers.<L>.…".
int64_t layer_of(const std::string& name) {
  constexpr std::string_view kPrefix = "model.layers.";
  SYM_CHECK(name.rfind(kPrefix, 0) == 0, "{}: not a layer tensor", name);
  return std::stoll(name.substr(kPrefix.size()));
}

std::string layer_prefix(int64_t layer) { return fmt::format("model.layers.{}", layer); }

// The Hugging Face name of expert e's projection `proj` ("gate_proj", "up_proj", "down_proj")
// in the layer whose prefix is `layer` ("model.layers.3").
std::string expert_name(HfArch arch, std::string_view layer, int64_t e, std::string_view proj) {
  if (arch == HfArch::kMixtral) {
    const char* w = proj == "gate_proj" ? "w1" : proj == "up_proj" ? "w3" : "w2";
    return fmt::format("{}.block_sparse_moe.experts.{}.{}.weight", layer, e, w);
  }
  return fmt::format("{}.mlp.experts.{}.{}.weight", layer, e, proj);
}

}  // namespace

std::vector<HfTensorMap> hf_tensor_map(const ParamStore& params, const ModelConfig& config,
                                       HfArch arch) {
  std::vector<HfTensorMap> out;
  const ParamId embed = params.find("model.embed_tokens.weight");
  const ParamId head = config.tie_word_embeddings ? embed : params.find("lm_head.weight");
  for (ParamId id = 0; id < ParamId(params.infos().size()); ++id) {
    const ParamInfo& info = params.info(id);
    const std::string& name = info.name;
    SYM_CHECK(arch == HfArch::kDeepseekV3 || name.find(".mlp.shared_experts.") == std::string::npos,
              "{}: shared experts have no {} name", name, hf_model_type(arch));
    const size_t experts_at = name.find(".mlp.experts.");
    if (experts_at != std::string::npos) {
      SYM_CHECK(hf_arch_is_moe(arch) && info.shape.ndim == 3,
                "{}: not a stacked expert tensor of a {} model", name, hf_model_type(arch));
      const std::string layer = name.substr(0, experts_at);
      const std::string proj = name.substr(experts_at + std::string_view(".mlp.experts.").size());
      for (int64_t e = 0; e < info.shape.dims[0]; ++e)
        out.push_back({expert_name(arch, layer, e, proj),
                       {info.shape.dims[1], info.shape.dims[2]},
                       HfTensorRole::kParam,
                       id,
                       e});
      continue;
    }
    const bool mtp = arch == HfArch::kDeepseekV3 && name.rfind("model.layers.", 0) == 0 &&
                     config.is_mtp_layer(layer_of(name));
    if (mtp && ends_with(name, ".enorm.weight")) {
      SYM_CHECK(embed >= 0, "{}: no embedding to share", name);
      out.push_back({layer_prefix(layer_of(name)) + ".embed_tokens.weight",
                     dims_of(params.info(embed).shape), HfTensorRole::kCopy, embed});
    }
    std::string hf_name = name;
    if (arch == HfArch::kMixtral && ends_with(name, ".mlp.gate.weight"))
      hf_name = name.substr(0, name.size() - std::string_view(".mlp.gate.weight").size()) +
                ".block_sparse_moe.gate.weight";
    SYM_CHECK(
        arch != HfArch::kMixtral || name.find(".mlp.") == std::string::npos || hf_name != name,
        "{}: dense feed-forward tensors have no mixtral name", name);
    out.push_back({std::move(hf_name), dims_of(info.shape), HfTensorRole::kParam, id});
    if (mtp && ends_with(name, ".shared_head.norm.weight")) {
      SYM_CHECK(head >= 0, "{}: no LM head to share", name);
      out.push_back({layer_prefix(layer_of(name)) + ".shared_head.head.weight",
                     dims_of(params.info(head).shape), HfTensorRole::kCopy, head});
    }
    if (hf_arch_has_selection_bias(arch) && ends_with(name, ".mlp.gate.weight")) {
      const int64_t layer = layer_of(name);
      out.push_back({balance_bias_name(layer), {config.num_experts},
                     HfTensorRole::kSelectionBias, -1, -1, layer});
    }
  }
  return out;
}

ConstView hf_tensor_view(const ParamStore& params, const HfTensorMap& m) {
  SYM_CHECK(m.role != HfTensorRole::kSelectionBias, "{}: not a parameter", m.hf_name);
  ConstView v = params.param(m.param);
  if (m.expert < 0) return v;
  return v.rows(m.expert, m.expert + 1).reshape({v.dim(1), v.dim(2)});
}

View hf_tensor_view(ParamStore& params, const HfTensorMap& m) {
  SYM_CHECK(m.role != HfTensorRole::kSelectionBias, "{}: not a parameter", m.hf_name);
  View v = params.param(m.param);
  if (m.expert < 0) return v;
  return v.rows(m.expert, m.expert + 1).reshape({v.dim(1), v.dim(2)});
}

}  // namespace symphony

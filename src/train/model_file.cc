#include "train/model_file.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "train/gather_param.h"

namespace symphony {

std::string balance_bias_name(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".mlp.gate.e_score_correction_bias";
}

namespace {

constexpr const char* kConfigKey = "symphony.config";

std::vector<int64_t> dims_of(const Shape& s) { return {s.dims.begin(), s.dims.begin() + s.ndim}; }

Status load_tensor(const SafetensorsFile& file, const std::string& name, View dst) {
  Result<SafetensorsTensor> t = file.get(name);
  if (!t.has_value()) return t.error();
  if (t->dtype != "F32" || t->shape != dims_of(dst.shape()))
    return Error::corrupt("{}: tensor {} is {} {}, the config expects F32 with {} elements",
                          file.path().string(), name, t->dtype, t->numel(), dst.numel());
  std::memcpy(dst.raw(), t->data, size_t(t->bytes));
  return Status::ok();
}

}  // namespace

Status save_model_file(const std::filesystem::path& path, const RunConfig& config,
                       Transformer& model) {
  SYM_CHECK(model.params().dtype() == DType::kF32, "model files hold f32 weights");
  std::vector<TensorRecord> records;
  for (ParamId id = 0; id < ParamId(model.params().infos().size()); ++id) {
    const ParamInfo& info = model.params().info(id);
    ConstView v = model.params().param(id);
    records.push_back({info.name, "F32", dims_of(info.shape), v.raw(), v.bytes()});
  }
  for (int64_t l = 0; l < config.model.num_hidden_layers; ++l) {
    if (!config.model.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    records.push_back({balance_bias_name(l), "F32", dims_of(b.shape()), b.raw(), b.bytes()});
  }
  return write_safetensors(path, records, {{kConfigKey, to_toml(config)}, {"format", "symphony"}});
}

Status save_model_file(const std::filesystem::path& path, const RunConfig& config,
                       Transformer& model, DeviceMesh& mesh) {
  const ParamStore& store = model.params();
  SYM_CHECK(store.dtype() == DType::kF32, "model files hold f32 weights");
  std::vector<Buffer> gathered;  // the whole of each sharded tensor
  std::vector<TensorRecord> records;
  for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
    const ParamInfo& info = store.info(id);
    ConstView v = store.param(id);
    if (!info.shard.sharded()) {
      records.push_back({info.name, "F32", dims_of(info.shape), v.raw(), v.bytes()});
      continue;
    }
    gathered.emplace_back(DType::kF32, info.global_shape, MemoryCategory::kCommunication);
    SYM_TRY(gather_param(mesh, info, v, gathered.back().view()));
    records.push_back({info.name, "F32", dims_of(info.global_shape), gathered.back().view().raw(),
                       gathered.back().bytes()});
  }
  if (mesh.world().rank() != 0) return Status::ok();
  for (int64_t l = 0; l < config.model.num_hidden_layers; ++l) {
    if (!config.model.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    records.push_back({balance_bias_name(l), "F32", dims_of(b.shape()), b.raw(), b.bytes()});
  }
  return write_safetensors(path, records, {{kConfigKey, to_toml(config)}, {"format", "symphony"}});
}

Result<LoadedModel> load_model_file(const std::filesystem::path& path, BatchShape max_shape,
                                    Recompute recompute) {
  SYM_TRY_ASSIGN(SafetensorsFile file, SafetensorsFile::open(path));
  auto it = file.metadata().find(kConfigKey);
  if (it == file.metadata().end())
    return Error::corrupt("{}: no '{}' metadata; not a Symphony model file", path.string(),
                          kConfigKey);
  Result<RunConfig> config = parse_run_config(it->second, path.string() + " [symphony.config]");
  if (!config.has_value()) return config.error();
  LoadedModel loaded{std::move(config).value(), nullptr};
  Result<std::unique_ptr<Transformer>> model =
      Transformer::create(loaded.config.model, DType::kF32, max_shape, recompute);
  if (!model.has_value()) return model.error().with_context("{}", path.string());
  loaded.model = std::move(model).value();
  ParamStore& params = loaded.model->params();
  for (ParamId id = 0; id < ParamId(params.infos().size()); ++id)
    SYM_TRY(load_tensor(file, params.info(id).name, params.param(id)));
  for (int64_t l = 0; l < loaded.config.model.num_hidden_layers; ++l)
    if (loaded.config.model.is_moe_layer(l))
      SYM_TRY(load_tensor(file, balance_bias_name(l), loaded.model->balance_bias(l)));
  return loaded;
}

}  // namespace symphony

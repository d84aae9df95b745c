#include "train/model_file.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "train/gather_param.h"

namespace symphony {

namespace {

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
  for (int64_t l = 0; l < config.model.num_layers_with_mtp(); ++l) {
    if (!config.model.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    records.push_back({balance_bias_name(l), "F32", dims_of(b.shape()), b.raw(), b.bytes()});
  }
  return write_safetensors(path, records,
                           {{kModelFileConfigKey, to_toml(config)}, {"format", "symphony"}});
}

namespace {

// A stage's tensors as bytes for the pipeline leader: per tensor its name, shape and f32 data.
void append_bytes(std::vector<uint8_t>& out, const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + bytes);
}

std::vector<uint8_t> pack_records(const std::vector<TensorRecord>& records) {
  std::vector<uint8_t> out;
  const uint64_t count = records.size();
  append_bytes(out, &count, 8);
  for (const TensorRecord& r : records) {
    const uint64_t name = r.name.size(), ndim = r.shape.size(), bytes = r.bytes;
    append_bytes(out, &name, 8);
    append_bytes(out, r.name.data(), name);
    append_bytes(out, &ndim, 8);
    append_bytes(out, r.shape.data(), ndim * 8);
    append_bytes(out, &bytes, 8);
    append_bytes(out, r.data, bytes);
  }
  return out;
}

// Records pointing into `bytes` (which must outlive them).
std::vector<TensorRecord> unpack_records(const std::vector<uint8_t>& bytes) {
  size_t at = 0;
  auto take = [&](void* dst, size_t n) {
    SYM_CHECK(at + n <= bytes.size(), "stage tensors: {} bytes, reading {} at {}", bytes.size(),
              n, at);
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
  };
  uint64_t count = 0;
  take(&count, 8);
  std::vector<TensorRecord> records;
  for (uint64_t i = 0; i < count; ++i) {
    TensorRecord r;
    uint64_t name = 0, ndim = 0, size = 0;
    take(&name, 8);
    r.name.resize(name);
    take(r.name.data(), name);
    take(&ndim, 8);
    r.shape.resize(ndim);
    take(r.shape.data(), ndim * 8);
    take(&size, 8);
    r.dtype = "F32";
    r.data = bytes.data() + at;
    r.bytes = int64_t(size);
    at += size;
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace

Status save_model_file(const std::filesystem::path& path, const RunConfig& config,
                       Transformer& model, DeviceMesh& mesh) {
  const ParamStore& store = model.params();
  SYM_CHECK(store.dtype() == DType::kF32, "model files hold f32 weights");
  std::vector<Buffer> gathered;  // the whole of each sharded tensor
  std::vector<TensorRecord> records;
  for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
    const ParamInfo& info = store.info(id);
    ConstView v = store.param(id);
    if (info.shard.stage_copy) continue;  // the embedding, saved by the first stage
    if (!info.shard.sharded()) {
      records.push_back({info.name, "F32", dims_of(info.shape), v.raw(), v.bytes()});
      continue;
    }
    gathered.emplace_back(DType::kF32, info.global_shape, MemoryCategory::kCommunication);
    SYM_TRY(gather_param(mesh, info, v, gathered.back().view()));
    records.push_back({info.name, "F32", dims_of(info.global_shape), gathered.back().view().raw(),
                       gathered.back().bytes()});
  }
  for (int64_t l = 0; l < config.model.num_layers_with_mtp(); ++l) {
    if (!config.model.is_moe_layer(l)) continue;
    View b = model.balance_bias(l);
    if (b.empty()) continue;  // a layer of another pipeline stage
    records.push_back({balance_bias_name(l), "F32", dims_of(b.shape()), b.raw(), b.bytes()});
  }
  // Pipeline stages: the rank of each stage at rank 0's position (its pp group) sends its stage's
  // tensors to rank 0, which writes them all.
  std::vector<std::vector<uint8_t>> stage_bytes;
  Comm& pp = mesh.group(Axis::kPipeline);
  const auto coords = mesh.layout().coords(mesh.world().rank());
  const bool in_leader_group = coords[int(Axis::kData)] == 0 && coords[int(Axis::kContext)] == 0 &&
                               coords[int(Axis::kTensor)] == 0;
  if (pp.size() > 1 && in_leader_group) {
    if (pp.rank() != 0) {
      const std::vector<uint8_t> bytes = pack_records(records);
      const int64_t size = int64_t(bytes.size());
      SYM_TRY(pp.send(&size, 1, CommDType::kI64, 0, 0));
      return pp.send(bytes.data(), size, CommDType::kU8, 0, 1);
    }
    for (int s = 1; s < pp.size(); ++s) {
      int64_t size = 0;
      SYM_TRY(pp.recv(&size, 1, CommDType::kI64, s, 0));
      stage_bytes.emplace_back(size_t(size));
      SYM_TRY(pp.recv(stage_bytes.back().data(), size, CommDType::kU8, s, 1));
      for (TensorRecord& r : unpack_records(stage_bytes.back())) records.push_back(std::move(r));
    }
  }
  if (mesh.world().rank() != 0) return Status::ok();
  return write_safetensors(path, records,
                           {{kModelFileConfigKey, to_toml(config)}, {"format", "symphony"}});
}

Result<LoadedModel> load_model_file(const std::filesystem::path& path, BatchShape max_shape,
                                    Recompute recompute) {
  SYM_TRY_ASSIGN(SafetensorsFile file, SafetensorsFile::open(path));
  auto it = file.metadata().find(kModelFileConfigKey);
  if (it == file.metadata().end())
    return Error::corrupt("{}: no '{}' metadata; not a Symphony model file", path.string(),
                          kModelFileConfigKey);
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
  for (int64_t l = 0; l < loaded.config.model.num_layers_with_mtp(); ++l)
    if (loaded.config.model.is_moe_layer(l))
      SYM_TRY(load_tensor(file, balance_bias_name(l), loaded.model->balance_bias(l)));
  return loaded;
}

}  // namespace symphony

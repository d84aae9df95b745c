#include "train/weight_source.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_manifest.h"
#include "checkpoint/hf_names.h"
#include "checkpoint/hf_shards.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/tensor_box.h"
#include "config/run_config.h"
#include "model/transformer.h"
#include "train/hf_import.h"
#include "train/model_file.h"

namespace symphony {

namespace fs = std::filesystem;

std::string_view weight_source_kind_name(WeightSourceKind kind) {
  switch (kind) {
    case WeightSourceKind::kHfDirectory: return "Hugging Face model";
    case WeightSourceKind::kModelFile: return "model file";
    case WeightSourceKind::kCheckpoint: return "checkpoint";
  }
  return "?";
}

struct WeightSource::Impl {
  WeightSourceKind kind = WeightSourceKind::kModelFile;
  fs::path path;
  ModelConfig model;
  std::vector<SourceTensor> tensors;
  std::map<std::string, size_t> index;  // name -> tensors[]
  int64_t file_tensors = 0;
  std::vector<std::string> notes;
  // A model file or Hugging Face directory: the files' tensors that make up each of `tensors`,
  // in order (one, or one per expert of a stacked tensor). They point into the mappings below.
  std::vector<std::vector<SafetensorsTensor>> parts;  // [tensor]
  std::optional<SafetensorsFile> file;
  std::optional<HfWeights> hf;
  // A checkpoint.
  CheckpointManifest manifest;

  void add(SourceTensor tensor) {
    index[tensor.name] = tensors.size();
    tensors.push_back(std::move(tensor));
  }
};

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Tensors a transformers checkpoint may hold that carry no weights of the model.
bool hf_ignorable(const std::string& name, const ModelConfig& c) {
  if (name.ends_with(".rotary_emb.inv_freq")) return true;   // older Llama checkpoints
  return c.tie_word_embeddings && name == "lm_head.weight";  // tied: transformers ignores it
}

// Copies read `r` out of a tensor made of `parts`, equal runs of its row-major elements, each
// converted to f32.
void read_parts(const std::vector<SafetensorsTensor>& parts, const TensorRead& r) {
  const int64_t part_numel = parts.empty() ? 0 : parts.front().numel();
  if (part_numel == 0) return;
  for (const BoxRun& run : box_runs(r.shape, r.box, r.begin, r.end)) {
    float* out = r.dst + (run.box_begin - r.begin);
    for (int64_t a = run.begin; a < run.end;) {
      const SafetensorsTensor& t = parts[size_t(a / part_numel)];
      const int64_t at = a % part_numel, n = std::min(run.end - a, part_numel - at);
      safetensors_to_f32(t.dtype, t.data + at * safetensors_dtype_bytes(t.dtype), n, out);
      out += n;
      a += n;
    }
  }
}

// Whether `weights` hold any tensor of the MTP modules' layers of `c`.
bool holds_mtp_tensors(const HfWeights& weights, const ModelConfig& c) {
  for (const std::string& name : weights.names())
    for (int64_t l = c.num_hidden_layers; l < c.num_layers_with_mtp(); ++l)
      if (name.rfind(fmt::format("model.layers.{}.", l), 0) == 0) return true;
  return false;
}

// Copy `copy` (named `name` in `file`) must hold the values of `original` (named `of`).
Status check_copy_equal(const SafetensorsTensor& copy, const SafetensorsTensor& original,
                        const std::string& file, const std::string& name, const std::string& of) {
  const int64_t n = copy.numel();
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  safetensors_to_f32(copy.dtype, copy.data, n, a.data());
  safetensors_to_f32(original.dtype, original.data, n, b.data());
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(&a[size_t(i)], &b[size_t(i)], sizeof(float)) != 0)
      return Error::corrupt(
          "{}: tensor \"{}\" differs from \"{}\" (element {}: {} vs {}); Symphony's multi-token "
          "prediction modules share the model's embedding and LM head, so their copies must "
          "equal them",
          file, name, of, i, a[size_t(i)], b[size_t(i)]);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<WeightSource::Impl>> WeightSource::open_model_file(const fs::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->kind = WeightSourceKind::kModelFile;
  impl->path = path;
  SYM_TRY_ASSIGN(SafetensorsFile file, SafetensorsFile::open(path));
  auto it = file.metadata().find(kModelFileConfigKey);
  if (it == file.metadata().end())
    return Error::corrupt("{}: no '{}' metadata; not a Symphony model file (a Hugging Face model "
                          "is read from its directory, with config.json)",
                          path.string(), kModelFileConfigKey);
  Result<RunConfig> config =
      parse_run_config(it->second, path.string() + " [" + kModelFileConfigKey + "]");
  if (!config.has_value()) return config.error();
  impl->model = config->model;
  for (const std::string& name : file.names()) {
    SYM_TRY_ASSIGN(SafetensorsTensor t, file.get(name));
    if (t.dtype != "F32")
      return Error::corrupt("{}: tensor {} is {}; a Symphony model file holds F32", path.string(),
                            name, t.dtype);
    impl->add({name, t.shape, path.string()});
    impl->parts.push_back({t});
  }
  impl->file_tensors = int64_t(impl->tensors.size());
  impl->file.emplace(std::move(file));
  return impl;
}

Result<std::unique_ptr<WeightSource::Impl>> WeightSource::open_checkpoint(
    const fs::path& step_dir) {
  auto impl = std::make_unique<Impl>();
  impl->kind = WeightSourceKind::kCheckpoint;
  impl->path = step_dir;
  SYM_TRY_ASSIGN(impl->manifest, read_checkpoint_manifest(step_dir));
  Result<RunConfig> config = parse_run_config(
      impl->manifest.config_toml, (step_dir / "manifest.json").string() + " [config]", {});
  if (!config.has_value()) return config.error();
  impl->model = config->model;
  std::set<std::string> files;
  for (const CheckpointTensor& t : impl->manifest.tensors) {
    if (is_optimizer_tensor(t.name)) continue;
    if (t.dtype != "F32")
      return Error::corrupt("{}: tensor {} is {} in the manifest; checkpoints hold F32",
                            step_dir.string(), t.name, t.dtype);
    impl->add({t.name, t.shape, step_dir.string()});
    for (const TensorPiece& p : t.pieces) files.insert(p.file);
  }
  impl->file_tensors = int64_t(impl->tensors.size());
  SYM_TRY(verify_checkpoint_files(impl->manifest, step_dir, {files.begin(), files.end()}));
  return impl;
}

Result<std::unique_ptr<WeightSource::Impl>> WeightSource::open_newest_checkpoint(
    const fs::path& dir, std::span<const fs::path> step_dirs) {
  std::vector<std::string> skipped;
  std::string last_error;
  for (auto it = step_dirs.rbegin(); it != step_dirs.rend(); ++it) {
    Result<std::unique_ptr<Impl>> impl = open_checkpoint(*it);
    if (impl.has_value()) {
      (*impl)->notes.insert((*impl)->notes.begin(), skipped.begin(), skipped.end());
      return impl;
    }
    last_error = impl.error().message();
    skipped.push_back(fmt::format("skipped checkpoint {}: {}", it->string(), last_error));
  }
  return Error::corrupt("{}: no valid checkpoint; the oldest tried failed with: {}", dir.string(),
                        last_error);
}

Result<WeightSource> WeightSource::open_hf_directory(const fs::path& dir,
                                                     const HfModelConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->kind = WeightSourceKind::kHfDirectory;
  impl->path = dir;
  SYM_TRY_ASSIGN(HfWeights weights, HfWeights::open(dir));
  impl->model = config.model;
  ModelConfig& model = impl->model;
  if (hf_arch_has_mtp(config.arch) && model.num_nextn_predict_layers > 0 &&
      !holds_mtp_tensors(weights, model)) {
    impl->notes.push_back(fmt::format(
        "config.json has num_nextn_predict_layers = {} but the weights hold no tensor of layers "
        "{}..{} (transformers saves no MTP modules): imported without them",
        model.num_nextn_predict_layers, model.num_hidden_layers, model.num_layers_with_mtp() - 1));
    model.num_nextn_predict_layers = 0;
  }
  // The whole model's declarations (nothing allocated) name every tensor and its shape.
  const ParamStore declared = Transformer::declare_params(model);
  std::set<std::string> used, converted;
  std::vector<int64_t> tensor_of_param(declared.infos().size(), -1);  // [ParamId]
  std::vector<std::pair<HfTensorMap, SafetensorsTensor>> copies;
  for (const HfTensorMap& m : hf_tensor_map(declared, model, config.arch)) {
    // A stored copy of a shared tensor may be left out; the parameter itself is read.
    if (m.role == HfTensorRole::kCopy && !weights.contains(m.hf_name)) continue;
    SYM_TRY_ASSIGN(SafetensorsTensor t, weights.get(m.hf_name));
    const std::string file = weights.file_of(m.hf_name).string();
    if (t.shape != m.shape)
      return Error::corrupt("{}: tensor \"{}\" has shape {}, config.json implies {}", file,
                            m.hf_name, shape_string(t.shape), shape_string(m.shape));
    if (!safetensors_converts_to_f32(t.dtype))
      return Error::corrupt("{}: tensor \"{}\" is {}; Symphony imports F32, BF16 and F16", file,
                            m.hf_name, t.dtype);
    if (t.dtype != "F32") converted.insert(t.dtype);
    used.insert(m.hf_name);
    ++impl->file_tensors;
    if (m.role == HfTensorRole::kCopy) {
      copies.emplace_back(m, t);
      continue;
    }
    if (m.role == HfTensorRole::kSelectionBias) {
      impl->add({balance_bias_name(m.layer), m.shape, file});
      impl->parts.push_back({t});
      continue;
    }
    int64_t& tensor = tensor_of_param[size_t(m.param)];
    if (tensor < 0) {
      const ParamInfo& info = declared.info(m.param);
      tensor = int64_t(impl->tensors.size());
      impl->add({info.name, {info.shape.dims.begin(), info.shape.dims.begin() + info.shape.ndim},
                 file});
      impl->parts.emplace_back();
    }
    impl->parts[size_t(tensor)].push_back(t);
  }
  // Symphony's MTP modules read the model's embedding and LM head; a checkpoint whose copies
  // differ from them describes another model.
  for (const auto& [m, t] : copies) {
    const SafetensorsTensor& own =
        impl->parts[size_t(tensor_of_param[size_t(m.param)])].front();  // the whole parameter
    SYM_TRY(check_copy_equal(t, own, weights.file_of(m.hf_name).string(), m.hf_name,
                             declared.info(m.param).name));
  }
  for (const std::string& dtype : converted)
    impl->notes.push_back(fmt::format("{} tensors converted exactly to F32", dtype));
  for (const std::string& name : weights.names()) {
    if (used.count(name) != 0) continue;
    if (hf_ignorable(name, model)) {
      impl->notes.push_back(fmt::format("ignored tensor \"{}\"", name));
      continue;
    }
    return Error::corrupt(
        "{}: tensor \"{}\" is not part of a {} model as config.json describes "
        "it; Symphony would drop it and compute different logits",
        weights.file_of(name).string(), name, hf_model_type(config.arch));
  }
  impl->hf.emplace(std::move(weights));
  return WeightSource(std::move(impl));
}

Result<WeightSource> WeightSource::open(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Error::not_found("{}: no such file or directory", path.string());
  if (!fs::is_directory(path, ec)) {
    SYM_TRY_ASSIGN(std::unique_ptr<Impl> impl, open_model_file(path));
    return WeightSource(std::move(impl));
  }
  if (fs::exists(path / "config.json", ec)) {
    SYM_TRY_ASSIGN(const HfModelConfig config, read_hf_config(path));
    return open_hf_directory(path, config);
  }
  fs::path named = path.lexically_normal();
  if (!named.has_filename()) named = named.parent_path();  // "step-00000060/"
  if (fs::exists(path / "manifest.json", ec) || step_of_dir_name(named.filename().string())) {
    SYM_TRY_ASSIGN(std::unique_ptr<Impl> impl, open_checkpoint(path));
    return WeightSource(std::move(impl));
  }
  if (fs::exists(path / kHfWeightsFile, ec)) {
    SYM_TRY_ASSIGN(std::unique_ptr<Impl> impl, open_model_file(path / kHfWeightsFile));
    return WeightSource(std::move(impl));
  }
  for (const fs::path& dir : {path, path / "checkpoints"}) {
    std::vector<fs::path> steps;
    for (const StepDir& s : list_step_dirs(dir)) steps.push_back(s.path);
    if (steps.empty()) continue;
    SYM_TRY_ASSIGN(std::unique_ptr<Impl> impl, open_newest_checkpoint(dir, steps));
    return WeightSource(std::move(impl));
  }
  return Error::not_found("{}: holds no config.json, model.safetensors or checkpoint; give a "
                          "Hugging Face model directory, a Symphony model file, a run directory "
                          "or a checkpoint (step) directory", path.string());
}

WeightSource::WeightSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WeightSource::WeightSource(WeightSource&&) noexcept = default;
WeightSource& WeightSource::operator=(WeightSource&&) noexcept = default;
WeightSource::~WeightSource() = default;

WeightSourceKind WeightSource::kind() const { return impl_->kind; }
const fs::path& WeightSource::path() const { return impl_->path; }
const ModelConfig& WeightSource::model() const { return impl_->model; }
const std::vector<SourceTensor>& WeightSource::tensors() const { return impl_->tensors; }
int64_t WeightSource::file_tensors() const { return impl_->file_tensors; }
const std::vector<std::string>& WeightSource::notes() const { return impl_->notes; }

const SourceTensor* WeightSource::find(const std::string& name) const {
  auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

Status WeightSource::read(std::span<const TensorRead> reads) const {
  for (const TensorRead& r : reads) {
    const SourceTensor* t = find(r.tensor);
    SYM_CHECK(t != nullptr && t->shape == r.shape && box_inside(r.shape, r.box),
              "{}: read of {} [{}] box {}, not a tensor of the source", impl_->path.string(),
              r.tensor, fmt::join(r.shape, ", "), r.box.describe());
  }
  if (impl_->kind == WeightSourceKind::kCheckpoint)
    return read_checkpoint_pieces(impl_->manifest, impl_->path, reads);
  for (const TensorRead& r : reads) read_parts(impl_->parts[impl_->index.at(r.tensor)], r);
  return Status::ok();
}

}  // namespace symphony

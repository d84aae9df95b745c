#include "checkpoint/checkpoint_io.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "checkpoint/safetensors.h"
#include "core/checksum.h"
#include "core/file_io.h"
#include "model/param_names.h"

namespace symphony {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<int64_t> dims_of(const Shape& s) { return {s.dims.begin(), s.dims.begin() + s.ndim}; }

std::string rank_listing_name(int rank) { return fmt::format("rank-{:05d}.json", rank); }

// Appends the piece's description; its data is copied once every piece is known.
void add_piece(RankSnapshot::File& file, int64_t& size, const std::string& tensor,
               std::vector<int64_t> shape, TensorBox box, int64_t begin, int64_t end) {
  file.pieces.push_back({tensor, std::move(shape), std::move(box), begin, end, size});
  size += end - begin;
}

// "<tensor>@<element>", the element of the tensor where the piece starts: unique in a checkpoint,
// since its pieces hold each element once.
std::string piece_key(const RankSnapshot::Piece& p) {
  return fmt::format("{}@{}", p.tensor, box_element_index(p.shape, p.box, p.begin));
}

// The part of the whole tensor this rank's block of it is (parallel/shard_spec.h).
TensorBox block_box(const ParamInfo& info) {
  TensorBox box = TensorBox::whole(dims_of(info.global_shape));
  box.shape = dims_of(info.shape);
  for (size_t d = 0; d < box.offset.size(); ++d) box.offset[d] = info.box_offset[d];
  return box;
}

// The MoE layers whose feed-forward this rank's pipeline stage runs (all of them without a
// pipeline; the MTP modules' on the last stage), whose selection biases it holds whole, as does
// every other rank of the stage.
std::vector<int64_t> held_moe_layers(const Transformer& model) {
  const ModelConfig& mc = model.config();
  const PipelineStages& pipeline = model.params().placement().pipeline;
  std::vector<int64_t> layers;
  for (int c = 0; c < pipeline.chunks(); ++c) {
    const LayerRange sub = pipeline.chunk_sublayers(c, mc.num_hidden_layers);
    const LayerRange range = pipeline.chunk_layers(c, mc.num_hidden_layers);
    for (int64_t l = range.begin; l < range.end; ++l)  // the stage running its feed-forward
      if (mc.is_moe_layer(l) && runs_feed_forward(layer_part(sub, l))) layers.push_back(l);
  }
  if (pipeline.holds_head())  // the MTP modules' layers
    for (int64_t l = mc.num_hidden_layers; l < mc.num_layers_with_mtp(); ++l)
      if (mc.is_moe_layer(l)) layers.push_back(l);
  return layers;
}

// Whether this rank saves the selection biases of its stage: the stage's first rank (position 0
// on every axis but the pipeline's).
bool saves_stage_biases(const ShardPlacement& placement) {
  for (int a = 0; a < kNumAxes; ++a)
    if (Axis(a) != Axis::kPipeline && placement.coord[size_t(a)] != 0) return false;
  return true;
}

// Every parameter's block whole, from a store holding every block it declares.
void add_block_reads(ParamStore& store, std::vector<TensorRead>& reads) {
  for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
    const ParamInfo& info = store.info(id);
    reads.push_back({info.name, dims_of(info.global_shape), block_box(info), 0, info.shape.numel(),
                     store.param(id).f32()});
  }
}

void add_bias_reads(Transformer& model, std::vector<TensorRead>& reads) {
  for (int64_t l : held_moe_layers(model)) {
    View bias = model.balance_bias(l);
    const std::vector<int64_t> shape = dims_of(bias.shape());
    reads.push_back({balance_bias_name(l), shape, TensorBox::whole(shape), 0, bias.numel(),
                     bias.f32()});
  }
}

// Calls fn(info, begin, end, slice, at) for each stretch [begin, end) of a parameter's block
// that lies in one of `slices`, starting at element `at` of the slice.
template <typename Fn>
void for_each_held_stretch(const ParamStore& store, const std::vector<StateSlice>& slices,
                           Fn&& fn) {
  for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
    const ParamInfo& info = store.info(id);
    const int64_t n = info.shape.numel();
    for (const StateSlice& s : slices) {
      const int64_t a = std::max(s.offset, info.offset);
      const int64_t b = std::min(s.offset + s.numel, info.offset + n);
      if (a >= b) continue;
      fn(info, a - info.offset, b - info.offset, s, a - s.offset);
    }
  }
}

// Every read a load into this rank's layout performs: the weights, then the moments.
std::vector<TensorRead> plan_reads(Transformer& model, DataParallel& data_parallel) {
  std::vector<TensorRead> reads = plan_weight_reads(model, data_parallel);
  for_each_held_stretch(model.params(), data_parallel.held_slices(),
                        [&](const ParamInfo& info, int64_t begin, int64_t end,
                            const StateSlice& s, int64_t at) {
                          const std::vector<int64_t> shape = dims_of(info.global_shape);
                          const TensorBox box = block_box(info);
                          reads.push_back(
                              {"exp_avg." + info.name, shape, box, begin, end, s.exp_avg + at});
                          reads.push_back({"exp_avg_sq." + info.name, shape, box, begin, end,
                                           s.exp_avg_sq + at});
                        });
  return reads;
}

Result<const CheckpointTensor*> find_tensor(const CheckpointManifest& manifest,
                                            const TensorRead& read,
                                            const fs::path& step_dir) {
  const CheckpointTensor* t = manifest.find(read.tensor);
  if (t == nullptr)
    return Error::invalid("{}: the checkpoint has no tensor {}; it was saved from another model",
                          step_dir.string(), read.tensor);
  if (t->shape != read.shape || t->dtype != "F32")
    return Error::invalid("{}: tensor {} is {} [{}] in the checkpoint but this model's is F32 [{}]",
                          step_dir.string(), read.tensor, t->dtype, fmt::join(t->shape, ", "),
                          fmt::join(read.shape, ", "));
  return t;
}

// Elements a read and a piece share that lie together in both: `n` elements from element
// read_at of the read's run and piece_at of the piece's run.
struct Overlap {
  int64_t read_at = 0, piece_at = 0, n = 0;
};

// Calls fn(piece, overlaps) for each piece of t that holds elements of `read`. Pieces of the
// read's own box (a load under the layout that saved) overlap as two runs of one box; others
// through the runs of the whole tensor that each occupies (checkpoint/tensor_box.h), merged.
void for_each_overlap(
    const CheckpointTensor& t, const TensorRead& read,
    const std::function<void(const TensorPiece&, const std::vector<Overlap>&)>& fn) {
  std::vector<BoxRun> read_runs;  // computed when a piece of another box needs them
  std::vector<Overlap> overlaps;
  for (const TensorPiece& p : t.pieces) {
    overlaps.clear();
    if (p.box == read.box) {
      const int64_t a = std::max(read.begin, p.begin), b = std::min(read.end, p.end);
      if (a < b) overlaps.push_back({a - read.begin, a - p.begin, b - a});
    } else if (boxes_intersect(p.box, read.box)) {
      if (read_runs.empty()) read_runs = box_runs(t.shape, read.box, read.begin, read.end);
      const std::vector<BoxRun> piece_runs = box_runs(t.shape, p.box, p.begin, p.end);
      // Both lists ascend in the tensor's elements: one merge pass finds every shared stretch.
      size_t i = 0, j = 0;
      while (i < read_runs.size() && j < piece_runs.size()) {
        const BoxRun& r = read_runs[i];
        const BoxRun& q = piece_runs[j];
        const int64_t a = std::max(r.begin, q.begin), b = std::min(r.end, q.end);
        if (a < b)
          overlaps.push_back({r.box_begin + (a - r.begin) - read.begin,
                              q.box_begin + (a - q.begin) - p.begin, b - a});
        if (r.end <= q.end) ++i;
        else ++j;
      }
    }
    if (!overlaps.empty()) fn(p, overlaps);
  }
}

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return os_error("opening", path, errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return os_error("reading", path, errno);
  return text.str();
}

}  // namespace

int64_t RankSnapshot::bytes() const {
  int64_t n = 0;
  for (const File& f : files) n += int64_t(f.data.size() * sizeof(float));
  return n;
}

void snapshot_rank_state(Transformer& model, DataParallel& data_parallel, int rank,
                         RankSnapshot& snap) {
  ParamStore& store = model.params();
  snap.rank = rank;
  snap.files.resize(2);
  RankSnapshot::File& weights = snap.files[0];
  RankSnapshot::File& moments = snap.files[1];
  weights.name = fmt::format("model-rank{:05d}.safetensors", rank);
  moments.name = fmt::format("optim-rank{:05d}.safetensors", rank);
  weights.pieces.clear();
  moments.pieces.clear();
  // First the pieces and where each one's data comes from, then one copy into buffers sized once.
  std::vector<const float*> weight_src, moment_src;
  int64_t weight_size = 0, moment_size = 0;
  const std::vector<StateSlice> slices = data_parallel.saved_slices();
  for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
    const ParamInfo& info = store.info(id);
    // A copy of a block along the block axes (a norm weight on every tensor-parallel rank) is
    // saved by its primary holder only.
    if (!store.placement().is_primary(info.shard)) continue;
    const int64_t n = info.shape.numel();
    const std::vector<int64_t> shape = dims_of(info.global_shape);
    const TensorBox box = block_box(info);
    for (const StateSlice& s : slices) {
      const int64_t a = std::max(s.offset, info.offset);
      const int64_t b = std::min(s.offset + s.numel, info.offset + n);
      if (a >= b) continue;
      const int64_t begin = a - info.offset, end = b - info.offset, at = a - s.offset;
      add_piece(weights, weight_size, info.name, shape, box, begin, end);
      weight_src.push_back(s.weights + at);
      add_piece(moments, moment_size, "exp_avg." + info.name, shape, box, begin, end);
      moment_src.push_back(s.exp_avg + at);
      add_piece(moments, moment_size, "exp_avg_sq." + info.name, shape, box, begin, end);
      moment_src.push_back(s.exp_avg_sq + at);
    }
  }
  if (saves_stage_biases(store.placement())) {
    for (int64_t l : held_moe_layers(model)) {
      View bias = model.balance_bias(l);
      const std::vector<int64_t> shape = dims_of(bias.shape());
      add_piece(weights, weight_size, balance_bias_name(l), shape, TensorBox::whole(shape), 0,
                bias.numel());
      weight_src.push_back(bias.f32());
    }
  }
  weights.data.resize(size_t(weight_size));
  moments.data.resize(size_t(moment_size));
  auto copy = [](RankSnapshot::File& file, const std::vector<const float*>& src) {
    const int64_t n = int64_t(file.pieces.size());
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < n; ++i) {
      const RankSnapshot::Piece& p = file.pieces[size_t(i)];
      std::memcpy(file.data.data() + p.at, src[size_t(i)], size_t(p.end - p.begin) * sizeof(float));
    }
  };
  copy(weights, weight_src);
  copy(moments, moment_src);
}

Status write_rank_files(const RankSnapshot& snapshot, const fs::path& dir) {
  json listing = {{"rank", snapshot.rank}, {"files", json::array()}, {"tensors", json::object()}};
  std::vector<fs::path> written;
  auto fail = [&](Status s) {
    std::error_code ec;
    for (const fs::path& p : written) fs::remove(p, ec);
    return s;
  };
  for (const RankSnapshot::File& file : snapshot.files) {
    std::vector<TensorRecord> records;
    records.reserve(file.pieces.size());
    for (const RankSnapshot::Piece& p : file.pieces) {
      const std::string key = piece_key(p);
      records.push_back({key, "F32", {p.end - p.begin}, file.data.data() + p.at,
                         (p.end - p.begin) * int64_t(sizeof(float))});
      json& t = listing["tensors"][p.tensor];
      t["shape"] = p.shape;
      t["pieces"].push_back({{"file", file.name},
                             {"key", key},
                             {"box_offset", p.box.offset},
                             {"box_shape", p.box.shape},
                             {"begin", p.begin},
                             {"end", p.end}});
    }
    const fs::path path = dir / file.name;
    Status s = write_safetensors(path, records, {{"format", "symphony-checkpoint-shard"}});
    if (!s.is_ok()) return fail(std::move(s));
    written.push_back(path);
    Result<FileChecksum> sum = checksum_file(path);
    if (!sum.has_value()) return fail(sum.error());
    listing["files"].push_back(
        {{"name", file.name}, {"bytes", sum->bytes}, {"xxh3", checksum_hex(sum->xxh3)}});
  }
  Status s = write_file_atomic(dir / rank_listing_name(snapshot.rank), listing.dump());
  if (!s.is_ok()) return fail(std::move(s));
  return Status::ok();
}

Status assemble_manifest(const fs::path& dir, int world, CheckpointManifest& manifest) {
  std::map<std::string, CheckpointTensor> tensors;
  manifest.files.clear();
  for (int r = 0; r < world; ++r) {
    const fs::path path = dir / rank_listing_name(r);
    SYM_TRY_ASSIGN(std::string text, read_text(path));
    try {
      const json listing = json::parse(text);
      for (const json& f : listing.at("files"))
        manifest.files.push_back({f.at("name").get<std::string>(), f.at("bytes").get<int64_t>(),
                                  f.at("xxh3").get<std::string>()});
      for (auto& [name, t] : listing.at("tensors").items()) {
        CheckpointTensor& tensor = tensors[name];
        tensor.name = name;
        tensor.shape = t.at("shape").get<std::vector<int64_t>>();
        for (const json& p : t.at("pieces"))
          tensor.pieces.push_back({p.at("file").get<std::string>(), p.at("key").get<std::string>(),
                                   {p.at("box_offset").get<std::vector<int64_t>>(),
                                    p.at("box_shape").get<std::vector<int64_t>>()},
                                   p.at("begin").get<int64_t>(), p.at("end").get<int64_t>()});
      }
    } catch (const json::exception& e) {
      return Error::corrupt("{}: malformed rank listing: {}", path.string(), e.what());
    }
  }
  manifest.tensors.clear();
  for (auto& [name, t] : tensors) {
    std::sort(t.pieces.begin(), t.pieces.end(), [](const TensorPiece& a, const TensorPiece& b) {
      return std::tie(a.box, a.begin) < std::tie(b.box, b.begin);
    });
    manifest.tensors.push_back(std::move(t));
  }
  std::error_code ec;
  for (int r = 0; r < world; ++r) fs::remove(dir / rank_listing_name(r), ec);
  return Status::ok();
}

Status verify_checkpoint_files(const CheckpointManifest& manifest, const fs::path& step_dir,
                               const std::vector<std::string>& files) {
  for (const std::string& name : files) {
    auto it = std::find_if(manifest.files.begin(), manifest.files.end(),
                           [&](const CheckpointFile& f) { return f.name == name; });
    if (it == manifest.files.end())
      return Error::corrupt("{}: the manifest does not list {}", step_dir.string(), name);
    const fs::path path = step_dir / name;
    std::error_code ec;
    if (!fs::exists(path, ec)) return Error::not_found("{}: missing shard", path.string());
    SYM_TRY_ASSIGN(FileChecksum sum, checksum_file(path));
    if (sum.bytes != it->bytes)
      return Error::corrupt("{}: {} bytes, the manifest says {} (truncated or replaced)",
                            path.string(), sum.bytes, it->bytes);
    if (checksum_hex(sum.xxh3) != it->xxh3)
      return Error::corrupt("{}: checksum {} does not match the manifest's {} (corrupt)",
                            path.string(), checksum_hex(sum.xxh3), it->xxh3);
  }
  return Status::ok();
}

std::vector<std::string> files_needed(const CheckpointManifest& manifest, Transformer& model,
                                      DataParallel& data_parallel) {
  std::set<std::string> files;
  for (const TensorRead& read : plan_reads(model, data_parallel)) {
    const CheckpointTensor* t = manifest.find(read.tensor);
    if (t == nullptr) continue;  // reported by the load
    for_each_overlap(*t, read, [&](const TensorPiece& p, const std::vector<Overlap>&) {
      files.insert(p.file);
    });
  }
  return {files.begin(), files.end()};
}

std::vector<TensorRead> plan_weight_reads(Transformer& model, DataParallel& data_parallel) {
  ParamStore& store = model.params();
  std::vector<TensorRead> reads;
  if (data_parallel.weights_replicated()) {
    add_block_reads(store, reads);
  } else {
    for_each_held_stretch(store, data_parallel.held_slices(),
                          [&](const ParamInfo& info, int64_t begin, int64_t end,
                              const StateSlice& s, int64_t at) {
                            reads.push_back({info.name, dims_of(info.global_shape),
                                             block_box(info), begin, end, s.weights + at});
                          });
  }
  add_bias_reads(model, reads);
  return reads;
}

bool is_optimizer_tensor(std::string_view name) {
  return name.starts_with("exp_avg.") || name.starts_with("exp_avg_sq.");
}

Status read_checkpoint_pieces(const CheckpointManifest& manifest, const fs::path& step_dir,
                              std::span<const TensorRead> reads) {
  std::map<std::string, SafetensorsFile> open_files;
  for (const TensorRead& read : reads) {
    SYM_TRY_ASSIGN(const CheckpointTensor* t, find_tensor(manifest, read, step_dir));
    Status status;
    for_each_overlap(*t, read, [&](const TensorPiece& p, const std::vector<Overlap>& overlaps) {
      if (!status.is_ok()) return;
      auto it = open_files.find(p.file);
      if (it == open_files.end()) {
        Result<SafetensorsFile> file = SafetensorsFile::open(step_dir / p.file);
        if (!file.has_value()) {
          status = file.error();
          return;
        }
        it = open_files.emplace(p.file, std::move(file).value()).first;
      }
      Result<SafetensorsTensor> piece = it->second.get(p.key);
      if (!piece.has_value()) {
        status = piece.error();
        return;
      }
      if (piece->dtype != "F32" || piece->numel() != p.end - p.begin) {
        status = Error::corrupt("{}: piece {} is {} with {} elements, the manifest says F32 "
                                "with {}", (step_dir / p.file).string(), p.key, piece->dtype,
                                piece->numel(), p.end - p.begin);
        return;
      }
      for (const Overlap& o : overlaps)
        std::memcpy(read.dst + o.read_at, piece->data + o.piece_at * int64_t(sizeof(float)),
                    size_t(o.n) * sizeof(float));
    });
    SYM_TRY(status);
  }
  return Status::ok();
}

Status load_rank_state(const CheckpointManifest& manifest, const fs::path& step_dir,
                       Transformer& model, DataParallel& data_parallel) {
  SYM_TRY(read_checkpoint_pieces(manifest, step_dir, plan_reads(model, data_parallel)));
  data_parallel.optimizer().set_steps_taken(manifest.optimizer_steps);
  return Status::ok();
}

Status load_checkpoint_weights(const CheckpointManifest& manifest, const fs::path& step_dir,
                               Transformer& model) {
  std::vector<TensorRead> reads;
  add_block_reads(model.params(), reads);
  add_bias_reads(model, reads);
  std::set<std::string> files;
  for (const TensorRead& read : reads) {
    SYM_TRY_ASSIGN(const CheckpointTensor* t, find_tensor(manifest, read, step_dir));
    for (const TensorPiece& p : t->pieces) files.insert(p.file);
  }
  SYM_TRY(verify_checkpoint_files(manifest, step_dir, {files.begin(), files.end()}));
  return read_checkpoint_pieces(manifest, step_dir, reads);
}

Result<std::vector<float>> read_checkpoint_box(const CheckpointManifest& manifest,
                                               const fs::path& step_dir, const std::string& name,
                                               const TensorBox& box) {
  const CheckpointTensor* t = manifest.find(name);
  if (t == nullptr)
    return Error::invalid("{}: the checkpoint has no tensor {}", step_dir.string(), name);
  if (!box_inside(t->shape, box))
    return Error::invalid("{}: box {} lies outside tensor {} of shape [{}]", step_dir.string(),
                          box.describe(), name, fmt::join(t->shape, ", "));
  std::vector<float> data(size_t(box.numel()));
  if (data.empty()) return data;
  const TensorRead read{name, t->shape, box, 0, box.numel(), data.data()};
  SYM_TRY(read_checkpoint_pieces(manifest, step_dir, std::span<const TensorRead>(&read, 1)));
  return data;
}

Result<std::vector<float>> read_checkpoint_tensor(const CheckpointManifest& manifest,
                                                  const fs::path& step_dir,
                                                  const std::string& name) {
  const CheckpointTensor* t = manifest.find(name);
  if (t == nullptr)
    return Error::invalid("{}: the checkpoint has no tensor {}", step_dir.string(), name);
  return read_checkpoint_box(manifest, step_dir, name, TensorBox::whole(t->shape));
}

}  // namespace symphony

#include "train/evaluate_model.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "checkpoint/export_source.h"
#include "checkpoint/hf_tokenizer.h"
#include "core/timer.h"
#include "data/byte_tokenizer.h"
#include "data/eval_sampler.h"
#include "data/prepare.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"
#include "train/hf_import.h"
#include "train/model_file.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

struct SourceModel {
  RunConfig config;
  std::unique_ptr<Transformer> model;  // weights only (batch 1, sequence 1)
  std::string weights;                 // EvalModelReport::weights
  fs::path hf_dir;                     // the Hugging Face directory it came from, if it did
};

// "runs/a/model.safetensors [symphony.config]" -> "runs/a/model.safetensors": the file part of a
// config's source name.
std::string file_of_source(const std::string& source) {
  const size_t bracket = source.rfind(" [");
  return bracket != std::string::npos && source.ends_with("]") ? source.substr(0, bracket) : source;
}

Result<SourceModel> load_source_model(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Error::not_found("{}: no such file or directory", path.string());
  SourceModel source;
  if (fs::is_directory(path, ec) && fs::exists(path / "config.json", ec)) {
    SYM_TRY_ASSIGN(HfModel hf, read_hf_model(path));
    source.config = std::move(hf.report.config);
    source.model = std::move(hf.model);
    source.weights = path.string();
    source.hf_dir = path;
    return source;
  }
  SYM_TRY_ASSIGN(LoadedModel loaded, load_model_for_export(path));
  source.config = std::move(loaded.config);
  source.model = std::move(loaded.model);
  source.weights = file_of_source(source.config.source);
  return source;
}

// The weights of `source` in a model built for `shape`. Full recomputation: forward keeps one
// layer's activations instead of every layer's, and computes the same numbers.
// Failure: the model at that shape does not fit the memory available (nothing is allocated).
Result<std::unique_ptr<Transformer>> rebuild_for_shape(const ModelConfig& config,
                                                       Transformer& source, BatchShape shape) {
  SYM_TRY_ASSIGN(std::unique_ptr<Transformer> model,
                 Transformer::create(config, DType::kF32, shape, Recompute::kFull));
  ParamStore& to = model->params();
  ParamStore& from = source.params();
  for (ParamId id = 0; id < ParamId(to.infos().size()); ++id) {
    View dst = to.param(id);
    std::memcpy(dst.raw(), from.param(id).raw(), size_t(dst.bytes()));
  }
  for (int64_t l = 0; l < config.num_layers_with_mtp(); ++l) {
    if (!config.is_moe_layer(l)) continue;
    View dst = model->balance_bias(l);
    std::memcpy(dst.raw(), source.balance_bias(l).raw(), size_t(dst.bytes()));
  }
  return model;
}

// The model's tokenizer as evaluate_model.h orders the candidates; spec "" when none is known.
struct ModelTokenizer {
  std::string spec;
  std::string fingerprint;  // known without loading: from the training data's manifest
  std::string origin;       // for messages
};

ModelTokenizer find_model_tokenizer(const EvalModelOptions& options, const SourceModel& source,
                                    std::vector<std::string>& notes) {
  if (!options.tokenizer.empty()) return {options.tokenizer, "", "the tokenizer given"};
  const DataConfig& data = source.config.data;
  if (!data.tokenizer_path.empty())
    return {data.tokenizer_path, "", fmt::format("data.tokenizer_path of {}", source.weights)};
  std::error_code ec;
  if (!source.hf_dir.empty() && fs::exists(source.hf_dir / "tokenizer.json", ec)) {
    const std::string path = (source.hf_dir / "tokenizer.json").string();
    return {path, "", path};
  }
  if (!data.datasets.empty()) {
    Result<DatasetManifest> manifest = read_manifest(data.datasets.front());
    if (manifest.has_value())
      return {manifest->tokenizer_name, manifest->tokenizer_fingerprint,
              fmt::format("the tokenizer of its training data {}", data.datasets.front())};
    notes.push_back(fmt::format("the model's training data is not readable ({})",
                                manifest.error().message()));
  }
  return {};
}

Result<std::unique_ptr<Tokenizer>> load_model_tokenizer(const ModelTokenizer& t) {
  Result<std::unique_ptr<Tokenizer>> loaded = load_tokenizer(t.spec);
  if (!loaded.has_value())
    return loaded.error().with_context("loading the model's tokenizer ({})", t.origin);
  if (is_byte_tokenizer_for_hf(**loaded)) return std::unique_ptr<Tokenizer>(new ByteTokenizer());
  if (!t.fingerprint.empty() && (*loaded)->fingerprint() != t.fingerprint)
    return Error::invalid("{}: tokenizer '{}' now has fingerprint {}, but {} was {}; pass the "
                          "model's tokenizer explicitly", t.origin, t.spec,
                          (*loaded)->fingerprint(), t.origin, t.fingerprint);
  return loaded;
}

// Checks that `dataset` was prepared with the model's tokenizer.
Status check_dataset_tokenizer(const TokenDataset& dataset, const ModelTokenizer& t,
                               std::string& tokenizer_name, std::vector<std::string>& notes) {
  if (t.spec.empty()) {
    notes.push_back(fmt::format("the model's tokenizer is unknown: the ids of {} are scored as "
                                "the model's", dataset.name()));
    return Status::ok();
  }
  if (!t.fingerprint.empty()) {  // the training data's manifest: compare without loading
    tokenizer_name = t.spec;
    if (dataset.tokenizer_fingerprint().empty()) {  // a token file: nothing to compare
      notes.push_back(fmt::format("{} records no tokenizer: its ids are scored as the model's",
                                  dataset.name()));
      return Status::ok();
    }
    if (dataset.tokenizer_fingerprint() == t.fingerprint) return Status::ok();
    return Error::invalid(
        "{}/{}: the dataset was prepared with tokenizer '{}' (fingerprint {}), but the model was "
        "trained with '{}' (fingerprint {}, {}); score data prepared with the model's tokenizer, "
        "or name the model's tokenizer if it is the dataset's",
        dataset.name(), kManifestFileName, dataset.tokenizer_name(),
        dataset.tokenizer_fingerprint(), t.spec, t.fingerprint, t.origin);
  }
  SYM_TRY_ASSIGN(std::unique_ptr<Tokenizer> tokenizer, load_model_tokenizer(t));
  tokenizer_name = tokenizer->name();
  return dataset.check_tokenizer(*tokenizer).with_context("the model's tokenizer ({})", t.origin);
}

// Removes a temporary directory when it goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

Result<EvalModelReport> evaluate_model(const EvalModelOptions& options) {
  if (options.seq_len < 0 || options.batch_size < 0 || options.max_batches < 0 ||
      options.max_tokens < 0 || options.threads < 1)
    return Error::invalid("seq_len {}, batch_size {}, max_batches {}, max_tokens {} and threads {} "
                          "must not be negative (threads at least 1)", options.seq_len,
                          options.batch_size, options.max_batches, options.max_tokens,
                          options.threads);
  EvalModelReport report;
  const fs::path data_path(options.data);
  std::error_code ec;
  if (!fs::exists(data_path, ec))  // before loading what may be a large model
    return Error::not_found("{}: no such file or directory", data_path.string());
  report.data = data_path.string();
  SYM_TRY_ASSIGN(SourceModel source, load_source_model(options.model));
  report.weights = source.weights;
  const ModelConfig& mc = source.config.model;
  const ModelTokenizer model_tokenizer = find_model_tokenizer(options, source, report.notes);

  // The data: a dataset split, a token file, or a text file prepared into a scratch directory.
  std::optional<ScratchDir> scratch;
  std::optional<TokenDataset> dataset;
  if (fs::is_directory(data_path, ec)) {
    const Split split = options.split.value_or(Split::kVal);
    SYM_TRY_ASSIGN(TokenDataset d, TokenDataset::open(data_path, split));
    report.split = std::string(split_name(split));
    if (d.size() == 0)
      return Error::invalid("{}: the {} split is empty; prepare the data with a val fraction "
                            "above 0, or score the train split", data_path.string(), report.split);
    SYM_TRY(check_dataset_tokenizer(d, model_tokenizer, report.tokenizer, report.notes));
    dataset.emplace(std::move(d));
  } else if (options.split) {
    return Error::invalid("{}: a file is scored whole; a split ({}) applies to dataset "
                          "directories", report.data, split_name(*options.split));
  } else if (data_path.extension() == ".tok") {
    SYM_TRY_ASSIGN(TokenDataset d, TokenDataset::open_token_file(data_path));
    report.split = "all";
    SYM_TRY(check_dataset_tokenizer(d, model_tokenizer, report.tokenizer, report.notes));
    dataset.emplace(std::move(d));
  } else {
    ModelTokenizer t = model_tokenizer;
    if (t.spec.empty()) {
      t.spec = ByteTokenizer::kName;
      t.origin = "the default";
      report.notes.push_back("the model's tokenizer is unknown: the text is tokenized with the "
                             "byte tokenizer");
    }
    SYM_TRY_ASSIGN(std::unique_ptr<Tokenizer> tokenizer, load_model_tokenizer(t));
    report.tokenizer = tokenizer->name();
    report.split = "all";
    fs::path dir = fs::temp_directory_path(ec);
    if (ec)
      return Error::io("no temporary directory to prepare {} in: {}", report.data, ec.message());
    scratch.emplace(dir / fmt::format("symphony-eval-{}", ::getpid()));
    PrepareOptions prepare;
    prepare.inputs = {options.data};
    prepare.output_dir = scratch->path().string();
    prepare.tokenizer = tokenizer->name();
    prepare.val_fraction = 0;
    prepare.threads = options.threads;
    Result<PrepareStats> prepared = prepare_dataset(prepare);
    if (!prepared.has_value()) return prepared.error();
    SYM_TRY_ASSIGN(TokenDataset d, TokenDataset::open(scratch->path(), Split::kTrain));
    dataset.emplace(std::move(d));
  }
  report.data_tokens = dataset->size();
  if (dataset->vocab_size() > mc.vocab_size)
    return Error::invalid("{}: token ids reach {}, beyond the model's vocab_size {} ({})",
                          report.data, dataset->vocab_size(), mc.vocab_size, report.weights);

  // The batch shape: the run's own by default, so the trainer's evaluation is reproduced.
  const TrainConfig& tc = source.config.train;
  report.shape = {options.batch_size > 0 ? options.batch_size : tc.micro_batch_size,
                  options.seq_len > 0 ? options.seq_len : tc.seq_len};
  const BatchShape shape = report.shape;
  if (shape.seq_len > mc.max_position_embeddings)
    return Error::invalid("seq_len {} exceeds the model's max_position_embeddings {} ({})",
                          shape.seq_len, mc.max_position_embeddings, report.weights);
  if (dataset->size() < shape.seq_len + 1)
    return Error::invalid("{}: {} tokens, too short for one window of seq_len + 1 = {} tokens",
                          report.data, dataset->size(), shape.seq_len + 1);
  SYM_TRY_ASSIGN(EvalSampler sampler, EvalSampler::create(*dataset, shape.seq_len, shape.batch));
  int64_t batches = sampler.num_batches();
  if (options.max_batches > 0) batches = std::min(batches, options.max_batches);
  if (options.max_tokens > 0)
    batches = std::min(batches, std::max<int64_t>(1, options.max_tokens / shape.rows()));
  if (sampler.num_windows() < shape.batch)
    report.notes.push_back(fmt::format("the data holds {} windows of {} tokens, fewer than a batch "
                                       "of {}: the batch repeats windows", sampler.num_windows(),
                                       shape.seq_len + 1, shape.batch));

  SYM_TRY_ASSIGN(const std::unique_ptr<Transformer> model,
                 rebuild_for_shape(mc, *source.model, shape));
  source.model.reset();
  Evaluator evaluator(shape, batches);
  Timer timer;
  SYM_TRY_ASSIGN(report.loss, evaluator.run(options.exec, *model, sampler, EvalGroup{}));
  report.elapsed_s = timer.elapsed_s();
  report.perplexity = std::exp(report.loss.loss);
  return report;
}

}  // namespace symphony

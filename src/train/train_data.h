#pragma once
// The data side of a run: opens the datasets its DataConfig names, checks them against the model
// and the tokenizer, and builds the training loader and the evaluation sampler.

#include <memory>
#include <optional>
#include <vector>

#include "config/run_config.h"
#include "core/status.h"
#include "data/data_loader.h"
#include "data/eval_sampler.h"
#include "data/token_dataset.h"

namespace symphony {

// Which slice of the global sample order this process trains on (see data/data_loader.h).
struct DataParallelRank {
  int rank = 0;
  int size = 1;
};

// Owns the datasets; the loader and sampler point into them, so TrainData is not movable once
// built and lives behind a unique_ptr.
struct TrainData {
  std::vector<std::unique_ptr<TokenDataset>> train;  // [source]
  std::unique_ptr<TokenDataset> val;                 // null when evaluation is off
  std::unique_ptr<DataLoader> loader;
  std::optional<EvalSampler> eval;
};

// data.datasets (their train splits, blended by data.weights; the first one's val split for
// evaluation) or else the token files data.train_path / data.val_path. Every shard's checksum is
// verified. Failure: a missing or corrupt dataset or file (named), token ids beyond
// model.vocab_size, a dataset prepared with another tokenizer than data.tokenizer_path (when set),
// evaluation asked for without validation data, data shorter than one window.
Result<std::unique_ptr<TrainData>> open_train_data(const RunConfig& config, DataParallelRank dp);

}  // namespace symphony

#include "train/train_data.h"

#include "data/tokenizer.h"

namespace symphony {

namespace {

Status check_vocab(const TokenDataset& dataset, const ModelConfig& model) {
  if (dataset.vocab_size() > model.vocab_size)
    return Error::invalid("{}: token ids reach {} but model.vocab_size is {}", dataset.name(),
                          dataset.vocab_size(), model.vocab_size);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<TrainData>> open_train_data(const RunConfig& config, DataParallelRank dp) {
  const DataConfig& dc = config.data;
  const TrainConfig& tc = config.train;
  auto data = std::make_unique<TrainData>();
  const bool evaluate = tc.eval_every > 0;

  if (!dc.datasets.empty()) {
    for (const std::string& dir : dc.datasets) {
      SYM_TRY_ASSIGN(TokenDataset d, TokenDataset::open(dir, Split::kTrain));
      data->train.push_back(std::make_unique<TokenDataset>(std::move(d)));
    }
    if (evaluate) {
      SYM_TRY_ASSIGN(TokenDataset v, TokenDataset::open(dc.datasets.front(), Split::kVal));
      if (v.size() == 0)
        return Error::invalid("{}: the val split is empty but train.eval_every is {}; prepare "
                              "with --val-fraction > 0 or set train.eval_every = 0",
                              dc.datasets.front(), tc.eval_every);
      data->val = std::make_unique<TokenDataset>(std::move(v));
    }
  } else {
    if (dc.train_path.empty())
      return Error::invalid("no training data: set data.datasets (directories made by symphony "
                            "data prepare) or data.train_path (a token file)");
    SYM_TRY_ASSIGN(TokenDataset d, TokenDataset::open_token_file(dc.train_path));
    data->train.push_back(std::make_unique<TokenDataset>(std::move(d)));
    if (evaluate) {
      if (dc.val_path.empty())
        return Error::invalid("data.val_path is empty but train.eval_every is {}; set a held-out "
                              "token file or train.eval_every = 0", tc.eval_every);
      SYM_TRY_ASSIGN(TokenDataset v, TokenDataset::open_token_file(dc.val_path));
      data->val = std::make_unique<TokenDataset>(std::move(v));
    }
  }

  std::unique_ptr<Tokenizer> tokenizer;
  if (!dc.tokenizer_path.empty()) {
    SYM_TRY_ASSIGN(tokenizer, load_tokenizer(dc.tokenizer_path));
  }
  std::vector<BlendSource> sources;
  for (size_t i = 0; i < data->train.size(); ++i) {
    const TokenDataset& d = *data->train[i];
    SYM_TRY(check_vocab(d, config.model));
    if (tokenizer) SYM_TRY(d.check_tokenizer(*tokenizer).with_context("data.tokenizer_path"));
    sources.push_back({&d, dc.weights.empty() ? 1.0 : dc.weights[i]});
  }
  if (data->val) SYM_TRY(check_vocab(*data->val, config.model));

  const LoaderOptions options{.seq_len = tc.seq_len,
                              .micro_batch_size = tc.micro_batch_size,
                              .dp_rank = dp.rank,
                              .dp_size = dp.size,
                              .seed = tc.seed,
                              .prefetch_depth = static_cast<int>(dc.prefetch_depth)};
  SYM_TRY_ASSIGN(data->loader, DataLoader::create(std::move(sources), options));
  if (data->val) {
    SYM_TRY_ASSIGN(EvalSampler eval,
                   EvalSampler::create(*data->val, tc.seq_len, tc.micro_batch_size));
    data->eval.emplace(std::move(eval));
  }
  return data;
}

}  // namespace symphony

#pragma once
// Training data settings: the [data] section of a run config.

#include <cstdint>
#include <string>
#include <vector>

namespace symphony {

// Training data: either prepared dataset directories (`symphony data prepare`,
// docs/dataset_format.md), blended by weight, or the single token files train_path / val_path.
struct DataConfig {
  std::vector<std::string> datasets;  // prepared dataset directories; their train splits are
                                      // blended and the first one's val split is evaluated
  std::vector<double> weights;        // [dataset] relative sampling weights; empty: all equal
  int64_t prefetch_depth = 2;         // micro-batches the loader prepares ahead; 0: none
  std::string train_path;          // token file (see docs/token_file_format.md), when no datasets
  std::string val_path;            // token file for evaluation, when no datasets
  double val_fraction = 0.05;
  std::string tokenizer_path;      // tokenizer used to decode samples and prompts; when set, the
                                   // trainer refuses datasets prepared with another tokenizer
};

}  // namespace symphony

#pragma once
// Checkpoint settings: the [checkpoint] section of a run config (docs/checkpoints.md).

#include <cstdint>
#include <string>

namespace symphony {

struct CheckpointConfig {
  std::string dir;         // "": <train.run_dir>/checkpoints
  int64_t every = 0;       // save every N steps and at the end; 0: only on SIGTERM/SIGINT
  int64_t keep_last = 3;   // newest checkpoints kept
  int64_t keep_every = 0;  // also keep steps that are multiples of this; 0: none
  bool async = true;       // write in a background thread while training goes on
};

}  // namespace symphony

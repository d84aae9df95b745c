#pragma once
// A one-line training progress display:
//   step 120/1000 [###.........................]  12.0% | loss 3.4512 | 12.3k tok/s | ETA 0:01:23
// On a terminal the line is redrawn in place with '\r'; elsewhere (a log file, a pipe) a plain
// line is printed every few steps so logs stay readable.

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/timer.h"

namespace symphony {

enum class ProgressStyle : uint8_t {
  kAuto,    // kRedraw when the stream is a terminal, else kLines
  kRedraw,  // one line redrawn in place
  kLines,   // a new line every line_every steps and at the last step
};

struct ProgressBarOptions {
  ProgressStyle style = ProgressStyle::kAuto;
  int64_t line_every = 10;         // kLines: steps between printed lines
  int bar_width = 28;              // characters between the brackets
  double redraw_interval_s = 0.1;  // kRedraw: at most one redraw per interval, except the last step
};

// What one progress line shows. eta_s < 0 or NaN means not yet known.
struct ProgressSnapshot {
  int64_t step = 0;  // steps completed
  int64_t total_steps = 0;
  double loss = 0.0;
  double tokens_per_s = 0.0;
  double eta_s = -1.0;
};

// The text of one progress line, without '\r' or '\n'.
std::string render_progress_line(const ProgressSnapshot& snapshot, int bar_width);
// "h:mm:ss" (hours grow past 9 as needed); "-:--:--" for a negative or non-finite duration.
std::string format_duration_hms(double seconds);

// Estimates the time left from the wall-clock rate since the first update, so start-up cost (the
// first step's allocations, warm-up) does not distort it.
// The stream is borrowed and must outlive the bar. Thread-safety: none.
class ProgressBar {
 public:
  ProgressBar(int64_t total_steps, std::FILE* stream, ProgressBarOptions options = {});
  ~ProgressBar();  // calls finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Reports that `step` steps are done, with the latest loss and throughput.
  void update(int64_t step, double loss, double tokens_per_s);
  // Ends a redrawn line with '\n' so later output starts on a fresh line. Idempotent.
  void finish();

  ProgressStyle style() const { return style_; }

 private:
  double eta_s(int64_t step) const;

  int64_t total_steps_;
  std::FILE* stream_;
  ProgressBarOptions options_;
  ProgressStyle style_;  // kAuto resolved
  Timer timer_;          // started at the first update
  int64_t first_step_ = -1;
  double last_draw_s_ = -1.0;
  bool line_open_ = false;  // a redrawn line awaits its '\n'
};

}  // namespace symphony

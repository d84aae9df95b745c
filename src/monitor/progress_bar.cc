#include "monitor/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace symphony {
namespace {

std::string format_rate(double tokens_per_s) {
  if (!std::isfinite(tokens_per_s) || tokens_per_s < 0) return "- tok/s";
  if (tokens_per_s >= 1e9) return fmt::format("{:.2f}G tok/s", tokens_per_s / 1e9);
  if (tokens_per_s >= 1e6) return fmt::format("{:.2f}M tok/s", tokens_per_s / 1e6);
  if (tokens_per_s >= 1e3) return fmt::format("{:.1f}k tok/s", tokens_per_s / 1e3);
  return fmt::format("{:.0f} tok/s", tokens_per_s);
}

}  // namespace

std::string format_duration_hms(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-:--:--";
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  return fmt::format("{}:{:02d}:{:02d}", total / 3600, (total / 60) % 60, total % 60);
}

std::string render_progress_line(const ProgressSnapshot& s, int bar_width) {
  const double fraction =
      s.total_steps > 0 ? std::clamp(double(s.step) / double(s.total_steps), 0.0, 1.0) : 0.0;
  const int width = std::max(bar_width, 1);
  const int filled = static_cast<int>(fraction * width);
  const std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
  const int digits = static_cast<int>(fmt::formatted_size("{}", s.total_steps));
  return fmt::format("step {:>{}}/{} [{}] {:5.1f}% | loss {:.4f} | {} | ETA {}", s.step, digits,
                     s.total_steps, bar, 100.0 * fraction, s.loss, format_rate(s.tokens_per_s),
                     format_duration_hms(s.eta_s));
}

ProgressBar::ProgressBar(int64_t total_steps, std::FILE* stream, ProgressBarOptions options)
    : total_steps_(total_steps), stream_(stream), options_(options), style_(options.style) {
  if (style_ == ProgressStyle::kAuto)
    style_ = ::isatty(::fileno(stream_)) ? ProgressStyle::kRedraw : ProgressStyle::kLines;
  if (options_.line_every < 1) options_.line_every = 1;
}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::eta_s(int64_t step) const {
  const int64_t done = step - first_step_;
  if (done <= 0) return -1.0;
  const double per_step_s = timer_.elapsed_s() / double(done);
  return per_step_s * double(std::max<int64_t>(total_steps_ - step, 0));
}

void ProgressBar::update(int64_t step, double loss, double tokens_per_s) {
  if (first_step_ < 0) {
    first_step_ = step;
    timer_.reset();
  }
  const bool last = step >= total_steps_;
  if (style_ == ProgressStyle::kLines) {
    if (step % options_.line_every != 0 && !last) return;
  } else {
    const double now_s = timer_.elapsed_s();
    if (!last && last_draw_s_ >= 0 && now_s - last_draw_s_ < options_.redraw_interval_s) return;
    last_draw_s_ = now_s;
  }
  const ProgressSnapshot snapshot{step, total_steps_, loss, tokens_per_s, eta_s(step)};
  const std::string line = render_progress_line(snapshot, options_.bar_width);
  if (style_ == ProgressStyle::kLines) {
    fmt::print(stream_, "{}\n", line);
  } else {
    // "\x1b[K" clears what a longer previous line left to the right.
    fmt::print(stream_, "\r{}\x1b[K", line);
    line_open_ = true;
  }
  std::fflush(stream_);
}

void ProgressBar::finish() {
  if (!line_open_) return;
  std::fputc('\n', stream_);
  std::fflush(stream_);
  line_open_ = false;
}

}  // namespace symphony

#include "monitor/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/file_io.h"
#include "monitor/svg.h"

namespace symphony {
namespace {

constexpr double kWidth = 800, kHeight = 480;
constexpr double kLeft = 72, kRight = 24, kTop = 44, kBottom = 56;  // margins around the plot area
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;
constexpr size_t kMaxPointsWithDots = 60;
constexpr int kMaxTicks = 50;  // bounds the tick loops when a range is at the edge of double
constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};

bool is_finite_point(const PlotPoint& p) { return std::isfinite(p.step) && std::isfinite(p.value); }

struct Frame {
  ChartAxis x, y;
  double px(double step) const { return kLeft + (step - x.lo) / (x.hi - x.lo) * kPlotWidth; }
  double py(double value) const {
    return kTop + kPlotHeight - (value - y.lo) / (y.hi - y.lo) * kPlotHeight;
  }
};

void draw_axes(const Frame& f, std::string& svg) {
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", kLeft,
      kTop, kPlotWidth, kPlotHeight);
  for (int i = 0; i <= kMaxTicks; ++i) {
    const double v = f.x.lo + i * f.x.tick;
    if (v > f.x.hi + f.x.tick * 1e-6) break;
    const double x = f.px(v);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        x, kTop, kTop + kPlotHeight, kTop + kPlotHeight + 18, tick_label(v, f.x));
  }
  for (int i = 0; i <= kMaxTicks; ++i) {
    const double v = f.y.lo + i * f.y.tick;
    if (v > f.y.hi + f.y.tick * 1e-6) break;
    const double y = f.py(v);
    svg += fmt::format(
        "<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{3}\" y=\"{0:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{4}"
        "</text>\n",
        y, kLeft, kLeft + kPlotWidth, kLeft - 6, tick_label(v, f.y));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">step</text>\n",
                     kLeft + kPlotWidth / 2, kHeight - 14);
  svg += fmt::format(
      "<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">loss"
      "</text>\n",
      kTop + kPlotHeight / 2);
}

void draw_series(const Frame& f, const PlotSeries& s, const std::string& color, std::string& svg) {
  const bool dot_every_point = s.points.size() <= kMaxPointsWithDots;
  std::vector<const PlotPoint*> run;  // a stretch of finite points
  auto flush_run = [&] {
    if (run.size() >= 2) {
      svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"",
                         color);
      for (const PlotPoint* p : run) svg += fmt::format("{:.1f},{:.1f} ", f.px(p->step), f.py(p->value));
      svg += "\"/>\n";
    }
    if (run.size() == 1 || dot_every_point) {
      for (const PlotPoint* p : run)
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>\n",
                           f.px(p->step), f.py(p->value), color);
    }
    run.clear();
  };
  for (const PlotPoint& p : s.points) {
    if (is_finite_point(p)) {
      run.push_back(&p);
    } else {
      flush_run();
    }
  }
  flush_run();
}

void draw_legend(const std::vector<PlotSeries>& series, const std::vector<std::string>& colors,
                 std::string& svg) {
  if (series.empty()) return;
  size_t longest = 1;
  for (const PlotSeries& s : series) longest = std::max(longest, s.name.size());
  const double box_width = 36 + 7.0 * static_cast<double>(longest);
  const double box_height = 8 + 18.0 * static_cast<double>(series.size());
  const double x0 = kLeft + kPlotWidth - box_width - 8, y0 = kTop + 8;
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"white\" "
      "fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
      x0, y0, box_width, box_height);
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = y0 + 13 + 18.0 * static_cast<double>(i);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"2\"/><text x=\"{4:.1f}\" y=\"{1:.1f}\" dominant-baseline=\"middle\">{5}"
        "</text>\n",
        x0 + 6, y, x0 + 26, colors[i], x0 + 32, xml_escape(series[i].name));
  }
}

}  // namespace

std::string render_loss_plot_svg(const std::vector<PlotSeries>& series, std::string_view title) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : series) {
    for (const PlotPoint& p : s.points) {
      if (!is_finite_point(p)) continue;
      x_lo = std::min(x_lo, p.step);
      x_hi = std::max(x_hi, p.step);
      y_lo = std::min(y_lo, p.value);
      y_hi = std::max(y_hi, p.value);
    }
  }
  const bool has_data = x_lo <= x_hi;
  if (!has_data) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  const Frame frame{nice_axis(x_lo, x_hi, 8), nice_axis(y_lo, y_hi, 6)};

  std::vector<std::string> colors;
  for (size_t i = 0; i < series.size(); ++i) {
    colors.push_back(series[i].color.empty()
                         ? std::string(kPalette[i % std::size(kPalette)])
                         : xml_escape(series[i].color));
  }

  std::string svg = svg_begin(kWidth, kHeight, title);
  draw_axes(frame, svg);
  if (!has_data) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">no data"
                       "</text>\n",
                       kLeft + kPlotWidth / 2, kTop + kPlotHeight / 2);
  }
  for (size_t i = 0; i < series.size(); ++i) draw_series(frame, series[i], colors[i], svg);
  draw_legend(series, colors, svg);
  svg += "</svg>\n";
  return svg;
}

Status write_loss_plot_svg(const std::filesystem::path& path,
                           const std::vector<PlotSeries>& series, std::string_view title) {
  return write_file_atomic(path, render_loss_plot_svg(series, title));
}

}  // namespace symphony

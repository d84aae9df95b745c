#pragma once
// Loss curves as a self-contained SVG line chart (no scripts, fonts or external files), so a run
// directory can be inspected in any browser: linear axes with tick labels and grid, one line per
// series, a legend and a title.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony {

struct PlotPoint {
  double step = 0.0;
  double value = 0.0;
};

struct PlotSeries {
  std::string name;               // legend label, e.g. "train loss"
  std::vector<PlotPoint> points;  // drawn in this order (normally increasing step)
  std::string color;              // an SVG colour; empty picks one by the series' index
};

// The SVG document. Points with a non-finite step or value are left out and break the line
// there; a point with no finite neighbour is drawn as a dot, and series of few points get a dot
// on every point. Axes span the finite points (a single value is widened to a visible range);
// with no finite point at all the chart is drawn empty with a "no data" note.
std::string render_loss_plot_svg(const std::vector<PlotSeries>& series, std::string_view title);

// Writes render_loss_plot_svg() to `path` through `<path>.tmp` and a rename, so a viewer never
// reads a half-written chart. Failure: kIo naming the path.
Status write_loss_plot_svg(const std::filesystem::path& path,
                           const std::vector<PlotSeries>& series, std::string_view title);

}  // namespace symphony

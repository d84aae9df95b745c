#pragma once
// Building blocks shared by the self-contained SVG charts of monitor/ (loss curves, pipeline
// timelines): the document opening, text escaping and linear axes with round tick values.

#include <string>
#include <string_view>

namespace symphony {

// The opening of a chart: the <svg> element of `width` x `height` pixels (sans-serif, 12 px), a
// white background and `title` centred at the top in 16 px. The caller appends the drawing and
// "</svg>\n".
std::string svg_begin(double width, double height, std::string_view title);

// `text` with &, <, >, " and ' escaped for XML text and attribute values; control characters
// other than tab and newline, which XML 1.0 forbids, are dropped.
std::string xml_escape(std::string_view text);

// A linear axis whose ends and ticks fall on 1, 2 or 5 times a power of ten.
struct ChartAxis {
  double lo = 0, hi = 1, tick = 0.2;
  int decimals = 1;  // digits after the point that tell two ticks apart
};

// The smallest such axis covering [lo, hi] with about `target_ticks` intervals. An empty or
// inverted range is widened around lo (by 5% of |lo|, at least 0.05). REQUIRES: lo, hi finite.
ChartAxis nice_axis(double lo, double hi, int target_ticks);

// `value` printed with the axis' decimals; values within a millionth of a tick of 0 print as 0.
std::string tick_label(double value, const ChartAxis& axis);

}  // namespace symphony

#include "monitor/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace symphony {

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out.push_back(c);
    }
  }
  return out;
}

std::string svg_begin(double width, double height, std::string_view title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">{3}</text>\n",
      width, height, width / 2, xml_escape(title));
}

ChartAxis nice_axis(double lo, double hi, int target_ticks) {
  if (!(hi > lo)) {
    const double pad = std::max(std::abs(lo) * 0.05, 0.05);
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  const double nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
  ChartAxis axis;
  axis.tick = nice * magnitude;
  axis.lo = std::floor(lo / axis.tick + 1e-9) * axis.tick;
  axis.hi = std::ceil(hi / axis.tick - 1e-9) * axis.tick;
  axis.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(axis.tick) + 1e-9)));
  return axis;
}

std::string tick_label(double value, const ChartAxis& axis) {
  if (std::abs(value) < axis.tick * 1e-6) value = 0.0;  // no "-0.0"
  return fmt::format("{:.{}f}", value, axis.decimals);
}

}  // namespace symphony

#include "monitor/pipeline_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "core/file_io.h"
#include "monitor/svg.h"

namespace symphony {
namespace {

constexpr double kWidth = 1000;
constexpr double kLeft = 64, kRight = 24, kTop = 48;  // margins around the rows
constexpr double kRowHeight = 24, kRowGap = 6;
constexpr double kAxisHeight = 36, kLegendHeight = 28;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr int kMaxTicks = 50;

std::string_view category(PipelineOpKind kind) {
  switch (kind) {
    case PipelineOpKind::kForward: return "forward";
    case PipelineOpKind::kBackward: return "backward";
    case PipelineOpKind::kBackwardInput: return "backward_input";
    case PipelineOpKind::kBackwardWeight: return "backward_weight";
    case PipelineOpKind::kHead: return "head";
  }
  return "?";
}

std::string_view legend_label(PipelineOpKind kind) {
  switch (kind) {
    case PipelineOpKind::kForward: return "F: forward";
    case PipelineOpKind::kBackward: return "B: backward (input and weight gradients)";
    case PipelineOpKind::kBackwardInput: return "B: input gradient";
    case PipelineOpKind::kBackwardWeight: return "W: weight gradient";
    case PipelineOpKind::kHead: return "H: LM head and loss (a share of the rows)";
  }
  return "?";
}

std::string_view color(PipelineOpKind kind) {
  switch (kind) {
    case PipelineOpKind::kForward: return "#4c78a8";
    case PipelineOpKind::kBackward:
    case PipelineOpKind::kBackwardInput: return "#f58518";
    case PipelineOpKind::kBackwardWeight: return "#54a24b";
    case PipelineOpKind::kHead: return "#b279a2";
  }
  return "#888";
}

std::string op_name(const PipelineOp& op, int virtual_stages) {
  std::string name = fmt::format("{}{}", pipeline_op_letter(op.kind), op.micro_batch);
  if (virtual_stages > 1) name += fmt::format(".{}", op.chunk);
  return name;
}

// The unit the picture's time axis counts in, so that its labels stay short.
struct TimeUnit {
  double per_s;
  std::string_view name;
};
TimeUnit time_unit(double step_s) {
  if (step_s >= 1.0) return {1.0, "s"};
  if (step_s >= 1e-3) return {1e3, "ms"};
  return {1e6, "us"};
}

}  // namespace

nlohmann::json pipeline_trace_json(const PipelineTimeline& tl) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"},
                    {"ph", "M"},
                    {"pid", 0},
                    {"args", {{"name", fmt::format("pipeline ({})",
                                                   pipeline_schedule_name(tl.schedule))}}}});
  for (size_t r = 0; r < tl.ranks.size(); ++r) {
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 0},
                      {"tid", r},
                      {"args", {{"name", fmt::format("rank {}", r)}}}});
    for (const PipelineEvent& e : tl.ranks[r])
      events.push_back({{"name", op_name(e.op, tl.virtual_stages)},
                        {"cat", category(e.op.kind)},
                        {"ph", "X"},
                        {"pid", 0},
                        {"tid", r},
                        {"ts", e.start_s * 1e6},
                        {"dur", (e.end_s - e.start_s) * 1e6},
                        {"args", {{"micro_batch", e.op.micro_batch}, {"chunk", e.op.chunk}}}});
    if (r < tl.waits.size())
      for (const PipelineWait& w : tl.waits[r])
        events.push_back({{"name", fmt::format("{} wait ({})", w.send ? "send" : "recv",
                                               op_name(w.op, tl.virtual_stages))},
                          {"cat", w.send ? "send_wait" : "recv_wait"},
                          {"ph", "X"},
                          {"pid", 0},
                          {"tid", r},
                          {"ts", w.start_s * 1e6},
                          {"dur", (w.end_s - w.start_s) * 1e6},
                          {"args", {{"micro_batch", w.op.micro_batch}, {"chunk", w.op.chunk}}}});
  }
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ms"},
          {"otherData",
           {{"schedule", pipeline_schedule_name(tl.schedule)},
            {"stages", tl.stages},
            {"micro_batches", tl.micro_batches},
            {"virtual_stages", tl.virtual_stages},
            {"step_s", tl.step_s},
            {"bubble", tl.bubble}}}};
}

std::string render_pipeline_svg(const PipelineTimeline& tl) {
  const double rows_height = double(tl.ranks.size()) * (kRowHeight + kRowGap);
  const double height = kTop + rows_height + kAxisHeight + kLegendHeight;
  const TimeUnit unit = time_unit(tl.step_s);
  const ChartAxis axis = nice_axis(0.0, tl.step_s > 0 ? tl.step_s * unit.per_s : 1.0, 10);
  auto px = [&](double t_s) { return kLeft + t_s * unit.per_s / axis.hi * kPlotWidth; };

  std::string title = fmt::format("{}: pp={}, {} micro-batches",
                                  pipeline_schedule_name(tl.schedule), tl.stages, tl.micro_batches);
  if (tl.virtual_stages > 1) title += fmt::format(", vpp={}", tl.virtual_stages);
  title += fmt::format(", bubble {:.1f}%", 100.0 * tl.bubble);

  std::string svg = svg_begin(kWidth, height, title);

  // Grid and time axis under the boxes.
  const double axis_y = kTop + rows_height;
  for (int i = 0; i <= kMaxTicks; ++i) {
    const double v = axis.lo + i * axis.tick;
    if (v > axis.hi + axis.tick * 1e-6) break;
    const double x = kLeft + (v - axis.lo) / (axis.hi - axis.lo) * kPlotWidth;
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        x, kTop - 4, axis_y, axis_y + 16, tick_label(v, axis));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time ({})</text>\n",
                     kLeft + kPlotWidth / 2, axis_y + 32, unit.name);

  std::array<bool, 5> kinds_used{};
  for (size_t r = 0; r < tl.ranks.size(); ++r) {
    const double y = kTop + double(r) * (kRowHeight + kRowGap);
    svg += fmt::format(
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">rank {}"
        "</text>\n",
        kLeft - 8, y + kRowHeight / 2, r);
    for (const PipelineEvent& e : tl.ranks[r]) {
      kinds_used[size_t(e.op.kind)] = true;
      const double x0 = px(e.start_s), w = std::max(0.0, px(e.end_s) - x0);
      // Later chunks of an interleaved schedule lighter, down to half opacity.
      const double opacity =
          tl.virtual_stages > 1 ? 1.0 - 0.5 * e.op.chunk / double(tl.virtual_stages - 1) : 1.0;
      svg += fmt::format(
          "<rect class=\"op\" x=\"{:.2f}\" y=\"{:.1f}\" width=\"{:.2f}\" height=\"{}\" "
          "fill=\"{}\" fill-opacity=\"{:.2f}\" stroke=\"white\" stroke-width=\"0.5\">"
          "<title>rank {} {}: {:.4g} to {:.4g} {}</title></rect>\n",
          x0, y, w, kRowHeight, color(e.op.kind), opacity, r, op_name(e.op, tl.virtual_stages),
          e.start_s * unit.per_s, e.end_s * unit.per_s, unit.name);
      const std::string label = fmt::format("{}", e.op.micro_batch);
      if (w >= 7.0 * double(label.size()) + 3.0)
        svg += fmt::format(
            "<text x=\"{:.2f}\" y=\"{:.1f}\" text-anchor=\"middle\" dominant-baseline=\"middle\" "
            "font-size=\"10\" fill=\"#111\">{}</text>\n",
            x0 + w / 2, y + kRowHeight / 2, label);
    }
  }

  // Waits for a receive or a send: a thin grey bar at the bottom of the row (the rest of the
  // blank space is idle between passes).
  bool waits_used = false;
  for (size_t r = 0; r < tl.waits.size() && r < tl.ranks.size(); ++r) {
    const double y = kTop + double(r) * (kRowHeight + kRowGap) + kRowHeight - 6;
    for (const PipelineWait& w : tl.waits[r]) {
      const double x0 = px(w.start_s), wd = std::max(0.0, px(w.end_s) - x0);
      if (wd < 0.5) continue;
      waits_used = true;
      svg += fmt::format(
          "<rect class=\"wait\" x=\"{:.2f}\" y=\"{:.1f}\" width=\"{:.2f}\" height=\"6\" "
          "fill=\"{}\"><title>rank {} {} wait for {}: {:.4g} to {:.4g} {}</title></rect>\n",
          x0, y, wd, w.send ? "#9e9e9e" : "#595959", r, w.send ? "send" : "recv",
          op_name(w.op, tl.virtual_stages), w.start_s * unit.per_s, w.end_s * unit.per_s,
          unit.name);
    }
  }

  // Legend under the axis: the kinds that occur.
  double lx = kLeft;
  const double ly = axis_y + kAxisHeight + 6;
  for (PipelineOpKind kind : {PipelineOpKind::kForward, PipelineOpKind::kBackward,
                              PipelineOpKind::kBackwardInput, PipelineOpKind::kBackwardWeight,
                              PipelineOpKind::kHead}) {
    if (!kinds_used[size_t(kind)]) continue;
    const std::string_view label = legend_label(kind);
    svg += fmt::format(
        "<rect x=\"{0:.1f}\" y=\"{1:.1f}\" width=\"14\" height=\"14\" fill=\"{2}\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" dominant-baseline=\"middle\">{5}</text>\n",
        lx, ly, color(kind), lx + 20, ly + 7, xml_escape(label));
    lx += 40 + 7.0 * double(label.size());
  }
  if (waits_used) {
    for (const auto& [fill, label] : {std::pair{"#595959", "recv wait"}, {"#9e9e9e", "send wait"}}) {
      svg += fmt::format(
          "<rect x=\"{0:.1f}\" y=\"{1:.1f}\" width=\"14\" height=\"6\" fill=\"{2}\"/>"
          "<text x=\"{3:.1f}\" y=\"{4:.1f}\" dominant-baseline=\"middle\">{5}</text>\n",
          lx, ly + 8, fill, lx + 20, ly + 7, label);
      lx += 40 + 7.0 * 9;
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" dominant-baseline=\"middle\" "
                       "fill=\"#555\">blank: idle</text>\n", lx, ly + 7);
    lx += 40 + 7.0 * 11;
  }
  if (tl.virtual_stages > 1)
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" dominant-baseline=\"middle\" fill=\"#555\">lighter: "
        "later chunks</text>\n",
        lx, ly + 7);
  svg += "</svg>\n";
  return svg;
}

Status write_pipeline_trace_json(const std::filesystem::path& path,
                                 const PipelineTimeline& timeline) {
  return write_file_atomic(path, pipeline_trace_json(timeline).dump(1) + "\n");
}

Status write_pipeline_svg(const std::filesystem::path& path, const PipelineTimeline& timeline) {
  return write_file_atomic(path, render_pipeline_svg(timeline));
}

}  // namespace symphony

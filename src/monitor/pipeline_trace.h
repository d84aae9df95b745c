#pragma once
// A pipeline timeline (parallel/pipeline_timeline.h) as files to look at: a Chrome trace (the
// JSON "traceEvents" format that chrome://tracing and https://ui.perfetto.dev open) and a
// self-contained SVG picture.
//
// Trace: one complete event (ph "X") per op, pid 0, tid = rank, ts and dur in microseconds, name
// "F3" (kind letter and micro-batch; "F3.1" for chunk 1 when there are virtual stages), cat
// "forward", "backward", "backward_input" or "backward_weight", args {micro_batch, chunk}; one
// thread_name metadata event (ph "M") per rank ("rank r") and one process_name; "otherData"
// carries schedule, stages, micro_batches, virtual_stages, step_s and bubble. Measured timelines
// add one event per wait, cat "recv_wait" or "send_wait", named "recv wait (F3)".
//
// Picture: one row per rank, time to the right, a coloured box per op (F blue, B orange, W green;
// later chunks lighter) with its micro-batch number where the box is wide enough, idle time
// blank, waits for a receive or send as thin grey bars at the bottom of the row, a time axis, a
// legend, and the schedule and bubble fraction in the title.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "parallel/pipeline_timeline.h"

namespace symphony {

nlohmann::json pipeline_trace_json(const PipelineTimeline& timeline);
std::string render_pipeline_svg(const PipelineTimeline& timeline);

// Write the trace (dumped JSON) or the picture to `path` atomically (core/file_io.h). Failure:
// kIo naming the path.
Status write_pipeline_trace_json(const std::filesystem::path& path,
                                 const PipelineTimeline& timeline);
Status write_pipeline_svg(const std::filesystem::path& path, const PipelineTimeline& timeline);

}  // namespace symphony

#pragma once
// Command-line overrides, `section.key=value`, applied to a parsed TOML tree before it becomes a
// RunConfig, so that overridden values go through the same name and type checks as the file.
//
// The value is read as a TOML value (`train.steps=100`, `optim.decay="linear"`,
// `model.qk_norm=true`, `optim.lr=3e-4`). Text that is not a TOML value and does not start with a
// quote or bracket is taken as a string, so `optim.decay=linear` and
// `data.train_path=data/a.tok` need no quotes.

#include <toml++/toml.h>

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace symphony {

// Source path given to every node an override creates; error messages name such a node by the
// override text alone ("--set train.steps=abc"), since it has no file line.
inline constexpr std::string_view kOverrideSourcePrefix = "--set ";

// Sets root[section][key] for each assignment in order (a later one wins), creating the section
// table when the document has none. Names are not checked here: an unknown section or key is
// reported by the loader (config/toml_loader.h) like one written in the file.
// Errors (kInvalidArgument, naming the override): no '=', a key that is not `section.key`, a value
// that starts like a TOML string, array or table but does not parse, more than one value, or a
// section that exists in the document but is not a table.
Status apply_overrides(toml::table& root, std::span<const std::string> overrides);

}  // namespace symphony

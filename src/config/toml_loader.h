#pragma once
// TOML text <-> typed run configuration. The loader knows every section ([model], [train],
// [optim], [data], [parallel], [checkpoint]) and every key, named exactly as the fields of the
// structs RunConfig holds (config/run_config.h), each declared by its subsystem; it checks names
// and types and leaves value constraints to validate().
//
// Error locations are "<source>:<line>" for nodes read from a document, and the override itself
// ("--set train.steps=abc") for nodes that config/overrides.h put into the tree.

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "config/run_config.h"
#include "core/status.h"

namespace symphony {

// Parses TOML text. A syntax error becomes kInvalidArgument with
// "<source_name>:<line>:<column>: <description>". Never throws.
Result<toml::table> parse_toml(std::string_view text, std::string_view source_name);

// Converts a parsed tree into a RunConfig; keys the tree leaves out keep the struct defaults.
// `source` becomes RunConfig::source and names locations the tree itself cannot give.
// Errors (kInvalidArgument), each naming the location and "section.key": a key outside any
// section; an unknown section or key (suggesting the closest known name within edit distance 2,
// or the section that does have the key); a value of the wrong type: anything but a non-negative
// integer for a count, anything but a number for a real (integers are accepted), anything but a
// boolean for a flag, anything but one of the listed names for an enum.
Result<RunConfig> run_config_from_toml(const toml::table& root, std::string_view source);

// `text` as a TOML basic string: quoted, with '"', '\\' and control characters escaped.
std::string toml_quote(std::string_view text);

// Levenshtein distance (insertions, deletions, substitutions) between two names.
int edit_distance(std::string_view a, std::string_view b);

}  // namespace symphony

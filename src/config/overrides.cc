#include "config/overrides.h"

#include <utility>

#include "config/toml_loader.h"

namespace symphony {

namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_bare_key(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Parses `value_text` as the single value of a one-key document whose nodes carry `source_path`,
// so that later errors about the value can name the override.
Result<toml::table> parse_override_value(std::string_view value_text,
                                         const std::string& source_path,
                                         std::string_view assignment) {
  Result<toml::table> doc = parse_toml("v = " + std::string(value_text), source_path);
  if (!doc.has_value()) {
    const char first = value_text.empty() ? '\0' : value_text.front();
    const bool looks_structured = first == '"' || first == '\'' || first == '[' || first == '{';
    if (looks_structured) {
      return Error::invalid("override '{}': the value is not valid TOML ({})", assignment,
                            doc.error().message());
    }
    // A bare word: the text itself is the string.
    doc = parse_toml("v = " + toml_quote(value_text), source_path);
    if (!doc.has_value()) return doc.error().with_context("override '{}'", assignment);
  }
  if (doc->size() != 1 || !doc->contains("v")) {
    return Error::invalid("override '{}': the value must be a single TOML value", assignment);
  }
  return doc;
}

Status apply_override(toml::table& root, std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return Error::invalid("override '{}': expected section.key=value", assignment);
  }
  const std::string_view path = trim(assignment.substr(0, eq));
  const std::string_view value_text = trim(assignment.substr(eq + 1));
  const size_t dot = path.find('.');
  const std::string_view section = dot == std::string_view::npos ? path : path.substr(0, dot);
  const std::string_view key =
      dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (!is_bare_key(section) || !is_bare_key(key)) {
    return Error::invalid("override '{}': expected section.key=value, e.g. train.steps=100",
                          assignment);
  }

  const std::string source_path = std::string(kOverrideSourcePrefix) + std::string(assignment);
  SYM_TRY_ASSIGN(toml::table doc, parse_override_value(value_text, source_path, assignment));

  toml::node* section_node = root.get(section);
  if (section_node == nullptr) {
    root.insert(section, toml::table{});
    section_node = root.get(section);
  }
  toml::table* table = section_node->as_table();
  if (table == nullptr) {
    return Error::invalid("override '{}': {} is not a section (a table) in the document",
                          assignment, section);
  }
  // Moving the node keeps its source region, which names this override.
  table->insert_or_assign(key, std::move(*doc.get("v")));
  return Status::ok();
}

}  // namespace

Status apply_overrides(toml::table& root, std::span<const std::string> overrides) {
  for (const std::string& assignment : overrides) SYM_TRY(apply_override(root, assignment));
  return Status::ok();
}

}  // namespace symphony

// The checkpoint manifest reader (manifest.json of a step directory).
// Input: manifest.json text.
// Property: a manifest that reads back is written by manifest_to_json() as text that reads back to
// the same manifest.

#include <string>

#include "checkpoint/checkpoint_manifest.h"
#include "core/check.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace symphony;
  const std::filesystem::path path = "fuzz/manifest.json";
  Result<CheckpointManifest> manifest = manifest_from_json(fuzz::as_text(data, size), path);
  if (!manifest.has_value()) return 0;
  for (const CheckpointTensor& t : manifest->tensors)
    SYM_CHECK(manifest->find(t.name) != nullptr, "find({}) fails", t.name);
  const std::string text = manifest_to_json(*manifest);
  Result<CheckpointManifest> again = manifest_from_json(text, path);
  SYM_CHECK(again.has_value(), "manifest_to_json() wrote a manifest that does not read: {}\n{}",
            again.error().message(), text);
  SYM_CHECK(manifest_to_json(*again) == text, "manifest_to_json() changed after a round trip:\n{}",
            text);
  return 0;
}

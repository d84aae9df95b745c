# symphony_add_test(tests/kernels/rmsnorm_test.cc) -> executable kernels_rmsnorm_test, one ctest.
function(symphony_add_test source)
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests ${source})
  string(REGEX REPLACE "\\.cc$" "" rel ${rel})
  string(REPLACE "/" "_" name ${rel})
  add_executable(${name} ${source})
  target_compile_options(${name} PRIVATE ${SYMPHONY_WARNINGS})
  target_link_libraries(${name} PRIVATE symphony_testkit GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  # Two threads each: ctest -j2 must not run two of them at once, or BLIS's spinning thread
  # barriers wait on descheduled threads and a one-minute test takes ten.
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE"
                       PROCESSORS 2)
endfunction()

# symphony_add_mpi_test(tests/parallel/comm_test.cc NP 1 2 4) -> executable parallel_comm_test,
# one ctest per rank count: `mpirun --oversubscribe -np N parallel_comm_test` (parallel_comm_test_np2).
# The executable links tests/testkit/mpi_main.cc, which starts the runtime (MPI under mpirun,
# one process otherwise) before running the tests. OpenMPI refuses to run as root unless told:
# the two OMPI_ALLOW_RUN_AS_ROOT variables are set for these tests only. Shared memory (vader)
# without single-copy (CMA needs ptrace rights containers often lack) keeps them on one node.
find_program(SYMPHONY_MPIEXEC NAMES mpirun mpiexec REQUIRED)
set(SYMPHONY_MPI_TEST_ENV
    "OMP_NUM_THREADS=1;OMP_WAIT_POLICY=PASSIVE;OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_btl=self,vader;OMPI_MCA_btl_vader_single_copy_mechanism=none;OMPI_MCA_rmaps_base_oversubscribe=1")
function(symphony_add_mpi_test source)
  cmake_parse_arguments(ARG "" "" "NP" ${ARGN})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests ${source})
  string(REGEX REPLACE "\\.cc$" "" rel ${rel})
  string(REPLACE "/" "_" name ${rel})
  add_executable(${name} ${source} ${CMAKE_SOURCE_DIR}/tests/testkit/mpi_main.cc)
  target_compile_options(${name} PRIVATE ${SYMPHONY_WARNINGS})
  target_link_libraries(${name} PRIVATE symphony_testkit GTest::gtest)
  foreach(np ${ARG_NP})
    add_test(NAME ${name}_np${np}
             COMMAND ${SYMPHONY_MPIEXEC} --oversubscribe -np ${np} $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_np${np} PROPERTIES ENVIRONMENT "${SYMPHONY_MPI_TEST_ENV}"
                         PROCESSORS ${np})
  endforeach()
endfunction()

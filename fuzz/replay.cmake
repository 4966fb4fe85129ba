# Included from tests/CMakeLists.txt: fuzz-replay-<target> replays the
# committed corpus fuzz/corpus/<target> through the target with the normal
# compiler and flags (label fuzz-regress), so every build re-checks each
# input a fuzzer ever found interesting.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)

foreach(t IN LISTS MS_FUZZ_TARGETS)
  add_executable(fuzz-replay-${t} ${MS_FUZZ_DIR}/driver.c ${MS_FUZZ_DIR}/${t}.c
                 ${MS_FUZZ_DIR}/common.c)
  ms_fuzz_common(fuzz-replay-${t})
  target_link_libraries(fuzz-replay-${t} PRIVATE mailseal)
  add_test(NAME fuzz-regress-${t}
    COMMAND fuzz-replay-${t} ${MS_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz-regress-${t} PROPERTIES LABELS fuzz-regress)
endforeach()

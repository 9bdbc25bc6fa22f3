# razar_test_helper_program(NAME SOURCE src FOR test_target DEFINE macro LIBS lib...)
#
# A helper program a test runs as a child process (a crash victim, a live
# writer): built from SOURCE, linked against LIBS, built before
# test_target, and its path compiled into test_target as the string macro
# DEFINE (as RAZAR_BINARY is for the orchestrator tests). A program of its
# own rather than the test binary re-run with a filter for a disabled test:
# the child carries no test-framework state, and no disabled test is left
# that only works inside another one.
function(razar_test_helper_program name)
  cmake_parse_arguments(ARG "" "SOURCE;FOR;DEFINE" "LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCE})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  if(TARGET ${ARG_FOR})
    add_dependencies(${ARG_FOR} ${name})
    target_compile_definitions(${ARG_FOR} PRIVATE ${ARG_DEFINE}="$<TARGET_FILE:${name}>")
  endif()
endfunction()

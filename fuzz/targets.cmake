# The fuzz targets, shared by fuzz/CMakeLists.txt (libFuzzer binaries) and
# fuzz/replay.cmake (corpus replay as ctest tests) and fuzz/run.sh (which
# reads this list: keep one target per line or several, inside the set()).
set(MS_FUZZ_TARGETS mime_parse smime_open decrypt tsp_verify from_addr
  ocsp_req
  ca_csr
  kms_wrap kms_envelope
  config_parse
  profile_p12
  tsa_req
  submit_url
  lookup_json send_headers
  addr_norm
  dir_addr
  enroll_answer)
set(MS_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})

# ms_fuzz_common(TARGET): include paths, fixtures path and warnings.
function(ms_fuzz_common tgt)
  target_include_directories(${tgt} PRIVATE ${MS_FUZZ_DIR}
                             ${PROJECT_SOURCE_DIR}/lib)
  target_compile_definitions(${tgt} PRIVATE
    MS_FUZZ_FIXTURES="${MS_FUZZ_DIR}/fixtures")
  target_compile_options(${tgt} PRIVATE ${MS_WARNINGS})
endfunction()

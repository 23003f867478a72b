# Writes OUTPUT: a C++ file holding every kernel source named in SOURCES
# ('|'-separated paths) as a raw string, so the library carries the .cu/.cuh
# files it compiles with NVRTC at run time. Run by CMake at build time
# whenever one of the sources changes.
string(REPLACE "|" ";" files "${SOURCES}")
set(body "// Generated from the CUDA backend's kernel sources by embed_sources.cmake.\n")
string(APPEND body "#include \"backends/cuda/framework/embedded.h\"\n\n")
string(APPEND body "namespace gemmtune::backends::cuda_kernels {\n\n")
string(APPEND body "const std::vector<EmbeddedFile>& embedded_files() {\n")
string(APPEND body "  static const std::vector<EmbeddedFile> files = {\n")
foreach(path IN LISTS files)
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" text)
  string(FIND "${text}" ")GTSRC\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${path} contains the raw-string terminator )GTSRC\"")
  endif()
  string(APPEND body "      {\"${name}\", R\"GTSRC(${text})GTSRC\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace gemmtune::backends::cuda_kernels\n")
# Rewrite only on change, so dependents are not rebuilt for nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL body)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${body}")

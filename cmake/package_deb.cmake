# The Debian package: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/package.sh does both) writes
# gemmtune_<version>_amd64.deb with everything of the install: the CLI, the
# libraries, headers, the CMake package and pkg-config files, the man page.
#
# Depends is computed by dpkg-shlibdeps from what the binaries really link
# (libopenblas0, libdnnl2, libsqlite3-0, libhiredis0.14, libgomp1, libstdc++6,
# libc6, ...),
# so it cannot drift from the build. The CUDA libraries are dlopen'ed when a
# GPU backend is asked for; they are no dependency.
set(CPACK_PACKAGE_NAME gemmtune)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GEMM autotuner that picks only from the backends you enable")
set(CPACK_PACKAGE_DESCRIPTION
  "gemmtune measures every kernel that the enabled backends (OpenBLAS, oneDNN,
its own AVX-512/AVX2 kernels, cuBLAS, cuBLASLt, NVRTC-compiled CUDA kernels)
offer for a matrix multiplication, verifies each against an exact reference
and picks the fastest verified one. It never uses a backend that was not
enabled unless fallback to the library backend is asked for, and then says
so. The package holds the gemmtune command, the C++ library (shared and
static), the C API library, the Python package (ctypes over the C API),
headers, a CMake package and pkg-config files.")
set(CPACK_PACKAGE_CONTACT "gemmtune maintainers <gemmtune@localhost>")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# Install through DESTDIR, so that the install step sees the package's own
# prefix (/usr): the pkg-config files are written with it.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file and the ldconfig trigger, as for any package with public
# shared libraries.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Linking libgemmtune.a (find_package(gemmtune COMPONENTS static)) needs
# the development files of its dependencies; the shared libraries do not.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
  "libopenblas-dev, libdnnl-dev, libsqlite3-dev, libhiredis-dev, cmake, pkgconf | pkg-config")
if(EXISTS ${PROJECT_SOURCE_DIR}/python/gemmtune/__init__.py)
  set(GEMMTUNE_DEB_PYTHON_PACKAGE ${CMAKE_INSTALL_PREFIX}/${GEMMTUNE_PYTHON_DIR}/gemmtune)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/deb_prerm.in ${PROJECT_BINARY_DIR}/deb/prerm @ONLY)
  set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/prerm)
  string(APPEND CPACK_DEBIAN_PACKAGE_SUGGESTS ", python3, python3-numpy")
endif()
# Debian policy wants the licence as /usr/share/doc/<package>/copyright.
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/deb_copyright.cmake)
set(CPACK_GEMMTUNE_DOCDIR ${CMAKE_INSTALL_DOCDIR})  # (CPack passes on CPACK_* variables only)

include(CPack)

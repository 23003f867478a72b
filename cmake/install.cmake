# Installation, the CMake package, pkg-config files and the Debian package.
#
# Layout under PREFIX (GNUInstallDirs; LIBDIR is lib/x86_64-linux-gnu when
# PREFIX is /usr on Debian, else lib):
#   bin/gemmtune                      the CLI (the library linked in statically)
#   LIBDIR/libgemmtune.so.0.1[.0]     C++ library, gemmtune::gemmtune
#   LIBDIR/libgemmtune.a              the same, static: gemmtune::gemmtune_static
#   LIBDIR/libgemmtune_c.so.0.1[.0]   C API, gemmtune::c
#   LIBEXECDIR/gemmtune/              programs the library itself runs, found
#                                     relative to the library (util/install_layout.h)
#   include/gemmtune/*.h              the public headers, nothing from src/
#   LIBDIR/cmake/gemmtune/            the CMake package (relocatable)
#   LIBDIR/pkgconfig/gemmtune.pc, gemmtune-c.pc
#   share/man/man1/gemmtune.1.gz      generated from the CLI's own help text
#   share/doc/gemmtune/               README.md, LICENSE
#   lib/python3/dist-packages/gemmtune/  the Python package (python/), whose
#                                     lib/libgemmtune_c.so links to LIBDIR's
#
# Every path inside the installed tree is relative to the tree (the CMake
# package, the library's search for its helper programs), so a prefix can be
# moved or copied; the pkg-config files name it relative to themselves
# (${pcfiledir}), except under a system prefix such as the .deb's /usr.
include(CMakePackageConfigHelpers)

set(GEMMTUNE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/gemmtune)

set_target_properties(gemmtune PROPERTIES EXPORT_NAME gemmtune_static)

install(TARGETS gemmtune_cli
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The measuring worker that programs embedding the library start (isolation):
# PREFIX/LIBEXECDIR/gemmtune, where util/install_layout.h finds it.
install(TARGETS gemmtune_worker
  RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/gemmtune COMPONENT runtime)
install(TARGETS gemmtune_shared gemmtune_c EXPORT gemmtuneTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS gemmtune EXPORT gemmtuneStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/gemmtune
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
  FILES_MATCHING PATTERN "*.h")

# ---- the CMake package --------------------------------------------------
install(EXPORT gemmtuneTargets NAMESPACE gemmtune::
  DESTINATION ${GEMMTUNE_CMAKE_DIR} COMPONENT development)
install(EXPORT gemmtuneStaticTargets NAMESPACE gemmtune::
  DESTINATION ${GEMMTUNE_CMAKE_DIR} COMPONENT development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/gemmtuneConfig.cmake.in
  ${PROJECT_BINARY_DIR}/gemmtuneConfig.cmake
  INSTALL_DESTINATION ${GEMMTUNE_CMAKE_DIR})
# What "compatible" means, 0.x included, is written in the template.
configure_file(${CMAKE_CURRENT_LIST_DIR}/gemmtuneConfigVersion.cmake.in
  ${PROJECT_BINARY_DIR}/gemmtuneConfigVersion.cmake @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/gemmtuneConfig.cmake ${PROJECT_BINARY_DIR}/gemmtuneConfigVersion.cmake
  DESTINATION ${GEMMTUNE_CMAKE_DIR} COMPONENT development)

# ---- pkg-config ---------------------------------------------------------
# What a static link of libgemmtune.a needs besides it (pkg-config --static).
set(_gemmtune_libs_private "")
foreach(_lib IN ITEMS ${OPENBLAS_LIBRARY} ${DNNL_LIBRARY})
  get_filename_component(_name ${_lib} NAME_WE)
  string(REGEX REPLACE "^lib" "-l" _name ${_name})
  string(APPEND _gemmtune_libs_private " ${_name}")
endforeach()
string(APPEND _gemmtune_libs_private " -lsqlite3 -lhiredis ${OpenMP_CXX_FLAGS} -pthread")
foreach(_lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND _gemmtune_libs_private " -l${_lib}")
endforeach()
string(STRIP "${_gemmtune_libs_private}" _gemmtune_libs_private)
# Written at install time, when the real prefix (cmake --install --prefix,
# CPack's /usr) is known.
install(CODE "
  set(PC_VERSION \"${PROJECT_VERSION}\")
  set(PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PC_LIBS_PRIVATE \"${_gemmtune_libs_private}\")
  set(PC_SYSTEM_LIBDIRS \"${CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES};${CMAKE_PLATFORM_IMPLICIT_LINK_DIRECTORIES}\")
  set(PC_TEMPLATE_DIR \"${CMAKE_CURRENT_LIST_DIR}\")
  set(PC_WORK_DIR \"${PROJECT_BINARY_DIR}/pkgconfig\")
  include(\"${CMAKE_CURRENT_LIST_DIR}/install_pkgconfig.cmake\")
" COMPONENT development)

# ---- man page and documents ---------------------------------------------
set(_gemmtune_man ${PROJECT_BINARY_DIR}/man/gemmtune.1.gz)
add_custom_command(OUTPUT ${_gemmtune_man}
  COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:gemmtune_cli> -DVERSION=${PROJECT_VERSION}
          -DOUT=${PROJECT_BINARY_DIR}/man/gemmtune.1
          -P ${CMAKE_CURRENT_LIST_DIR}/make_manpage.cmake
  DEPENDS gemmtune_cli ${CMAKE_CURRENT_LIST_DIR}/make_manpage.cmake
  COMMENT "Generating the gemmtune(1) man page from the CLI's help")
add_custom_target(gemmtune_manpage ALL DEPENDS ${_gemmtune_man})
install(FILES ${_gemmtune_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

# ---- the Python package ---------------------------------------------------
# python/gemmtune (ctypes over libgemmtune_c) goes where Debian's python3
# looks (PREFIX/lib/python3/dist-packages; for another Python or prefix, put
# that folder on PYTHONPATH). The package loads gemmtune/lib/libgemmtune_c.so
# first: here a relative link to the installed C library, so there is one
# copy and the two move together.
set(GEMMTUNE_PYTHON_DIR lib/python3/dist-packages CACHE STRING
  "Where cmake --install puts the Python package, relative to the prefix")
if(EXISTS ${PROJECT_SOURCE_DIR}/python/gemmtune/__init__.py)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/gemmtune DESTINATION ${GEMMTUNE_PYTHON_DIR} COMPONENT python
    FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
  file(RELATIVE_PATH _gemmtune_python_to_lib
    ${CMAKE_INSTALL_PREFIX}/${GEMMTUNE_PYTHON_DIR}/gemmtune/lib ${CMAKE_INSTALL_FULL_LIBDIR})
  string(REGEX REPLACE "/$" "" _gemmtune_python_to_lib "${_gemmtune_python_to_lib}")
  set(_gemmtune_python_link ${PROJECT_BINARY_DIR}/python-install/libgemmtune_c.so)
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/python-install)
  file(REMOVE ${_gemmtune_python_link})
  file(CREATE_LINK ${_gemmtune_python_to_lib}/libgemmtune_c.so.${GEMMTUNE_SOVERSION} ${_gemmtune_python_link} SYMBOLIC)
  install(FILES ${_gemmtune_python_link} DESTINATION ${GEMMTUNE_PYTHON_DIR}/gemmtune/lib COMPONENT python)
  # The C fast path (python/fastpath), beside the library link it is found by.
  if(TARGET gemmtune_fastpath)
    install(TARGETS gemmtune_fastpath LIBRARY DESTINATION ${GEMMTUNE_PYTHON_DIR}/gemmtune/lib COMPONENT python)
  endif()
endif()

# ---- the Debian package (cpack -G DEB) ------------------------------------
include(${CMAKE_CURRENT_LIST_DIR}/package_deb.cmake)

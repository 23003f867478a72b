# Install-time half of the pkg-config files (see install.cmake): included by
# cmake_install.cmake with PC_* set, when CMAKE_INSTALL_PREFIX is the prefix
# really installed to (cmake --install --prefix, CPack's /usr).
#
# A library folder that the linker does not search by itself (any prefix but
# /usr) gets an -rpath next to its -L, so a program linked through
# pkg-config runs without LD_LIBRARY_PATH, as one linked through the CMake
# package does.
cmake_policy(VERSION 3.22)  # (own policy scope: this file is include()d)
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(libdir_abs "${prefix}/${PC_LIBDIR}")
set(PC_RPATH "")
if(NOT libdir_abs IN_LIST PC_SYSTEM_LIBDIRS)
  set(PC_RPATH "-Wl,-rpath,\${libdir} ")
endif()
# The prefix itself for a system prefix (/usr: the .deb), else relative to
# the .pc file (${pcfiledir}, which pkg-config sets to the file's folder),
# so that a moved or copied tree links and runs its own copy, as the CMake
# package does.
set(PC_PREFIX "${prefix}")
if(NOT libdir_abs IN_LIST PC_SYSTEM_LIBDIRS)
  file(RELATIVE_PATH _pc_up "${libdir_abs}/pkgconfig" "${prefix}")
  string(REGEX REPLACE "/$" "" _pc_up "${_pc_up}")
  set(PC_PREFIX "\${pcfiledir}/${_pc_up}")
endif()
foreach(pc gemmtune gemmtune-c)
  configure_file("${PC_TEMPLATE_DIR}/${pc}.pc.in" "${PC_WORK_DIR}/${pc}.pc" @ONLY)
  file(INSTALL DESTINATION "${libdir_abs}/pkgconfig" TYPE FILE FILES "${PC_WORK_DIR}/${pc}.pc")
endforeach()

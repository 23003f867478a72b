# CPack pre-build script (see package_deb.cmake): the staged tree gets
# <docdir>/copyright, the name Debian policy gives the licence file.
file(GLOB_RECURSE licences "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/LICENSE")
list(FILTER licences INCLUDE REGEX "/${CPACK_GEMMTUNE_DOCDIR}/LICENSE$")
if(NOT licences)
  message(FATAL_ERROR "deb_copyright: no ${CPACK_GEMMTUNE_DOCDIR}/LICENSE under ${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
endif()
foreach(licence IN LISTS licences)
  get_filename_component(folder "${licence}" DIRECTORY)
  file(COPY_FILE "${licence}" "${folder}/copyright")
endforeach()

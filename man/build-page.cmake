# SPDX-License-Identifier: MIT
# Builds one man page: expands the "#include FRAGMENT" lines of SOURCE with the
# files of common/ (the options and environment several pages share, written
# once), puts the project version in, then runs scdoc and gzip -9n.
#   cmake -DSOURCE=x.1.scd -DCOMMON=dir -DVERSION=1.0.0 -DSCDOC=scdoc -DGZIP=gzip
#         -DEXPANDED=x.1.scd -DPAGE=x.1 -P build-page.cmake
# EXPANDED (the source scdoc reads) is kept: the options test reads it.
cmake_minimum_required(VERSION 3.25)
foreach(var SOURCE COMMON VERSION SCDOC GZIP EXPANDED PAGE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build-page.cmake: ${var} is not set")
  endif()
endforeach()

file(READ "${SOURCE}" text)
string(REGEX MATCHALL "(^|\n)#include [^\n]*" includes "${text}")
foreach(line IN LISTS includes)
  string(STRIP "${line}" line)
  string(REGEX REPLACE "^#include " "" name "${line}")
  if(NOT EXISTS "${COMMON}/${name}")
    message(FATAL_ERROR "${SOURCE}: #include ${name}: no such file in ${COMMON}")
  endif()
  file(READ "${COMMON}/${name}" fragment)
  string(REGEX REPLACE "\n+$" "" fragment "${fragment}")
  string(REPLACE "${line}" "${fragment}" text "${text}")
endforeach()
string(REPLACE "@VERSION@" "${VERSION}" text "${text}")
file(WRITE "${EXPANDED}" "${text}")

execute_process(COMMAND "${SCDOC}" INPUT_FILE "${EXPANDED}" OUTPUT_FILE "${PAGE}" ERROR_VARIABLE errors
                RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT errors STREQUAL "")
  file(REMOVE "${PAGE}")
  message(FATAL_ERROR "scdoc failed on ${SOURCE} (expanded: ${EXPANDED}): ${errors}")
endif()
execute_process(COMMAND "${GZIP}" -9n -c "${PAGE}" OUTPUT_FILE "${PAGE}.gz" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  file(REMOVE "${PAGE}.gz")
  message(FATAL_ERROR "gzip -9n failed on ${PAGE}")
endif()

# SPDX-License-Identifier: MIT
# Finds what the offline backend needs: OpenCV's core, imgproc and dnn (for
# the networks and image maths) and the codec libraries the decoder uses
# directly (libjpeg-turbo, libpng, libwebp, libtiff). Debian's split OpenCV
# packages ship no CMake config and no opencv4.pc, so headers and libraries
# are looked up directly. OpenCV's imgcodecs is deliberately not linked into
# the product (it loads GDAL and ~120 more libraries at every start); the
# tests use it to make images, through faceverify::opencv_imgcodecs.
# Defines faceverify::opencv and sets FACEVERIFY_LOCAL_ENABLED.
set(FACEVERIFY_LOCAL_ENABLED OFF)
if(NOT FACEVERIFY_WITH_LOCAL STREQUAL "OFF")
  find_path(FACEVERIFY_OPENCV_INCLUDE_DIR opencv2/dnn.hpp PATH_SUFFIXES opencv4)
  set(_fv_missing)
  set(_fv_opencv_libs)
  foreach(_module dnn imgproc core)
    find_library(FACEVERIFY_OPENCV_${_module}_LIBRARY opencv_${_module})
    if(FACEVERIFY_OPENCV_${_module}_LIBRARY)
      list(APPEND _fv_opencv_libs ${FACEVERIFY_OPENCV_${_module}_LIBRARY})
    else()
      list(APPEND _fv_missing opencv_${_module})
    endif()
  endforeach()
  if(NOT FACEVERIFY_OPENCV_INCLUDE_DIR)
    list(APPEND _fv_missing "OpenCV headers")
  endif()
  find_package(JPEG QUIET)
  find_package(PNG QUIET)
  find_package(TIFF QUIET)
  pkg_check_modules(FACEVERIFY_WEBP QUIET IMPORTED_TARGET libwebp)
  foreach(_codec JPEG PNG TIFF FACEVERIFY_WEBP)
    if(NOT ${_codec}_FOUND)
      list(APPEND _fv_missing ${_codec})
    endif()
  endforeach()
  if(NOT _fv_missing)
    add_library(faceverify::opencv INTERFACE IMPORTED)
    target_include_directories(faceverify::opencv SYSTEM INTERFACE ${FACEVERIFY_OPENCV_INCLUDE_DIR})
    target_link_libraries(faceverify::opencv INTERFACE
      ${_fv_opencv_libs} JPEG::JPEG PNG::PNG TIFF::TIFF PkgConfig::FACEVERIFY_WEBP)
    set(FACEVERIFY_LOCAL_ENABLED ON)
    message(STATUS "Offline backend: on (OpenCV headers in ${FACEVERIFY_OPENCV_INCLUDE_DIR})")
    find_library(FACEVERIFY_OPENCV_imgcodecs_LIBRARY opencv_imgcodecs)
    if(FACEVERIFY_OPENCV_imgcodecs_LIBRARY)
      add_library(faceverify::opencv_imgcodecs INTERFACE IMPORTED)
      target_link_libraries(faceverify::opencv_imgcodecs INTERFACE ${FACEVERIFY_OPENCV_imgcodecs_LIBRARY})
    endif()
  elseif(FACEVERIFY_WITH_LOCAL STREQUAL "ON")
    message(FATAL_ERROR "FACEVERIFY_WITH_LOCAL=ON but these are missing: ${_fv_missing}; run scripts/install-deps.sh "
                        "(Debian: libopencv-dnn-dev libopencv-imgproc-dev libjpeg-dev libpng-dev libwebp-dev libtiff-dev)")
  else()
    message(STATUS "Offline backend: off (missing: ${_fv_missing})")
  endif()
else()
  message(STATUS "Offline backend: off (FACEVERIFY_WITH_LOCAL=OFF)")
endif()

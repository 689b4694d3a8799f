# SPDX-License-Identifier: MIT
# Finds the parts of OpenCV the offline backend needs. Debian's split
# packages (libopencv-{dnn,imgproc,imgcodecs}-dev) ship no CMake config and no
# opencv4.pc, so headers and libraries are looked up directly. Defines the
# imported target faceverify::opencv and sets FACEVERIFY_LOCAL_ENABLED.
set(FACEVERIFY_LOCAL_ENABLED OFF)
if(NOT FACEVERIFY_WITH_LOCAL STREQUAL "OFF")
  find_path(FACEVERIFY_OPENCV_INCLUDE_DIR opencv2/dnn.hpp PATH_SUFFIXES opencv4)
  set(_fv_opencv_libs)
  set(_fv_opencv_missing)
  foreach(_module dnn imgcodecs imgproc core)
    find_library(FACEVERIFY_OPENCV_${_module}_LIBRARY opencv_${_module})
    if(FACEVERIFY_OPENCV_${_module}_LIBRARY)
      list(APPEND _fv_opencv_libs ${FACEVERIFY_OPENCV_${_module}_LIBRARY})
    else()
      list(APPEND _fv_opencv_missing opencv_${_module})
    endif()
  endforeach()
  if(FACEVERIFY_OPENCV_INCLUDE_DIR AND NOT _fv_opencv_missing)
    add_library(faceverify::opencv INTERFACE IMPORTED)
    target_include_directories(faceverify::opencv SYSTEM INTERFACE ${FACEVERIFY_OPENCV_INCLUDE_DIR})
    target_link_libraries(faceverify::opencv INTERFACE ${_fv_opencv_libs})
    set(FACEVERIFY_LOCAL_ENABLED ON)
    message(STATUS "Offline backend: on (OpenCV headers in ${FACEVERIFY_OPENCV_INCLUDE_DIR})")
  elseif(FACEVERIFY_WITH_LOCAL STREQUAL "ON")
    message(FATAL_ERROR "FACEVERIFY_WITH_LOCAL=ON but OpenCV was not found (missing: headers=${FACEVERIFY_OPENCV_INCLUDE_DIR} "
                        "${_fv_opencv_missing}); apt-get install libopencv-dnn-dev libopencv-imgproc-dev libopencv-imgcodecs-dev")
  else()
    message(STATUS "Offline backend: off (OpenCV not found)")
  endif()
else()
  message(STATUS "Offline backend: off (FACEVERIFY_WITH_LOCAL=OFF)")
endif()

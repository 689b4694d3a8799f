# SPDX-License-Identifier: MIT
# Warnings as an INTERFACE target so only our own targets get them.
add_library(faceverify_warnings INTERFACE)
target_compile_options(faceverify_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
if(FACEVERIFY_WERROR)
  target_compile_options(faceverify_warnings INTERFACE -Werror)
endif()

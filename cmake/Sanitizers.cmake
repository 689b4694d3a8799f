# SPDX-License-Identifier: MIT
# FACEVERIFY_SANITIZERS="address;undefined" builds every target with those sanitizers.
add_library(faceverify_sanitizers INTERFACE)
if(FACEVERIFY_SANITIZERS)
  list(JOIN FACEVERIFY_SANITIZERS "," _fv_san)
  target_compile_options(faceverify_sanitizers INTERFACE
    -fsanitize=${_fv_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(faceverify_sanitizers INTERFACE -fsanitize=${_fv_san})
endif()

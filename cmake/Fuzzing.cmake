# SPDX-License-Identifier: MIT
# FACEVERIFY_FUZZ=ON builds the libFuzzer targets in tests/fuzz (clang only).
#
# Debian 12's clang (14 to 16) defines __cpp_concepts as 201907, so
# libstdc++ 12 hides std::expected from it although clang 16 implements
# what <expected> needs (P0848, conditionally trivial special members). The
# fuzz build therefore announces C++20 concepts itself; g++ builds are
# untouched.
option(FACEVERIFY_FUZZ "Build the libFuzzer targets (needs clang >= 16)" OFF)
if(FACEVERIFY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR CMAKE_CXX_COMPILER_VERSION VERSION_LESS 16)
    message(FATAL_ERROR "FACEVERIFY_FUZZ needs clang >= 16 (Debian: apt-get install clang-16 libclang-rt-16-dev; "
                        "cmake --preset fuzz)")
  endif()
  add_compile_options(-U__cpp_concepts -D__cpp_concepts=202002L -Wno-builtin-macro-redefined
                      -fsanitize=fuzzer-no-link)
endif()

// SPDX-License-Identifier: MIT
#pragma once
// Golden files: each output format is compared with tests/golden/<name>;
// FACEVERIFY_UPDATE_GOLDEN=1 rewrites them (then review the diff).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "process.hpp"

namespace faceverify::test {

inline void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(FACEVERIFY_SOURCE_DIR) + "/tests/golden/" + name;
  if (std::getenv("FACEVERIFY_UPDATE_GOLDEN")) write_file(path, actual);
  CHECK(actual == read_file(path));
}

}  // namespace faceverify::test

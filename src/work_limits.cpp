// SPDX-License-Identifier: MIT
#include "faceverify/work_limits.hpp"

#include <cstdio>
#include <limits>
#include <optional>

#include "faceverify/compare.hpp"

namespace faceverify {

std::string byte_size_text(double bytes) {
  if (bytes < 1000.0) return std::to_string(static_cast<long long>(bytes)) + " bytes";
  static constexpr const char* k_units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  std::size_t unit = 0;
  bytes /= 1000.0;
  while (bytes >= 999.95 && unit + 1 < std::size(k_units)) {
    bytes /= 1000.0;
    ++unit;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, k_units[unit]);
  return buf;
}

std::size_t pair_product(std::size_t a, std::size_t b) noexcept {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return std::numeric_limits<std::size_t>::max();
  return a * b;
}

std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
  return b > std::numeric_limits<std::size_t>::max() - a ? std::numeric_limits<std::size_t>::max() : a + b;
}

Expected<void> check_matrix_size(std::size_t inputs) {
  if (inputs <= k_max_matrix_inputs) return {};
  // What the table would hold: one cell per pair of inputs, as matrix keeps it.
  const double cells = static_cast<double>(inputs) * static_cast<double>(inputs);
  const double bytes = cells * static_cast<double>(sizeof(std::optional<Comparison>));
  return fail(ErrorKind::usage, "matrix of " + std::to_string(inputs) + " inputs needs " + byte_size_text(bytes) +
                                    " of cells; at most " + std::to_string(k_max_matrix_inputs) +
                                    " inputs (for one face against many, use search; for chosen pairs, pairs)");
}

Expected<void> check_pair_count(const std::string& source, std::size_t pairs, const std::string& why, bool junit) {
  const auto count = [](std::size_t n) {
    return n == std::numeric_limits<std::size_t>::max() ? std::string("more than 10^19") : std::to_string(n);
  };
  const std::string what = source + ": " + count(pairs) + " pairs" + (why.empty() ? "" : " (" + why + ")");
  if (pairs > k_max_pairs) {
    return fail(ErrorKind::usage, what + "; at most " + std::to_string(k_max_pairs) + " pairs per run: split the file");
  }
  if (junit && pairs > k_max_junit_pairs) {
    return fail(ErrorKind::usage, what + "; a JUnit report holds at most " + std::to_string(k_max_junit_pairs) +
                                      " (one test case each): drop --junit, or split the file");
  }
  return {};
}

}  // namespace faceverify

// SPDX-License-Identifier: MIT
#pragma once
// How much work one batch run may hold: the limits are checked once the
// inputs are loaded and before any request, so a run that would not fit is
// refused up front, with what it would need, instead of running out of
// memory (or filling a disk) half way. Documented in docs/batch-output.md.

#include <cstddef>
#include <string>

#include "faceverify/error.hpp"

namespace faceverify {

/// matrix holds its N x N cells (and renders them whole): at most this many
/// inputs (4 M cells, about 200 MB).
inline constexpr std::size_t k_max_matrix_inputs = 2000;

/// pairs streams its records (memory does not grow with the pairs), but
/// every pair is a line of output: at most this many per run.
inline constexpr std::size_t k_max_pairs = 10'000'000;

/// A JUnit report holds one test case per pair until it is written.
inline constexpr std::size_t k_max_junit_pairs = 100'000;

/// "8.0 TB", "190.7 MB", "512 bytes" (decimal units).
std::string byte_size_text(double bytes);

/// Usage error when a matrix of `inputs` would exceed k_max_matrix_inputs
/// ("matrix of 1000000 inputs needs 48.0 TB of cells; at most 2000 inputs").
Expected<void> check_matrix_size(std::size_t inputs);

/// Usage error naming `source` (the pairs file) when `pairs` exceed
/// k_max_pairs, or k_max_junit_pairs when `junit` is set; `why` (may be
/// empty) says where they come from ("line 1 alone is 4000 x 4000 images").
/// Callers count with pair_product and saturating_add, which never wrap.
Expected<void> check_pair_count(const std::string& source, std::size_t pairs, const std::string& why, bool junit);

/// a * b, or SIZE_MAX when it would overflow.
std::size_t pair_product(std::size_t a, std::size_t b) noexcept;

/// a + b, or SIZE_MAX when it would overflow.
std::size_t saturating_add(std::size_t a, std::size_t b) noexcept;

}  // namespace faceverify

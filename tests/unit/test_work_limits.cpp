// SPDX-License-Identifier: MIT
#include "faceverify/work_limits.hpp"

#include <catch2/catch.hpp>
#include <limits>

using namespace faceverify;

TEST_CASE("work_limits: byte sizes in decimal units", "[work_limits]") {
  CHECK(byte_size_text(0) == "0 bytes");
  CHECK(byte_size_text(999) == "999 bytes");
  CHECK(byte_size_text(1000) == "1.0 kB");
  CHECK(byte_size_text(192'192'048) == "192.2 MB");
  CHECK(byte_size_text(999'990'000) == "1.0 GB");
  CHECK(byte_size_text(4.8e13) == "48.0 TB");
  CHECK(byte_size_text(1e30) == "1000000000000.0 EB");
}

TEST_CASE("work_limits: matrix size", "[work_limits]") {
  CHECK(check_matrix_size(0));
  CHECK(check_matrix_size(k_max_matrix_inputs));
  const auto refused = check_matrix_size(1'000'000);
  REQUIRE(!refused);
  CHECK(refused.error().kind == ErrorKind::usage);
  CHECK(refused.error().message.rfind("matrix of 1000000 inputs needs 48.0 TB of cells; at most 2000 inputs", 0) == 0);
}

TEST_CASE("work_limits: pair counts never wrap", "[work_limits]") {
  constexpr auto max = std::numeric_limits<std::size_t>::max();
  CHECK(pair_product(2000, 2000) == 4'000'000);
  CHECK(pair_product(0, max) == 0);
  CHECK(pair_product(max / 2, 3) == max);
  CHECK(saturating_add(max - 1, 5) == max);
  CHECK(check_pair_count("p.csv", k_max_pairs, "", false));
  CHECK(check_pair_count("p.csv", k_max_junit_pairs, "", true));
  const auto too_many = check_pair_count("p.csv", max, "line 1 alone is huge", false);
  REQUIRE(!too_many);
  CHECK(too_many.error().message ==
        "p.csv: more than 10^19 pairs (line 1 alone is huge); at most 10000000 pairs per run: split the file");
  const auto junit = check_pair_count("p.csv", k_max_junit_pairs + 1, "", true);
  REQUIRE(!junit);
  CHECK(junit.error().message ==
        "p.csv: 100001 pairs; a JUnit report holds at most 100000 (one test case each): drop --junit, or split the "
        "file");
}

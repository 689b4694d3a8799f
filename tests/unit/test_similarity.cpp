// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "faceverify/similarity.hpp"

using namespace faceverify;

TEST_CASE("similarity::similarity_from_distance", "[similarity]") {
  SECTION("d = 0 scores 1") {
    CHECK(similarity_from_distance(0.0, 1.23) == 1.0);
  }
  SECTION("d = a scores exactly 0.5") {
    CHECK(similarity_from_distance(1.23, 1.23) == Approx(0.5).epsilon(1e-12));
    CHECK(similarity_from_distance(0.7, 0.7) == Approx(0.5).epsilon(1e-12));
  }
  SECTION("matches exp(d^7 * ln 0.5 / a^7)") {
    for (double d : {0.1, 0.5, 0.9, 1.046, 1.3, 1.8}) {
      const double expected = std::exp(std::pow(d, 7) * std::log(0.5) / std::pow(1.23, 7));
      CHECK(similarity_from_distance(d, 1.23) == Approx(expected).epsilon(1e-12));
    }
  }
  SECTION("strictly decreasing in d, bounded in [0, 1]") {
    double previous = 1.0;
    for (double d = 0.05; d < 3.0; d += 0.05) {
      const double s = similarity_from_distance(d, 1.23);
      CHECK(s < previous);
      CHECK(s >= 0.0);
      previous = s;
    }
  }
  SECTION("huge distances give 0, not NaN") {
    CHECK(similarity_from_distance(1e300, 1.23) == 0.0);
  }
  SECTION("the default threshold 0.8 corresponds to d ~ 1.046") {
    CHECK(distance_from_similarity(0.8, 1.23) == Approx(1.0459).margin(1e-3));
    CHECK(similarity_from_distance(distance_from_similarity(0.8, 1.23), 1.23) == Approx(0.8));
  }
}

TEST_CASE("similarity::l2_distance and cosine", "[similarity]") {
  const std::vector<double> a{1.0, 0.0, 0.0};
  const std::vector<double> b{0.0, 1.0, 0.0};
  const std::vector<double> c{2.0, 0.0, 0.0};
  CHECK(l2_distance(a, a) == 0.0);
  CHECK(l2_distance(a, b) == Approx(std::sqrt(2.0)));
  CHECK(l2_distance(a, c) == Approx(1.0));
  CHECK(cosine_similarity(a, c) == Approx(1.0));  // scale does not matter
  CHECK(cosine_similarity(a, b) == Approx(0.0));
  CHECK(cosine_similarity(a, std::vector<double>{-3.0, 0.0, 0.0}) == Approx(-1.0));
  CHECK(cosine_similarity(a, std::vector<double>{0.0, 0.0, 0.0}) == 0.0);
  CHECK(l2_norm(std::vector<double>{3.0, 4.0}) == Approx(5.0));
}

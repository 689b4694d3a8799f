// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "faceverify/geometry.hpp"

using namespace faceverify;
using namespace faceverify::geometry;

TEST_CASE("geometry::iou and non_maximum_suppression", "[geometry]") {
  const Box a{0, 0, 10, 10, 0.9}, b{5, 0, 15, 10, 0.8}, c{20, 20, 30, 30, 0.7};
  CHECK(iou(a, a) == Approx(1.0));
  CHECK(iou(a, b) == Approx(50.0 / 150.0));
  CHECK(iou(a, c) == 0.0);
  const Box a2{1, 1, 11, 11, 0.95};
  auto kept = non_maximum_suppression({a, b, c, a2}, 0.4);
  REQUIRE(kept.size() == 3);  // a is suppressed by the higher-scoring a2; b overlaps a2 by < 0.4
  CHECK(kept[0].score == 0.95);
  CHECK(kept[1].score == 0.8);
  CHECK(kept[2].score == 0.7);
  CHECK(non_maximum_suppression({Box{0, 0, 0, 5, 1.0}}, 0.4).empty());  // empty boxes dropped
}

TEST_CASE("geometry::five_points", "[geometry]") {
  std::vector<Point> p(68);
  for (std::size_t i = 0; i < 68; ++i) p[i] = Point{static_cast<double>(i), 100.0 + static_cast<double>(i)};
  const auto five = five_points(p);
  CHECK(five[0].x == Approx((37 + 38 + 40 + 41) / 4.0));
  CHECK(five[1].x == Approx((43 + 44 + 46 + 47) / 4.0));
  CHECK(five[2].x == 30);
  CHECK(five[3].x == Approx((48 + 60) / 2.0));
  CHECK(five[4].x == Approx((54 + 64) / 2.0));
}

TEST_CASE("geometry::estimate_similarity recovers a known transform", "[geometry]") {
  const auto& tpl = alignment_template();
  const double angle = 0.3, scale = 2.5, tx = 40, ty = -7;
  const Similarity truth{scale * std::cos(angle), -scale * std::sin(angle), tx,
                         scale * std::sin(angle), scale * std::cos(angle),  ty};
  std::array<Point, 5> moved;
  for (std::size_t i = 0; i < 5; ++i) moved[i] = apply(truth, tpl[i]);
  const Similarity m = estimate_similarity(tpl, moved);
  for (std::size_t i = 0; i < 6; ++i) CHECK(m[i] == Approx(truth[i]).margin(1e-9));
  // And the inverse direction maps the moved points back onto the template.
  const Similarity back = estimate_similarity(moved, tpl);
  for (std::size_t i = 0; i < 5; ++i) {
    const Point p = apply(back, moved[i]);
    CHECK(p.x == Approx(tpl[i].x).margin(1e-9));
    CHECK(p.y == Approx(tpl[i].y).margin(1e-9));
  }
}

TEST_CASE("geometry::plausible_upright_face", "[geometry]") {
  const Box box{0, 0, 112, 112, 1.0};
  const auto& tpl = alignment_template();
  CHECK(plausible_upright_face(tpl, box));
  auto turned = [&](double angle) {
    std::array<Point, 5> out;
    for (std::size_t i = 0; i < 5; ++i) {
      const double x = tpl[i].x - 56, y = tpl[i].y - 56;
      out[i] = {56 + x * std::cos(angle) - y * std::sin(angle), 56 + x * std::sin(angle) + y * std::cos(angle)};
    }
    return out;
  };
  CHECK(plausible_upright_face(turned(0.5), box));                         // ~29 degrees: fine
  CHECK_FALSE(plausible_upright_face(turned(std::numbers::pi / 2), box));  // sideways
  CHECK_FALSE(plausible_upright_face(turned(std::numbers::pi), box));      // upside down
  std::array<Point, 5> tiny = tpl;
  for (auto& p : tiny) p = {56 + (p.x - 56) / 10, 56 + (p.y - 56) / 10};
  CHECK_FALSE(plausible_upright_face(tiny, box));  // eyes far too close for the box
}

// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>

#include "faceverify/compare.hpp"
#include "faceverify/similarity.hpp"

using namespace faceverify;

namespace {
Face face(std::array<double, 4> box, std::vector<double> emb) {
  Face f;
  f.box = box;
  f.embedding = std::move(emb);
  return f;
}
Analysis with(std::vector<Face> faces) {
  Analysis a;
  a.faces = std::move(faces);
  return a;
}
}  // namespace

TEST_CASE("compare::compare", "[compare]") {
  const ScoreOptions opts{0.8, 1.23};
  const Face small_x = face({0, 0, 0.1, 0.1}, {1, 0, 0});
  const Face big_y = face({0.5, 0.5, 0.4, 0.4}, {0, 1, 0});
  const Analysis one_x = with({face({0, 0, 0.5, 0.5}, {1, 0, 0})});
  const Analysis two = with({small_x, big_y});

  SECTION("identical embeddings: same person") {
    auto c = compare(one_x, "a", one_x, "b", FacePolicy::largest, opts);
    REQUIRE(c);
    CHECK(c->distance == 0.0);
    CHECK(c->similarity == 1.0);
    CHECK(c->cosine == Approx(1.0));
    CHECK(meets_threshold(c->similarity, opts));
  }
  SECTION("largest picks the biggest box") {
    auto c = compare(one_x, "a", two, "b", FacePolicy::largest, opts);
    REQUIRE(c);
    CHECK(c->face2 == 1);
    CHECK(c->distance == Approx(std::sqrt(2.0)));
    CHECK_FALSE(meets_threshold(c->similarity, opts));
  }
  SECTION("first picks index 0") {
    auto c = compare(one_x, "a", two, "b", FacePolicy::first, opts);
    CHECK(c->face2 == 0);
    CHECK(meets_threshold(c->similarity, opts));
  }
  SECTION("best picks the most similar pair") {
    const Analysis other = with({face({0, 0, 0.9, 0.9}, {0, 0, 1}), face({0, 0, 0.2, 0.2}, {0, 0.9, 0.1})});
    auto c = compare(two, "a", other, "b", FacePolicy::best, opts);
    REQUIRE(c);
    CHECK(c->face1 == 1);
    CHECK(c->face2 == 1);
  }
  SECTION("threshold is inclusive") {
    // At distance 1.23 from each other (an all-zero vector is never scored).
    const Analysis at_half = with({face({0, 0, 1, 1}, {1.23, 0, 1})});
    const Analysis origin = with({face({0, 0, 1, 1}, {0, 0, 1})});
    auto c = compare(origin, "a", at_half, "b", FacePolicy::largest, ScoreOptions{0.5, 1.23});
    REQUIRE(c);
    CHECK(c->similarity == Approx(0.5));
    CHECK(meets_threshold(c->similarity, ScoreOptions{0.49, 1.23}));
    CHECK_FALSE(meets_threshold(c->similarity, ScoreOptions{0.51, 1.23}));
    // Exactly at the threshold is the same person, in the one rule and in decide().
    const ScoreOptions exact{c->similarity, 1.23};
    CHECK(meets_threshold(c->similarity, exact));
    CHECK(decide(c->similarity, exact, std::nullopt) == Decision::same);
    CHECK_FALSE(meets_threshold(std::nextafter(c->similarity, 0.0), exact));
    CHECK(decide(std::nextafter(c->similarity, 0.0), exact, std::nullopt) == Decision::different);
  }
  SECTION("no face names the image") {
    auto c = compare(one_x, "a.jpg", with({}), "b.jpg", FacePolicy::largest, opts);
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == ErrorKind::no_face);
    CHECK(c.error().message == "b.jpg: no face found in the image");
  }
  SECTION("embeddings of different lengths are refused") {
    auto c = compare(one_x, "a.jpg", with({face({0, 0, 1, 1}, {1, 0})}), "b.jpg", FacePolicy::best, opts);
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == ErrorKind::api_response);
    CHECK(c.error().message == "b.jpg: its embedding has 2 values, a.jpg's has 3; they cannot be compared");
  }
}

TEST_CASE("compare::decide", "[compare]") {
  const ScoreOptions opts{0.8, 1.23};
  SECTION("a similarity exactly at the threshold is the same person; the next double below is not") {
    CHECK(decide(0.8, opts, std::nullopt) == Decision::same);
    CHECK(decide(std::nextafter(0.8, 0.0), opts, std::nullopt) == Decision::different);
    CHECK(decide(std::nextafter(0.8, 1.0), opts, std::nullopt) == Decision::same);
    // The ends of the range: threshold 0 accepts everything, threshold 1 only a perfect score.
    CHECK(decide(0.0, ScoreOptions{0.0, 1.23}, std::nullopt) == Decision::same);
    CHECK(decide(1.0, ScoreOptions{1.0, 1.23}, std::nullopt) == Decision::same);
    CHECK(decide(std::nextafter(1.0, 0.0), ScoreOptions{1.0, 1.23}, std::nullopt) == Decision::different);
  }
  SECTION("a similarity computed by compare(), used as the threshold, is the same person") {
    const Analysis a = with({face({0, 0, 1, 1}, {0.3, 0.1, 0})});
    const Analysis b = with({face({0, 0, 1, 1}, {0, 0.7, 0.2})});
    auto c = compare(a, "a", b, "b", FacePolicy::largest, opts);
    REQUIRE(c);
    const ScoreOptions at{c->similarity, 1.23};
    CHECK(decide(c->similarity, at, std::nullopt) == Decision::same);
    CHECK(decide(c->similarity, ScoreOptions{std::nextafter(c->similarity, 1.0), 1.23}, std::nullopt) ==
          Decision::different);
  }
  SECTION("the uncertain band is inclusive on both sides and wins over the threshold") {
    CHECK(decide(0.8, opts, 0.05) == Decision::uncertain);
    CHECK(decide(0.75, opts, 0.05) == Decision::uncertain);
    CHECK(decide(0.85, opts, 0.05) == Decision::uncertain);
    CHECK(decide(0.7499, opts, 0.05) == Decision::different);
    CHECK(decide(0.8501, opts, 0.05) == Decision::same);
    CHECK(decide(0.8, opts, 0.0) == Decision::uncertain);  // a zero band still holds the threshold itself
  }
  CHECK(decision_name(Decision::same) == "same");
  CHECK(decision_name(Decision::different) == "different");
  CHECK(decision_name(Decision::uncertain) == "uncertain");
}

TEST_CASE("compare::pick_face", "[compare]") {
  SECTION("largest: of two faces with the same area, the earlier one") {
    const Analysis tie = with({face({0.1, 0.1, 0.2, 0.3}, {1, 0, 0}), face({0.6, 0.5, 0.2, 0.3}, {0, 1, 0})});
    CHECK(pick_face(tie, FacePolicy::largest) == std::size_t{0});
    const Analysis three = with(
        {face({0, 0, 0.1, 0.1}, {1, 0, 0}), face({0.2, 0, 0.3, 0.3}, {0, 1, 0}), face({0.6, 0, 0.3, 0.3}, {0, 0, 1})});
    CHECK(pick_face(three, FacePolicy::largest) == std::size_t{1});
  }
  SECTION("largest: a strictly larger later face wins") {
    const Analysis later = with({face({0, 0, 0.2, 0.3}, {1, 0, 0}), face({0.5, 0.5, 0.3, 0.3}, {0, 1, 0})});
    CHECK(pick_face(later, FacePolicy::largest) == std::size_t{1});
  }
  SECTION("first is index 0; no face is nullopt") {
    const Analysis later = with({face({0, 0, 0.1, 0.1}, {1, 0, 0}), face({0.5, 0.5, 0.3, 0.3}, {0, 1, 0})});
    CHECK(pick_face(later, FacePolicy::first) == std::size_t{0});
    CHECK_FALSE(pick_face(with({}), FacePolicy::largest).has_value());
    CHECK_FALSE(pick_face(with({}), FacePolicy::first).has_value());
  }
  SECTION("compare() with --face largest compares the earlier of two equal faces") {
    const Analysis one = with({face({0, 0, 0.5, 0.5}, {1, 0, 0})});
    const Analysis tie = with({face({0.1, 0.1, 0.2, 0.3}, {1, 0, 0}), face({0.6, 0.5, 0.2, 0.3}, {0, 1, 0})});
    auto c = compare(one, "a", tie, "b", FacePolicy::largest, ScoreOptions{0.8, 1.23});
    REQUIRE(c);
    CHECK(c->face2 == 0);
    CHECK(c->distance == 0.0);
  }
}

TEST_CASE("compare::compare never scores a degenerate embedding", "[compare][replies]") {
  const ScoreOptions opts{0.8, 1.23};
  SECTION("all zeros on both sides would be 100 % the same person") {
    const Analysis zero = with({face({0, 0, 1, 1}, {0, 0, 0})});
    auto c = compare(zero, "a.jpg", zero, "b.jpg", FacePolicy::largest, opts);
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "a.jpg: face 1: embedding is all zeros (or nearly): it cannot be compared");
  }
  SECTION("huge values would give an infinite distance") {
    const Analysis big = with({face({0, 0, 1, 1}, {1e200, -1e200})});
    const Analysis fine = with({face({0, 0, 1, 1}, {0.6, 0.8})});
    auto c = compare(fine, "a.jpg", big, "b.jpg", FacePolicy::largest, opts);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.starts_with("b.jpg: face 1: embedding value 0 is out of range"));
  }
  SECTION("a non-finite value") {
    const Analysis nan = with({face({0, 0, 1, 1}, {std::nan(""), 1.0})});
    const Analysis fine = with({face({0, 0, 1, 1}, {0.6, 0.8})});
    auto c = compare(nan, "a.jpg", fine, "b.jpg", FacePolicy::best, opts);
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "a.jpg: face 1: embedding has a non-finite value at 0");
  }
}

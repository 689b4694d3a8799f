// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "faceverify/report.hpp"
#include "faceverify/version.hpp"
#include "golden.hpp"
#include "process.hpp"

using namespace faceverify;

using faceverify::test::check_golden;

namespace {

struct Fixture {
  Image a, b;
  Analysis an_a, an_b;
  Verification v;
  Fixture() {
    a.source = {SourceKind::file, "samples/astronaut.jpg"};
    a.sha256 = "7d5b1c8e0f5c1f0e5a2b6c3d4e5f60718293a4b5c6d7e8f90112233445566778";
    b.source = {SourceKind::url, "https://example.com/crop.jpg"};
    Face fa;
    fa.box = {0.25, 0.125, 0.5, 0.5};
    fa.confidence = 0.99;
    fa.landmarks = {{"left-eye", {0.4, 0.3}}, {"right-eye", {0.6, 0.3}}};
    fa.embedding = {0.6, 0.8};
    an_a.faces = {fa};
    an_a.md5 = "533c3e2300f8ddc5eb261a9f2d8d87d3";
    an_a.width = 512;
    an_a.height = 512;
    Face small = fa;
    small.box = {0.0, 0.0, 0.125, 0.125};
    an_b.faces = {small, fa};
    v.images = {ImageResult{&a, &an_a, 120}, ImageResult{&b, &an_b, 130}};
    v.comparison = Comparison{0, 1, 0.5, 0.9984375, 0.875};
    v.score = {0.8, 1.23};
    v.threshold_source = "default";
    v.policy = FacePolicy::largest;
    v.provenance.backend = BackendKind::api4ai;
    v.provenance.api = "demo";
    v.provenance.endpoint = "https://demo.api4ai.cloud/face-analyzer/v1/results";
    v.total_ms = 140;
  }
};

}  // namespace

TEST_CASE("report::render_text", "[report]") {
  Fixture f;
  CHECK(render_text(f.v) == "Similarity is 99.8%.\nIt's the same person.\n");
  check_golden("verify_same.txt", render_text(f.v));
  f.v.comparison.similarity = 0.123;
  CHECK(render_text(f.v) == "Similarity is 12.3%.\nThere are different people on the images.\n");
  check_golden("verify_different.txt", render_text(f.v));
  f.v.comparison.similarity = 0.79996;  // rounds to 80.0%, but falls short of 0.8
  CHECK(render_text(f.v) == "Similarity is 79.996%.\nThere are different people on the images.\n");
}

namespace {

// The shown number as a decimal, in units of 1e-6 %; "79.996%" -> 79996000.
long long shown_micro(const std::string& text) {
  REQUIRE(text.size() > 1);
  REQUIRE(text.back() == '%');
  const auto dot = text.find('.');
  REQUIRE(dot != std::string::npos);
  const std::string decimals = text.substr(dot + 1, text.size() - dot - 2);
  REQUIRE(decimals.size() >= 1);
  REQUIRE(decimals.size() <= 6);
  return std::stoll(text.substr(0, dot)) * 1000000 + std::stoll(decimals + std::string(6 - decimals.size(), '0'));
}

}  // namespace

TEST_CASE("report::format_percent prints what the reference script prints", "[report]") {
  // Expected values are Python's f'{similarity*100:.1f}%' (API4AI's tutorial),
  // all far from the 0.8 threshold.
  SECTION("correctly rounded where truncation used to print one less") {
    CHECK(format_percent(0.99151, 0.8) == "99.2%");
    CHECK(format_percent(0.99149, 0.8) == "99.1%");
    CHECK(format_percent(0.99949, 0.8) == "99.9%");
    CHECK(format_percent(0.99951, 0.8) == "100.0%");
    CHECK(format_percent(0.123, 0.8) == "12.3%");
  }
  SECTION(".05 boundaries go the way C's and Python's %.1f take them") {
    CHECK(format_percent(0.9915, 0.8) == "99.2%");   // 99.15000000000001 in binary: up
    CHECK(format_percent(0.99125, 0.8) == "99.1%");  // 99.125: not a .x5 tie at one decimal
    CHECK(format_percent(0.8125, 0.8) == "81.2%");   // 81.25 exactly: a tie, to even
    CHECK(format_percent(0.4375, 0.8) == "43.8%");   // 43.75 exactly: a tie, to even
    CHECK(format_percent(0.995, 0.8) == "99.5%");    // 99.5
    CHECK(format_percent(0.29, 0.8) == "29.0%");     // 28.999999999999996
    CHECK(format_percent(0.0005, 0.8) == "0.1%");    // 0.05000000000000000277: above the tie, up
    CHECK(format_percent(0.00049, 0.8) == "0.0%");
  }
  SECTION("the ends of the range") {
    CHECK(format_percent(0.0, 0.8) == "0.0%");
    CHECK(format_percent(1.0, 0.8) == "100.0%");
    CHECK(format_percent(1.0, 1.0) == "100.0%");
    CHECK(format_percent(0.0, 0.0) == "0.0%");
    CHECK(format_percent(0.00004, 0.0) == "0.0%");     // threshold 0: everything is the same person
    CHECK(format_percent(0.99996, 1.0) == "99.996%");  // not 100.0% below a threshold of 1
    CHECK(format_percent(0.9999999999, 1.0) == "99.999999%");
  }
}

TEST_CASE("report::format_percent never reads on the wrong side of the threshold", "[report]") {
  SECTION("more decimals only where the rounding would cross the threshold") {
    CHECK(format_percent(0.79996, 0.8) == "79.996%");
    CHECK(format_percent(0.79995, 0.8) == "79.995%");
    CHECK(format_percent(0.7999, 0.8) == "79.99%");  // 79.99000000000001: "80.0" at one decimal
    CHECK(format_percent(0.79949, 0.8) == "79.9%");  // rounds down anyway: as the reference
    CHECK(format_percent(0.8, 0.8) == "80.0%");      // at the threshold is the same person
    CHECK(format_percent(0.80004, 0.8) == "80.0%");
    CHECK(format_percent(0.79999999, 0.8) == "79.999999%");
  }
  SECTION("past 6 decimals the digits are cut") {
    CHECK(format_percent(0.799999999, 0.8) == "79.999999%");
    CHECK(format_percent(std::nextafter(0.8, 0.0), 0.8) == "79.999999%");  // times 100 would round to 80
  }
  SECTION("thresholds that are not round") {
    CHECK(format_threshold(0.8) == "80.0%");
    CHECK(format_threshold(0.788) == "78.8%");
    CHECK(format_threshold(0.7513) == "75.13%");  // 75.1% would fall below it
    CHECK(format_threshold(0.7888) == "78.9%");   // rounding up keeps it on its own side
    CHECK(format_threshold(0.8412345678901234) == "84.1235%");
    CHECK(format_threshold(0.29) == "29.0%");
    CHECK(format_threshold(0.0) == "0.0%");
    CHECK(format_threshold(1.0) == "100.0%");
    CHECK(format_percent(0.78799, 0.788) == "78.799%");
    CHECK(format_percent(0.7514, 0.7513) == "75.14%");  // the same person, not "75.1%"
    CHECK(format_percent(0.75125, 0.7513) == "75.1%");
    CHECK(format_percent(0.7887, 0.7888) == "78.87%");  // not "78.9%", the threshold as shown
    CHECK(format_percent(0.7888, 0.7888) == "78.9%");
  }
  SECTION("against the threshold as shown, for every similarity near it") {
    for (const double t : {0.0, 0.29, 0.5, 0.7513, 0.788, 0.7888, 0.79995, 0.8, 0.8412345678901234, 0.95, 1.0}) {
      const long long shown_t = shown_micro(format_threshold(t));
      CHECK(shown_t >= std::llround(t * 1e8));  // never shown below itself
      for (int k = -2000; k <= 2000; ++k) {
        const double s = t + k * 1e-6;
        if (s < 0.0 || s > 1.0) continue;
        INFO("threshold " << t << ", similarity " << s);
        const std::string text = format_percent(s, t);
        CHECK((shown_micro(text) >= shown_t) == (s >= t));
        // As the reference prints it unless that would mislead.
        char reference[32];
        std::snprintf(reference, sizeof reference, "%.1f%%", s * 100.0);
        const bool misleading = (shown_micro(reference) >= shown_t) != (s >= t);
        if (!misleading) CHECK(text == reference);
      }
    }
  }
}

TEST_CASE("report::format_points: the uncertain band in absolute points", "[report]") {
  CHECK(format_points(0.1) == "10.0 points");
  CHECK(format_points(0.05) == "5.0 points");
  CHECK(format_points(0.0125) == "1.25 points");
  CHECK(format_points(0.0) == "0.0 points");
  Fixture f;
  f.v.uncertain_band = 0.1;
  f.v.score.threshold = 0.788;
  f.v.comparison.similarity = 0.70;
  CHECK(render_text(f.v) ==
        "Similarity is 70.0%.\nIt's uncertain whether it's the same person (within 10.0 points of the 78.8% "
        "threshold).\n");
}

TEST_CASE("report::render_json local provenance", "[report]") {
  Fixture f;
  f.v.provenance =
      Provenance{BackendKind::local, "", "", {{"detector", "aa"}, {"landmarks", "bb"}, {"embedder", "cc"}}, {}};
  auto j = nlohmann::json::parse(render_json(f.v));
  CHECK(j["backend"] == "local");
  CHECK(j["models"]["embedder"]["sha256"] == "cc");
  CHECK_FALSE(j.contains("endpoint"));
  CHECK_FALSE(j.contains("api"));
}

TEST_CASE("report::render_json", "[report]") {
  Fixture f;
  const std::string text = render_json(f.v);
  CHECK(text.back() == '\n');
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);  // one object, one line
  auto j = nlohmann::json::parse(text);
  CHECK(j["schema_version"] == 1);
  CHECK(j["verified"] == true);
  CHECK(j["decision"] == "same");
  CHECK(j["images"][1]["faces"] == 2);
  CHECK(j["images"][1]["face_index"] == 1);
  CHECK(j["images"][1]["sha256"].is_null());
  CHECK(j["tool_version"] == k_version);
  // The golden file pins the exact bytes; the version is normalised so a
  // release does not rewrite it.
  std::string normalised = text;
  const std::string version_field = std::string("\"tool_version\":\"") + k_version + "\"";
  normalised.replace(normalised.find(version_field), version_field.size(), "\"tool_version\":\"X.Y.Z\"");
  check_golden("verify.json", normalised);
}

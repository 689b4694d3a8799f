// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
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
  CHECK(format_percent(0.99949) == "99.9%");
  CHECK(format_percent(0.0) == "0.0%");
  CHECK(format_percent(1.0) == "100.0%");
  CHECK(format_percent(0.8) == "80.0%");
  CHECK(format_percent(0.79996) == "79.9%");  // never rounded up across a threshold
}

TEST_CASE("report::render_json local provenance", "[report]") {
  Fixture f;
  f.v.provenance =
      Provenance{BackendKind::local, "", "", {{"detector", "aa"}, {"landmarks", "bb"}, {"embedder", "cc"}}};
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

// SPDX-License-Identifier: MIT
// calibrate with the offline backend over ../shared/faces (48 photos of 11
// people; never committed): the ranking is near perfect (AUC >= 0.99) and
// the HTML report renders to a non-blank screenshot in headless Chromium.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "local_test_support.hpp"
#include "process.hpp"

using nlohmann::json;
namespace test = faceverify::test;

TEST_CASE("local calibrate: ../shared/faces scores AUC >= 0.99 and its report renders", "[local][e2e][calibrate]") {
  const std::filesystem::path faces = std::filesystem::path(FACEVERIFY_SHARED_DIR) / "faces";
  if (!std::filesystem::exists(faces / "labels.csv")) {
    WARN("SKIPPED: " << faces.string() << "/labels.csv not found (the evaluation photos live outside the project)");
    return;
  }
  auto models = test::models_or_skip();
  if (!models) return;
  test::TempDir dir;
  const std::string report = (dir / "report.html").string();
  test::RunOptions o;
  o.env_overrides["FACEVERIFY_MODELS"] = models->dir;
  o.env_overrides["XDG_CACHE_HOME"] = (dir / "cache").string();
  o.env_overrides["XDG_CONFIG_HOME"] = (dir / "config").string();
  o.timeout = std::chrono::milliseconds(600000);
  auto r = test::run_process({FACEVERIFY_BINARY_PATH, "calibrate", "--backend", "local", "--json", "--report", report,
                              "--write-config", faces.string()},
                             o);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = json::parse(r.out);
  CHECK(j["auc"].get<double>() >= 0.99);
  CHECK(j["pairs"]["genuine"].get<int>() + j["pairs"]["impostor"].get<int>() + j["pairs"]["left_out"].get<int>() ==
        48 * 47 / 2);
  CHECK(j["threshold"].get<double>() > 0.0);
  CHECK(j["threshold"].get<double>() < 1.0);
  CHECK(j["backend"] == "local");
  // The saved threshold is what the next run uses.
  CHECK(test::read_file(dir / "config" / "faceverify" / "config.toml").find("backend = \"local\"") !=
        std::string::npos);

  // The report: one self-contained file that Chromium renders.
  const std::string html = test::read_file(report);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
#ifdef FACEVERIFY_PNG_STATS
  test::RunOptions slow;
  slow.timeout = std::chrono::milliseconds(180000);
  auto shot = test::run_process({"bash", std::string(FACEVERIFY_SOURCE_DIR) + "/tests/render/check_report_renders.sh",
                                 report, (dir / "report.png").string(), FACEVERIFY_PNG_STATS},
                                slow);
  INFO(shot.out << shot.err);
  if (shot.exit_code == 77) {
    WARN("SKIPPED: the screenshot (Chromium is not installed)");
    return;
  }
  CHECK(shot.exit_code == 0);
#endif
}

// SPDX-License-Identifier: MIT
// Evaluation of the offline backend over ../shared/faces (48 photos of 11
// people; never committed): every face found, and at the default threshold
// at most 1 of the 1,026 different-person pairs accepted, at least 98 % of the
// 102 same-person pairs accepted.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include "faceverify/compare.hpp"
#include "faceverify/image.hpp"
#include "local_test_support.hpp"

using namespace faceverify;

TEST_CASE("local::evaluation over shared/faces", "[local][eval]") {
  const std::filesystem::path dir = std::filesystem::path(FACEVERIFY_SHARED_DIR) / "faces";
  if (!std::filesystem::exists(dir / "labels.csv")) {
    WARN("SKIPPED: " << dir.string() << "/labels.csv not found (the evaluation photos live outside the project)");
    return;
  }
  auto analyzer = test::local_analyzer_or_skip();
  if (!analyzer) return;

  std::ifstream labels(dir / "labels.csv");
  std::string line;
  std::getline(labels, line);  // header
  std::vector<std::pair<std::string, std::string>> photos;
  while (std::getline(labels, line)) {
    std::stringstream row(line);
    std::string file, identity;
    std::getline(row, file, ',');
    std::getline(row, identity, ',');
    if (!file.empty()) photos.emplace_back(file, identity);
  }
  REQUIRE(photos.size() == 48);

  std::vector<Analysis> analyses;
  for (const auto& [file, identity] : photos) {
    auto image = load_image(ImageSource{SourceKind::file, (dir / file).string()});
    REQUIRE(image);
    auto analysis = analyzer->analyze(*image);
    REQUIRE(analysis);
    INFO(file);
    CHECK_FALSE(analysis->faces.empty());
    analyses.push_back(std::move(*analysis));
  }

  int genuine = 0, genuine_accepted = 0, impostor = 0, impostor_accepted = 0;
  for (std::size_t i = 0; i < photos.size(); ++i) {
    for (std::size_t k = i + 1; k < photos.size(); ++k) {
      if (analyses[i].faces.empty() || analyses[k].faces.empty()) continue;
      auto c = compare(analyses[i], photos[i].first, analyses[k], photos[k].first, FacePolicy::largest, ScoreOptions{});
      REQUIRE(c);
      const bool same = photos[i].second == photos[k].second;
      (same ? genuine : impostor) += 1;
      if (meets_threshold(c->similarity, ScoreOptions{})) (same ? genuine_accepted : impostor_accepted) += 1;
      if (meets_threshold(c->similarity, ScoreOptions{}) != same) {
        WARN((same ? "rejected same-person pair " : "accepted different-person pair ")
             << photos[i].first << " " << photos[k].first << " distance " << c->distance);
      }
    }
  }
  // Sideways and upside-down copies (no EXIF tag) must never give a
  // confident wrong answer: either the face is found the right way up (and
  // matches the original) or no face is reported.
  int rotated_found = 0, rotated_none = 0;
  for (std::size_t i = 0; i < photos.size(); ++i) {
    const cv::Mat original = cv::imread((dir / photos[i].first).string());
    REQUIRE_FALSE(original.empty());
    // Quarter turns, and 45 and 135 degrees (the canvas grown to fit), where
    // the upright view and a quarter turn both see a tilted face.
    for (double angle : {90.0, 180.0, 270.0, 45.0, 135.0}) {
      cv::Mat turned;
      const cv::Point2f centre(static_cast<float>(original.cols) / 2, static_cast<float>(original.rows) / 2);
      cv::Mat m = cv::getRotationMatrix2D(centre, angle, 1.0);
      const cv::Rect2f bounds = cv::RotatedRect(centre, original.size(), static_cast<float>(angle)).boundingRect2f();
      m.at<double>(0, 2) += bounds.width / 2.0 - centre.x;
      m.at<double>(1, 2) += bounds.height / 2.0 - centre.y;
      cv::warpAffine(original, turned, m, bounds.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                     cv::Scalar(255, 255, 255));
      std::vector<unsigned char> jpeg;
      cv::imencode(".jpg", turned, jpeg);
      Image image;
      image.source = {SourceKind::file, photos[i].first + " (rotated)"};
      image.label = image.source.spec;
      image.bytes.assign(jpeg.begin(), jpeg.end());
      image.format = ImageFormat::jpeg;
      auto analysis = analyzer->analyze(image);
      REQUIRE(analysis);
      if (analysis->faces.empty()) {
        ++rotated_none;
        continue;
      }
      ++rotated_found;
      auto c = compare(analyses[i], "original", *analysis, "rotated", FacePolicy::largest, ScoreOptions{});
      INFO(photos[i].first << " rotated " << angle << " degrees, distance " << c->distance);
      CHECK(meets_threshold(c->similarity, ScoreOptions{}));
    }
  }
  WARN("rotated copies: face found the right way up in " << rotated_found << ", no face in " << rotated_none);
  CHECK(rotated_found > rotated_none);  // the rotation search finds most faces, not just refuses them

  WARN("same-person pairs accepted: " << genuine_accepted << "/" << genuine
                                      << "; different-person pairs accepted: " << impostor_accepted << "/" << impostor);
  CHECK(genuine == 102);
  CHECK(impostor == 1026);
  CHECK(impostor_accepted <= 1);
  CHECK(genuine_accepted >= 100);  // >= 98 % of 102
}

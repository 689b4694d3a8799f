// SPDX-License-Identifier: MIT
#pragma once
// The offline pipeline's stages (private: OpenCV types stay out of
// include/faceverify). Figures and choices: docs/local-backend.md.
//   decode -> detect -> landmarks -> align -> embed

#include <array>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/geometry.hpp"
#include "faceverify/image.hpp"
#include "faceverify/local_backend.hpp"

namespace faceverify::local {

/// One set of networks; a cv::dnn::Net must not run forward() from two
/// threads at once, so each concurrent analysis holds its own set.
struct Networks {
  cv::dnn::Net detector;
  cv::dnn::Net landmarks;
  cv::dnn::Net embedder;
};

/// The pipeline as a FaceAnalyzer (what the module's entry point returns;
/// local::make_analyzer loads the module and calls it).
Expected<std::unique_ptr<FaceAnalyzer>> make_pipeline_analyzer(ModelSet models, AnalyzerOptions options);

/// Builds the three networks from the (already checksummed) model bytes, in
/// parallel (one thread per network).
Expected<Networks> load_networks(const ModelSet& models);

/// Decodes image bytes of `format` to 8-bit BGR, with a JPEG's EXIF
/// orientation applied. ErrorKind::input naming `label` when they cannot be
/// decoded (GIF is not supported).
Expected<cv::Mat> decode(std::string_view bytes, ImageFormat format, const std::string& label);

/// Face boxes (pixel corners of `bgr`) scoring at least `min_score`, after
/// non-maximum suppression.
std::vector<geometry::Box> detect(cv::dnn::Net& net, const cv::Mat& bgr, double min_score);

/// The 68 landmarks of the face in `box`, in pixels of `bgr`.
std::vector<Point> landmarks68(cv::dnn::Net& net, const cv::Mat& bgr, const geometry::Box& box);

/// The face warped to the 112x112 template by a similarity transform of its
/// five points.
cv::Mat align(const cv::Mat& bgr, const std::array<Point, 5>& five);

struct Embedding {
  std::vector<double> unit;  // L2-normalised, 512 values
  double raw_norm = 0;       // norm before normalising: low for things that are not an upright face
};

/// The embedding of an aligned 112x112 face.
Embedding embed(cv::dnn::Net& net, const cv::Mat& aligned);

/// Mean distance (pixels of the 112x112 crop) between the five points found
/// again on an aligned face and the template: small when the alignment
/// really put a face there.
double realignment_error(cv::dnn::Net& landmarks_net, const cv::Mat& aligned);

}  // namespace faceverify::local

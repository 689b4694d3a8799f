// SPDX-License-Identifier: MIT
#include <opencv2/imgproc.hpp>

#include "pipeline.hpp"

namespace faceverify::local {

cv::Mat align(const cv::Mat& bgr, const std::array<Point, 5>& five) {
  // A similarity transform (not a 3-point affine) keeps the face's shape;
  // it measured clearly better for this embedder.
  const geometry::Similarity m = geometry::estimate_similarity(five, geometry::alignment_template());
  const cv::Mat matrix = (cv::Mat_<double>(2, 3) << m[0], m[1], m[2], m[3], m[4], m[5]);
  cv::Mat aligned;
  cv::warpAffine(bgr, aligned, matrix, cv::Size(112, 112), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  return aligned;
}

}  // namespace faceverify::local

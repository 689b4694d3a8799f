// SPDX-License-Identifier: MIT
#include <cmath>
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

double realignment_error(cv::dnn::Net& landmarks_net, const cv::Mat& aligned) {
  const geometry::Box whole{0, 0, static_cast<double>(aligned.cols), static_cast<double>(aligned.rows), 1.0};
  const auto points = landmarks68(landmarks_net, aligned, whole);
  if (points.size() != 68) return 1e9;
  const auto five = geometry::five_points(points);
  const auto& target = geometry::alignment_template();
  double sum = 0;
  for (std::size_t i = 0; i < 5; ++i) sum += std::hypot(five[i].x - target[i].x, five[i].y - target[i].y);
  return sum / 5;
}

}  // namespace faceverify::local

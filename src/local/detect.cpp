// SPDX-License-Identifier: MIT
#include "pipeline.hpp"

namespace faceverify::local {
namespace {
// The detector's priors are baked into the graph for this input size.
const cv::Size k_input(320, 240);
constexpr double k_nms_iou = 0.4;
}  // namespace

std::vector<geometry::Box> detect(cv::dnn::Net& net, const cv::Mat& bgr, double min_score) {
  // Stretch to 320x240, RGB, (x - 127) / 128, NCHW.
  const cv::Mat blob =
      cv::dnn::blobFromImage(bgr, 1.0 / 128.0, k_input, cv::Scalar(127, 127, 127), /*swapRB=*/true, false);
  net.setInput(blob, "input");
  std::vector<cv::Mat> outs;
  net.forward(outs, std::vector<cv::String>{"scores", "boxes"});
  const cv::Mat& scores = outs[0];  // [1, N, 2], softmax applied; column 1 is "face"
  const cv::Mat& boxes = outs[1];   // [1, N, 4], normalised x1, y1, x2, y2
  const int n = scores.size[1];
  const auto* s = scores.ptr<float>();
  const auto* b = boxes.ptr<float>();
  const double w = bgr.cols, h = bgr.rows;
  std::vector<geometry::Box> found;
  for (int i = 0; i < n; ++i) {
    const double score = s[2 * i + 1];
    if (score < min_score) continue;
    geometry::Box box{std::clamp(double{b[4 * i]}, 0.0, 1.0) * w, std::clamp(double{b[4 * i + 1]}, 0.0, 1.0) * h,
                      std::clamp(double{b[4 * i + 2]}, 0.0, 1.0) * w, std::clamp(double{b[4 * i + 3]}, 0.0, 1.0) * h,
                      score};
    if (box.area() > 0) found.push_back(box);
  }
  return geometry::non_maximum_suppression(std::move(found), k_nms_iou);
}

}  // namespace faceverify::local

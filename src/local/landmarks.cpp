// SPDX-License-Identifier: MIT
#include <opencv2/imgproc.hpp>

#include "pipeline.hpp"

namespace faceverify::local {
namespace {
constexpr int k_side = 64;
}

std::vector<Point> landmarks68(cv::dnn::Net& net, const cv::Mat& bgr, const geometry::Box& box) {
  // A square crop (side = box height, same centre), clipped to the image.
  const double cx = (box.x1 + box.x2) / 2, cy = (box.y1 + box.y2) / 2, side = box.height();
  const int x0 = std::max(0, static_cast<int>(std::lround(cx - side / 2)));
  const int y0 = std::max(0, static_cast<int>(std::lround(cy - side / 2)));
  const int x1 = std::min(bgr.cols, static_cast<int>(std::lround(cx + side / 2)));
  const int y1 = std::min(bgr.rows, static_cast<int>(std::lround(cy + side / 2)));
  if (x1 - x0 < 2 || y1 - y0 < 2) return {};
  const cv::Rect roi(x0, y0, x1 - x0, y1 - y0);
  cv::Mat grey;
  cv::cvtColor(bgr(roi), grey, cv::COLOR_BGR2GRAY);
  cv::Mat small;
  cv::resize(grey, small, cv::Size(k_side, k_side), 0, 0, cv::INTER_LINEAR);
  const cv::Mat blob = cv::dnn::blobFromImage(small, 1.0 / 256.0, cv::Size(k_side, k_side), cv::Scalar(), false, false);
  net.setInput(blob, "input");
  const cv::Mat out = net.forward("output");  // [1, 136]: x, y fractions of the crop
  const auto* v = out.ptr<float>();
  std::vector<Point> points(68);
  for (int i = 0; i < 68; ++i) {
    points[i] = Point{x0 + double{v[2 * i]} * roi.width, y0 + double{v[2 * i + 1]} * roi.height};
  }
  return points;
}

}  // namespace faceverify::local

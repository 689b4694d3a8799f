// SPDX-License-Identifier: MIT
#include <cmath>

#include "pipeline.hpp"

namespace faceverify::local {

Embedding embed(cv::dnn::Net& net, const cv::Mat& aligned) {
  // (x - 127) / 128 in BGR order: BGR measured better than RGB for this model.
  const cv::Mat blob =
      cv::dnn::blobFromImage(aligned, 1.0 / 128.0, cv::Size(112, 112), cv::Scalar(127, 127, 127), false, false);
  net.setInput(blob, "input");
  const cv::Mat out = net.forward("output");  // [1, 512], not normalised
  const auto* v = out.ptr<float>();
  const auto n = static_cast<std::size_t>(out.total());
  Embedding e;
  e.unit.assign(v, v + n);
  double norm = 0;
  for (double x : e.unit) norm += x * x;
  e.raw_norm = std::sqrt(norm);
  if (e.raw_norm > 0) {
    for (double& x : e.unit) x /= e.raw_norm;
  }
  return e;
}

}  // namespace faceverify::local

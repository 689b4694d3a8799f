// SPDX-License-Identifier: MIT
#include "faceverify/local_backend.hpp"
#include "pipeline.hpp"

namespace faceverify::local {

Expected<Networks> load_networks(const std::string& model_dir) {
  Networks nets;
  const auto& specs = model_specs();
  cv::dnn::Net* targets[] = {&nets.detector, &nets.landmarks, &nets.embedder};
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::string path = model_dir + "/" + std::string(specs[i].file);
    try {
      *targets[i] = cv::dnn::readNetFromONNX(path);
    } catch (const cv::Exception&) {
      *targets[i] = cv::dnn::Net();
    }
    if (targets[i]->empty()) {
      return fail(ErrorKind::usage, path + ": OpenCV cannot load this model; reinstall with scripts/install-models.sh");
    }
  }
  return nets;
}

}  // namespace faceverify::local

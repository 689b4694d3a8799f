// SPDX-License-Identifier: MIT
#include "faceverify/local_backend.hpp"
#include "pipeline.hpp"

namespace faceverify::local {

Expected<Networks> load_networks(const ModelSet& models) {
  Networks nets;
  const auto& specs = model_specs();
  cv::dnn::Net* targets[] = {&nets.detector, &nets.landmarks, &nets.embedder};
  for (std::size_t i = 0; i < specs.size(); ++i) {
    try {
      *targets[i] = cv::dnn::readNetFromONNX(models.bytes[i]);
    } catch (const cv::Exception&) {
      *targets[i] = cv::dnn::Net();
    }
    if (targets[i]->empty()) {
      return fail(ErrorKind::usage, models.dir + "/" + std::string(specs[i].file) +
                                        ": OpenCV cannot load this model; " + k_models_reinstall_hint);
    }
  }
  return nets;
}

}  // namespace faceverify::local

// SPDX-License-Identifier: MIT
#include <exception>
#include <thread>

#include "faceverify/local_backend.hpp"
#include "pipeline.hpp"

namespace faceverify::local {

Expected<Networks> load_networks(const ModelSet& models) {
  Networks nets;
  const auto& specs = model_specs();
  cv::dnn::Net* targets[] = {&nets.detector, &nets.landmarks, &nets.embedder};
  std::exception_ptr escaped[3];  // anything but OpenCV's refusal (bad_alloc) goes on to the caller
  auto load = [&](std::size_t i) {
    try {
      *targets[i] = cv::dnn::readNetFromONNX(models.bytes[i]);
    } catch (const cv::Exception&) {
      *targets[i] = cv::dnn::Net();
    } catch (...) {
      escaped[i] = std::current_exception();
    }
  };
  // Parsing a graph is single-threaded work: the embedder (4.9 MB) on a
  // thread of its own while this one parses the two small ones.
  {
    std::jthread embedder([&] { load(2); });
    load(0);
    load(1);
  }
  for (const auto& e : escaped) {
    if (e) std::rethrow_exception(e);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (targets[i]->empty()) {
      return fail(ErrorKind::usage, models.dir + "/" + std::string(specs[i].file) +
                                        ": OpenCV cannot load this model; " + k_models_reinstall_hint);
    }
  }
  return nets;
}

}  // namespace faceverify::local

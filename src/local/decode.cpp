// SPDX-License-Identifier: MIT
#include <opencv2/imgcodecs.hpp>

#include "pipeline.hpp"

namespace faceverify::local {

Expected<cv::Mat> decode(std::string_view bytes, const std::string& label) {
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat image;
  try {
    // IMREAD_COLOR applies the EXIF orientation (IMREAD_IGNORE_ORIENTATION is not set).
    image = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    image.release();
  }
  if (image.empty()) {
    return fail(ErrorKind::input, label +
                                      ": cannot be decoded by the local backend (it reads JPEG, PNG, WebP, BMP "
                                      "and TIFF; convert GIF or damaged files first)");
  }
  return image;
}

}  // namespace faceverify::local

// SPDX-License-Identifier: MIT
#pragma once
// The offline pipeline's stages (private: OpenCV types stay out of
// include/faceverify). Figures and choices: docs/local-backend.md.
//   decode -> detect -> landmarks -> align -> embed

#include <array>
#include <deque>
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
Expected<std::unique_ptr<FaceAnalyzer>> make_pipeline_analyzer(ModelSet models, PipelineOptions options = {});

/// Builds the three networks from the (already checksummed) model bytes, in
/// parallel (one thread per network).
Expected<Networks> load_networks(const ModelSet& models);

/// Decodes image bytes of `format` to 8-bit BGR, with a JPEG's EXIF
/// orientation applied. ErrorKind::input naming `label` when they cannot be
/// decoded (GIF is not supported).
Expected<cv::Mat> decode(std::string_view bytes, ImageFormat format, const std::string& label);

/// A decode of the whole image at 1/reduction of its size, and where its
/// pixels are in the full-resolution (oriented) image: full = p * f + o, in
/// pixel-corner coordinates, per axis.
struct Reduced {
  cv::Mat image;  // 8-bit BGR, oriented
  double fx = 1, fy = 1, ox = 0, oy = 0;
  int reduction = 1;
  Point to_full(Point p) const noexcept { return {p.x * fx + ox, p.y * fy + oy}; }
  Point from_full(Point p) const noexcept { return {(p.x - ox) / fx, (p.y - oy) / fy}; }
};

/// An encoded image decoded at the scales each stage needs (--decode
/// scaled): JPEG in the DCT domain (1/2, 1/4, 1/8: the IDCT runs at the
/// reduced size), WebP through libwebp's rescaler; PNG, TIFF and BMP are
/// decoded whole once and offer no reduction. Decodes are kept for the
/// object's life; `bytes` must outlive it. Not thread-safe (one per analysis).
class ScaledSource {
 public:
  /// Reads the header (the full size, a JPEG's EXIF orientation); PNG, TIFF
  /// and BMP are decoded here. Errors as decode().
  static Expected<ScaledSource> open(std::string_view bytes, ImageFormat format, const std::string& label);
  /// The full-resolution size, oriented.
  cv::Size size() const noexcept { return m_size; }
  /// The largest reduction the format decodes to directly (8, or 1).
  int max_reduction() const noexcept { return m_max_reduction; }
  /// The whole image at 1/reduction (clamped to [1, max_reduction()]),
  /// oriented; decoded on first use. The pointer lives as long as this object.
  Expected<const Reduced*> at(int reduction);
  /// The pixels of `full_rect` (full-resolution, oriented; clipped to the
  /// image, widened to whole pixels of the decode) at 1/reduction: a JPEG
  /// decodes only those (jpeg_crop_scanline, jpeg_skip_scanlines), others
  /// are cut from at(reduction), as is a JPEG whose decode at that scale is
  /// kept. The grid maps the region's own pixels.
  Expected<Reduced> region(cv::Rect full_rect, int reduction);

 private:
  ScaledSource(std::string_view bytes, ImageFormat format, std::string label)
      : m_bytes(bytes), m_format(format), m_label(std::move(label)) {}
  std::string_view m_bytes;
  ImageFormat m_format;
  std::string m_label;
  int m_orientation = 1;
  int m_max_reduction = 1;
  cv::Size m_stored, m_size;
  std::deque<Reduced> m_cache;  // references stay valid as it grows
};

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

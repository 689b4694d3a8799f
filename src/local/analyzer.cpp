// SPDX-License-Identifier: MIT
// The offline FaceAnalyzer: decode, find faces (trying other rotations and
// zoomed tiles when the plain upright pass finds nothing trustworthy), then
// landmarks, alignment and embedding for every face.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "faceverify/local_backend.hpp"
#include "pipeline.hpp"

namespace faceverify::local {
namespace {

constexpr double k_min_score = 0.6;  // detector floor (docs/local-backend.md)
// Real faces score ~1.0 with this detector. A face below this that is larger
// than every face above it is a blurred or partial detection (a crowd behind
// the subject): reporting it would make --face largest pick it.
constexpr double k_sure_score = 0.99;

// How much a detection looks like a real upright face, from two signals
// measured on the evaluation photos and their 180-degree rotations: the
// embedder's raw norm (upright 3.3-5.0, upside-down 1.9-2.9) and how far the
// landmarks found again on the aligned crop fall from the template (upright
// 2.3-6.5 px, upside-down 7-33 px). quality = norm - error / 10 put every
// upright face at >= 2.9 and every upside-down one at <= 1.4; sideways
// garbage reaches ~2.0. Below k_min_quality a detection is not a face; at or
// above k_sure_quality the upright view is trusted without trying the others.
constexpr double k_min_quality = 2.5;
constexpr double k_sure_quality = 2.9;
// Analysis runs on a copy at most this many pixels on its longer side: the
// detector sees 320x240 anyway, the zoomed tiles still reach faces of ~3 %
// of the photo, and a 50-megapixel photo no longer costs gigabytes.
constexpr int k_max_side = 2000;
constexpr std::uint64_t k_max_pixels = 100'000'000;

struct Candidate {
  geometry::Box box;
  std::array<Point, 5> five{};
  Embedding embedding;
  double quality = 0;
};

struct View {
  int quarter_turns = 0;  // clockwise rotation applied to the decoded image
  cv::Mat image;
  std::vector<Candidate> faces;  // only those that pass the plausibility tests
  double best_quality() const {
    double best = 0;
    for (const auto& f : faces) best = std::max(best, f.quality);
    return best;
  }
};

cv::Mat rotated(const cv::Mat& image, int quarter_turns) {
  if (quarter_turns == 0) return image;
  cv::Mat out;
  static constexpr cv::RotateFlags k_flags[] = {cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180,
                                                cv::ROTATE_90_COUNTERCLOCKWISE};
  cv::rotate(image, out, k_flags[quarter_turns - 1]);
  return out;
}

// Maps a point of the rotated view back to the decoded image (w x h).
Point unrotate(Point p, int quarter_turns, double w, double h) {
  switch (quarter_turns) {
    case 1: return {p.y, h - p.x};
    case 2: return {w - p.x, h - p.y};
    case 3: return {w - p.y, p.x};
    default: return p;
  }
}

// Detection on the whole image, then, if nothing is found, on overlapping
// tiles at 2x and 4x zoom: the detector's 320x240 input misses faces under
// ~5 % of a large photo.
std::vector<geometry::Box> detect_zoomed(cv::dnn::Net& net, const cv::Mat& image) {
  std::vector<geometry::Box> boxes;
  for (int zoom : {2, 4}) {
    if (!boxes.empty()) break;
    const int tw = image.cols / zoom, th = image.rows / zoom;
    if (th < 240 || tw < 240) break;  // no real gain in resolution any more
    std::vector<geometry::Box> all;
    for (int gy = 0; gy < 2 * zoom - 1; ++gy) {
      for (int gx = 0; gx < 2 * zoom - 1; ++gx) {
        const cv::Rect tile(gx * tw / 2, gy * th / 2, tw, th);
        for (auto b : detect(net, image(tile), k_min_score)) {
          b.x1 += tile.x;
          b.x2 += tile.x;
          b.y1 += tile.y;
          b.y2 += tile.y;
          all.push_back(b);
        }
      }
    }
    boxes = geometry::non_maximum_suppression(std::move(all), 0.4);
  }
  return boxes;
}

View analyse_view(Networks& nets, const cv::Mat& upright, int quarter_turns, bool zoomed) {
  View view;
  view.quarter_turns = quarter_turns;
  view.image = rotated(upright, quarter_turns);
  const auto boxes = zoomed ? detect_zoomed(nets.detector, view.image) : detect(nets.detector, view.image, k_min_score);
  for (const auto& box : boxes) {
    const auto points = landmarks68(nets.landmarks, view.image, box);
    if (points.size() != 68) continue;
    const auto five = geometry::five_points(points);
    // A sideways face usually yields landmarks no upright face has.
    if (!geometry::plausible_upright_face(five, box)) continue;
    // An upside-down one often does not: its quality gives it away.
    const cv::Mat aligned = align(view.image, five);
    Candidate c{box, five, embed(nets.embedder, aligned), 0};
    c.quality = c.embedding.raw_norm - realignment_error(nets.landmarks, aligned) / 10;
    if (c.quality >= k_min_quality) view.faces.push_back(std::move(c));
  }
  return view;
}

void drop_unsure_giants(std::vector<Candidate>& faces) {
  double largest_sure = -1;
  for (const auto& f : faces) {
    if (f.box.score >= k_sure_score) largest_sure = std::max(largest_sure, f.box.area());
  }
  if (largest_sure < 0) return;
  std::erase_if(faces, [&](const Candidate& f) { return f.box.score < k_sure_score && f.box.area() > largest_sure; });
}

// The network sets of one analyzer: a cv::dnn::Net must not run forward()
// on two threads at once, so each concurrent analysis holds a set of its own.
// Sets are built on first need, at most `cap` of them (one per core: more
// would only take turns on the cores while each costs tens of megabytes of
// weights and buffers); an analysis beyond that waits for a free set. Once
// all are built, the model bytes they were built from are let go.
class NetworkPool {
 public:
  // A set held by one analysis, given back however the analysis ends (an
  // exception too: a set lost would leave later analyses waiting forever).
  class Lease {
   public:
    Lease(NetworkPool& pool, std::unique_ptr<Networks> nets) : m_pool(&pool), m_nets(std::move(nets)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (m_nets) m_pool->release(std::move(m_nets));
    }
    Networks& operator*() const { return *m_nets; }

   private:
    NetworkPool* m_pool;
    std::unique_ptr<Networks> m_nets;
  };

  NetworkPool(ModelSet models, Networks first, std::size_t cap) : m_models(std::move(models)), m_cap(cap) {
    m_free.push_back(std::make_unique<Networks>(std::move(first)));
    drop_bytes_if_done();
  }

  Expected<Lease> acquire() {
    std::unique_lock lock(m_mutex);
    m_returned.wait(lock, [&] { return !m_free.empty() || m_created + m_loading < m_cap; });
    if (!m_free.empty()) {
      Lease lease(*this, std::move(m_free.back()));
      m_free.pop_back();
      return lease;
    }
    ++m_loading;
    lock.unlock();
    Expected<Networks> nets = fail(ErrorKind::internal, "not loaded");
    try {
      nets = load_networks(m_models);  // the bytes stay until every load is done
    } catch (...) {                    // bad_alloc: the slot is free again
      lock.lock();
      --m_loading;
      m_returned.notify_one();
      throw;
    }
    lock.lock();
    --m_loading;
    if (!nets) {
      m_returned.notify_one();  // another thread may try (and report) instead
      return std::unexpected(nets.error());
    }
    ++m_created;
    drop_bytes_if_done();
    lock.unlock();
    return Lease(*this, std::make_unique<Networks>(std::move(*nets)));
  }

 private:
  void release(std::unique_ptr<Networks> nets) {
    {
      std::lock_guard lock(m_mutex);
      m_free.push_back(std::move(nets));
    }
    m_returned.notify_one();
  }

  void drop_bytes_if_done() {
    if (m_created < m_cap || m_loading > 0) return;
    for (auto& b : m_models.bytes) std::vector<unsigned char>().swap(b);
  }

  ModelSet m_models;  // further network sets are built from these bytes
  std::size_t m_cap;
  std::size_t m_created = 1;  // the first set is built before the pool
  std::size_t m_loading = 0;
  std::mutex m_mutex;
  std::condition_variable m_returned;
  std::vector<std::unique_ptr<Networks>> m_free;
};

class LocalAnalyzer final : public FaceAnalyzer {
 public:
  LocalAnalyzer(ModelSet models, Networks first, std::size_t sets)
      : m_pool(std::move(models), std::move(first), sets) {}

  Expected<Analysis> analyze(const Image& image) override {
    if (image.source.kind == SourceKind::url) {
      // The program refuses URLs for this backend before any analysis
      // (check_source, backend.hpp); this guards other callers.
      return fail(ErrorKind::input, image.label + ": the offline analyzer reads image bytes, not URLs");
    }
    // Refused before decoding: a damaged file would decode to a grey-filled
    // picture and a confident but meaningless verdict; a huge one would take
    // gigabytes.
    if (image.format) {
      const ImageHeader header = inspect_header(image.bytes, *image.format);
      if (header.truncated) {
        return fail(ErrorKind::input, image.label + ": the image data ends early (truncated or damaged file)");
      }
      if (header.width && header.height && std::uint64_t{*header.width} * *header.height > k_max_pixels) {
        return fail(ErrorKind::input, image.label + ": " + std::to_string(*header.width) + "x" +
                                          std::to_string(*header.height) +
                                          " pixels is over the local backend's 100-megapixel limit; downscale it");
      }
    }
    if (!image.format) return fail(ErrorKind::input, image.label + ": not an image");
    auto decoded = decode(image.bytes, *image.format, image.label);
    if (!decoded) return std::unexpected(decoded.error());
    auto nets = m_pool.acquire();
    if (!nets) return std::unexpected(nets.error());
    Analysis analysis;
    try {
      analysis = run(**nets, *decoded, image);
    } catch (const cv::Exception&) {
      return fail(ErrorKind::internal, image.label + ": the local backend failed on this image (OpenCV error)");
    }
    return analysis;
  }

 private:
  Analysis run(Networks& nets, const cv::Mat& decoded, const Image& image) {
    cv::Mat upright = decoded;
    if (std::max(decoded.cols, decoded.rows) > k_max_side) {
      const double f = static_cast<double>(k_max_side) / std::max(decoded.cols, decoded.rows);
      cv::resize(decoded, upright, cv::Size(), f, f, cv::INTER_AREA);
    }
    // The upright view first; when it holds no sure face, all four
    // rotations, keeping the one whose best face has the highest quality:
    // the detector alone cannot tell (an upside-down face scored higher than
    // upright in 2 of 48 photos). Ties keep the photo as it is. When no
    // rotation holds a face, zoomed tiles of the upright photo are searched
    // for small faces. Nothing plausible anywhere means no face.
    View best = analyse_view(nets, upright, 0, false);
    if (best.best_quality() < k_sure_quality) {
      for (int q = 1; q <= 3; ++q) {
        View view = analyse_view(nets, upright, q, false);
        if (view.best_quality() > best.best_quality()) best = std::move(view);
      }
    }
    if (best.faces.empty()) best = analyse_view(nets, upright, 0, true);
    drop_unsure_giants(best.faces);
    Analysis analysis;
    analysis.name = image.upload_name;
    analysis.width = decoded.cols;
    analysis.height = decoded.rows;
    const double w = upright.cols, h = upright.rows;
    static constexpr const char* k_names[] = {"left-eye", "right-eye", "nose-tip", "mouth-left-corner",
                                              "mouth-right-corner"};
    for (const auto& c : best.faces) {
      Face face;
      face.embedding = c.embedding.unit;
      face.confidence = c.box.score;
      // Box and points in the decoded image's own frame, as fractions.
      double x1 = w, y1 = h, x2 = 0, y2 = 0;
      for (Point corner : {Point{c.box.x1, c.box.y1}, Point{c.box.x2, c.box.y1}, Point{c.box.x1, c.box.y2},
                           Point{c.box.x2, c.box.y2}}) {
        const Point p = unrotate(corner, best.quarter_turns, w, h);
        x1 = std::min(x1, p.x);
        y1 = std::min(y1, p.y);
        x2 = std::max(x2, p.x);
        y2 = std::max(y2, p.y);
      }
      face.box = {x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h};
      for (std::size_t i = 0; i < 5; ++i) {
        const Point p = unrotate(c.five[i], best.quarter_turns, w, h);
        face.landmarks.emplace_back(k_names[i], Point{p.x / w, p.y / h});
      }
      analysis.faces.push_back(std::move(face));
    }
    return analysis;
  }

  NetworkPool m_pool;
};

}  // namespace

Expected<std::unique_ptr<FaceAnalyzer>> make_pipeline_analyzer(ModelSet models, AnalyzerOptions options) {
  // The cores are owned once: by faceverify's workers when several analyses
  // run at once (each network set single-threaded), by OpenCV's thread pool
  // inside the one analysis otherwise. Both at once made them fight (docs:
  // bench/README.md). cv::getNumberOfCPUs counts the CPUs this process may
  // use (affinity, cgroup quota).
  const auto cores = static_cast<std::size_t>(std::max(1, cv::getNumberOfCPUs()));
  const std::size_t sets = std::clamp<std::size_t>(options.workers, 1, cores);
  cv::setNumThreads(static_cast<int>(cores / sets));
  auto nets = load_networks(models);
  if (!nets) return std::unexpected(nets.error());
  return std::unique_ptr<FaceAnalyzer>(std::make_unique<LocalAnalyzer>(std::move(models), std::move(*nets), sets));
}

}  // namespace faceverify::local

// SPDX-License-Identifier: MIT
// The offline FaceAnalyzer: decode, find faces (trying other rotations and
// zoomed tiles when the plain upright pass finds nothing trustworthy), then
// landmarks, alignment and embedding for every face.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>

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

// --decode scaled. Detection runs on the most reduced decode whose sides are
// still at least 2x the detector's 320x240 input (640 and 480, shorter side
// 480 whatever the rotation tried). A face is then aligned from pixels where
// its eye distance is at least 2x the template's (35.2 px of the 112x112
// crop) and its box at least 2x the landmark net's 64 px input; when the
// detection decode is coarser than that, the face's region is taken from a
// finer decode and its landmarks found again there. The zoomed tiles need
// all the resolution they had in the full pipeline: they use the decode the
// full pipeline would have analysed.
constexpr int k_detect_long_side = 640;
constexpr int k_detect_short_side = 480;
constexpr double k_min_eye_distance = 2 * 35.24;
constexpr double k_min_box_side = 2 * 64;

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

// The inverse of unrotate: a point of the unrotated image (w x h) in the view.
Point rotate_point(Point p, int quarter_turns, double w, double h) {
  switch (quarter_turns) {
    case 1: return {h - p.y, p.x};
    case 2: return {w - p.x, h - p.y};
    case 3: return {p.y, w - p.x};
    default: return p;
  }
}

// A face's pixels from a finer decode than the one it was detected on
// (--decode scaled): the region it and its aligned crop cover, rotated like
// the view, and the way between the view's coordinates and the region's.
struct FineRegion {
  cv::Mat image;
  std::function<Point(Point)> from_view, to_view;
};

class Refiner {
 public:
  // `frame`: where the analysed image's pixels are in the full-resolution
  // image (the detection decode, maybe capped); `frame_size`: its size.
  Refiner(ScaledSource& source, const Reduced& frame, cv::Size frame_size)
      : m_source(source), m_frame(frame), m_frame_size(frame_size) {}

  // The region for a face whose box and points (in the view's pixels) are
  // too coarse, or nullopt when they are fine or nothing finer exists.
  std::optional<FineRegion> region(int quarter_turns, const geometry::Box& box, const std::array<Point, 5>& five) {
    const double scale = std::max(m_frame.fx, m_frame.fy);  // full pixels per frame pixel
    const double eye = std::hypot(five[1].x - five[0].x, five[1].y - five[0].y);
    const double side = std::min(box.width(), box.height());
    if (scale <= 1.0 || (eye >= k_min_eye_distance && side >= k_min_box_side)) return std::nullopt;
    int reduction = 1;
    for (int r : {8, 4, 2}) {
      if (r < scale && eye * scale / r >= k_min_eye_distance && side * scale / r >= k_min_box_side) {
        reduction = r;
        break;
      }
    }
    const double w = m_frame_size.width, h = m_frame_size.height;
    const Reduced frame = m_frame;
    auto view_to_full = [=](Point p) { return frame.to_full(unrotate(p, quarter_turns, w, h)); };
    // The area the landmark crop and the aligned crop take, with a margin for
    // the points found again there.
    std::vector<cv::Point2f> corners;
    const double cx = (box.x1 + box.x2) / 2, cy = (box.y1 + box.y2) / 2, half = box.height() / 2;
    for (Point p : {Point{cx - half, cy - half}, Point{cx + half, cy + half}, Point{cx - half, cy + half},
                    Point{cx + half, cy - half}}) {
      const Point q = view_to_full(p);
      corners.emplace_back(static_cast<float>(q.x), static_cast<float>(q.y));
    }
    const geometry::Similarity m = geometry::estimate_similarity(five, geometry::alignment_template());
    const double det = m[0] * m[4] - m[1] * m[3];
    if (std::abs(det) > 1e-12) {
      for (Point t : {Point{0, 0}, Point{112, 0}, Point{0, 112}, Point{112, 112}}) {
        // The template's corner back in the view: the inverse of m.
        const double tx = t.x - m[2], ty = t.y - m[5];
        const Point v{(m[4] * tx - m[1] * ty) / det, (-m[3] * tx + m[0] * ty) / det};
        const Point q = view_to_full(v);
        corners.emplace_back(static_cast<float>(q.x), static_cast<float>(q.y));
      }
    }
    cv::Rect2f area = cv::boundingRect(corners);
    const float grow = 0.25f * std::max(area.width, area.height) + 4.0f * static_cast<float>(scale);
    const cv::Rect wanted(
        cv::Point(static_cast<int>(std::floor(area.x - grow)), static_cast<int>(std::floor(area.y - grow))),
        cv::Point(static_cast<int>(std::ceil(area.br().x + grow)), static_cast<int>(std::ceil(area.br().y + grow))));
    auto fine = m_source.region(wanted, reduction);
    if (!fine || fine->image.cols < 2 || fine->image.rows < 2) return std::nullopt;  // keep the coarse pixels
    const Reduced f = *fine;
    FineRegion out;
    out.image = rotated(f.image, quarter_turns);
    const double rw = f.image.cols, rh = f.image.rows;
    out.from_view = [=](Point p) { return rotate_point(f.from_full(view_to_full(p)), quarter_turns, rw, rh); };
    out.to_view = [=](Point p) {
      return rotate_point(frame.from_full(f.to_full(unrotate(p, quarter_turns, rw, rh))), quarter_turns, w, h);
    };
    return out;
  }

 private:
  ScaledSource& m_source;
  Reduced m_frame;  // its grid; the pixels are the caller's
  cv::Size m_frame_size;
};

View analyse_view(Networks& nets, const cv::Mat& upright, int quarter_turns, bool zoomed, Refiner* refiner) {
  View view;
  view.quarter_turns = quarter_turns;
  view.image = rotated(upright, quarter_turns);
  const auto boxes = zoomed ? detect_zoomed(nets.detector, view.image) : detect(nets.detector, view.image, k_min_score);
  for (const auto& box : boxes) {
    const auto points = landmarks68(nets.landmarks, view.image, box);
    if (points.size() != 68) continue;
    auto five = geometry::five_points(points);
    // A sideways face usually yields landmarks no upright face has.
    if (!geometry::plausible_upright_face(five, box)) continue;
    cv::Mat aligned;
    if (auto fine = refiner ? refiner->region(quarter_turns, box, five) : std::nullopt) {
      // The same face from finer pixels: its landmarks found again there.
      const Point a = fine->from_view({box.x1, box.y1}), b = fine->from_view({box.x2, box.y2});
      const geometry::Box fine_box{std::min(a.x, b.x), std::min(a.y, b.y), std::max(a.x, b.x), std::max(a.y, b.y),
                                   box.score};
      const auto fine_points = landmarks68(nets.landmarks, fine->image, fine_box);
      if (fine_points.size() != 68) continue;
      const auto fine_five = geometry::five_points(fine_points);
      if (!geometry::plausible_upright_face(fine_five, fine_box)) continue;
      aligned = align(fine->image, fine_five);
      for (std::size_t i = 0; i < 5; ++i) five[i] = fine->to_view(fine_five[i]);
    } else {
      aligned = align(view.image, five);
    }
    // An upside-down face often passes: its quality gives it away.
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

// The most reduced decode with every side at least `long_side` / `short_side`
// (the longer / shorter one), or 1.
int reduction_for(cv::Size full, int max_reduction, int long_side, int short_side) {
  for (int r = max_reduction; r > 1; r /= 2) {
    const int w = (full.width + r - 1) / r, h = (full.height + r - 1) / r;
    if (std::max(w, h) >= long_side && std::min(w, h) >= short_side) return r;
  }
  return 1;
}

// At most k_max_side pixels on the longer side (a copy when larger).
cv::Mat capped(const cv::Mat& image) {
  if (std::max(image.cols, image.rows) <= k_max_side) return image;
  const double f = static_cast<double>(k_max_side) / std::max(image.cols, image.rows);
  cv::Mat out;
  cv::resize(image, out, cv::Size(), f, f, cv::INTER_AREA);
  return out;
}

// A capped decode's grid: the reduced image's, stretched to the copy's size.
Reduced grid_of(const Reduced& decoded, const cv::Mat& analysed) {
  Reduced g;
  g.fx = decoded.fx * decoded.image.cols / analysed.cols;
  g.fy = decoded.fy * decoded.image.rows / analysed.rows;
  g.ox = decoded.ox;
  g.oy = decoded.oy;
  g.reduction = decoded.reduction;
  return g;
}

class LocalAnalyzer final : public FaceAnalyzer {
 public:
  LocalAnalyzer(ModelSet models, Networks first, PipelineOptions options, std::size_t sets)
      : m_pool(std::move(models), std::move(first), sets), m_options(options) {}

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
    std::optional<ScaledSource> source;
    cv::Mat decoded;
    if (m_options.decode == DecodeMode::scaled) {
      auto opened = ScaledSource::open(image.bytes, *image.format, image.label);
      if (!opened) return std::unexpected(opened.error());
      source.emplace(std::move(*opened));
    } else {
      auto full = decode(image.bytes, *image.format, image.label);
      if (!full) return std::unexpected(full.error());
      decoded = std::move(*full);
    }
    auto nets = m_pool.acquire();
    if (!nets) return std::unexpected(nets.error());
    Expected<Analysis> analysis = fail(ErrorKind::internal, "not analysed");
    try {
      analysis = source ? run_scaled(**nets, *source, image) : Expected<Analysis>(run(**nets, decoded, image));
    } catch (const cv::Exception&) {
      return fail(ErrorKind::internal, image.label + ": the local backend failed on this image (OpenCV error)");
    }
    return analysis;
  }

 private:
  // The upright view first; when it holds no sure face, all four
  // rotations, keeping the one whose best face has the highest quality:
  // the detector alone cannot tell (an upside-down face scored higher than
  // upright in 2 of 48 photos). Ties keep the photo as it is.
  static View best_view(Networks& nets, const cv::Mat& upright, Refiner* refiner) {
    View best = analyse_view(nets, upright, 0, false, refiner);
    if (best.best_quality() < k_sure_quality) {
      for (int q = 1; q <= 3; ++q) {
        View view = analyse_view(nets, upright, q, false, refiner);
        if (view.best_quality() > best.best_quality()) best = std::move(view);
      }
    }
    return best;
  }

  // --decode full (pipeline 1): the whole image decoded, analysed on a copy
  // of at most k_max_side pixels.
  Analysis run(Networks& nets, const cv::Mat& decoded, const Image& image) {
    const cv::Mat upright = capped(decoded);
    // When no rotation holds a face, zoomed tiles of the upright photo are
    // searched for small faces. Nothing plausible anywhere means no face.
    View best = best_view(nets, upright, nullptr);
    if (best.faces.empty()) best = analyse_view(nets, upright, 0, true, nullptr);
    return describe(std::move(best), Reduced{}, upright.size(), decoded.size(), image);
  }

  // --decode scaled (pipeline 2): the same search on a reduced decode, each
  // face aligned from enough pixels (Refiner); the zoomed tiles on the
  // decode the full pipeline would have used.
  Expected<Analysis> run_scaled(Networks& nets, ScaledSource& source, const Image& image) {
    const cv::Size full = source.size();
    auto coarse = source.at(reduction_for(full, source.max_reduction(), k_detect_long_side, k_detect_short_side));
    if (!coarse) return std::unexpected(coarse.error());
    cv::Mat upright = capped((*coarse)->image);
    Reduced grid = grid_of(**coarse, upright);
    Refiner refiner(source, grid, upright.size());
    View best = best_view(nets, upright, &refiner);
    if (best.faces.empty()) {
      const int side = std::min(k_max_side, std::max(full.width, full.height));
      auto tiles = source.at(reduction_for(full, source.max_reduction(), side, 1));
      if (!tiles) return std::unexpected(tiles.error());
      upright = capped((*tiles)->image);
      grid = grid_of(**tiles, upright);
      Refiner tile_refiner(source, grid, upright.size());
      best = analyse_view(nets, upright, 0, true, &tile_refiner);
    }
    return describe(std::move(best), grid, upright.size(), full, image);
  }

  // The faces of `best` (a view of an image of `analysed` size, whose pixels
  // are at `grid` in the image of `full` size) in the image's own frame.
  static Analysis describe(View best, const Reduced& grid, cv::Size analysed, cv::Size full, const Image& image) {
    drop_unsure_giants(best.faces);
    Analysis analysis;
    analysis.name = image.upload_name;
    analysis.width = full.width;
    analysis.height = full.height;
    const double w = analysed.width, h = analysed.height;
    // Fractions of the analysed image (pipeline 1: as it always was) or of
    // the full one, through the grid.
    const bool identity = grid.fx == 1 && grid.fy == 1 && grid.ox == 0 && grid.oy == 0;
    const double fw = identity ? w : full.width, fh = identity ? h : full.height;
    static constexpr const char* k_names[] = {"left-eye", "right-eye", "nose-tip", "mouth-left-corner",
                                              "mouth-right-corner"};
    for (const auto& c : best.faces) {
      Face face;
      face.embedding = c.embedding.unit;
      face.confidence = c.box.score;
      // Box and points in the decoded image's own frame, as fractions.
      double x1 = fw, y1 = fh, x2 = 0, y2 = 0;
      for (Point corner : {Point{c.box.x1, c.box.y1}, Point{c.box.x2, c.box.y1}, Point{c.box.x1, c.box.y2},
                           Point{c.box.x2, c.box.y2}}) {
        const Point p = grid.to_full(unrotate(corner, best.quarter_turns, w, h));
        x1 = std::min(x1, p.x);
        y1 = std::min(y1, p.y);
        x2 = std::max(x2, p.x);
        y2 = std::max(y2, p.y);
      }
      face.box = {x1 / fw, y1 / fh, (x2 - x1) / fw, (y2 - y1) / fh};
      for (std::size_t i = 0; i < 5; ++i) {
        const Point p = grid.to_full(unrotate(c.five[i], best.quarter_turns, w, h));
        face.landmarks.emplace_back(k_names[i], Point{p.x / fw, p.y / fh});
      }
      analysis.faces.push_back(std::move(face));
    }
    return analysis;
  }

  NetworkPool m_pool;
  PipelineOptions m_options;
};

}  // namespace

Expected<std::unique_ptr<FaceAnalyzer>> make_pipeline_analyzer(ModelSet models, PipelineOptions options) {
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
  return std::unique_ptr<FaceAnalyzer>(
      std::make_unique<LocalAnalyzer>(std::move(models), std::move(*nets), options, sets));
}

}  // namespace faceverify::local

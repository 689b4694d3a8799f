// SPDX-License-Identifier: MIT
#include "faceverify/geometry.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace faceverify::geometry {

double iou(const Box& a, const Box& b) noexcept {
  const double w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0.0;
  const double inter = w * h;
  const double uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<Box> non_maximum_suppression(std::vector<Box> boxes, double max_iou) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.score > b.score; });
  std::vector<Box> kept;
  for (const Box& candidate : boxes) {
    if (candidate.area() <= 0) continue;
    const bool overlaps =
        std::any_of(kept.begin(), kept.end(), [&](const Box& k) { return iou(k, candidate) > max_iou; });
    if (!overlaps) kept.push_back(candidate);
  }
  return kept;
}

std::array<Point, 5> five_points(std::span<const Point> p) {
  auto mean = [&](std::initializer_list<std::size_t> idx) {
    Point m;
    for (std::size_t i : idx) {
      m.x += p[i].x;
      m.y += p[i].y;
    }
    m.x /= static_cast<double>(idx.size());
    m.y /= static_cast<double>(idx.size());
    return m;
  };
  // iBUG 68-point layout (0-based): eyes 36-41 and 42-47, nose tip 30,
  // mouth corners 48/60 and 54/64.
  return {mean({37, 38, 40, 41}), mean({43, 44, 46, 47}), p[30], mean({48, 60}), mean({54, 64})};
}

const std::array<Point, 5>& alignment_template() noexcept {
  static const std::array<Point, 5> k_template = {Point{38.2946, 51.6963}, Point{73.5318, 51.5014},
                                                  Point{56.0252, 71.7366}, Point{41.5493, 92.3655},
                                                  Point{70.7299, 92.2041}};
  return k_template;
}

Similarity estimate_similarity(std::span<const Point> from, std::span<const Point> to) {
  // Closed form of Umeyama's method for 2-D similarity transforms: with
  // centred points, a = sum(x.u + y.v) / sum(x^2 + y^2), b = sum(x.v - y.u) / ...
  const std::size_t n = std::min(from.size(), to.size());
  Point mf, mt;
  for (std::size_t i = 0; i < n; ++i) {
    mf.x += from[i].x;
    mf.y += from[i].y;
    mt.x += to[i].x;
    mt.y += to[i].y;
  }
  const double dn = static_cast<double>(n);
  mf.x /= dn;
  mf.y /= dn;
  mt.x /= dn;
  mt.y /= dn;
  double num_a = 0, num_b = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = from[i].x - mf.x, y = from[i].y - mf.y;
    const double u = to[i].x - mt.x, v = to[i].y - mt.y;
    num_a += x * u + y * v;
    num_b += x * v - y * u;
    den += x * x + y * y;
  }
  const double a = den > 0 ? num_a / den : 1.0;
  const double b = den > 0 ? num_b / den : 0.0;
  return {a, -b, mt.x - (a * mf.x - b * mf.y), b, a, mt.y - (b * mf.x + a * mf.y)};
}

Point apply(const Similarity& m, Point p) noexcept {
  return {m[0] * p.x + m[1] * p.y + m[2], m[3] * p.x + m[4] * p.y + m[5]};
}

bool plausible_upright_face(const std::array<Point, 5>& pt, const Box& box) noexcept {
  const Point& le = pt[0];
  const Point& re = pt[1];
  const Point& nose = pt[2];
  const Point& ml = pt[3];
  const Point& mr = pt[4];
  const double eye_dx = re.x - le.x, eye_dy = re.y - le.y;
  const double eye_dist = std::hypot(eye_dx, eye_dy);
  if (eye_dx <= 0 || eye_dist <= 0) return false;
  // Up to 60 degrees of tilt: wider than the 45 that separates quarter turns,
  // so a face tilted ~45 degrees is plausible in two neighbouring views and
  // quality picks between them.
  if (std::abs(std::atan2(eye_dy, eye_dx)) > std::numbers::pi / 3) return false;
  if (mr.x <= ml.x) return false;
  const double eyes_y = (le.y + re.y) / 2, mouth_y = (ml.y + mr.y) / 2;
  if (!(eyes_y < nose.y && nose.y < mouth_y)) return false;
  const double w = box.width();
  if (w <= 0 || eye_dist < 0.2 * w || eye_dist > 0.8 * w) return false;
  return mouth_y - eyes_y > 0.4 * eye_dist;
}

}  // namespace faceverify::geometry

// SPDX-License-Identifier: MIT
#pragma once
// Pure geometry for the offline backend: boxes, non-maximum suppression, the
// 68-to-5 landmark reduction, the least-squares similarity transform used to
// align a face to the 112x112 template, and a plausibility test of five
// landmarks. No OpenCV here, so all of it is unit-testable on its own.

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "faceverify/face.hpp"

namespace faceverify::geometry {

struct Box {  // pixel corners
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double score = 0;
  double width() const noexcept { return x2 - x1; }
  double height() const noexcept { return y2 - y1; }
  double area() const noexcept { return width() > 0 && height() > 0 ? width() * height() : 0.0; }
};

/// Intersection over union; 0 for disjoint or empty boxes.
double iou(const Box& a, const Box& b) noexcept;

/// Greedy NMS: boxes sorted by descending score; a box is dropped when its
/// IoU with a kept one exceeds `max_iou`.
std::vector<Box> non_maximum_suppression(std::vector<Box> boxes, double max_iou);

/// The five points (image-left eye, image-right eye, nose tip, image-left
/// mouth corner, image-right mouth corner) from 68 iBUG landmarks.
std::array<Point, 5> five_points(std::span<const Point> landmarks68);

/// The ArcFace 112x112 template the five points are aligned to.
const std::array<Point, 5>& alignment_template() noexcept;

/// 2x3 matrix [a -b tx; b a ty]: rotation + uniform scale + translation.
using Similarity = std::array<double, 6>;

/// Least-squares similarity transform mapping `from` onto `to` (Umeyama).
Similarity estimate_similarity(std::span<const Point> from, std::span<const Point> to);

/// Applies a 2x3 transform to a point.
Point apply(const Similarity& m, Point p) noexcept;

/// Whether five points look like an upright face inside `box`: eyes left to
/// right and above the nose, nose above the mouth, eye line tilted at most
/// 60 degrees, sensible eye distance for the box.
bool plausible_upright_face(const std::array<Point, 5>& points, const Box& box) noexcept;

}  // namespace faceverify::geometry

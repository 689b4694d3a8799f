// SPDX-License-Identifier: MIT
// Per-stage timings of the offline backend: decode, detect, landmarks,
// align, embed, for each image given, as medians of N runs. Used by
// bench/run.sh, which prints them beside end-to-end figures.
//   stage_bench RUNS IMAGE...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "faceverify/image.hpp"
#include "local/pipeline.hpp"

using namespace faceverify;
using Clock = std::chrono::steady_clock;

namespace {
template <typename F>
double median_ms(int runs, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: stage_bench RUNS IMAGE...\n");
    return 2;
  }
  const int runs = std::max(1, std::atoi(argv[1]));
  double load_ms = 0;
  std::optional<local::ModelSet> models;
  load_ms += median_ms(1, [&] { models = local::find_models(std::nullopt).value(); });
  std::optional<local::Networks> nets;
  load_ms += median_ms(1, [&] { nets = local::load_networks(*models).value(); });
  std::printf("%-28s %9s %9s %9s %9s %9s %9s\n", "image", "decode", "detect", "landmarks", "align", "embed", "total");
  for (int i = 2; i < argc; ++i) {
    auto img = load_image(ImageSource{SourceKind::file, argv[i]}, 0, k_max_local_image_bytes);
    if (!img) {
      std::fprintf(stderr, "%s\n", img.error().message.c_str());
      return 2;
    }
    cv::Mat decoded;
    const double decode =
        median_ms(runs, [&] { decoded = local::decode(img->bytes, *img->format, img->label).value(); });
    std::vector<geometry::Box> boxes;
    const double detect = median_ms(runs, [&] { boxes = local::detect(nets->detector, decoded, 0.6); });
    if (boxes.empty()) {
      std::printf("%-28s no face\n", argv[i]);
      continue;
    }
    std::vector<Point> points;
    const double landmarks = median_ms(runs, [&] { points = local::landmarks68(nets->landmarks, decoded, boxes[0]); });
    const auto five = geometry::five_points(points);
    cv::Mat aligned;
    const double align = median_ms(runs, [&] { aligned = local::align(decoded, five); });
    const double embed = median_ms(runs, [&] { (void)local::embed(nets->embedder, aligned); });
    char name[29];
    std::snprintf(name, sizeof name, "%s (%dx%d)",
                  std::strrchr(argv[i], '/') ? std::strrchr(argv[i], '/') + 1 : argv[i], decoded.cols, decoded.rows);
    std::printf("%-28s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, decode, detect, landmarks, align, embed,
                decode + detect + landmarks + align + embed);
  }
  std::printf("model read + checksum + load: %.1f ms (once per process)\n", load_ms);
  return 0;
}

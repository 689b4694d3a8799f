// SPDX-License-Identifier: MIT
// Per-stage CPU time of the offline backend, one thread (what one --jobs
// worker spends): decode, the reduction to at most 2000 px, detect,
// landmarks, align, embed, the realignment check, and the retries the
// analyzer makes when the upright view holds no sure face (three more
// rotations, then zoomed tiles), for each image given, as medians of N runs.
// Then the physical limit: the three networks' FLOPs (OpenCV's
// multiply-adds at the input shapes used) against this machine's measured
// GFLOP/s (an OpenCV convolution, one thread and all of them). bench/run.sh prints
// it beside end-to-end figures; bench/README.md explains it.
//   stage_bench RUNS IMAGE...
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <vector>

#include "faceverify/image.hpp"
#include "local/pipeline.hpp"

using namespace faceverify;

namespace {

double cpu_ms() {  // this process, all threads
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename F>
double median_cpu_ms(int runs, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const double start = cpu_ms();
    f();
    t.push_back(cpu_ms() - start);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// OpenCV's own convolution throughput, GFLOP/s with `threads` threads (best
// of 5): one 3x3 convolution, 128 to 128 channels over 28x28 (2 x 28 x 28 x
// 128 x 128 x 9 = 231 MFLOP), the kind of layer the networks are made of.
double conv_gflops(int threads) {
  cv::setNumThreads(threads);
  constexpr int c = 128, side = 28;
  cv::dnn::LayerParams lp;
  lp.set("kernel_size", 3);
  lp.set("pad", 1);
  lp.set("num_output", c);
  lp.set("bias_term", false);
  const int wshape[] = {c, c, 3, 3};
  cv::Mat w(4, wshape, CV_32F);
  cv::randu(w, -0.1, 0.1);
  lp.blobs.push_back(w);
  cv::dnn::Net net;
  net.addLayerToPrev("conv", "Convolution", lp);
  const int ishape[] = {1, c, side, side};
  cv::Mat in(4, ishape, CV_32F);
  cv::randu(in, -1, 1);
  net.setInput(in);
  (void)net.forward();  // warm-up: allocation, weights repacked
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const double start = wall_ms();
    for (int k = 0; k < 10; ++k) (void)net.forward();
    best = std::min(best, (wall_ms() - start) / 10);
  }
  return 2.0 * side * side * c * c * 9 / (best * 1e6);
}

// Multiply-adds x 2 of the convolutions and fully connected layers at the
// input shape given, counted from each layer's weights and output size (a
// grouped or depthwise convolution's weights hold only what it computes).
double mflops(cv::dnn::Net& net, std::vector<int> shape) {
  const cv::dnn::MatShape input(shape.begin(), shape.end());
  double flops = 0;
  for (const auto& name : net.getLayerNames()) {
    const int id = net.getLayerId(name);
    auto layer = net.getLayer(id);
    if (layer->blobs.empty()) continue;
    std::vector<cv::dnn::MatShape> ins, outs;
    net.getLayerShapes(input, id, ins, outs);
    if (outs.empty()) continue;
    const double weights = static_cast<double>(layer->blobs[0].total());
    if (layer->type == "Convolution" && outs[0].size() == 4) {
      flops += 2 * weights * outs[0][2] * outs[0][3];
    } else if (layer->type == "InnerProduct") {
      flops += 2 * weights;
    }
  }
  return flops / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: stage_bench RUNS IMAGE...\n");
    return 2;
  }
  const int runs = std::max(1, std::atoi(argv[1]));
  const int cores = cv::getNumberOfCPUs();
  const double gflops_all = conv_gflops(cores);
  const double gflops_one = conv_gflops(1);  // and the stages below run on one thread
  double t0 = wall_ms();
  auto models = local::find_models(std::nullopt);
  if (!models) {
    std::fprintf(stderr, "%s\n", models.error().message.c_str());
    return 2;
  }
  const double read_ms = wall_ms() - t0;
  t0 = wall_ms();
  auto nets = local::load_networks(*models);
  if (!nets) {
    std::fprintf(stderr, "%s\n", nets.error().message.c_str());
    return 2;
  }
  const double load_ms = wall_ms() - t0;
  // The first forward() of each network allocates its buffers and fuses its
  // layers: a one-shot run pays it once per network set.
  double setup_ms = 0;
  {
    const cv::Mat grey(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
    const double c0 = cpu_ms();
    (void)local::detect(nets->detector, grey, 0.6);
    (void)local::landmarks68(nets->landmarks, grey, geometry::Box{100, 100, 300, 300, 1});
    (void)local::embed(nets->embedder, grey(cv::Rect(0, 0, 112, 112)).clone());
    setup_ms = cpu_ms() - c0;
  }

  std::printf("%-26s %7s %7s %7s %7s %7s %7s %7s %7s | %7s %7s\n", "image (CPU ms, 1 thread)", "decode", "resize",
              "detect", "landm.", "align", "embed", "realign", "total", "+3 rot.", "zoom 2x");
  for (int i = 2; i < argc; ++i) {
    auto img = load_image(ImageSource{SourceKind::file, argv[i]}, 0, k_max_local_image_bytes);
    if (!img) {
      std::fprintf(stderr, "%s\n", img.error().message.c_str());
      return 2;
    }
    cv::Mat decoded;
    const double decode =
        median_cpu_ms(runs, [&] { decoded = local::decode(img->bytes, *img->format, img->label).value(); });
    cv::Mat upright = decoded;
    const double resize = median_cpu_ms(runs, [&] {
      if (std::max(decoded.cols, decoded.rows) > 2000) {
        const double f = 2000.0 / std::max(decoded.cols, decoded.rows);
        cv::resize(decoded, upright, cv::Size(), f, f, cv::INTER_AREA);
      }
    });
    std::vector<geometry::Box> boxes;
    const double detect = median_cpu_ms(runs, [&] { boxes = local::detect(nets->detector, upright, 0.6); });
    char name[27];
    std::snprintf(name, sizeof name, "%s %dx%d", std::strrchr(argv[i], '/') ? std::strrchr(argv[i], '/') + 1 : argv[i],
                  decoded.cols, decoded.rows);
    if (boxes.empty()) {
      std::printf("%-26s no face\n", name);
      continue;
    }
    std::vector<Point> points;
    const double landmarks =
        median_cpu_ms(runs, [&] { points = local::landmarks68(nets->landmarks, upright, boxes[0]); });
    const auto five = geometry::five_points(points);
    cv::Mat aligned;
    const double align = median_cpu_ms(runs, [&] { aligned = local::align(upright, five); });
    const double embed = median_cpu_ms(runs, [&] { (void)local::embed(nets->embedder, aligned); });
    const double realign = median_cpu_ms(runs, [&] { (void)local::realignment_error(nets->landmarks, aligned); });
    // The retries, paid only when the upright view holds no sure face: three
    // more rotations detected (their faces' landmarks and embeddings on top),
    // then, when none holds a face, the 3x3 tiles at 2x zoom (and 7x7 at 4x).
    const double rotations = median_cpu_ms(runs, [&] {
      for (auto flag : {cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_COUNTERCLOCKWISE}) {
        cv::Mat r;
        cv::rotate(upright, r, flag);
        (void)local::detect(nets->detector, r, 0.6);
      }
    });
    const double zoom = median_cpu_ms(runs, [&] {
      const int tw = upright.cols / 2, th = upright.rows / 2;
      if (tw < 240 || th < 240) return;
      for (int gy = 0; gy < 3; ++gy) {
        for (int gx = 0; gx < 3; ++gx)
          (void)local::detect(nets->detector, upright(cv::Rect(gx * tw / 2, gy * th / 2, tw, th)), 0.6);
      }
    });
    std::printf("%-26s %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f | %7.1f %7.1f\n", name, decode, resize, detect,
                landmarks, align, embed, realign, decode + resize + detect + landmarks + align + embed + realign,
                rotations, zoom);
  }
  std::printf(
      "models: read + checksum %.1f ms wall; per network set: parsed %.1f ms wall, first forward() of each "
      "network %.1f ms CPU\n",
      read_ms, load_ms, setup_ms);

  // The physical limit: multiply-adds of one upright photo with one face.
  const double det = mflops(nets->detector, {1, 3, 240, 320});
  const double lmk = mflops(nets->landmarks, {1, 1, 64, 64});
  const double emb = mflops(nets->embedder, {1, 3, 112, 112});
  const double per_photo = det + 2 * lmk + emb;  // landmarks twice: on the box, then on the aligned crop
  std::printf(
      "\nFLOPs (2 x multiply-adds of convolutions and dense layers): detector %.0f M (320x240), landmarks %.0f M "
      "(64x64), embedder %.0f M "
      "(112x112)\n",
      det, lmk, emb);
  std::printf("one photo, one face: %.0f MFLOP = detector + 2 x landmarks + embedder\n", per_photo);
  std::printf("OpenCV 3x3 convolution 128->128 at 28x28: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %d threads\n",
              gflops_one, gflops_all, cores);
  std::printf("limit: %.1f ms of CPU per photo for the networks alone = %.0f photos/s on %d cores\n",
              per_photo / gflops_one, cores * gflops_one * 1e3 / per_photo, cores);
  return 0;
}

// SPDX-License-Identifier: MIT
// Each stage of the offline pipeline on the public-domain astronaut sample
// and on synthetic images made here.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceverify/compare.hpp"
#include "faceverify/local_backend.hpp"
#include "local/pipeline.hpp"
#include "local_test_support.hpp"
#include "process.hpp"

using namespace faceverify;

namespace {

const std::string k_samples = std::string(FACEVERIFY_SOURCE_DIR) + "/samples/";

std::string file_bytes(const std::string& path) {
  return test::read_file(path);
}

Image image_from(const cv::Mat& mat, const std::string& label) {
  std::vector<unsigned char> png;
  cv::imencode(".png", mat, png);
  Image img;
  img.source = {SourceKind::file, label};
  img.label = label;
  img.bytes.assign(png.begin(), png.end());
  img.format = ImageFormat::png;
  return img;
}

Image image_file(const std::string& path) {
  return *load_image(ImageSource{SourceKind::file, path});
}

std::optional<local::Networks> networks_or_skip() {
  auto models = test::models_or_skip();
  if (!models) return std::nullopt;
  auto nets = local::load_networks(*models);  // the ModelSet read and checked once
  REQUIRE(nets);
  return std::move(*nets);
}

}  // namespace

namespace {
// The EXIF segment of tests/data/local/astronaut-exif6.jpg with another
// orientation value: a JPEG whose stored pixels are `stored`.
std::string jpeg_with_orientation(const cv::Mat& stored, int orientation) {
  std::vector<unsigned char> buf;
  REQUIRE(cv::imencode(".jpg", stored, buf, {cv::IMWRITE_JPEG_QUALITY, 95}));
  const std::string tiff = std::string("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0", 18) +
                           static_cast<char>(orientation) + std::string("\0\0\0\0\0\0\0", 7);
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const std::size_t len = payload.size() + 2;
  const std::string app1 =
      std::string("\xFF\xE1") + static_cast<char>(len >> 8) + static_cast<char>(len & 0xFF) + payload;
  return std::string("\xFF\xD8") + app1 + std::string(buf.begin() + 2, buf.end());
}
double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  REQUIRE(a.size() == b.size());
  return cv::norm(a, b, cv::NORM_L1) / static_cast<double>(a.total() * a.channels());
}
}  // namespace

TEST_CASE("local::decode", "[local]") {
  const std::string jpeg = file_bytes(k_samples + "astronaut.jpg");
  SECTION("a JPEG decodes to BGR, as OpenCV's own decoder does") {
    auto m = local::decode(jpeg, ImageFormat::jpeg, "astronaut.jpg");
    REQUIRE(m);
    CHECK(m->cols == 512);
    CHECK(m->rows == 512);
    CHECK(m->type() == CV_8UC3);
    CHECK(mean_abs_diff(*m, cv::imread(k_samples + "astronaut.jpg")) < 1.0);
  }
  SECTION("the EXIF orientation is applied") {
    // Stored 180x240 with Orientation 6: shown upright it is 240x180.
    auto m = local::decode(file_bytes(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/local/astronaut-exif6.jpg"),
                           ImageFormat::jpeg, "x");
    REQUIRE(m);
    CHECK(m->cols == 240);
    CHECK(m->rows == 180);
  }
  SECTION("all eight orientations give the same upright picture") {
    // An asymmetric picture (a crop of the sample), stored as each tag
    // requires, must always decode to the original.
    const cv::Mat upright = cv::imread(k_samples + "astronaut.jpg")(cv::Rect(100, 20, 200, 120)).clone();
    for (int o = 1; o <= 8; ++o) {
      cv::Mat stored;
      switch (o) {  // the inverse of what the tag asks a viewer to do
        case 2: cv::flip(upright, stored, 1); break;
        case 3: cv::rotate(upright, stored, cv::ROTATE_180); break;
        case 4: cv::flip(upright, stored, 0); break;
        case 5: cv::transpose(upright, stored); break;
        case 6: cv::rotate(upright, stored, cv::ROTATE_90_COUNTERCLOCKWISE); break;
        case 7:
          cv::flip(upright, stored, -1);
          cv::transpose(stored, stored);
          break;
        case 8: cv::rotate(upright, stored, cv::ROTATE_90_CLOCKWISE); break;
        default: stored = upright.clone();
      }
      auto m = local::decode(jpeg_with_orientation(stored, o), ImageFormat::jpeg, "oriented.jpg");
      INFO("orientation " << o);
      REQUIRE(m);
      CHECK(mean_abs_diff(*m, upright) < 4.0);
    }
  }
  SECTION("PNG (grey, alpha, 16-bit), BMP, TIFF and WebP match the source pixels") {
    const cv::Mat img = cv::imread(k_samples + "astronaut.jpg")(cv::Rect(0, 0, 61, 47)).clone();
    struct Case {
      const char* ext;
      ImageFormat format;
      cv::Mat source;
      double tolerance;
    };
    cv::Mat grey, alpha, deep;
    cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(img, alpha, cv::COLOR_BGR2BGRA);
    img.convertTo(deep, CV_16UC3, 257.0);
    cv::Mat grey_bgr;
    cv::cvtColor(grey, grey_bgr, cv::COLOR_GRAY2BGR);
    for (const auto& c : std::vector<Case>{{".png", ImageFormat::png, img, 0.0},
                                           {".png", ImageFormat::png, grey, 0.0},
                                           {".png", ImageFormat::png, alpha, 0.0},
                                           {".png", ImageFormat::png, deep, 0.6},
                                           {".bmp", ImageFormat::bmp, img, 0.0},
                                           {".tiff", ImageFormat::tiff, img, 0.0},
                                           {".webp", ImageFormat::webp, img, 12.0}}) {
      std::vector<unsigned char> buf;
      REQUIRE(cv::imencode(c.ext, c.source, buf));
      auto m = local::decode(std::string(buf.begin(), buf.end()), c.format, c.ext);
      INFO(c.ext << " with " << c.source.channels() << " channels, depth " << c.source.depth());
      REQUIRE(m);
      CHECK(mean_abs_diff(*m, c.source.channels() == 1 ? grey_bgr : img) <= c.tolerance);
    }
  }
  SECTION("undecodable bytes are an input error naming the image") {
    auto m = local::decode(std::string("\xFF\xD8\xFF\xE0 truncated", 14), ImageFormat::jpeg, "broken.jpg");
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == ErrorKind::input);
    CHECK(m.error().message ==
          "broken.jpg: cannot be decoded as JPEG (damaged, or a variant the local backend does not read)");
    auto gif = local::decode("GIF89a", ImageFormat::gif, "anim.gif");
    REQUIRE_FALSE(gif);
    CHECK(gif.error().message.starts_with("anim.gif: GIF is not supported by the local backend"));
  }
}

TEST_CASE("local::stages on the astronaut", "[local]") {
  auto nets = networks_or_skip();
  if (!nets) return;
  const cv::Mat img = cv::imread(k_samples + "astronaut.jpg");
  REQUIRE_FALSE(img.empty());

  const auto boxes = local::detect(nets->detector, img, 0.6);
  REQUIRE(boxes.size() == 1);
  const auto& box = boxes[0];
  CHECK(box.score > 0.99);
  // The face is around x 180-270, y 60-175 of the 512x512 portrait.
  CHECK(box.x1 == Approx(179).margin(20));
  CHECK(box.x2 == Approx(269).margin(20));
  CHECK(box.y1 == Approx(63).margin(20));
  CHECK(box.y2 == Approx(173).margin(20));

  const auto points = local::landmarks68(nets->landmarks, img, box);
  REQUIRE(points.size() == 68);
  for (const auto& p : points) {
    CHECK(p.x >= box.x1 - 10);
    CHECK(p.x <= box.x2 + 10);
  }
  const auto five = geometry::five_points(points);
  CHECK(geometry::plausible_upright_face(five, box));

  const cv::Mat aligned = local::align(img, five);
  CHECK(aligned.cols == 112);
  CHECK(aligned.rows == 112);
  CHECK(local::realignment_error(nets->landmarks, aligned) < 7.0);

  const auto e = local::embed(nets->embedder, aligned);
  REQUIRE(e.unit.size() == 512);
  double norm = 0;
  for (double x : e.unit) norm += x * x;
  CHECK(std::sqrt(norm) == Approx(1.0).epsilon(1e-9));
  CHECK(e.raw_norm > 3.0);
  // Deterministic up to float noise across CPUs.
  const auto again = local::embed(nets->embedder, aligned);
  for (std::size_t i = 0; i < 512; ++i) CHECK(again.unit[i] == Approx(e.unit[i]).margin(1e-5));

  SECTION("an upside-down face aligns badly and embeds weakly") {
    cv::Mat flipped;
    cv::rotate(aligned, flipped, cv::ROTATE_180);
    CHECK(local::embed(nets->embedder, flipped).raw_norm < e.raw_norm);
  }
  SECTION("a plain image has no face") {
    const cv::Mat grey(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
    CHECK(local::detect(nets->detector, grey, 0.6).empty());
  }
}

TEST_CASE("local::analyzer", "[local]") {
  auto analyzer = test::local_analyzer_or_skip();
  if (!analyzer) return;
  auto reference = analyzer->analyze(image_file(k_samples + "astronaut.jpg"));
  REQUIRE(reference);
  REQUIRE(reference->faces.size() == 1);
  const Face& face = reference->faces[0];
  CHECK(face.embedding.size() == 512);
  CHECK(face.landmarks.size() == 5);
  CHECK(face.landmarks[0].first == "left-eye");
  CHECK(*face.confidence > 0.99);
  CHECK(reference->width == 512);
  auto same = [&](const Analysis& other) {
    auto c = compare(*reference, "astronaut", other, "other", FacePolicy::largest, ScoreOptions{});
    REQUIRE(c);
    return meets_threshold(c->similarity, ScoreOptions{});
  };

  SECTION("the crop is the same person") {
    auto crop = analyzer->analyze(image_file(k_samples + "astronaut-crop.jpg"));
    REQUIRE(crop);
    CHECK(same(*crop));
  }
  SECTION("sideways and upside-down copies without EXIF are found the right way up") {
    const cv::Mat img = cv::imread(k_samples + "astronaut.jpg");
    for (auto flag : {cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_COUNTERCLOCKWISE}) {
      cv::Mat turned;
      cv::rotate(img, turned, flag);
      auto a = analyzer->analyze(image_from(turned, "turned.png"));
      REQUIRE(a);
      REQUIRE(a->faces.size() == 1);
      CHECK(same(*a));
      // The box is reported in the turned image's own frame: for a quarter
      // turn the face sits in a different place than in the original.
      if (flag != cv::ROTATE_180) CHECK(std::abs(a->faces[0].box[0] - face.box[0]) > 0.05);
    }
  }
  SECTION("the EXIF-rotated file matches") {
    auto a =
        analyzer->analyze(image_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/local/astronaut-exif6.jpg"));
    REQUIRE(a);
    REQUIRE(a->faces.size() == 1);
    CHECK(same(*a));
  }
  SECTION("a face of ~5 % of a large photo is found") {
    cv::Mat canvas(2000, 3000, CV_8UC3, cv::Scalar(140, 136, 128));
    cv::Mat crop = cv::imread(k_samples + "astronaut-crop.jpg");
    cv::resize(crop, crop, cv::Size(150, 150), 0, 0, cv::INTER_AREA);  // 5 % of the width
    crop.copyTo(canvas(cv::Rect(2100, 1300, 150, 150)));
    auto a = analyzer->analyze(image_from(canvas, "group.png"));
    REQUIRE(a);
    REQUIRE(a->faces.size() == 1);
    CHECK(a->faces[0].box[0] == Approx(0.71).margin(0.02));
    CHECK(same(*a));
  }
  SECTION("no face in a synthetic image") {
    cv::Mat noise(600, 800, CV_8UC3);
    cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
    auto a = analyzer->analyze(image_from(noise, "noise.png"));
    REQUIRE(a);
    CHECK(a->faces.empty());
  }
  SECTION("two faces are both reported with boxes in the image's frame") {
    const cv::Mat crop = cv::imread(k_samples + "astronaut-crop.jpg");
    cv::Mat canvas(400, 900, CV_8UC3, cv::Scalar(90, 90, 90));
    crop.copyTo(canvas(cv::Rect(50, 100, 200, 200)));
    cv::Mat small;
    cv::resize(crop, small, cv::Size(150, 150));
    small.copyTo(canvas(cv::Rect(650, 150, 150, 150)));
    auto a = analyzer->analyze(image_from(canvas, "pair.png"));
    REQUIRE(a);
    REQUIRE(a->faces.size() == 2);
    const auto largest = pick_face(*a, FacePolicy::largest);
    CHECK(a->faces[*largest].box[0] < 0.3);  // the bigger copy, on the left
  }
  SECTION("a truncated file is refused, not decoded into a grey-filled guess") {
    Image cut = image_file(k_samples + "astronaut.jpg");
    cut.bytes.resize(cut.bytes.size() * 2 / 3);
    auto a = analyzer->analyze(cut);
    REQUIRE_FALSE(a);
    CHECK(a.error().kind == ErrorKind::input);
    CHECK(a.error().message.ends_with(": the image data ends early (truncated or damaged file)"));
  }
  SECTION("a huge image is refused before decoding") {
    std::string d = "\x89PNG\r\n\x1A\n";
    auto be32 = [](std::uint32_t v) {
      return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
    };
    d += be32(13) + "IHDR" + be32(30000) + be32(30000) + std::string("\x08\x00\0\0\0", 5) + "CRC!";
    d += be32(0) + "IEND" + "CRC!";
    Image huge;
    huge.source = {SourceKind::file, "huge.png"};
    huge.label = "huge.png";
    huge.bytes = d;
    huge.format = ImageFormat::png;
    auto a = analyzer->analyze(huge);
    REQUIRE_FALSE(a);
    CHECK(a.error().message ==
          "huge.png: 30000x30000 pixels is over the local backend's 100-megapixel limit; downscale it");
  }
  SECTION("URLs are refused: the local backend never uses the network") {
    Image url;
    url.source = {SourceKind::url, "https://example.com/a.jpg"};
    url.label = url.source.spec;
    auto a = analyzer->analyze(url);
    REQUIRE_FALSE(a);
    CHECK(a.error().kind == ErrorKind::input);
  }
  SECTION("concurrent analyses agree with sequential ones") {
    const Image img = image_file(k_samples + "astronaut-crop.jpg");
    auto first = std::async(std::launch::async, [&] { return analyzer->analyze(img); });
    auto second = std::async(std::launch::async, [&] { return analyzer->analyze(img); });
    auto a = first.get();
    auto b = second.get();
    REQUIRE(a);
    REQUIRE(b);
    for (std::size_t i = 0; i < 512; ++i)
      CHECK(a->faces[0].embedding[i] == Approx(b->faces[0].embedding[i]).margin(1e-6));
  }
}

TEST_CASE("local::analyzer owns the cores: OpenCV's threads or the workers, never both", "[local]") {
  auto models = test::models_or_skip();
  if (!models) return;
  const int cores = std::max(1, cv::getNumberOfCPUs());
  SECTION("one analysis at a time: OpenCV's threads take the cores") {
    auto analyzer = local::make_pipeline_analyzer(*models, local::PipelineOptions{.workers = 1});
    REQUIRE(analyzer);
    CHECK(cv::getNumThreads() == cores);
  }
  SECTION("more workers than cores: a single-threaded set per core, shared in turn, results unchanged") {
    auto analyzer =
        local::make_pipeline_analyzer(*models, local::PipelineOptions{.workers = 2 * static_cast<std::size_t>(cores)});
    REQUIRE(analyzer);
    CHECK(cv::getNumThreads() == 1);
    const Image img = image_file(k_samples + "astronaut-crop.jpg");
    auto reference = (*analyzer)->analyze(img);
    REQUIRE(reference);
    REQUIRE(reference->faces.size() == 1);
    std::vector<std::future<Expected<Analysis>>> runs;
    for (int i = 0; i < 2 * cores + 1; ++i) {
      runs.push_back(std::async(std::launch::async, [&] { return (*analyzer)->analyze(img); }));
    }
    for (auto& run : runs) {
      auto a = run.get();
      REQUIRE(a);
      REQUIRE(a->faces.size() == 1);
      for (std::size_t i = 0; i < 512; ++i)
        CHECK(a->faces[0].embedding[i] == Approx(reference->faces[0].embedding[i]).margin(1e-6));
    }
  }
}

TEST_CASE("local::analyzer: the astronaut's embedding matches the stored reference", "[local]") {
  auto analyzer = test::local_analyzer_or_skip();
  if (!analyzer) return;
  const std::vector<double> reference = test::astronaut_reference_embedding();
  REQUIRE(reference.size() == 512);
  double norm = 0;
  for (double x : reference) norm += x * x;
  REQUIRE(std::sqrt(norm) == Approx(1.0).epsilon(1e-6));
  auto a = analyzer->analyze(image_file(k_samples + "astronaut.jpg"));
  REQUIRE(a);
  REQUIRE(a->faces.size() == 1);
  const auto& e = a->faces[0].embedding;
  REQUIRE(e.size() == 512);
  // Run to run it is bit-identical; other SIMD kernels move it by ~0.001;
  // a colour-order slip (RGB for BGR) by 0.22.
  const double d = test::l2(e, reference);
  INFO("L2 distance to the reference: " << d);
  CHECK(d <= 0.02);
  for (std::size_t i = 0; i < 16; ++i) CHECK(e[i] == Approx(reference[i]).margin(0.005));
}

TEST_CASE("local::find_models", "[local]") {
  test::TempDir dir;
  const std::string d = dir.path().string();
  SECTION("missing models: one line saying how to install them") {
    auto m = local::find_models(d);
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == ErrorKind::usage);
    CHECK(m.error().message ==
          "the local backend's models are not installed (looked in " + d +
              "); install them with faceverify-install-models (scripts/install-models.sh in a source tree), or point "
              "--models DIR at them");
  }
  SECTION("a directory missing one model names it") {
    test::write_file(d + "/fr_detect.onnx", "x");
    auto m = local::find_models(d);
    REQUIRE_FALSE(m);
    CHECK(m.error().message.find("fr_detect.onnx: checksum mismatch") != std::string::npos);
    ::unlink((d + "/fr_detect.onnx").c_str());
    test::write_file(d + "/fr_feature.onnx", "x");
    auto n = local::find_models(d);
    REQUIRE_FALSE(n);
    CHECK(n.error().message == d + "/fr_detect.onnx: missing or unreadable (the detector model); reinstall with "
                                   "faceverify-install-models (scripts/install-models.sh)");
  }
  SECTION("a file with the wrong checksum is refused") {
    for (const auto& spec : local::model_specs()) test::write_file(d + "/" + std::string(spec.file), "not a model");
    auto m = local::find_models(d);
    REQUIRE_FALSE(m);
    CHECK(m.error().message == d + "/fr_detect.onnx: checksum mismatch (not the pinned detector model); reinstall "
                                   "with faceverify-install-models (scripts/install-models.sh)");
  }
  SECTION("search order: --models, then FACEVERIFY_MODELS, then XDG_DATA_HOME") {
    // Restore the caller's settings afterwards: later tests find models through them.
    struct Restore {
      std::optional<std::string> models, xdg;
      Restore() {
        if (const char* v = std::getenv("FACEVERIFY_MODELS")) models = v;
        if (const char* v = std::getenv("XDG_DATA_HOME")) xdg = v;
      }
      ~Restore() {
        models ? ::setenv("FACEVERIFY_MODELS", models->c_str(), 1) : ::unsetenv("FACEVERIFY_MODELS");
        xdg ? ::setenv("XDG_DATA_HOME", xdg->c_str(), 1) : ::unsetenv("XDG_DATA_HOME");
      }
    } restore;
    CHECK(local::model_search_path(std::string("/x")) == std::vector<std::string>{"/x"});
    ::setenv("FACEVERIFY_MODELS", "/from-env", 1);
    CHECK(local::model_search_path(std::nullopt) == std::vector<std::string>{"/from-env"});
    ::unsetenv("FACEVERIFY_MODELS");
    ::setenv("XDG_DATA_HOME", "/xdg", 1);
    const auto dirs = local::model_search_path(std::nullopt);
    REQUIRE(dirs.size() >= 2);
    CHECK(dirs[0] == "/xdg/faceverify/models");
    // faceverify-install-models's system-wide directory (run as root) comes next.
    CHECK(dirs[1] == "/var/lib/faceverify/models");
    ::unsetenv("XDG_DATA_HOME");
  }
}

// SPDX-License-Identifier: MIT
// Says whether a PNG (a screenshot) shows something: decodes it with libpng
// and counts distinct colours, the share of non-white pixels and the spread
// of the luminance.
//   png_stats FILE.png
// Prints "FILE.png: 1200x1800, 2345 colours, 12% non-white, luma sd 41.2" and
// exits 0 when the image is not blank, 1 when it is (or cannot be read).
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_set>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: png_stats FILE.png\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);

  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&image, path.c_str()) == 0) {
    std::fprintf(stderr, "%s: cannot read PNG: %s\n", name.c_str(), image.message);
    return 1;
  }
  image.format = PNG_FORMAT_RGB;  // alpha composited onto the background
  std::vector<png_byte> pixels(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) == 0) {
    std::fprintf(stderr, "%s: cannot decode PNG: %s\n", name.c_str(), image.message);
    png_image_free(&image);
    return 1;
  }
  const std::size_t n = static_cast<std::size_t>(image.width) * image.height;
  std::unordered_set<std::uint32_t> colours;
  std::size_t non_white = 0;
  double sum = 0.0, sum_sq = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned r = pixels[3 * i], g = pixels[3 * i + 1], b = pixels[3 * i + 2];
    colours.insert((r << 16) | (g << 8) | b);
    if (r < 245 || g < 245 || b < 245) ++non_white;
    const double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += y;
    sum_sq += y * y;
  }
  const double count = n > 0 ? static_cast<double>(n) : 1.0;
  const double mean = sum / count;
  const double sd = std::sqrt(std::max(0.0, sum_sq / count - mean * mean));
  const double non_white_share = static_cast<double>(non_white) / count;
  std::printf("%s: %ux%u, %zu colours, %.0f%% non-white, luma sd %.1f\n", name.c_str(), image.width, image.height,
              colours.size(), non_white_share * 100.0, sd);
  // A rendered report has text (antialiased: hundreds of shades), charts in
  // several colours, and a good part of the page not white.
  const bool blank = n == 0 || colours.size() < 64 || non_white_share < 0.02 || sd < 4.0;
  if (blank) std::fprintf(stderr, "%s: looks blank\n", name.c_str());
  return blank ? 1 : 0;
}

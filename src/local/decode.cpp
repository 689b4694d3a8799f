// SPDX-License-Identifier: MIT
// Decoding without OpenCV's imgcodecs: on Debian that library pulls in GDAL
// and ~120 other shared libraries, which cost ~60 ms and ~40 MB at every
// start. libjpeg-turbo, libpng, libwebp and libtiff do the same job here;
// BMP is read directly. The EXIF orientation of JPEGs is applied.
// jpeglib.h needs size_t and FILE declared before it.
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <webp/decode.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "pipeline.hpp"

namespace faceverify::local {
namespace {

// --- JPEG -----------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

[[noreturn]] void on_jpeg_error(j_common_ptr info) {
  std::longjmp(reinterpret_cast<JpegErrors*>(info->err)->jump, 1);
}
void on_jpeg_message(j_common_ptr) {}  // never print library text

// No C++ object with a destructor lives in this frame: longjmp would skip it.
// `reduction` (1, 2, 4 or 8) scales in the DCT domain: the IDCT runs at the
// reduced size, which is where most of the time goes.
bool decode_jpeg(std::string_view bytes, cv::Mat& out, int reduction = 1) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = on_jpeg_error;
  errors.mgr.output_message = on_jpeg_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_EXT_BGR;
  info.scale_num = 1;
  info.scale_denom = static_cast<unsigned>(reduction);
  jpeg_start_decompress(&info);
  out.create(static_cast<int>(info.output_height), static_cast<int>(info.output_width), CV_8UC3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out.ptr(static_cast<int>(info.output_scanline));
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  const bool clean = errors.mgr.num_warnings == 0;  // corrupt data is a warning in libjpeg
  jpeg_destroy_decompress(&info);
  return clean;
}

// Only `rect` (stored pixels of the decode at 1/reduction) of a JPEG:
// columns outside it are entropy-decoded but not transformed
// (jpeg_crop_scanline), rows above it skipped (jpeg_skip_scanlines), rows
// below it never read.
bool decode_jpeg_region(std::string_view bytes, cv::Mat& out, int reduction, int x, int y, int w, int h) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = on_jpeg_error;
  errors.mgr.output_message = on_jpeg_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_EXT_BGR;
  info.scale_num = 1;
  info.scale_denom = static_cast<unsigned>(reduction);
  jpeg_start_decompress(&info);
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || static_cast<JDIMENSION>(x + w) > info.output_width ||
      static_cast<JDIMENSION>(y + h) > info.output_height) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  JDIMENSION left = static_cast<JDIMENSION>(x), width = static_cast<JDIMENSION>(w);
  jpeg_crop_scanline(&info, &left, &width);  // widened to whole iMCU columns
  const int shift = x - static_cast<int>(left);
  if (y > 0) jpeg_skip_scanlines(&info, static_cast<JDIMENSION>(y));
  out.create(h, w, CV_8UC3);
  // The row buffer is the library's (freed with it): no destructor in this frame.
  JSAMPARRAY row =
      (*info.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&info), JPOOL_IMAGE, info.output_width * 3, 1);
  for (int r = 0; r < h; ++r) {
    jpeg_read_scanlines(&info, row, 1);
    std::memcpy(out.ptr(r), row[0] + 3 * shift, static_cast<std::size_t>(w) * 3);
  }
  jpeg_abort_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

// The stored (not yet oriented) size of a JPEG, from its header alone.
bool jpeg_size(std::string_view bytes, int& width, int& height) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = on_jpeg_error;
  errors.mgr.output_message = on_jpeg_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  width = static_cast<int>(info.image_width);
  height = static_cast<int>(info.image_height);
  jpeg_destroy_decompress(&info);
  return width > 0 && height > 0;
}

std::uint32_t read16(const unsigned char* p, bool little) {
  return little ? p[0] | (p[1] << 8) : (p[0] << 8) | p[1];
}
std::uint32_t read32(const unsigned char* p, bool little) {
  return little ? read16(p, true) | (read16(p + 2, true) << 16) : (read16(p, false) << 16) | read16(p + 2, false);
}

// The Orientation tag (0x0112) of the EXIF block in APP1; 1 when absent.
int exif_orientation(std::string_view bytes) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t i = 2;
  while (i + 4 <= bytes.size() && d[i] == 0xFF) {
    const unsigned marker = d[i + 1];
    if (marker == 0xDA || marker == 0xD9) break;  // image data: no more metadata
    const std::size_t len = read16(d + i + 2, false);
    if (len < 2 || i + 2 + len > bytes.size()) break;
    const unsigned char* seg = d + i + 4;
    const std::size_t seg_len = len - 2;
    if (marker == 0xE1 && seg_len >= 14 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const unsigned char* tiff = seg + 6;
      const std::size_t tiff_len = seg_len - 6;
      const bool little = tiff[0] == 'I';
      const std::size_t ifd = read32(tiff + 4, little);
      if (ifd + 2 > tiff_len) return 1;
      const std::size_t count = read16(tiff + ifd, little);
      for (std::size_t k = 0; k < count; ++k) {
        const std::size_t entry = ifd + 2 + 12 * k;
        if (entry + 12 > tiff_len) break;
        if (read16(tiff + entry, little) == 0x0112) {
          const int value = static_cast<int>(read16(tiff + entry + 8, little));
          return value >= 1 && value <= 8 ? value : 1;
        }
      }
      return 1;
    }
    i += 2 + len;
  }
  return 1;
}

cv::Mat apply_orientation(const cv::Mat& image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(image, out, 1); return out;
    case 3: cv::rotate(image, out, cv::ROTATE_180); return out;
    case 4: cv::flip(image, out, 0); return out;
    case 5: cv::transpose(image, out); return out;
    case 6: cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE); return out;
    case 7:
      cv::transpose(image, out);
      cv::flip(out, out, -1);
      return out;
    case 8: cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE); return out;
    default: return image;
  }
}

// --- PNG, WebP --------------------------------------------------------------

bool decode_png(std::string_view bytes, cv::Mat& out) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return false;
  // libpng's simplified API treats 16-bit samples as linear and would
  // gamma-encode them on the way to 8 bits; read them as they are instead
  // and scale, as other decoders do. Alpha is composited onto black.
  const bool deep = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
  image.format = deep ? PNG_FORMAT_BGR | PNG_FORMAT_FLAG_LINEAR : PNG_FORMAT_BGR;
  cv::Mat pixels(static_cast<int>(image.height), static_cast<int>(image.width), deep ? CV_16UC3 : CV_8UC3);
  const auto stride = static_cast<png_int_32>(pixels.step[0] / (deep ? 2 : 1));  // in components
  const bool ok = png_image_finish_read(&image, nullptr, pixels.data, stride, nullptr) != 0;
  png_image_free(&image);
  if (!ok) return false;
  if (deep) {
    pixels.convertTo(out, CV_8UC3, 1.0 / 257.0);
  } else {
    out = pixels;
  }
  return true;
}

// `reduction` > 1: libwebp's own rescaler, while decoding, to ceil(w / r) x ceil(h / r).
bool decode_webp(std::string_view bytes, cv::Mat& out, int reduction = 1) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return false;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (WebPGetFeatures(data, bytes.size(), &config.input) != VP8_STATUS_OK) return false;
  const int w = config.input.width, h = config.input.height;
  if (w <= 0 || h <= 0) return false;
  const int ow = (w + reduction - 1) / reduction, oh = (h + reduction - 1) / reduction;
  if (reduction > 1) {
    config.options.use_scaling = 1;
    config.options.scaled_width = ow;
    config.options.scaled_height = oh;
  }
  out.create(oh, ow, CV_8UC3);
  config.output.colorspace = MODE_BGR;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = out.data;
  config.output.u.RGBA.stride = static_cast<int>(out.step[0]);
  config.output.u.RGBA.size = out.total() * 3;
  const bool ok = WebPDecode(data, bytes.size(), &config) == VP8_STATUS_OK;
  WebPFreeDecBuffer(&config.output);
  return ok;
}

// --- TIFF (from memory through libtiff's client I/O) --------------------------

struct MemoryFile {
  std::string_view bytes;
  toff_t pos = 0;
};

tsize_t tiff_read(thandle_t h, tdata_t buf, tsize_t size) {
  auto* f = static_cast<MemoryFile*>(h);
  const auto n =
      std::min<toff_t>(static_cast<toff_t>(size), f->bytes.size() - std::min<toff_t>(f->pos, f->bytes.size()));
  std::memcpy(buf, f->bytes.data() + f->pos, n);
  f->pos += n;
  return static_cast<tsize_t>(n);
}
tsize_t tiff_write(thandle_t, tdata_t, tsize_t) {
  return 0;
}
toff_t tiff_seek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemoryFile*>(h);
  const toff_t base = whence == SEEK_CUR ? f->pos : whence == SEEK_END ? f->bytes.size() : 0;
  f->pos = base + off;
  return f->pos;
}
int tiff_close(thandle_t) {
  return 0;
}
toff_t tiff_size(thandle_t h) {
  return static_cast<MemoryFile*>(h)->bytes.size();
}
int tiff_map(thandle_t, tdata_t*, toff_t*) {
  return 0;
}
void tiff_unmap(thandle_t, tdata_t, toff_t) {}

bool decode_tiff(std::string_view bytes, cv::Mat& out) {
  TIFFSetErrorHandler(nullptr);  // never print library text
  TIFFSetWarningHandler(nullptr);
  MemoryFile file{bytes};
  TIFF* tif = TIFFClientOpen("image", "rm", &file, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size, tiff_map,
                             tiff_unmap);
  if (!tif) return false;
  std::uint32_t w = 0, h = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  bool ok = w > 0 && h > 0 && std::uint64_t{w} * h <= 100'000'000;
  if (ok) {
    cv::Mat rgba(static_cast<int>(h), static_cast<int>(w), CV_8UC4);
    // ABGR words, top-left origin: the file's own orientation tag is applied.
    ok = TIFFReadRGBAImageOriented(tif, w, h, reinterpret_cast<std::uint32_t*>(rgba.data), ORIENTATION_TOPLEFT, 0);
    if (ok) cv::cvtColor(rgba, out, cv::COLOR_RGBA2BGR);
  }
  TIFFClose(tif);
  return ok;
}

// --- BMP (uncompressed 24/32-bit and 8-bit palette) ----------------------------

bool decode_bmp(std::string_view bytes, cv::Mat& out) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 54) return false;
  const std::size_t pixels_at = read32(d + 10, true);
  const std::size_t header = read32(d + 14, true);
  const auto width = static_cast<std::int32_t>(read32(d + 18, true));
  const auto height = static_cast<std::int32_t>(read32(d + 22, true));
  const std::uint32_t bits = read16(d + 28, true);
  const std::uint32_t compression = read32(d + 30, true);
  if (header < 40 || width <= 0 || height == 0 || (compression != 0 && compression != 3)) return false;
  if (bits != 24 && bits != 32 && bits != 8) return false;
  const bool bottom_up = height > 0;
  const std::int64_t rows = bottom_up ? height : -static_cast<std::int64_t>(height);
  if (std::int64_t{width} * rows > 100'000'000) return false;
  const std::size_t stride = ((static_cast<std::size_t>(width) * bits + 31) / 32) * 4;
  if (pixels_at + stride * static_cast<std::size_t>(rows) > bytes.size()) return false;
  std::size_t colours = read32(d + 46, true);
  if (bits == 8 && colours == 0) colours = 256;
  const unsigned char* palette = d + 14 + header;
  if (bits == 8 && 14 + header + 4 * colours > bytes.size()) return false;
  out.create(static_cast<int>(rows), width, CV_8UC3);
  for (std::int64_t y = 0; y < rows; ++y) {
    const unsigned char* src = d + pixels_at + stride * static_cast<std::size_t>(bottom_up ? rows - 1 - y : y);
    auto* dst = out.ptr<unsigned char>(static_cast<int>(y));
    for (std::int32_t x = 0; x < width; ++x) {
      const unsigned char* px =
          bits == 8 ? palette + 4 * std::min<std::size_t>(src[x], colours - 1) : src + x * (bits / 8);
      dst[3 * x] = px[0];  // BMP stores blue, green, red
      dst[3 * x + 1] = px[1];
      dst[3 * x + 2] = px[2];
    }
  }
  return true;
}

// Which way each oriented axis runs in the stored image (EXIF 1-8).
struct AxisMap {
  bool swap;       // oriented x is stored y
  bool reverse_x;  // oriented x runs against its stored axis
  bool reverse_y;
};
AxisMap axis_map(int orientation) {
  static constexpr AxisMap k_maps[] = {{false, false, false}, {false, true, false}, {false, true, true},
                                       {false, false, true},  {true, false, false}, {true, true, false},
                                       {true, true, true},    {true, false, true}};
  return k_maps[std::clamp(orientation, 1, 8) - 1];
}

Expected<cv::Mat> undecodable(ImageFormat format, const std::string& label) {
  return fail(ErrorKind::input, label + ": cannot be decoded as " + std::string(format_name(format)) +
                                    " (damaged, or a variant the local backend does not read)");
}

}  // namespace

Expected<cv::Mat> decode(std::string_view bytes, ImageFormat format, const std::string& label) {
  cv::Mat image;
  bool ok = false;
  try {
    switch (format) {
      case ImageFormat::jpeg:
        ok = decode_jpeg(bytes, image);
        if (ok) image = apply_orientation(image, exif_orientation(bytes));
        break;
      case ImageFormat::png: ok = decode_png(bytes, image); break;
      case ImageFormat::webp: ok = decode_webp(bytes, image); break;
      case ImageFormat::tiff: ok = decode_tiff(bytes, image); break;
      case ImageFormat::bmp: ok = decode_bmp(bytes, image); break;
      case ImageFormat::gif:
        return fail(ErrorKind::input, label +
                                          ": GIF is not supported by the local backend; convert it to PNG, or "
                                          "use --backend api4ai");
    }
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || image.empty()) return undecodable(format, label);
  return image;
}

Expected<ScaledSource> ScaledSource::open(std::string_view bytes, ImageFormat format, const std::string& label) {
  ScaledSource source(bytes, format, label);
  int w = 0, h = 0;
  bool ok = false;
  try {
    if (format == ImageFormat::jpeg) {
      ok = jpeg_size(bytes, w, h);
      source.m_orientation = exif_orientation(bytes);
      source.m_max_reduction = 8;
    } else if (format == ImageFormat::webp) {
      ok = WebPGetInfo(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &w, &h) && w > 0 && h > 0;
      source.m_max_reduction = 8;
    } else {
      // PNG, TIFF, BMP: decoded whole, as by decode(); reductions are not offered.
      auto image = decode(bytes, format, label);
      if (!image) return std::unexpected(image.error());
      w = image->cols;
      h = image->rows;
      Reduced full;
      full.image = std::move(*image);
      source.m_cache.push_back(std::move(full));
      ok = true;
    }
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok) return std::unexpected(undecodable(format, label).error());
  source.m_stored = cv::Size(w, h);
  source.m_size = axis_map(source.m_orientation).swap ? cv::Size(h, w) : cv::Size(w, h);
  return source;
}

Expected<Reduced> ScaledSource::region(cv::Rect full_rect, int reduction) {
  reduction = std::clamp(reduction, 1, m_max_reduction);
  // A decode kept at this scale serves it; PNG, TIFF, BMP and WebP are cut from one.
  const Reduced* whole = nullptr;
  for (const auto& r : m_cache) {
    if (r.reduction == reduction) whole = &r;
  }
  if (!whole && m_format != ImageFormat::jpeg) {
    auto decoded = at(reduction);
    if (!decoded) return std::unexpected(decoded.error());
    whole = *decoded;
  }
  const AxisMap map = axis_map(m_orientation);
  // The rectangle in the oriented decode at this scale, whole pixels around it.
  const int ow =
      whole ? whole->image.cols : ((map.swap ? m_stored.height : m_stored.width) + reduction - 1) / reduction;
  const int oh =
      whole ? whole->image.rows : ((map.swap ? m_stored.width : m_stored.height) + reduction - 1) / reduction;
  Reduced grid;
  if (whole) {
    grid = *whole;
    grid.image = cv::Mat();
  } else {
    grid.fx = grid.fy = reduction;
    grid.ox = map.reverse_x ? m_size.width - static_cast<double>(ow) * reduction : 0.0;
    grid.oy = map.reverse_y ? m_size.height - static_cast<double>(oh) * reduction : 0.0;
    grid.reduction = reduction;
  }
  const Point a = grid.from_full({static_cast<double>(full_rect.x), static_cast<double>(full_rect.y)});
  const Point b = grid.from_full({static_cast<double>(full_rect.br().x), static_cast<double>(full_rect.br().y)});
  const cv::Rect rect = cv::Rect(cv::Point(static_cast<int>(std::floor(a.x)), static_cast<int>(std::floor(a.y))),
                                 cv::Point(static_cast<int>(std::ceil(b.x)), static_cast<int>(std::ceil(b.y)))) &
                        cv::Rect(0, 0, ow, oh);
  if (rect.empty()) return std::unexpected(undecodable(m_format, m_label).error());
  Reduced out = grid;
  out.ox += rect.x * grid.fx;
  out.oy += rect.y * grid.fy;
  if (whole) {
    out.image = whole->image(rect);
    return out;
  }
  // Where the rectangle is in the stored pixels at this scale.
  const int sw = (m_stored.width + reduction - 1) / reduction, sh = (m_stored.height + reduction - 1) / reduction;
  const int x = rect.x, y = rect.y, w = rect.width, h = rect.height;
  cv::Rect stored;
  switch (std::clamp(m_orientation, 1, 8)) {
    case 2: stored = {sw - x - w, y, w, h}; break;
    case 3: stored = {sw - x - w, sh - y - h, w, h}; break;
    case 4: stored = {x, sh - y - h, w, h}; break;
    case 5: stored = {y, x, h, w}; break;
    case 6: stored = {y, sh - x - w, h, w}; break;
    case 7: stored = {sw - y - h, sh - x - w, h, w}; break;
    case 8: stored = {sw - y - h, x, h, w}; break;
    default: stored = rect;
  }
  cv::Mat pixels;
  bool ok = false;
  try {
    ok = decode_jpeg_region(m_bytes, pixels, reduction, stored.x, stored.y, stored.width, stored.height);
    if (ok) pixels = apply_orientation(pixels, m_orientation);
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || pixels.size() != rect.size()) return std::unexpected(undecodable(m_format, m_label).error());
  out.image = std::move(pixels);
  return out;
}

Expected<const Reduced*> ScaledSource::at(int reduction) {
  reduction = std::clamp(reduction, 1, m_max_reduction);
  for (const auto& r : m_cache) {
    if (r.reduction == reduction) return &r;
  }
  cv::Mat image;
  bool ok = false;
  try {
    if (m_format == ImageFormat::jpeg) {
      ok = decode_jpeg(m_bytes, image, reduction);
      if (ok) image = apply_orientation(image, m_orientation);
    } else if (m_format == ImageFormat::webp) {
      ok = decode_webp(m_bytes, image, reduction);
    }
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || image.empty()) return std::unexpected(undecodable(m_format, m_label).error());
  Reduced r;
  r.reduction = reduction;
  if (m_format == ImageFormat::jpeg) {
    // Reduced pixel i covers full pixels [i r, (i + 1) r) of the stored image;
    // an axis the orientation reverses starts with the partial block.
    const AxisMap map = axis_map(m_orientation);
    r.fx = r.fy = reduction;
    r.ox = map.reverse_x ? m_size.width - static_cast<double>(image.cols) * reduction : 0.0;
    r.oy = map.reverse_y ? m_size.height - static_cast<double>(image.rows) * reduction : 0.0;
  } else {
    r.fx = static_cast<double>(m_size.width) / image.cols;
    r.fy = static_cast<double>(m_size.height) / image.rows;
  }
  r.image = std::move(image);
  m_cache.push_back(std::move(r));
  return &m_cache.back();
}

}  // namespace faceverify::local

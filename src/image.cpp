// SPDX-License-Identifier: MIT
#include "faceverify/image.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "faceverify/file_io.hpp"
#include "faceverify/sha256.hpp"
#include "faceverify/text.hpp"

namespace faceverify {
namespace {

bool starts_with_bytes(std::string_view data, std::string_view magic) {
  return data.size() >= magic.size() && data.substr(0, magic.size()) == magic;
}

std::uint32_t read_le32(std::string_view data, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value |= std::uint32_t{static_cast<unsigned char>(data[at + i])} << (8 * i);
  }
  return value;
}

std::string describe_errno(int err) {
  switch (err) {
    case ENOENT: return "no such file";
    case EACCES: return "permission denied (check the file's mode)";
    case ELOOP: return "too many levels of symbolic links";
    case ENAMETOOLONG: return "path too long";
    case ENOTDIR: return "a component of the path is not a directory";
    default: return std::strerror(err);
  }
}

std::string mib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string basename_of(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const auto slash = path.rfind('/');
  std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  return name.empty() ? std::string("image") : name;
}

// Reads at most max_bytes + 1 bytes, so that check_bytes sees an oversized
// stream without more than that held in memory.
Expected<std::string> read_bounded(int fd, const std::string& label, std::size_t max_bytes) {
  auto data = read_up_to(fd, max_bytes + 1);
  if (data) return std::move(*data);
  const int err = data.error().err;
  if (err == EISDIR) return fail(ErrorKind::input, label + ": is a directory (expected an image file)");
  return fail(ErrorKind::input, label + ": cannot read: " + describe_errno(err));
}

std::string limit_text(std::size_t max_bytes) {
  const std::string mib_text = std::to_string(max_bytes / (1024 * 1024)) + " MiB";
  return max_bytes == k_max_image_bytes ? "the " + mib_text + " upload limit" : "the " + mib_text + " limit";
}

Expected<Image> check_bytes(Image image, std::size_t max_bytes) {
  if (image.bytes.empty()) {
    return fail(ErrorKind::input, image.label + ": empty " +
                                      (image.source.kind == SourceKind::stdin_stream ? "input" : "file") +
                                      " (expected an image)");
  }
  if (image.bytes.size() > max_bytes) {
    return fail(ErrorKind::input, image.label + ": larger than " + limit_text(max_bytes) + "; shrink or recompress it");
  }
  image.format = sniff_format(image.bytes);
  if (!image.format) {
    return fail(ErrorKind::input, image.label + ": not an image (expected JPEG, PNG, WebP, BMP, GIF or TIFF)");
  }
  image.sha256 = sha256_hex(image.bytes);
  return image;
}

std::uint32_t be16(std::string_view d, std::size_t at) {
  return (std::uint32_t{static_cast<unsigned char>(d[at])} << 8) | static_cast<unsigned char>(d[at + 1]);
}
std::uint32_t be32(std::string_view d, std::size_t at) {
  return (be16(d, at) << 16) | be16(d, at + 2);
}
std::uint32_t le16(std::string_view d, std::size_t at) {
  return std::uint32_t{static_cast<unsigned char>(d[at])} | (std::uint32_t{static_cast<unsigned char>(d[at + 1])} << 8);
}

// JPEG: marker segments (skipped by their length, so an EXIF thumbnail's EOI
// does not count), entropy-coded data after each SOS up to the next marker,
// until EOI. Data after EOI (e.g. a phone's motion-photo video) is ignored.
void inspect_jpeg(std::string_view d, ImageHeader& h) {
  std::size_t i = 2;
  for (;;) {
    while (i < d.size() && static_cast<unsigned char>(d[i]) == 0xFF) ++i;  // fill bytes
    if (i >= d.size()) break;
    const auto marker = static_cast<unsigned char>(d[i++]);
    if (marker == 0xD9) return;                                          // EOI: complete
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (i + 2 > d.size()) break;
    const std::size_t len = be16(d, i);
    if (len < 2 || i + len > d.size()) break;
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof && len >= 7 && !h.width) {
      h.height = be16(d, i + 3);
      h.width = be16(d, i + 5);
    }
    i += len;
    if (marker == 0xDA) {  // scan data runs to the next marker other than RSTn / stuffed 0xFF00
      while (i + 1 < d.size()) {
        if (static_cast<unsigned char>(d[i]) == 0xFF) {
          const auto next = static_cast<unsigned char>(d[i + 1]);
          if (next != 0x00 && !(next >= 0xD0 && next <= 0xD7) && next != 0xFF) break;
        }
        ++i;
      }
      if (i + 1 >= d.size()) break;
    }
  }
  h.truncated = true;
}

void inspect_png(std::string_view d, ImageHeader& h) {
  std::size_t i = 8;
  while (i + 8 <= d.size()) {
    const std::size_t len = be32(d, i);
    const std::string_view type = d.substr(i + 4, 4);
    if (type == "IHDR" && len >= 8 && i + 16 <= d.size()) {
      h.width = be32(d, i + 8);
      h.height = be32(d, i + 12);
    }
    if (type == "IEND") return;
    if (len > d.size() || i + 12 + len > d.size()) break;
    i += 12 + len;
  }
  h.truncated = true;
}

}  // namespace

ImageHeader inspect_header(std::string_view d, ImageFormat format) noexcept {
  ImageHeader h;
  switch (format) {
    case ImageFormat::jpeg: inspect_jpeg(d, h); break;
    case ImageFormat::png: inspect_png(d, h); break;
    case ImageFormat::gif:
      if (d.size() >= 10) {
        h.width = le16(d, 6);
        h.height = le16(d, 8);
      }
      if (d.empty() || d.back() != ';') h.truncated = true;  // GIF trailer 0x3B
      break;
    case ImageFormat::bmp:
      if (d.size() >= 26) {
        h.truncated = read_le32(d, 2) > d.size();
        h.width = read_le32(d, 18);
        const auto height = static_cast<std::int32_t>(read_le32(d, 22));  // negative: top-down
        h.height = static_cast<std::uint32_t>(height < 0 ? -static_cast<std::int64_t>(height) : height);
      }
      break;
    case ImageFormat::webp:
      h.truncated = std::size_t{read_le32(d, 4)} + 8 > d.size();
      if (d.size() >= 30 && d.substr(12, 4) == "VP8X") {
        h.width = 1 + (read_le32(d, 24) & 0xFFFFFF);
        h.height = 1 + (read_le32(d, 27) & 0xFFFFFF);
      } else if (d.size() >= 30 && d.substr(12, 4) == "VP8 ") {
        h.width = le16(d, 26) & 0x3FFF;
        h.height = le16(d, 28) & 0x3FFF;
      } else if (d.size() >= 25 && d.substr(12, 4) == "VP8L") {
        const std::uint32_t bits = read_le32(d, 21);
        h.width = 1 + (bits & 0x3FFF);
        h.height = 1 + ((bits >> 14) & 0x3FFF);
      }
      break;
    case ImageFormat::tiff: break;
  }
  return h;
}

std::string display_name(std::string_view arg) {
  std::string text(arg);
  if (const auto sep = text.find("://"); sep != std::string::npos) {
    const auto host_end = text.find_first_of("/?#", sep + 3);
    const auto at = text.rfind('@', host_end == std::string::npos ? text.size() : host_end);
    if (at != std::string::npos && at > sep) text.replace(sep + 3, at - (sep + 3), "***");
  }
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Sequence seq = decode_utf8(text, i);
    const bool control = seq.code_point < 0x20 || seq.code_point == 0x7F;
    if (!seq.valid || control) {
      out.push_back('?');  // one per maximal subpart of an invalid sequence
    } else {
      out.append(text, i, seq.size);
    }
    i += seq.size;
  }
  return out;
}

std::optional<ImageFormat> sniff_format(std::string_view b) noexcept {
  if (starts_with_bytes(b, "\xFF\xD8\xFF")) return ImageFormat::jpeg;
  if (starts_with_bytes(b, "\x89PNG\r\n\x1A\n")) return ImageFormat::png;
  if (starts_with_bytes(b, "GIF87a") || starts_with_bytes(b, "GIF89a")) return ImageFormat::gif;
  if (b.size() >= 12 && starts_with_bytes(b, "RIFF") && b.substr(8, 4) == "WEBP") return ImageFormat::webp;
  if (starts_with_bytes(b, std::string_view("II*\0", 4)) || starts_with_bytes(b, std::string_view("MM\0*", 4))) {
    return ImageFormat::tiff;
  }
  // "BM" alone is too weak a signature (plenty of text starts with it), so
  // also require a known DIB header size at offset 14.
  if (b.size() >= 26 && starts_with_bytes(b, "BM")) {
    const std::uint32_t dib = read_le32(b, 14);
    if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124) {
      return ImageFormat::bmp;
    }
  }
  return std::nullopt;
}

std::string_view format_name(ImageFormat format) noexcept {
  switch (format) {
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::png: return "PNG";
    case ImageFormat::webp: return "WebP";
    case ImageFormat::bmp: return "BMP";
    case ImageFormat::gif: return "GIF";
    case ImageFormat::tiff: return "TIFF";
  }
  return "image";
}

std::string_view format_extension(ImageFormat format) noexcept {
  switch (format) {
    case ImageFormat::jpeg: return "jpg";
    case ImageFormat::png: return "png";
    case ImageFormat::webp: return "webp";
    case ImageFormat::bmp: return "bmp";
    case ImageFormat::gif: return "gif";
    case ImageFormat::tiff: return "tiff";
  }
  return "img";
}

Expected<ImageSource> classify_image_argument(std::string_view arg) {
  if (arg.empty()) return fail(ErrorKind::usage, "an IMAGE argument is empty");
  if (arg == "-") return ImageSource{SourceKind::stdin_stream, std::string(arg)};
  const auto sep = arg.find("://");
  const bool scheme_like = sep != std::string_view::npos && sep > 0 &&
                           std::all_of(arg.begin(), arg.begin() + static_cast<std::ptrdiff_t>(sep), [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                           });
  if (!scheme_like) return ImageSource{SourceKind::file, std::string(arg)};
  const std::string scheme = ascii_lowercase(arg.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return fail(ErrorKind::usage, display_name(arg) + ": unsupported URL scheme '" + display_name(scheme) +
                                      "' (only http:// and https:// URLs can be sent to the service)");
  }
  const std::string_view rest = arg.substr(sep + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == '?' || rest.front() == '#') {
    return fail(ErrorKind::usage, display_name(arg) + ": URL has no host");
  }
  return ImageSource{SourceKind::url, std::string(arg)};
}

namespace {

bool starts_like_json(std::string_view bytes) noexcept {
  for (const char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{';
  }
  return false;
}

// Reads and checks one input; with `allow_text`, an embedding file is let
// through unchecked (bounded by the larger limit).
Expected<Image> load_any(const ImageSource& source, int stdin_fd, std::size_t max_bytes, bool allow_text) {
  const std::size_t read_limit = allow_text ? std::max(max_bytes, k_max_embedding_file_bytes) : max_bytes;
  auto finish = [&](Image image) -> Expected<Image> {
    if (allow_text && starts_like_json(image.bytes)) {
      // read_bounded read one byte past the limit: a longer stream (stdin,
      // a FIFO) is refused, never parsed cut short.
      if (image.bytes.size() > read_limit) {
        return fail(ErrorKind::input,
                    image.label + ": embedding file larger than " + limit_text(read_limit) + "; split it");
      }
      image.embedding_text = true;
      return image;
    }
    return check_bytes(std::move(image), max_bytes);
  };
  Image image;
  image.source = source;
  switch (source.kind) {
    case SourceKind::url:
      image.label = display_name(source.spec);
      image.upload_name = source.spec;
      return image;
    case SourceKind::stdin_stream: {
      image.label = "stdin";
      auto bytes = read_bounded(stdin_fd, image.label, read_limit);
      if (!bytes) return std::unexpected(bytes.error());
      image.bytes = std::move(*bytes);
      auto checked = finish(std::move(image));
      if (checked && checked->format) {
        checked->upload_name = "stdin." + std::string(format_extension(*checked->format));
      }
      return checked;
    }
    case SourceKind::file: break;
  }
  image.label = display_name(source.spec);
  image.upload_name = basename_of(source.spec);
  const auto file = open_for_reading(source.spec);
  if (!file) return fail(ErrorKind::input, image.label + ": " + describe_errno(file.error().err));
  const int fd = file->get();
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(ErrorKind::input, image.label + ": " + describe_errno(errno));
  if (S_ISDIR(st.st_mode)) return fail(ErrorKind::input, image.label + ": is a directory (expected an image file)");
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    // Too big for an image; an embedding file may be larger.
    bool text = false;
    if (allow_text) {
      char head[64];
      const ssize_t n = ::pread(fd, head, sizeof head, 0);
      text = n > 0 && starts_like_json(std::string_view(head, static_cast<std::size_t>(n)));
    }
    if (!text || static_cast<std::uint64_t>(st.st_size) > read_limit) {
      return fail(ErrorKind::input, image.label + ": file is " + mib(static_cast<std::size_t>(st.st_size)) +
                                        ", larger than " + limit_text(text ? read_limit : max_bytes) +
                                        (text ? "; split it" : "; shrink or recompress it"));
    }
  }
  auto bytes = read_bounded(fd, image.label, read_limit);
  if (!bytes) return std::unexpected(bytes.error());
  image.bytes = std::move(*bytes);
  return finish(std::move(image));
}

}  // namespace

Expected<Image> load_image(const ImageSource& source, int stdin_fd, std::size_t max_bytes) {
  return load_any(source, stdin_fd, max_bytes, false);
}

Expected<Image> load_input(const ImageSource& source, int stdin_fd, std::size_t max_image_bytes) {
  return load_any(source, stdin_fd, max_image_bytes, true);
}

}  // namespace faceverify

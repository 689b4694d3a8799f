// SPDX-License-Identifier: MIT
#pragma once
// Image input: turns a command-line IMAGE argument (a path, an http(s) URL or
// "-" for stdin) into bytes ready to upload, refusing anything that cannot be
// an image before any network traffic.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"

namespace faceverify {

/// The service refuses larger uploads (HTTP 413); we refuse them first.
inline constexpr std::size_t k_max_image_bytes = 16u * 1024u * 1024u;
/// Nothing is uploaded with the local backend; this only bounds memory.
inline constexpr std::size_t k_max_local_image_bytes = 64u * 1024u * 1024u;

enum class ImageFormat { jpeg, png, webp, bmp, gif, tiff };

/// Detects the format from magic bytes (never from a file name).
std::optional<ImageFormat> sniff_format(std::string_view bytes) noexcept;

/// "JPEG", "PNG", ...
std::string_view format_name(ImageFormat format) noexcept;

/// "jpg", "png", ... (used to name an upload read from stdin)
std::string_view format_extension(ImageFormat format) noexcept;

enum class SourceKind { file, stdin_stream, url };

struct ImageSource {
  SourceKind kind = SourceKind::file;
  std::string spec;  // the argument exactly as given
};

/// Classifies an IMAGE argument. "-" is stdin; "scheme://..." is a URL and
/// only http and https are accepted (usage error otherwise).
Expected<ImageSource> classify_image_argument(std::string_view arg);

struct ImageHeader {
  std::optional<std::uint32_t> width;  // from the header, when the format is understood
  std::optional<std::uint32_t> height;
  bool truncated = false;  // the data ends before the format's end marker (JPEG EOI, PNG IEND, RIFF/BMP size)
};

/// Reads size and completeness from the container structure without
/// decoding pixels: JPEG (segments, scans, EOI), PNG (chunks up to IEND),
/// GIF, BMP and WebP. TIFF is not inspected (nothing set).
ImageHeader inspect_header(std::string_view bytes, ImageFormat format) noexcept;

/// How messages show an argument: control characters and invalid UTF-8
/// become '?', so a diagnostic stays one line, and a URL's user:password@
/// part becomes "***@".
std::string display_name(std::string_view arg);

/// A loaded input. URL inputs carry no bytes: the service downloads them.
struct Image {
  ImageSource source;
  std::string label;        // how messages name it: the path, the URL or "stdin"
  std::string upload_name;  // multipart filename: basename, or "stdin.<ext>"
  std::string bytes;        // empty for URLs
  std::optional<ImageFormat> format;
  std::string sha256;           // of the bytes; empty for URLs
  bool embedding_text = false;  // load_input: the bytes are an embedding file, not an image
};

/// Reads a file or stdin (`stdin_fd`) fully and checks it. Errors
/// (ErrorKind::input) name the input: missing, unreadable, directory, empty,
/// over `max_bytes`, not an image. A URL is returned without I/O.
Expected<Image> load_image(const ImageSource& source, int stdin_fd = 0, std::size_t max_bytes = k_max_image_bytes);

/// An embedding file may be this large (about 25,000 faces).
inline constexpr std::size_t k_max_embedding_file_bytes = 256u * 1024u * 1024u;

/// Like load_image, but a file or stdin whose first non-blank byte is '{'
/// comes back unchecked with `embedding_text` set (an embedding file, see
/// embedding_file.hpp), bounded by k_max_embedding_file_bytes instead.
Expected<Image> load_input(const ImageSource& source, int stdin_fd, std::size_t max_image_bytes);

}  // namespace faceverify

// SPDX-License-Identifier: MIT
#pragma once
// The gallery file written by `faceverify index`: the embeddings of many
// photos as one contiguous float32 matrix (plus each vector's norm), what
// JSON output needs about each photo, and the backend that made them, so a
// search over a million faces reads 2 GB once instead of parsing 12 GB of
// JSON. Format and promises: docs/gallery-file.md.
//
// Read with pread, never mapped: a file truncated or rewritten while it is
// read gives an error, never a SIGBUS; what the header and tables promise is
// checked (sizes, offsets, a CRC-32C of everything but the matrix) before
// anything is used.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/compare.hpp"
#include "faceverify/embedding_file.hpp"
#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/file_io.hpp"

namespace faceverify::gallery {

inline constexpr std::uint32_t k_format_version = 1;
inline constexpr std::size_t k_header_bytes = 128;
/// The first bytes of every gallery file (PNG-style: a high byte, a name, and
/// line endings that a text-mode transfer would change).
inline constexpr std::string_view k_magic{
    "\x89"
    "FVGAL\r\n",
    8};

/// Whether `head` (a file's first bytes) starts like a gallery file.
bool looks_like_gallery(std::string_view head) noexcept;

/// Whether the file at `path` is a regular file that starts like a gallery.
bool is_gallery_file(const std::string& path);

/// CRC-32C (Castagnoli), continued from `crc` (0 to start). SSE 4.2 when the
/// CPU has it, else a portable table.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;

/// What the header says about the whole file.
struct Info {
  Provenance provenance;
  std::optional<std::string> service_version;  // api4ai
  std::string tool_version;                    // of the faceverify that wrote it
  std::uint32_t dimension = 0;                 // 0: no face yet
  std::uint64_t records = 0;                   // photos (with no face and failed ones)
  std::uint64_t rows = 0;                      // faces: rows of the matrix
  std::uint64_t file_size = 0;
  std::uint32_t checksum = 0;  // CRC-32C of header, provenance and tables (which hold each record's metadata CRC)
  std::uint32_t matrix_checksum = 0;  // CRC-32C of the matrix (checked by verify_matrix)
};

/// An open, validated gallery file. Thread-safe for reading (pread only).
class Gallery {
 public:
  /// Opens `path` and checks it whole except the matrix's values and the
  /// records' metadata (each checked by its own CRC when read): magic,
  /// version, that every size and offset fits the file's size, the tables,
  /// and the checksum. Errors (ErrorKind::input) name `label`:
  /// "big.fvg: truncated: 1.9 GB of the 2.1 GB its header promises (build it again)".
  static Expected<std::shared_ptr<const Gallery>> open(const std::string& path, std::string label);

  const Info& info() const noexcept { return m_info; }
  const std::string& label() const noexcept { return m_label; }
  std::size_t size() const noexcept { return m_records.size(); }

  std::uint64_t first_row(std::size_t record) const noexcept { return m_records[record].first_row; }
  std::uint32_t row_count(std::size_t record) const noexcept { return m_records[record].row_count; }
  bool is_error(std::size_t record) const noexcept { return (m_records[record].flags & k_flag_error) != 0; }
  /// The record's image SHA-256 as lowercase hex; empty when unknown (URL).
  std::string sha256(std::size_t record) const;
  /// The face of `record` that `policy` picks (largest or first) as a row
  /// number; for `best` every row counts. nullopt without a face.
  std::optional<std::uint64_t> picked_row(std::size_t record, FacePolicy policy) const;
  /// Each row's L2 norm (of the vector as given, before rounding to float32).
  double norm(std::uint64_t row) const noexcept { return m_norms[row]; }

  /// Reads `count` rows starting at `first` into `out` (count × dimension floats).
  Expected<void> read_rows(std::uint64_t first, std::uint64_t count, float* out) const;

  /// The whole record, as an embedding file would hold it: its metadata and
  /// the provenance of the header, each face's embedding from its row (float32
  /// widened to double), validated like any record.
  Expected<EmbeddingRecord> record(std::size_t index) const;

  /// The raw metadata bytes of one record (for copying into another gallery).
  Expected<std::string> raw_metadata(std::size_t index) const;

  /// Reads the whole matrix and compares its CRC-32C with the header's.
  Expected<void> verify_matrix() const;

  static constexpr std::uint32_t k_flag_error = 1;
  static constexpr std::uint32_t k_flag_sha256 = 2;

  struct RecordEntry {
    std::uint64_t first_row = 0;
    std::uint32_t row_count = 0;
    std::uint32_t flags = 0;
    std::uint64_t meta_offset = 0;  // within the metadata section
    std::uint32_t meta_size = 0;
    std::uint32_t meta_crc = 0;  // CRC-32C of its metadata bytes
    std::array<unsigned char, 32> sha256{};
  };
  struct Offsets {
    std::uint64_t matrix = 0, norms = 0, boxes = 0, records = 0, metadata = 0, metadata_size = 0;
  };

  // Public for make_shared; use open().
  Gallery() = default;

 private:
  friend class Writer;
  Info m_info;
  std::string m_label;
  FileDescriptor m_fd;
  Offsets m_off;
  std::string m_provenance_suffix;  // the provenance members, as JSON text after the record's own
  std::vector<RecordEntry> m_records;
  std::vector<double> m_norms;
  std::vector<std::array<double, 4>> m_boxes;
};

/// Writes a new gallery file: records are added one by one (their vectors go
/// to the file at once; the tables stay in memory until commit()), then
/// commit() writes the header and renames the temporary file over `path`.
/// Nothing is left behind when it is destroyed before commit().
class Writer {
 public:
  /// Errors name `path`. `provenance` is the backend every record must share.
  static Expected<std::unique_ptr<Writer>> create(const std::string& path, const Provenance& provenance,
                                                  std::optional<std::string> service_version);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// One record (an image's analysis, a record with no face, or an error
  /// record). Refused (ErrorKind::input) when its provenance is not
  /// comparable with the gallery's, or its embeddings' length differs.
  Expected<void> add(const EmbeddingRecord& record);
  /// Every record of `source` (same provenance), copied without decoding.
  Expected<void> add_all(const Gallery& source);

  std::uint64_t records() const noexcept { return m_records.size(); }
  /// The new file gets `path`'s permission bits (index add replacing a gallery).
  void keep_mode_of(const std::string& path);
  Expected<void> commit();

  Writer() = default;

 private:
  Expected<void> append_matrix(const float* data, std::size_t count);
  Expected<void> add_entry(Gallery::RecordEntry entry, std::string_view metadata);

  std::string m_path, m_temp;
  Provenance m_provenance;
  std::optional<std::string> m_service_version;
  std::string m_provenance_json;
  FileDescriptor m_fd;
  bool m_committed = false;
  std::uint32_t m_dimension = 0;
  std::uint64_t m_rows = 0;
  std::uint64_t m_matrix_offset = 0;
  std::uint32_t m_matrix_crc = 0;
  std::vector<Gallery::RecordEntry> m_records;
  std::vector<double> m_norms;
  std::vector<std::array<double, 4>> m_boxes;
  std::string m_metadata;
  std::vector<char> m_buffer;  // matrix bytes not yet written
};

/// One scored record of a scan: the approximate squared L2 distance of its
/// best face pair (from float32 dot products and the stored norms).
struct ScanHit {
  std::size_t record = 0;
  double distance2 = 0;
};

/// The exact scan: every face of the gallery against the reference's face(s)
/// (`policy`: its picked face, or all for best; each record's picked face or
/// all), in blocks read with pread, `jobs` threads, keeping the `keep` closest
/// records (0: all), closest first. Records without a face, and those `skip`
/// returns true for, are not scored. The reference's embeddings must have the
/// gallery's dimension (the caller checks; else ErrorKind::input).
/// `counts`, when given: how many records were scored (`scored`), and for
/// each squared distance in `counts->cuts`, how many scored records lie at
/// or below it (`below`), so totals cover the records `keep` left out.
struct ScanCounts {
  std::vector<double> cuts;  // squared distances
  std::size_t scored = 0;
  std::vector<std::size_t> below;
};
Expected<std::vector<ScanHit>> scan(const Gallery& gallery, const Analysis& reference, FacePolicy policy,
                                    std::size_t keep, int jobs, const std::function<bool(std::size_t)>& skip = {},
                                    ScanCounts* counts = nullptr);

}  // namespace faceverify::gallery

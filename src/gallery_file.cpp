// SPDX-License-Identifier: MIT
// The gallery file: layout (docs/gallery-file.md), writer, validating reader
// and the exact scan behind `search`.
#include "faceverify/gallery_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "faceverify/similarity.hpp"
#include "faceverify/text.hpp"
#include "faceverify/version.hpp"
#include "json_depth.hpp"
#include "provenance_json.hpp"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

static_assert(std::endian::native == std::endian::little,
              "gallery files are little-endian and read in place; a big-endian port must swap");

namespace faceverify::gallery {
namespace {

using json = nlohmann::ordered_json;

// Header fields (docs/gallery-file.md), byte offsets.
constexpr std::size_t k_off_version = 8, k_off_flags = 12, k_off_file_size = 16, k_off_dimension = 24,
                      k_off_prov_size = 28, k_off_records = 32, k_off_rows = 40, k_off_matrix = 48, k_off_norms = 56,
                      k_off_boxes = 64, k_off_record_table = 72, k_off_metadata = 80, k_off_metadata_size = 88,
                      k_off_checksum = 96, k_off_matrix_checksum = 100;
constexpr std::size_t k_record_bytes = 64;
constexpr std::size_t k_box_bytes = 32;
constexpr std::size_t k_max_provenance = 64 * 1024;
constexpr std::uint64_t k_max_records = std::uint64_t{1} << 32;  // a record's first row fits 64 bits anyway
constexpr std::size_t k_chunk = 4u << 20;                        // bytes per pread/pwrite when streaming

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void store(unsigned char* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

std::uint64_t align64(std::uint64_t x) {
  return (x + 63) / 64 * 64;
}

// a * b + c without overflow, else nullopt.
std::optional<std::uint64_t> mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  std::uint64_t m = 0, s = 0;
  if (__builtin_mul_overflow(a, b, &m) || __builtin_add_overflow(m, c, &s)) return std::nullopt;
  return s;
}

std::string size_text(std::uint64_t bytes) {
  char buf[32];
  if (bytes >= 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(bytes) / 1e9);
  } else if (bytes >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

// pread of exactly `size` bytes; false on a short read or an error (errno set; 0 for a short read).
bool pread_exact(int fd, void* out, std::size_t size, std::uint64_t offset) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = 0;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string read_failure(const std::string& label) {
  return errno == 0 ? label + ": shorter than its header says; it was truncated or changed while being read"
                    : label + ": cannot read: " + std::strerror(errno);
}

// --- CRC-32C ---------------------------------------------------------------

const std::array<std::uint32_t, 256>& crc_table() {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

std::uint32_t crc32c_portable(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  const auto& t = crc_table();
  for (std::size_t i = 0; i < n; ++i) crc = t[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc, const unsigned char* p,
                                                             std::size_t n) noexcept {
  std::uint64_t c = crc;
  while (n >= 8) {
    c = _mm_crc32_u64(c, load<std::uint64_t>(p));
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

// --- the dot product of the scan ---------------------------------------------

// Sixteen independent partial sums, so the compiler can keep them in vector
// registers; an AVX2 clone where the CPU has it, SSE2 otherwise.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "default")))
#endif
float dot(const float* a, const float* b, std::size_t n) noexcept {
  float acc[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (const float x : acc) s += x;
  return s;
}

// --- metadata ---------------------------------------------------------------

// The provenance members every record of the gallery shares, as JSON (the
// header's), in the order an embedding file writes them.
json provenance_object(const Provenance& p, const std::optional<std::string>& service_version) {
  json j = json::object();
  detail::add_provenance(j, p);
  if (p.backend != BackendKind::local) j["service_version"] = service_version ? json(*service_version) : json(nullptr);
  j["tool_version"] = k_version;
  return j;
}

bool is_provenance_member(const std::string& key) {
  static const char* const k_keys[] = {"backend",         "api",          "endpoint",
                                       "models",          "pipeline",     "server",
                                       "service_version", "tool_version", "schema_version"};
  return std::any_of(std::begin(k_keys), std::end(k_keys), [&](const char* k) { return key == k; });
}

// A record's metadata: its embedding-file record without the provenance the
// header holds and without the vectors the matrix holds.
std::string metadata_of(const EmbeddingRecord& r) {
  EmbeddingRecord copy = r;
  for (Face& f : copy.analysis.faces) f.embedding.clear();
  json j = json::parse(render_embedding_record(copy));
  json out = json::object();
  for (auto& [key, value] : j.items()) {
    if (is_provenance_member(key)) continue;
    if (key == "faces") {
      for (auto& f : value) f.erase("embedding");
    }
    out[key] = std::move(value);
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::array<unsigned char, 32>> sha_bytes(const std::string& hex) {
  if (hex.size() != 64) return std::nullopt;
  std::array<unsigned char, 32> out{};
  for (std::size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      const char c = hex[i * 2 + static_cast<std::size_t>(k)];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    out[i] = static_cast<unsigned char>(v);
  }
  return out;
}

}  // namespace

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  crc = hardware ? crc32c_sse42(crc, p, size) : crc32c_portable(crc, p, size);
#else
  crc = crc32c_portable(crc, p, size);
#endif
  return ~crc;
}

bool looks_like_gallery(std::string_view head) noexcept {
  return head.starts_with(k_magic);
}

bool is_gallery_file(const std::string& path) {
  auto fd = open_for_reading(path);
  if (!fd) return false;
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  char head[8];
  const ssize_t n = ::pread(fd->get(), head, sizeof head, 0);
  return n == static_cast<ssize_t>(sizeof head) && looks_like_gallery(std::string_view(head, sizeof head));
}

// --- reading ----------------------------------------------------------------

Expected<std::shared_ptr<const Gallery>> Gallery::open(const std::string& path, std::string label) {
  auto bad = [&](const std::string& what) { return fail(ErrorKind::input, label + ": " + what); };
  auto fd = open_for_reading(path);
  if (!fd) return bad(std::strerror(fd.error().err));
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return bad(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return bad("a gallery must be a regular file (it is read in place)");
  const auto actual = static_cast<std::uint64_t>(st.st_size);
  std::array<unsigned char, k_header_bytes> h{};
  if (actual < k_header_bytes || !pread_exact(fd->get(), h.data(), h.size(), 0)) {
    return bad("not a faceverify gallery file (too short for its header)");
  }
  if (!looks_like_gallery(std::string_view(reinterpret_cast<const char*>(h.data()), k_magic.size()))) {
    return bad("not a faceverify gallery file (wrong magic bytes)");
  }
  const auto version = load<std::uint32_t>(&h[k_off_version]);
  if (version != k_format_version) {
    return bad("gallery format version " + std::to_string(version) + " is not supported (this faceverify reads " +
               std::to_string(k_format_version) + "; upgrade it, or export and build it again)");
  }
  if (load<std::uint32_t>(&h[k_off_flags]) != 0) return bad("unknown header flags (written by a newer faceverify?)");
  auto g = std::make_shared<Gallery>();
  g->m_label = label;
  Info& info = g->m_info;
  info.file_size = load<std::uint64_t>(&h[k_off_file_size]);
  info.dimension = load<std::uint32_t>(&h[k_off_dimension]);
  const auto prov_size = load<std::uint32_t>(&h[k_off_prov_size]);
  info.records = load<std::uint64_t>(&h[k_off_records]);
  info.rows = load<std::uint64_t>(&h[k_off_rows]);
  Offsets& off = g->m_off;
  off.matrix = load<std::uint64_t>(&h[k_off_matrix]);
  off.norms = load<std::uint64_t>(&h[k_off_norms]);
  off.boxes = load<std::uint64_t>(&h[k_off_boxes]);
  off.records = load<std::uint64_t>(&h[k_off_record_table]);
  off.metadata = load<std::uint64_t>(&h[k_off_metadata]);
  off.metadata_size = load<std::uint64_t>(&h[k_off_metadata_size]);
  info.checksum = load<std::uint32_t>(&h[k_off_checksum]);
  info.matrix_checksum = load<std::uint32_t>(&h[k_off_matrix_checksum]);

  // Every section where the counts put it, and the file exactly that long.
  const std::string damaged = " (the file is damaged or was not written by faceverify; build it again)";
  if (prov_size == 0 || prov_size > k_max_provenance) return bad("header has an impossible provenance size" + damaged);
  if (info.dimension > limits::k_max_embedding_values || (info.rows > 0 && info.dimension == 0)) {
    return bad("header has an impossible dimension (" + std::to_string(info.dimension) + ")" + damaged);
  }
  if (info.records > k_max_records || info.rows > info.records * limits::k_max_faces) {
    return bad("header has impossible counts" + damaged);
  }
  const auto matrix = align64(k_header_bytes + prov_size);
  const auto norms = mul_add(info.rows, std::uint64_t{info.dimension} * 4, matrix);
  const auto boxes = norms ? mul_add(info.rows, 8, *norms) : std::nullopt;
  const auto records = boxes ? mul_add(info.rows, k_box_bytes, *boxes) : std::nullopt;
  const auto metadata = records ? mul_add(info.records, k_record_bytes, *records) : std::nullopt;
  const auto end = metadata ? mul_add(1, off.metadata_size, *metadata) : std::nullopt;
  if (!end || off.matrix != matrix || off.norms != *norms || off.boxes != *boxes || off.records != *records ||
      off.metadata != *metadata || info.file_size != *end) {
    return bad("header's sections do not fit together" + damaged);
  }
  if (actual < info.file_size) {
    return bad("truncated: " + size_text(actual) + " of the " + size_text(info.file_size) +
               " its header promises (copy it again, or build it again)");
  }
  if (actual > info.file_size) {
    return bad("has " + size_text(actual - info.file_size) + " after its end" + damaged);
  }

  // Checksum: the header (its checksum field as zero), the provenance and
  // the tables; each record's metadata has its own CRC in the record table,
  // checked when it is read (a search reads a few of them, not a million).
  std::array<unsigned char, k_header_bytes> zeroed = h;
  store<std::uint32_t>(&zeroed[k_off_checksum], 0);
  std::uint32_t crc = crc32c(0, zeroed.data(), zeroed.size());
  std::string prov(matrix - k_header_bytes, '\0');
  if (!pread_exact(fd->get(), prov.data(), prov.size(), k_header_bytes)) {
    return std::unexpected(Error{ErrorKind::input, read_failure(label), {}, false, {}});
  }
  crc = crc32c(crc, prov.data(), prov.size());
  g->m_norms.resize(info.rows);
  g->m_boxes.resize(info.rows);
  std::vector<unsigned char> table(info.records * k_record_bytes);
  for (const auto& [ptr, size, at] :
       {std::tuple{static_cast<void*>(g->m_norms.data()), info.rows * 8, off.norms},
        std::tuple{static_cast<void*>(g->m_boxes.data()), info.rows * k_box_bytes, off.boxes},
        std::tuple{static_cast<void*>(table.data()), table.size(), off.records}}) {
    if (!pread_exact(fd->get(), ptr, size, at))
      return std::unexpected(Error{ErrorKind::input, read_failure(label), {}, false, {}});
    crc = crc32c(crc, ptr, size);
  }
  if (crc != info.checksum) return bad("checksum mismatch: the file is damaged (copy it again, or build it again)");

  // The tables: each record's rows and metadata follow the previous one's.
  g->m_records.resize(info.records);
  std::uint64_t next_row = 0, next_meta = 0;
  for (std::size_t i = 0; i < g->m_records.size(); ++i) {
    const unsigned char* p = &table[i * k_record_bytes];
    RecordEntry& e = g->m_records[i];
    e.first_row = load<std::uint64_t>(p);
    e.row_count = load<std::uint32_t>(p + 8);
    e.flags = load<std::uint32_t>(p + 12);
    e.meta_offset = load<std::uint64_t>(p + 16);
    e.meta_size = load<std::uint32_t>(p + 24);
    e.meta_crc = load<std::uint32_t>(p + 28);
    std::memcpy(e.sha256.data(), p + 32, 32);
    const bool ok = e.first_row == next_row && e.row_count <= limits::k_max_faces &&
                    (e.flags & ~(k_flag_error | k_flag_sha256)) == 0 &&
                    (!(e.flags & k_flag_error) || e.row_count == 0) && e.meta_offset == next_meta && e.meta_size > 0;
    if (!ok) return bad("record " + std::to_string(i + 1) + " of its table is inconsistent" + damaged);
    next_row += e.row_count;
    next_meta += e.meta_size;
  }
  if (next_row != info.rows || next_meta != off.metadata_size) return bad("its tables do not add up" + damaged);
  for (std::uint64_t r = 0; r < info.rows; ++r) {
    const auto& b = g->m_boxes[r];
    if (!std::isfinite(g->m_norms[r]) || g->m_norms[r] < limits::k_min_embedding_norm ||
        !std::all_of(b.begin(), b.end(), [](double v) { return std::isfinite(v); })) {
      return bad("face row " + std::to_string(r + 1) + " has an impossible norm or box" + damaged);
    }
  }

  // The provenance, validated as an embedding file's would be.
  const std::string_view prov_text(prov.data(), std::min<std::size_t>(prov_size, prov.size()));
  if (detail::nested_too_deep(prov_text, 8)) return bad("its provenance is not valid" + damaged);
  json pj = json::parse(prov_text, nullptr, false);
  if (!pj.is_object()) return bad("its provenance is not valid JSON" + damaged);
  json probe = {{"type", "embedding"}, {"schema_version", 1}, {"input", ""}, {"faces", json::array()}};
  for (auto& [key, value] : pj.items()) {
    if (!is_provenance_member(key)) return bad("its provenance has an unknown member" + damaged);
    probe[key] = value;
  }
  auto parsed = parse_embedding_file(probe.dump(), label);
  if (!parsed) return bad("its provenance is not valid: " + parsed.error().message.substr(label.size() + 2));
  info.provenance = parsed->front().provenance;
  info.service_version = parsed->front().service_version;
  info.tool_version = parsed->front().tool_version;
  g->m_provenance_suffix = pj.dump();
  g->m_fd = std::move(*fd);
  return std::shared_ptr<const Gallery>(std::move(g));
}

std::string Gallery::sha256(std::size_t record) const {
  const RecordEntry& e = m_records[record];
  if (!(e.flags & k_flag_sha256)) return {};
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const unsigned char c : e.sha256) {
    out += k_hex[c >> 4];
    out += k_hex[c & 15];
  }
  return out;
}

std::optional<std::uint64_t> Gallery::picked_row(std::size_t record, FacePolicy policy) const {
  const RecordEntry& e = m_records[record];
  if (e.row_count == 0) return std::nullopt;
  if (e.row_count == 1 || policy != FacePolicy::largest) return e.first_row;
  Analysis boxes;  // the one rule of "largest" (pick_face), on the stored boxes
  boxes.faces.resize(e.row_count);
  for (std::uint32_t k = 0; k < e.row_count; ++k) boxes.faces[k].box = m_boxes[e.first_row + k];
  return e.first_row + *pick_face(boxes, policy);
}

Expected<void> Gallery::read_rows(std::uint64_t first, std::uint64_t count, float* out) const {
  if (first > m_info.rows || count > m_info.rows - first) {
    return fail(ErrorKind::internal, m_label + ": rows out of range");
  }
  const std::uint64_t row_bytes = std::uint64_t{m_info.dimension} * 4;
  if (!pread_exact(m_fd.get(), out, count * row_bytes, m_off.matrix + first * row_bytes)) {
    return fail(ErrorKind::input, read_failure(m_label));
  }
  return {};
}

Expected<std::string> Gallery::raw_metadata(std::size_t index) const {
  const RecordEntry& e = m_records[index];
  std::string text(e.meta_size, '\0');
  if (!pread_exact(m_fd.get(), text.data(), text.size(), m_off.metadata + e.meta_offset)) {
    return fail(ErrorKind::input, read_failure(m_label));
  }
  if (crc32c(0, text.data(), text.size()) != e.meta_crc) {
    return fail(ErrorKind::input, m_label + ": record " + std::to_string(index + 1) +
                                      ": its metadata fails its checksum: the file is damaged (copy it again, or "
                                      "build it again)");
  }
  return text;
}

Expected<EmbeddingRecord> Gallery::record(std::size_t index) const {
  const std::string where = m_label + ": record " + std::to_string(index + 1) + ": ";
  auto text = raw_metadata(index);
  if (!text) return std::unexpected(text.error());
  const std::string damaged = " (the file is damaged; build it again)";
  if (detail::nested_too_deep(*text, 8)) return fail(ErrorKind::input, where + "metadata nested too deeply" + damaged);
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return fail(ErrorKind::input, where + "metadata is not a JSON object" + damaged);
  const RecordEntry& e = m_records[index];
  json& faces = j["faces"];
  if (!(e.flags & k_flag_error)) {
    if (!faces.is_array() || faces.size() != e.row_count) {
      return fail(ErrorKind::input, where + "metadata does not match its rows" + damaged);
    }
    for (auto& f : faces) {
      if (!f.is_object()) return fail(ErrorKind::input, where + "a face is not an object" + damaged);
      f["embedding"] = json::array({1.0});  // a placeholder: the vector is the row's
    }
  } else {
    j.erase("faces");
  }
  j["schema_version"] = 1;
  const json provenance = json::parse(m_provenance_suffix);
  for (const auto& [key, value] : provenance.items()) j[key] = value;
  auto parsed = parse_embedding_file(j.dump(-1, ' ', false, json::error_handler_t::replace), "@");
  if (!parsed) {
    std::string why = parsed.error().message;
    if (why.starts_with("@: line 1: ")) why.erase(0, 11);
    return fail(ErrorKind::input, where + why + damaged);
  }
  EmbeddingRecord r = std::move(parsed->front());
  if (r.error.has_value() != ((e.flags & k_flag_error) != 0)) {
    return fail(ErrorKind::input, where + "metadata does not match its table entry" + damaged);
  }
  if (e.row_count > 0) {
    std::vector<float> rows(std::size_t{e.row_count} * m_info.dimension);
    if (auto ok = read_rows(e.first_row, e.row_count, rows.data()); !ok) return std::unexpected(ok.error());
    for (std::uint32_t k = 0; k < e.row_count; ++k) {
      Face& f = r.analysis.faces[k];
      const float* v = rows.data() + std::size_t{k} * m_info.dimension;
      f.embedding.assign(v, v + m_info.dimension);
      if (auto problem = embedding_problem(f.embedding)) {
        return fail(ErrorKind::input, where + "face " + std::to_string(k + 1) + ": " + *problem + damaged);
      }
    }
  }
  return r;
}

Expected<void> Gallery::verify_matrix() const {
  const std::uint64_t size = m_off.norms - m_off.matrix;
  std::vector<unsigned char> buf(std::min<std::uint64_t>(k_chunk, std::max<std::uint64_t>(size, 1)));
  std::uint32_t crc = 0;
  for (std::uint64_t at = 0; at < size;) {
    const std::size_t n = std::min<std::uint64_t>(buf.size(), size - at);
    if (!pread_exact(m_fd.get(), buf.data(), n, m_off.matrix + at))
      return fail(ErrorKind::input, read_failure(m_label));
    crc = crc32c(crc, buf.data(), n);
    at += n;
  }
  if (crc != m_info.matrix_checksum) {
    return fail(ErrorKind::input, m_label +
                                      ": the matrix's checksum does not match: its embeddings are damaged "
                                      "(copy it again, or build it again)");
  }
  return {};
}

// --- writing ----------------------------------------------------------------

Expected<std::unique_ptr<Writer>> Writer::create(const std::string& path, const Provenance& provenance,
                                                 std::optional<std::string> service_version) {
  auto w = std::make_unique<Writer>();
  w->m_path = path;
  w->m_provenance = provenance;
  w->m_service_version = std::move(service_version);
  w->m_provenance_json = provenance_object(provenance, w->m_service_version).dump();
  if (w->m_provenance_json.size() > k_max_provenance) {
    return fail(ErrorKind::input, display_name(path) + ": the backend's description is too long for a gallery");
  }
  const std::filesystem::path target(path);
  // Built by appending: "." + std::string trips GCC 12's -Wrestrict at -O3 (a false positive, GCC bug 105329).
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp-XXXXXX";
  std::string temp = (target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path()) / name;
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return fail(ErrorKind::input, display_name(path) + ": cannot write the gallery: " + std::strerror(errno));
  w->m_fd = FileDescriptor(fd);
  w->m_temp = temp;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  w->m_matrix_offset = align64(k_header_bytes + w->m_provenance_json.size());
  std::string start(k_header_bytes, '\0');
  start += w->m_provenance_json;
  start.resize(w->m_matrix_offset, '\0');
  if (!write_all(fd, start.data(), start.size())) {
    return fail(ErrorKind::input, display_name(path) + ": cannot write the gallery: " + std::strerror(errno));
  }
  return w;
}

void Writer::keep_mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) ::fchmod(m_fd.get(), st.st_mode & 07777);
}

Writer::~Writer() {
  if (!m_committed && !m_temp.empty()) ::unlink(m_temp.c_str());
}

Expected<void> Writer::append_matrix(const float* data, std::size_t count) {
  const auto* p = reinterpret_cast<const char*>(data);
  const std::size_t bytes = count * sizeof(float);
  m_matrix_crc = crc32c(m_matrix_crc, p, bytes);
  m_buffer.insert(m_buffer.end(), p, p + bytes);
  if (m_buffer.size() >= k_chunk) {
    if (!write_all(m_fd.get(), m_buffer.data(), m_buffer.size())) {
      return fail(ErrorKind::input, display_name(m_path) + ": cannot write the gallery: " + std::strerror(errno));
    }
    m_buffer.clear();
  }
  return {};
}

Expected<void> Writer::add_entry(Gallery::RecordEntry entry, std::string_view metadata) {
  if (m_records.size() >= k_max_records) {
    return fail(ErrorKind::input, display_name(m_path) + ": a gallery holds at most 2^32 records");
  }
  if (metadata.size() > 0xFFFFFFFFu) return fail(ErrorKind::input, display_name(m_path) + ": a record too large");
  entry.first_row = m_rows;
  entry.meta_offset = m_metadata.size();
  entry.meta_size = static_cast<std::uint32_t>(metadata.size());
  entry.meta_crc = crc32c(0, metadata.data(), metadata.size());
  m_metadata.append(metadata);
  m_rows += entry.row_count;
  m_records.push_back(entry);
  return {};
}

Expected<void> Writer::add(const EmbeddingRecord& r) {
  const std::string name = r.input.empty() ? "a record" : display_name(r.input);
  // A failed photo carries no embedding (a faceverify server's failure keeps the client's provenance).
  if (!r.error && !comparable(r.provenance, m_provenance)) {
    return fail(ErrorKind::input, name + ": its embedding comes from " + describe(r.provenance) +
                                      ", the gallery's from " + describe(m_provenance) +
                                      "; they cannot be mixed in one gallery");
  }
  // One gallery, one pipeline: its header names it for every record (0: not recorded, which is 1).
  const auto pipeline = [](const Provenance& p) { return std::max(p.pipeline, 1); };
  if (!r.error && r.provenance.backend == BackendKind::local && r.provenance.server.empty() &&
      m_provenance.server.empty() && pipeline(r.provenance) != pipeline(m_provenance)) {
    return fail(ErrorKind::input, name + ": embedded by local pipeline " + std::to_string(pipeline(r.provenance)) +
                                      ", the gallery by pipeline " + std::to_string(pipeline(m_provenance)) +
                                      "; a gallery holds one pipeline (embed the images again with the same --decode)");
  }
  Gallery::RecordEntry e;
  if (r.error) e.flags |= Gallery::k_flag_error;
  if (auto sha = sha_bytes(r.sha256)) {
    e.flags |= Gallery::k_flag_sha256;
    e.sha256 = *sha;
  }
  if (!r.error) {
    for (const Face& f : r.analysis.faces) {
      if (m_dimension == 0) m_dimension = static_cast<std::uint32_t>(f.embedding.size());
      if (f.embedding.size() != m_dimension) {
        return fail(ErrorKind::input, name + ": its embedding has " + std::to_string(f.embedding.size()) +
                                          " values, the gallery's have " + std::to_string(m_dimension) +
                                          "; they cannot be compared");
      }
    }
    std::vector<float> row(m_dimension);
    for (const Face& f : r.analysis.faces) {
      std::transform(f.embedding.begin(), f.embedding.end(), row.begin(),
                     [](double v) { return static_cast<float>(v); });
      if (auto ok = append_matrix(row.data(), row.size()); !ok) return ok;
      m_norms.push_back(l2_norm(f.embedding));
      m_boxes.push_back(f.box);
    }
    e.row_count = static_cast<std::uint32_t>(r.analysis.faces.size());
  }
  return add_entry(e, metadata_of(r));
}

Expected<void> Writer::add_all(const Gallery& source) {
  const Info& in = source.info();
  if (!comparable(in.provenance, m_provenance)) {
    return fail(ErrorKind::input, source.label() + ": its embeddings come from " + describe(in.provenance) +
                                      ", the gallery's from " + describe(m_provenance) +
                                      "; they cannot be mixed in one gallery");
  }
  if (in.rows > 0) {
    if (m_dimension == 0) m_dimension = in.dimension;
    if (in.dimension != m_dimension) {
      return fail(ErrorKind::input, source.label() + ": its embeddings have " + std::to_string(in.dimension) +
                                        " values, the gallery's have " + std::to_string(m_dimension) +
                                        "; they cannot be compared");
    }
  }
  const std::uint64_t block = std::max<std::uint64_t>(1, k_chunk / (std::uint64_t{std::max(in.dimension, 1u)} * 4));
  std::vector<float> rows(block * in.dimension);
  std::uint32_t source_crc = 0;  // what is copied must be what was written
  for (std::uint64_t r = 0; r < in.rows; r += block) {
    const std::uint64_t n = std::min(block, in.rows - r);
    if (auto ok = source.read_rows(r, n, rows.data()); !ok) return ok;
    source_crc = crc32c(source_crc, rows.data(), n * in.dimension * sizeof(float));
    if (auto ok = append_matrix(rows.data(), n * in.dimension); !ok) return ok;
    for (std::uint64_t k = r; k < r + n; ++k) {
      m_norms.push_back(source.m_norms[k]);
      m_boxes.push_back(source.m_boxes[k]);
    }
  }
  if (in.rows > 0 && source_crc != in.matrix_checksum) {
    return fail(ErrorKind::input, source.label() +
                                      ": the matrix's checksum does not match: its embeddings are "
                                      "damaged (copy it again, or build it again)");
  }
  // The metadata in large reads, each record's checked against its CRC.
  std::string chunk;
  std::uint64_t chunk_at = 0;
  for (std::size_t i = 0; i < source.size(); ++i) {
    const Gallery::RecordEntry& e = source.m_records[i];
    if (e.meta_offset < chunk_at || e.meta_offset + e.meta_size > chunk_at + chunk.size()) {
      chunk_at = e.meta_offset;
      chunk.resize(std::min<std::uint64_t>(std::max<std::uint64_t>(k_chunk, e.meta_size),
                                           source.m_off.metadata_size - e.meta_offset));
      if (!pread_exact(source.m_fd.get(), chunk.data(), chunk.size(), source.m_off.metadata + chunk_at)) {
        return fail(ErrorKind::input, read_failure(source.label()));
      }
    }
    const std::string_view meta(chunk.data() + (e.meta_offset - chunk_at), e.meta_size);
    if (crc32c(0, meta.data(), meta.size()) != e.meta_crc) {
      return fail(ErrorKind::input, source.label() + ": record " + std::to_string(i + 1) +
                                        ": its metadata fails its checksum: the file is damaged (copy it again, or "
                                        "build it again)");
    }
    if (auto ok = add_entry(e, meta); !ok) return ok;
  }
  return {};
}

Expected<void> Writer::commit() {
  auto failed = [&]() {
    return fail(ErrorKind::input, display_name(m_path) + ": cannot write the gallery: " + std::strerror(errno));
  };
  if (!m_buffer.empty() && !write_all(m_fd.get(), m_buffer.data(), m_buffer.size())) return failed();
  m_buffer.clear();
  std::vector<unsigned char> table(m_records.size() * k_record_bytes);
  for (std::size_t i = 0; i < m_records.size(); ++i) {
    unsigned char* p = &table[i * k_record_bytes];
    const auto& e = m_records[i];
    store(p, e.first_row);
    store(p + 8, e.row_count);
    store(p + 12, e.flags);
    store(p + 16, e.meta_offset);
    store(p + 24, e.meta_size);
    store(p + 28, e.meta_crc);
    std::memcpy(p + 32, e.sha256.data(), 32);
  }
  const std::uint64_t norms = m_matrix_offset + m_rows * std::uint64_t{m_dimension} * 4;
  const std::uint64_t boxes = norms + m_rows * 8;
  const std::uint64_t records = boxes + m_rows * k_box_bytes;
  const std::uint64_t metadata = records + table.size();
  std::array<unsigned char, k_header_bytes> h{};
  std::memcpy(h.data(), k_magic.data(), k_magic.size());
  store(&h[k_off_version], k_format_version);
  store(&h[k_off_file_size], metadata + m_metadata.size());
  store(&h[k_off_dimension], m_dimension);
  store(&h[k_off_prov_size], static_cast<std::uint32_t>(m_provenance_json.size()));
  store(&h[k_off_records], static_cast<std::uint64_t>(m_records.size()));
  store(&h[k_off_rows], m_rows);
  store(&h[k_off_matrix], m_matrix_offset);
  store(&h[k_off_norms], norms);
  store(&h[k_off_boxes], boxes);
  store(&h[k_off_record_table], records);
  store(&h[k_off_metadata], metadata);
  store(&h[k_off_metadata_size], static_cast<std::uint64_t>(m_metadata.size()));
  store(&h[k_off_matrix_checksum], m_matrix_crc);
  std::string prov = m_provenance_json;
  prov.resize(m_matrix_offset - k_header_bytes, '\0');
  std::uint32_t crc = crc32c(0, h.data(), h.size());
  crc = crc32c(crc, prov.data(), prov.size());
  for (const auto& [ptr, size] : {std::pair{static_cast<const void*>(m_norms.data()), m_norms.size() * 8},
                                  std::pair{static_cast<const void*>(m_boxes.data()), m_boxes.size() * k_box_bytes},
                                  std::pair{static_cast<const void*>(table.data()), table.size()}}) {
    crc = crc32c(crc, ptr, size);
    if (!write_all(m_fd.get(), ptr, size)) return failed();
  }
  if (!write_all(m_fd.get(), m_metadata.data(), m_metadata.size())) return failed();
  store(&h[k_off_checksum], crc);
  if (::pwrite(m_fd.get(), h.data(), h.size(), 0) != static_cast<ssize_t>(h.size())) return failed();
  if (::fsync(m_fd.get()) != 0 || m_fd.close() != 0) return failed();
  if (::rename(m_temp.c_str(), m_path.c_str()) != 0) return failed();
  m_committed = true;
  return {};
}

// --- the scan ---------------------------------------------------------------

Expected<std::vector<ScanHit>> scan(const Gallery& g, const Analysis& reference, FacePolicy policy, std::size_t keep,
                                    int jobs, const std::function<bool(std::size_t)>& skip, ScanCounts* counts) {
  const std::uint32_t dim = g.info().dimension;
  if (counts) counts->below.assign(counts->cuts.size(), 0);
  if (g.info().rows == 0 || dim == 0) return std::vector<ScanHit>{};  // nothing to score (no face anywhere)
  // The reference's faces that take part, as float32 probes with their norms.
  std::vector<std::size_t> ref_faces;
  if (policy == FacePolicy::best) {
    for (std::size_t i = 0; i < reference.faces.size(); ++i) ref_faces.push_back(i);
  } else if (auto i = pick_face(reference, policy)) {
    ref_faces.push_back(*i);
  }
  std::vector<float> probes;
  std::vector<double> probe_norm2;
  for (const std::size_t i : ref_faces) {
    const auto& e = reference.faces[i].embedding;
    if (e.size() != dim) {
      return fail(ErrorKind::input, g.label() + ": its embeddings have " + std::to_string(dim) +
                                        " values, the reference's has " + std::to_string(e.size()) +
                                        "; they cannot be compared");
    }
    for (const double v : e) probes.push_back(static_cast<float>(v));
    const double n = l2_norm(e);
    probe_norm2.push_back(n * n);
  }
  const std::size_t n_records = g.size();
  if (ref_faces.empty() || n_records == 0 || dim == 0) return std::vector<ScanHit>{};
  const int threads = std::clamp<int>(jobs, 1, static_cast<int>(std::min<std::size_t>(n_records, 64)));
  const std::uint64_t block_rows = std::max<std::uint64_t>(64, (512u << 10) / (std::uint64_t{dim} * 4));
  auto closer = [](const ScanHit& a, const ScanHit& b) {
    return a.distance2 < b.distance2 || (a.distance2 == b.distance2 && a.record < b.record);
  };

  struct Part {
    std::vector<ScanHit> hits;  // a max-heap by closer() when keep > 0
    std::optional<Error> error;
    std::size_t scored = 0;
    std::vector<std::size_t> below;
  };
  std::vector<Part> parts(static_cast<std::size_t>(threads));
  auto work = [&](std::size_t part, std::size_t lo, std::size_t hi) {
    Part& out = parts[part];
    std::vector<float> buffer;
    std::uint64_t buf_first = 0, buf_count = 0;
    std::vector<double> row_d2;
    for (std::size_t rec = lo; rec < hi; ++rec) {
      const std::uint32_t count = g.row_count(rec);
      if (count == 0 || (skip && skip(rec))) continue;
      const std::uint64_t first = g.first_row(rec);
      if (first < buf_first || first + count > buf_first + buf_count) {
        // The next block: from this record's first row to the end of the part's rows.
        const std::uint64_t part_end = hi < n_records ? g.first_row(hi) : g.info().rows;
        buf_first = first;
        buf_count = std::min(part_end - first, std::max<std::uint64_t>(block_rows, count));
        buffer.resize(buf_count * dim);
        if (auto ok = g.read_rows(buf_first, buf_count, buffer.data()); !ok) {
          out.error = ok.error();
          return;
        }
        row_d2.assign(buf_count, 0);
        for (std::uint64_t r = 0; r < buf_count; ++r) {
          const float* v = buffer.data() + r * dim;
          const double n = g.norm(buf_first + r);
          double best = 0;
          for (std::size_t p = 0; p < ref_faces.size(); ++p) {
            const double d2 = probe_norm2[p] + n * n - 2.0 * dot(v, probes.data() + p * dim, dim);
            if (p == 0 || d2 < best) best = d2;
          }
          row_d2[r] = std::max(0.0, best);
        }
      }
      double d2 = 0;
      if (policy == FacePolicy::best) {
        d2 = row_d2[first - buf_first];
        for (std::uint32_t k = 1; k < count; ++k) d2 = std::min(d2, row_d2[first - buf_first + k]);
      } else {
        d2 = row_d2[*g.picked_row(rec, policy) - buf_first];
      }
      const ScanHit hit{rec, d2};
      ++out.scored;
      if (counts) {
        out.below.resize(counts->cuts.size());
        for (std::size_t c = 0; c < counts->cuts.size(); ++c) out.below[c] += d2 <= counts->cuts[c];
      }
      if (keep == 0) {
        out.hits.push_back(hit);
      } else if (out.hits.size() < keep) {
        out.hits.push_back(hit);
        std::push_heap(out.hits.begin(), out.hits.end(), closer);
      } else if (closer(hit, out.hits.front())) {
        std::pop_heap(out.hits.begin(), out.hits.end(), closer);
        out.hits.back() = hit;
        std::push_heap(out.hits.begin(), out.hits.end(), closer);
      }
    }
  };
  // Parts of about equal rows.
  std::vector<std::size_t> bounds{0};
  const std::uint64_t per_part =
      (g.info().rows + static_cast<std::uint64_t>(threads) - 1) / static_cast<std::uint64_t>(threads);
  for (std::size_t rec = 0; rec < n_records && bounds.size() < static_cast<std::size_t>(threads); ++rec) {
    if (g.first_row(rec) >= per_part * bounds.size()) bounds.push_back(rec);
  }
  bounds.push_back(n_records);
  {
    std::vector<std::jthread> pool;
    for (std::size_t p = 0; p + 1 < bounds.size(); ++p) {
      if (p + 2 == bounds.size()) {
        work(p, bounds[p], bounds[p + 1]);  // the calling thread takes the last part
      } else {
        pool.emplace_back(work, p, bounds[p], bounds[p + 1]);
      }
    }
  }
  std::vector<ScanHit> all;
  for (Part& p : parts) {
    if (p.error) return std::unexpected(*p.error);
    all.insert(all.end(), p.hits.begin(), p.hits.end());
    if (counts) {
      counts->scored += p.scored;
      for (std::size_t c = 0; c < p.below.size(); ++c) counts->below[c] += p.below[c];
    }
  }
  std::sort(all.begin(), all.end(), closer);
  if (keep > 0 && all.size() > keep) all.resize(keep);
  return all;
}

}  // namespace faceverify::gallery

// SPDX-License-Identifier: MIT
// libFuzzer target: the gallery reader (header, tables, provenance, each
// record's metadata) never crashes, hangs, leaks or reads out of bounds, and
// whatever it accepts can be read record by record and scanned. The input
// is the file's bytes; where its header's sections fit, the checksums are
// recomputed first, so mutations reach the tables, the provenance and the
// records' metadata instead of stopping at a CRC (tests/unit covers those).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "faceverify/gallery_file.hpp"

namespace {

std::uint64_t u64(const std::string& b, std::size_t at) {
  std::uint64_t v = 0;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}

// Recomputes each record's metadata CRC and the header's CRC (layout:
// docs/gallery-file.md) when the sections the header names lie in the file.
void fix_checksums(std::string& b) {
  using faceverify::gallery::crc32c;
  if (b.size() < 128) return;
  const std::uint64_t size = b.size(), records = u64(b, 32), matrix = u64(b, 48), norms = u64(b, 56),
                      table = u64(b, 72), meta = u64(b, 80), meta_size = u64(b, 88);
  if (matrix < 128 || matrix > size || norms > size || norms < matrix || table > size || meta > size || table > meta ||
      records > (size - table) / 64 || meta_size > size - meta) {
    return;
  }
  for (std::uint64_t i = 0; i < records; ++i) {
    const std::size_t e = table + i * 64;
    std::uint32_t sz = 0;
    std::memcpy(&sz, b.data() + e + 24, 4);
    const std::uint64_t off = u64(b, e + 16);
    if (off > meta_size || sz > meta_size - off) continue;
    const std::uint32_t crc = crc32c(0, b.data() + meta + off, sz);
    std::memcpy(b.data() + e + 28, &crc, 4);
  }
  if (norms > meta) return;
  std::string header = b.substr(0, 128);
  std::memset(header.data() + 96, 0, 4);
  std::uint32_t crc = crc32c(0, header.data(), 128);
  crc = crc32c(crc, b.data() + 128, matrix - 128);
  crc = crc32c(crc, b.data() + norms, meta - norms);
  std::memcpy(b.data() + 96, &crc, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faceverify;
  const int fd = ::memfd_create("fuzz.fvg", MFD_CLOEXEC);
  if (fd < 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  fix_checksums(bytes);
  if (size > 0 && ::write(fd, bytes.data(), size) != static_cast<ssize_t>(size)) __builtin_trap();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto g = gallery::Gallery::open(path, "fuzz.fvg");
  if (!g) {
    if (g.error().kind != ErrorKind::input || g.error().message.rfind("fuzz.fvg: ", 0) != 0) __builtin_trap();
    ::close(fd);
    return 0;
  }
  const gallery::Gallery& file = **g;
  (void)file.verify_matrix();
  std::optional<Analysis> probe;
  for (std::size_t i = 0; i < file.size() && i < 64; ++i) {
    auto r = file.record(i);
    if (!r) {
      if (r.error().kind != ErrorKind::input) __builtin_trap();
      continue;
    }
    if (r->analysis.faces.size() != file.row_count(i)) __builtin_trap();
    if (!probe && !r->analysis.faces.empty()) probe = r->analysis;
  }
  if (probe) {
    for (const FacePolicy policy : {FacePolicy::best, FacePolicy::largest, FacePolicy::first}) {
      auto hits = gallery::scan(file, *probe, policy, 3, 2);
      if (hits && hits->size() > 3) __builtin_trap();
    }
  }
  ::close(fd);
  return 0;
}

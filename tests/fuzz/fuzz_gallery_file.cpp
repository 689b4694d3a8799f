// SPDX-License-Identifier: MIT
// libFuzzer target: the gallery reader (header, tables, provenance, each
// record's metadata) never crashes, hangs, leaks or reads out of bounds, and
// whatever it accepts can be read record by record and scanned. The input
// is the file's bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "faceverify/gallery_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faceverify;
  const int fd = ::memfd_create("fuzz.fvg", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) __builtin_trap();
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
    auto hits = gallery::scan(file, *probe, FacePolicy::best, 3, 2);
    if (hits && hits->size() > 3) __builtin_trap();
  }
  ::close(fd);
  return 0;
}

// SPDX-License-Identifier: MIT
// libFuzzer target: the embedding-file reader never crashes, hangs or leaks,
// and every record it accepts renders to a line that parses back to the same
// record (faces, boxes, landmarks, exact embeddings, provenance, error).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "faceverify/embedding_file.hpp"

namespace {

bool same_faces(const faceverify::Analysis& a, const faceverify::Analysis& b) {
  if (a.faces.size() != b.faces.size()) return false;
  for (std::size_t i = 0; i < a.faces.size(); ++i) {
    const auto& x = a.faces[i];
    const auto& y = b.faces[i];
    if (x.box != y.box || x.confidence != y.confidence || x.embedding != y.embedding) return false;
    if (x.landmarks.size() != y.landmarks.size()) return false;
    for (std::size_t k = 0; k < x.landmarks.size(); ++k) {
      if (x.landmarks[k].first != y.landmarks[k].first || x.landmarks[k].second.x != y.landmarks[k].second.x ||
          x.landmarks[k].second.y != y.landmarks[k].second.y) {
        return false;
      }
    }
  }
  return true;
}

bool same_record(const faceverify::EmbeddingRecord& a, const faceverify::EmbeddingRecord& b) {
  if (a.input != b.input || a.sha256 != b.sha256 || a.tool_version != b.tool_version) return false;
  if (a.provenance.backend != b.provenance.backend || a.provenance.api != b.provenance.api ||
      a.provenance.endpoint != b.provenance.endpoint || a.provenance.models != b.provenance.models) {
    return false;
  }
  if (a.service_version != b.service_version) return false;
  if (a.error.has_value() != b.error.has_value()) return false;
  if (a.error) return a.error->kind == b.error->kind && a.error->message == b.error->message;
  // md5 and dimensions are only written for embedding records.
  return a.analysis.md5 == b.analysis.md5 && a.analysis.width == b.analysis.width &&
         a.analysis.height == b.analysis.height && same_faces(a.analysis, b.analysis);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto records = faceverify::parse_embedding_file(text, "fuzz.jsonl");
  if (!records) {
    const auto& e = records.error();
    if (e.kind != faceverify::ErrorKind::input || e.message.rfind("fuzz.jsonl: ", 0) != 0) __builtin_trap();
    // Not checked: that the message is one line. A record's own strings (an
    // unknown "type", "backend" or error "kind") are quoted unescaped, so a
    // "\n" in them reaches the message (see test_embedding_file.cpp).
    return 0;
  }
  if (records->empty()) __builtin_trap();  // an empty file is an error, never zero records
  for (const auto& r : *records) {
    for (const auto& f : r.analysis.faces) {
      if (f.embedding.empty() || f.embedding.size() > 65536) __builtin_trap();
    }
    const std::string line = faceverify::render_embedding_record(r);
    if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) __builtin_trap();
    auto again = faceverify::parse_embedding_file(line, "again");
    if (!again || again->size() != 1) __builtin_trap();
    if (!same_record(r, again->front())) __builtin_trap();
    // And the second rendering is byte-identical to the first.
    if (faceverify::render_embedding_record(again->front()) != line) __builtin_trap();
  }
  return 0;
}

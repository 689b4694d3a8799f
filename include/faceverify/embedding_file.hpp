// SPDX-License-Identifier: MIT
#pragma once
// The embedding file written by `faceverify embed`: JSON Lines, one record per
// image, so photos analysed once can be compared later with no network.
// Format and stability promise: docs/embedding-file.md.
//
//   {"type":"embedding","schema_version":1,"input":"a.jpg","sha256":"…","md5":…,
//    "width":…,"height":…,"faces":[{"box":[x,y,w,h],"confidence":…,
//    "landmarks":{"name":[x,y],…},"embedding":[…]}],"backend":"api4ai",
//    "api":"demo","endpoint":"https://…/results","service_version":"v1.16.2",
//    "tool_version":"…"}
//   {"type":"error","schema_version":1,"input":"b.jpg","sha256":…,
//    "error":{"kind":"http","message":"…"},"backend":…}
//
// The same record (with an empty input) is the cache's payload.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"

namespace faceverify {

struct EmbeddingRecord {
  std::string input;   // the argument given to embed
  std::string sha256;  // of the image bytes; empty for URL inputs
  Analysis analysis;   // faces with embeddings; `name` is not stored
  Provenance provenance;
  std::optional<std::string> service_version;  // api4ai: GET …/v1/version
  std::string tool_version;
  std::optional<Error> error;  // set: an "error" record (the analysis failed)
};

/// How embeddings are written: `numbers` (a JSON array, what embed prints) or
/// `packed` ("embedding_f64": base64 of little-endian IEEE 754 doubles: exact,
/// a third of the size and parsed without number conversion; the cache's form).
enum class EmbeddingEncoding { numbers, packed };

/// One JSON line (with '\n'). Invalid UTF-8 in strings is replaced.
std::string render_embedding_record(const EmbeddingRecord& record,
                                    EmbeddingEncoding encoding = EmbeddingEncoding::numbers);

/// Whether `a` and `b` come from the same embedding model, so their
/// embeddings may be compared: same backend and, for local, same models.
bool comparable(const Provenance& a, const Provenance& b) noexcept;

/// "api4ai (demo)", "the local backend (embedder 1a2b3c4d5e6f…)" or "the
/// faceverify server URL (model-set 1a2b3c4d5e6f…)", for messages.
std::string describe(const Provenance& p);

/// Parses an embedding file strictly. Blank lines are skipped; every other
/// line must be a record of a known type and schema_version 1 with well-formed
/// faces (box of 4 finite numbers, embedding of 1 to 65536 finite numbers).
/// Errors (ErrorKind::input) name `label` and the 1-based line:
/// "people.jsonl: line 3: face 1: embedding has a non-number at 17".
Expected<std::vector<EmbeddingRecord>> parse_embedding_file(std::string_view text, std::string_view label);

}  // namespace faceverify

// SPDX-License-Identifier: MIT
// Records/s of parse_embedding_file over N synthetic records of the kind
// `faceverify embed` writes (512 decimal numbers each, ~12 KB a line),
// rendered once, then parsed RUNS times; prints the best run. Uses only the
// public API, so the same source builds against older trees to compare.
//   parse_bench [RECORDS [RUNS [numbers|packed]]]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "faceverify/embedding_file.hpp"

using namespace faceverify;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const long records = argc > 1 ? std::atol(argv[1]) : 5000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const bool packed = argc > 3 && std::string_view(argv[3]) == "packed";
  if (records < 1 || runs < 1) {
    std::fprintf(stderr, "usage: parse_bench [RECORDS [RUNS [numbers|packed]]]\n");
    return 2;
  }
  std::mt19937_64 rng(14);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::string text;
  for (long i = 0; i < records; ++i) {
    EmbeddingRecord r;
    r.input = "photos/person-" + std::to_string(i) + ".jpg";
    r.sha256 = std::string(64, 'a');
    r.analysis.width = 640;
    r.analysis.height = 480;
    Face f;
    f.box = {0.25, 0.2, 0.4, 0.5};
    f.confidence = 0.99;
    for (const char* name : {"left-eye", "right-eye", "nose", "mouth-left", "mouth-right"}) {
      f.landmarks.emplace_back(name, Point{0.4, 0.4});
    }
    f.embedding.resize(512);
    for (double& v : f.embedding) v = noise(rng);
    r.analysis.faces.push_back(std::move(f));
    r.provenance.backend = BackendKind::api4ai;
    r.provenance.api = "demo";
    r.tool_version = "bench";
    text += render_embedding_record(r, packed ? EmbeddingEncoding::packed : EmbeddingEncoding::numbers);
  }
  double best = 1e300;
  for (int k = 0; k < runs; ++k) {
    const auto start = Clock::now();
    const auto parsed = parse_embedding_file(text, "bench.jsonl");
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    if (!parsed || static_cast<long>(parsed->size()) != records) {
      std::fprintf(stderr, "parse_bench: %s\n", parsed ? "wrong record count" : parsed.error().message.c_str());
      return 1;
    }
    best = std::min(best, s);
  }
  std::printf("%ld records (%s), %.1f MB: best of %d %.3f s, %.0f records/s, %.0f MB/s\n", records,
              packed ? "packed" : "numbers", static_cast<double>(text.size()) / 1e6, runs, best,
              static_cast<double>(records) / best, static_cast<double>(text.size()) / 1e6 / best);
  return 0;
}

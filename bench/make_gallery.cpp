// SPDX-License-Identifier: MIT
// make_gallery N OUT.fvg PROBES.jsonl [DIM] [SEED]: a synthetic gallery for
// bench/search.sh. N records, each one face: identities (N / 4 of them, a
// random unit vector each) seen with per-image noise, so same-identity
// distances resemble real ones (~0.9) and others sit near sqrt(2); boxes,
// confidences and five landmarks like the local backend's. PROBES.jsonl gets
// 5 planted near-duplicates of random records (noise 0.05), each as one
// embedding record whose "input" names the record it must find at rank 1
// ("probe-of:<input>").
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "faceverify/embedding_file.hpp"
#include "faceverify/gallery_file.hpp"
#include "faceverify/version.hpp"

namespace {

std::vector<double> unit(std::vector<double> v) {
  double n = 0;
  for (const double x : v) n += x * x;
  n = std::sqrt(n);
  for (double& x : v) x /= n;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace faceverify;
  if (argc < 4) {
    std::fprintf(stderr, "usage: make_gallery N OUT.fvg PROBES.jsonl [DIM] [SEED]\n");
    return 2;
  }
  const std::size_t n = std::strtoull(argv[1], nullptr, 10);
  const std::size_t dim = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 512;
  std::mt19937_64 rng(argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 42);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Provenance p;
  p.backend = BackendKind::api4ai;
  p.api = "demo";
  p.endpoint = "https://demo.api4ai.cloud/face-analyzer/v1/results";
  auto writer = gallery::Writer::create(argv[2], p, std::string("v1.16.2"));
  if (!writer) {
    std::fprintf(stderr, "%s\n", writer.error().message.c_str());
    return 1;
  }
  const std::size_t identities = std::max<std::size_t>(1, n / 4);
  std::vector<std::vector<double>> centres;  // generated on demand, so a million records fit
  auto random_vector = [&](double scale) {
    std::vector<double> v(dim);
    for (double& x : v) x = normal(rng) * scale;
    return v;
  };
  std::vector<std::size_t> planted;
  for (int k = 0; k < 5; ++k) planted.push_back(static_cast<std::size_t>(uniform(rng) * static_cast<double>(n)) % n);
  std::vector<EmbeddingRecord> probes;
  const double noise = 0.75 / std::sqrt(static_cast<double>(dim));
  std::vector<double> centre;
  static const char* k_marks[] = {"left-eye", "right-eye", "nose-tip", "mouth-left-corner", "mouth-right-corner"};
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 4 == 0) centre = unit(random_vector(1.0));  // records 4k..4k+3: one identity
    (void)identities;
    std::vector<double> e = centre;
    const auto g = random_vector(noise);
    for (std::size_t d = 0; d < dim; ++d) e[d] += g[d];
    e = unit(std::move(e));
    EmbeddingRecord r;
    char name[64];
    std::snprintf(name, sizeof name, "photos/%07zu.jpg", i);
    r.input = name;
    static const char k_hex[] = "0123456789abcdef";
    for (int c = 0; c < 64; ++c) r.sha256 += k_hex[rng() & 15];
    r.provenance = p;
    r.service_version = "v1.16.2";
    r.tool_version = k_version;
    Face f;
    const double x = 0.2 + 0.3 * uniform(rng), y = 0.1 + 0.3 * uniform(rng), w = 0.2 + 0.2 * uniform(rng);
    f.box = {x, y, w, w * 1.2};
    f.confidence = 0.9 + 0.1 * uniform(rng);
    for (int m = 0; m < 5; ++m) f.landmarks.emplace_back(k_marks[m], Point{x + w * uniform(rng), y + w * uniform(rng)});
    f.embedding = e;
    r.analysis.faces.push_back(f);
    for (std::size_t k = 0; k < planted.size(); ++k) {
      if (planted[k] != i) continue;
      EmbeddingRecord probe = r;
      probe.input = std::string("probe-of:") + name;
      probe.sha256.clear();
      auto q = e;
      const auto h = random_vector(0.05 / std::sqrt(static_cast<double>(dim)));
      for (std::size_t d = 0; d < dim; ++d) q[d] += h[d];
      probe.analysis.faces[0].embedding = unit(std::move(q));
      probes.push_back(std::move(probe));
    }
    if (auto ok = (*writer)->add(r); !ok) {
      std::fprintf(stderr, "%s\n", ok.error().message.c_str());
      return 1;
    }
  }
  if (auto ok = (*writer)->commit(); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().message.c_str());
    return 1;
  }
  std::ofstream out(argv[3], std::ios::binary);
  for (const auto& probe : probes) out << render_embedding_record(probe);
  return out ? 0 : 1;
}

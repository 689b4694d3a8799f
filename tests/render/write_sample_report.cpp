// SPDX-License-Identifier: MIT
// Writes a calibration report for a synthetic, deterministic data set (3,000
// genuine and 30,000 impostor pairs, scores made the way the backends make
// them: a distance per pair mapped through exp(d^7 ln 0.5 / a^7)), so the
// screenshot test has a realistic page to render.
//   write_sample_report OUT.html [typical|genuine-only|impostor-only|tiny|empty]
// The variants other than "typical" (the default) are for looking at the
// degenerate layouts by hand.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "faceverify/calibration_report.hpp"
#include "faceverify/similarity.hpp"
#include "synthetic_calibration.hpp"

using namespace faceverify;

namespace {

// Box-Muller over mt19937_64: the same numbers with every standard library
// (std::normal_distribution's algorithm is implementation-defined).
class Normal {
 public:
  explicit Normal(std::uint64_t seed) : m_rng(seed) {}
  double operator()(double mean, double sd) {
    const double u1 = (static_cast<double>(m_rng() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = static_cast<double>(m_rng() >> 11) * 0x1.0p-53;
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::mt19937_64 m_rng;
};

const char* const k_people[] = {"Aaron_Peirsol",  "Abdullah_Gul",  "Adrien_Brody",          "Alejandro_Toledo",
                                "Ali_Naimi",      "Amelia_Vega",   "Andre_Agassi",          "Angela_Bassett",
                                "Ann_Veneman",    "Arnold_Palmer", "Bill_Clinton",          "Carlos_Moya",
                                "Cate_Blanchett", "Dalai_Lama",    "Dominique_de_Villepin", "Elsa_Zylberstein"};

std::string image_name(std::size_t person, std::size_t index) {
  const std::string name = k_people[person % std::size(k_people)];
  char buf[16];
  std::snprintf(buf, sizeof buf, "_%04zu.jpg", index % 40 + 1);
  return "lfw/" + name + "/" + name + buf;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string variant = argc == 3 ? argv[2] : "typical";
  const bool known = variant == "typical" || variant == "genuine-only" || variant == "impostor-only" ||
                     variant == "tiny" || variant == "empty";
  if (argc < 2 || argc > 3 || !known) {
    std::cerr << "usage: write_sample_report OUT.html [typical|genuine-only|impostor-only|tiny|empty]\n";
    return 2;
  }
  constexpr double a = k_default_half_distance;
  Normal normal(20240501);
  std::vector<ScoredPair> pairs;
  std::vector<double> genuine, impostors;
  const std::size_t n_genuine = variant == "typical" || variant == "genuine-only" ? 3000 : variant == "tiny" ? 6 : 0;
  const std::size_t n_impostors = variant == "typical" || variant == "impostor-only" ? 30000
                                  : variant == "tiny"                                ? 9
                                                                                     : 0;
  for (std::size_t i = 0; i < n_genuine; ++i) {
    const double d = std::max(0.0, normal(0.86, 0.17));
    const double s = similarity_from_distance(d, a);
    genuine.push_back(s);
    pairs.push_back({image_name(i, i), image_name(i, i + 7), true, s, d});
  }
  for (std::size_t i = 0; i < n_impostors; ++i) {
    const double d = std::max(0.0, normal(1.42, 0.11));
    const double s = similarity_from_distance(d, a);
    impostors.push_back(s);
    pairs.push_back({image_name(i, i), image_name(i + 1 + i % 7, i + 3), false, s, d});
  }

  ReportInput in;
  in.title = "faceverify calibration: lfw/pairs.csv (synthetic sample)";
  in.backend = "local";
  in.generated_at = "2024-05-01T12:00:00Z";
  in.half_distance = a;
  in.calibration = test::synthetic_calibration(genuine, impostors);
  const auto& target = in.calibration.far_targets.at(1);  // FAR 0.1%
  in.threshold = target.point ? target.point->threshold : k_default_threshold;
  in.threshold_reason = target.point ? "TAR at FAR \xE2\x89\xA4 0.1%" : "default";

  auto by_similarity = [](const ScoredPair& x, const ScoredPair& y) { return x.similarity < y.similarity; };
  std::vector<ScoredPair> g, im;
  for (const auto& p : pairs) (p.genuine ? g : im).push_back(p);
  std::sort(g.begin(), g.end(), by_similarity);
  std::sort(im.begin(), im.end(), [&](const ScoredPair& x, const ScoredPair& y) { return by_similarity(y, x); });
  g.resize(std::min<std::size_t>(g.size(), 10));
  im.resize(std::min<std::size_t>(im.size(), 10));
  // Names are data: the report must show them, escaped, whatever they hold.
  if (g.size() > 1) g[1].image2 = "uploads/<script>alert('x')</script> & \"quoted\" name.jpg";
  if (im.size() > 2) {
    im[2].image1 = "lfw/Zo\xC3\xAB_\xC3\x98stergaard/a-very-long-directory-name-without-any-spaces/portrait_0001.jpeg";
  }
  in.worst_genuine = g;
  in.worst_impostors = im;

  std::ofstream out(argv[1], std::ios::binary);
  out << render_calibration_report(in);
  out.close();
  if (!out) {
    std::cerr << "write_sample_report: cannot write " << argv[1] << "\n";
    return 1;
  }
  return 0;
}

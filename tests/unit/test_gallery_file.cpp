// SPDX-License-Identifier: MIT
// Gallery files (issue 14): round trip, append, export, every kind of damage
// refused before use, truncation while open, mixing backends, and the scan
// against a brute-force ranking.
#include "faceverify/gallery_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "faceverify/similarity.hpp"
#include "process.hpp"

using namespace faceverify;
namespace fs = std::filesystem;

namespace {

Provenance api4ai() {
  return Provenance{BackendKind::api4ai, "demo", "https://demo.api4ai.cloud/x/results", {}, {}};
}

Provenance local() {
  Provenance p{BackendKind::local, "", "", {{"detector", "aa"}, {"landmarks", "bb"}, {"embedder", "cc"}}, {}};
  p.pipeline = 2;
  return p;
}

std::vector<double> random_embedding(std::mt19937_64& rng, std::size_t dim) {
  std::normal_distribution<double> n(0, 1);
  std::vector<double> v(dim);
  for (double& x : v) x = n(rng);
  return v;
}

// Records of every kind: one face, two faces (the second larger), no face, an error.
std::vector<EmbeddingRecord> sample_records(const Provenance& p, std::size_t n, std::size_t dim, unsigned seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<EmbeddingRecord> out;
  for (std::size_t i = 0; i < n; ++i) {
    EmbeddingRecord r;
    r.input = "photos/p" + std::to_string(i) + (i % 7 == 3 ? " \xc3\xa9t\xc3\xa9.jpg" : ".jpg");
    r.sha256 = i % 5 == 4 ? "" : std::string(63, "0123456789abcdef"[i % 16]) + "f";
    r.provenance = p;
    r.service_version = p.backend == BackendKind::api4ai ? std::optional<std::string>("v1.16.2") : std::nullopt;
    r.tool_version = "1.1.0";
    if (i % 11 == 5) {
      r.error = Error{ErrorKind::http, r.input + ": HTTP 400: Image is corrupted", {}, false, {}};
    } else if (i % 11 != 7) {
      const std::size_t faces = i % 3 == 1 ? 2 : 1;
      for (std::size_t k = 0; k < faces; ++k) {
        Face f;
        f.box = {0.1 * static_cast<double>(k), 0.2, 0.3 + 0.2 * static_cast<double>(k), 0.4};
        f.confidence = 0.987654321 - 0.1 * static_cast<double>(k);
        f.landmarks = {{"left-eye", {0.25, 0.3}}, {"right-eye", {0.35, 0.30000000000000004}}};
        f.embedding = random_embedding(rng, dim);
        r.analysis.faces.push_back(std::move(f));
      }
      r.analysis.width = 640;
      r.analysis.height = 480;
      if (p.backend == BackendKind::api4ai) r.analysis.md5 = "533c3e2300f8ddc5eb261a9f2d8d87d3";
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string write_gallery(const fs::path& path, const std::vector<EmbeddingRecord>& records) {
  auto w = gallery::Writer::create(path.string(), records.front().provenance, records.front().service_version);
  REQUIRE(w);
  for (const auto& r : records) REQUIRE((*w)->add(r));
  REQUIRE((*w)->commit());
  return path.string();
}

// What reading `r` from an embedding file gives (boxes normalised as every
// reader does) once its vectors went through float32.
EmbeddingRecord as_float32(EmbeddingRecord r) {
  for (Face& f : r.analysis.faces) {
    for (double& x : f.embedding) x = static_cast<double>(static_cast<float>(x));
  }
  auto parsed = parse_embedding_file(render_embedding_record(r), "x");
  REQUIRE(parsed);
  return parsed->front();
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::uint64_t field(const std::string& bytes, std::size_t offset) {
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 8);
  return v;
}

}  // namespace

TEST_CASE("gallery: round trip of every kind of record, and export", "[gallery]") {
  test::TempDir dir;
  for (const auto& p : {api4ai(), local()}) {
    const auto records = sample_records(p, 40, 16);
    const std::string path = write_gallery(dir / "g.fvg", records);
    auto g = gallery::Gallery::open(path, "g.fvg");
    REQUIRE(g);
    const auto& info = (*g)->info();
    CHECK(info.records == 40);
    CHECK(info.dimension == 16);
    CHECK(info.provenance.backend == p.backend);
    CHECK(info.provenance.pipeline == p.pipeline);
    CHECK(comparable(info.provenance, p));
    CHECK(info.service_version == records.front().service_version);
    CHECK((*g)->verify_matrix());
    std::uint64_t rows = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto r = (*g)->record(i);
      REQUIRE(r);
      // Exactly the record an embedding file would give back, vectors rounded to float32.
      CHECK(render_embedding_record(*r) == render_embedding_record(as_float32(records[i])));
      CHECK((*g)->sha256(i) == records[i].sha256);
      CHECK((*g)->is_error(i) == records[i].error.has_value());
      CHECK((*g)->row_count(i) == records[i].analysis.faces.size());
      for (std::size_t k = 0; k < records[i].analysis.faces.size(); ++k) {
        CHECK((*g)->norm(rows + k) == Approx(l2_norm(records[i].analysis.faces[k].embedding)).epsilon(1e-12));
      }
      rows += records[i].analysis.faces.size();
    }
    CHECK(info.rows == rows);
  }
}

TEST_CASE("gallery: add_all appends in order, and the copy is the same gallery", "[gallery]") {
  test::TempDir dir;
  const auto a = sample_records(api4ai(), 12, 8, 1);
  const auto b = sample_records(api4ai(), 9, 8, 2);
  auto ga = gallery::Gallery::open(write_gallery(dir / "a.fvg", a), "a.fvg");
  REQUIRE(ga);
  auto w = gallery::Writer::create((dir / "ab.fvg").string(), api4ai(), std::string("v1.16.2"));
  REQUIRE(w);
  REQUIRE((*w)->add_all(**ga));
  for (const auto& r : b) REQUIRE((*w)->add(r));
  REQUIRE((*w)->commit());
  auto ab = gallery::Gallery::open((dir / "ab.fvg").string(), "ab.fvg");
  REQUIRE(ab);
  REQUIRE((*ab)->size() == a.size() + b.size());
  for (std::size_t i = 0; i < (*ab)->size(); ++i) {
    const auto& expected = i < a.size() ? a[i] : b[i - a.size()];
    auto r = (*ab)->record(i);
    REQUIRE(r);
    CHECK(render_embedding_record(*r) == render_embedding_record(as_float32(expected)));
  }
  CHECK((*ab)->verify_matrix());
}

TEST_CASE("gallery: records that cannot share a gallery are refused", "[gallery]") {
  test::TempDir dir;
  auto w = gallery::Writer::create((dir / "x.fvg").string(), api4ai(), std::nullopt);
  REQUIRE(w);
  auto other = sample_records(local(), 2, 8);
  auto refused = (*w)->add(other.front());
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::input);
  CHECK(refused.error().message.find("cannot be mixed in one gallery") != std::string::npos);
  REQUIRE((*w)->add(sample_records(api4ai(), 1, 8).front()));
  auto longer = sample_records(api4ai(), 1, 9).front();
  auto mismatch = (*w)->add(longer);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().message ==
        "photos/p0.jpg: its embedding has 9 values, the gallery's have 8; they cannot be compared");
  // An abandoned writer leaves nothing behind.
  w->reset();
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 0);
}

TEST_CASE("gallery: damage anywhere is refused before use", "[gallery]") {
  test::TempDir dir;
  const std::string path = write_gallery(dir / "g.fvg", sample_records(api4ai(), 30, 8));
  const std::string good = read_bytes(path);
  const std::uint64_t matrix = field(good, 48), norms = field(good, 56), boxes = field(good, 64),
                      table = field(good, 72), metadata = field(good, 80);
  const auto open_fails = [&](const std::string& bytes, const std::string& expected) {
    write_bytes(dir / "bad.fvg", bytes);
    auto g = gallery::Gallery::open((dir / "bad.fvg").string(), "bad.fvg");
    REQUIRE_FALSE(g);
    CHECK(g.error().kind == ErrorKind::input);
    CHECK(g.error().message.find("bad.fvg: ") == 0);
    INFO(g.error().message);
    CHECK(g.error().message.find(expected) != std::string::npos);
    CHECK(g.error().message.find('\n') == std::string::npos);
  };
  auto flipped = [&](std::uint64_t at) {
    std::string b = good;
    b[at] = static_cast<char>(b[at] ^ 0x40);
    return b;
  };
  SECTION("magic, version, flags, counts, offsets") {
    open_fails(flipped(1), "not a faceverify gallery file");
    open_fails(flipped(8), "format version");
    open_fails(flipped(12), "unknown header flags");
    open_fails(flipped(24), "do not fit together");  // another dimension: another size
    open_fails(flipped(27), "impossible dimension");
    open_fails(flipped(33), "do not fit together");
    open_fails(flipped(57), "do not fit together");
    open_fails(flipped(100), "checksum mismatch");  // the matrix checksum is covered by the header's
    open_fails(good.substr(0, 100), "too short");
    open_fails("", "too short");
  }
  SECTION("provenance, norms, boxes and the record table are under the checksum") {
    for (const std::uint64_t at : {std::uint64_t{130}, norms + 3, boxes + 9, table + 2, table + 30}) {
      open_fails(flipped(at), "checksum mismatch");
    }
  }
  SECTION("truncated or extended") {
    for (const std::uint64_t size : {metadata + 10, table, matrix + 5, norms}) {
      open_fails(good.substr(0, size), "truncated");
    }
    open_fails(good + "x", "after its end");
  }
  SECTION("a record's metadata fails its own checksum when read") {
    write_bytes(dir / "bad.fvg", flipped(metadata + 5));
    auto g = gallery::Gallery::open((dir / "bad.fvg").string(), "bad.fvg");
    REQUIRE(g);
    auto r = (*g)->record(0);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "bad.fvg: record 1: its metadata fails its checksum: the file is damaged (copy it "
          "again, or build it again)");
    CHECK((*g)->record(1));
  }
  SECTION("the matrix is checked by verify_matrix") {
    write_bytes(dir / "bad.fvg", flipped(matrix + 7));
    auto g = gallery::Gallery::open((dir / "bad.fvg").string(), "bad.fvg");
    REQUIRE(g);
    auto v = (*g)->verify_matrix();
    REQUIRE_FALSE(v);
    CHECK(v.error().message.find("matrix's checksum does not match") != std::string::npos);
  }
  SECTION("random damage never crashes and is never silently read as the original") {
    std::mt19937_64 rng(7);
    for (int k = 0; k < 300; ++k) {
      std::string b = good;
      const auto at = rng() % b.size();
      b[at] = static_cast<char>(b[at] ^ (1 + rng() % 255));
      write_bytes(dir / "bad.fvg", b);
      auto g = gallery::Gallery::open((dir / "bad.fvg").string(), "bad.fvg");
      if (!g) continue;
      // Only the matrix and the metadata are checked later.
      const bool in_matrix = at >= matrix && at < norms;
      const bool in_metadata = at >= metadata;
      CHECK((in_matrix || in_metadata));
      if (in_matrix) CHECK_FALSE((*g)->verify_matrix());
      if (in_metadata) {
        bool any_failed = false;
        for (std::size_t i = 0; i < (*g)->size(); ++i) any_failed = any_failed || !(*g)->record(i);
        CHECK(any_failed);
      }
    }
  }
}

TEST_CASE("gallery: a file truncated while open gives an error, never a crash", "[gallery]") {
  test::TempDir dir;
  const std::string path = write_gallery(dir / "g.fvg", sample_records(api4ai(), 200, 64));
  auto g = gallery::Gallery::open(path, "g.fvg");
  REQUIRE(g);
  REQUIRE(::truncate(path.c_str(), 4096) == 0);
  Analysis probe;
  probe.faces.push_back(sample_records(api4ai(), 1, 64).front().analysis.faces.front());
  auto hits = gallery::scan(**g, probe, FacePolicy::largest, 5, 2);
  REQUIRE_FALSE(hits);
  CHECK(hits.error().kind == ErrorKind::input);
  CHECK(hits.error().message == "g.fvg: shorter than its header says; it was truncated or changed while being read");
  CHECK_FALSE((*g)->record(150));
  CHECK_FALSE((*g)->verify_matrix());
}

TEST_CASE("gallery: the scan ranks exactly like the double-precision distance", "[gallery]") {
  test::TempDir dir;
  const std::size_t dim = 37;  // not a multiple of the kernel's width
  auto records = sample_records(api4ai(), 500, dim, 3);
  // Scale some vectors: the stored norms make the scan right whatever the norms.
  for (std::size_t i = 0; i < records.size(); i += 3) {
    for (Face& f : records[i].analysis.faces) {
      for (double& x : f.embedding) x *= 7.5;
    }
  }
  auto g = gallery::Gallery::open(write_gallery(dir / "g.fvg", records), "g.fvg");
  REQUIRE(g);
  std::mt19937_64 rng(11);
  Analysis reference;
  for (int k = 0; k < 2; ++k) {
    Face f;
    f.box = {0.0, 0.0, 0.2 + 0.3 * k, 0.5};
    f.embedding = random_embedding(rng, dim);
    reference.faces.push_back(f);
  }
  for (const FacePolicy policy : {FacePolicy::largest, FacePolicy::first, FacePolicy::best}) {
    // Brute force with compare(), the rule every other path uses.
    std::vector<std::pair<double, std::size_t>> expected;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (records[i].error || records[i].analysis.faces.empty() || i % 10 == 0) continue;
      auto c = compare(reference, "ref", as_float32(records[i]).analysis, "c", policy, ScoreOptions{});
      REQUIRE(c);
      expected.emplace_back(c->distance, i);
    }
    std::sort(expected.begin(), expected.end());
    for (const int jobs : {1, 3}) {
      for (const std::size_t keep : {std::size_t{0}, std::size_t{1}, std::size_t{25}}) {
        auto hits = gallery::scan(**g, reference, policy, keep, jobs, [](std::size_t rec) { return rec % 10 == 0; });
        REQUIRE(hits);
        REQUIRE(hits->size() == (keep == 0 ? expected.size() : keep));
        for (std::size_t k = 0; k < hits->size(); ++k) {
          CHECK((*hits)[k].record == expected[k].second);
          CHECK(std::sqrt((*hits)[k].distance2) == Approx(expected[k].first).epsilon(1e-4));
        }
      }
    }
  }
  Analysis wrong;
  wrong.faces.push_back(reference.faces.front());
  wrong.faces.front().embedding.resize(dim + 1, 0.5);
  auto refused = gallery::scan(**g, wrong, FacePolicy::largest, 5, 2);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "g.fvg: its embeddings have 37 values, the reference's has 38; they cannot be compared");
}

TEST_CASE("gallery: crc32c matches the standard check value", "[gallery]") {
  CHECK(gallery::crc32c(0, "123456789", 9) == 0xE3069283u);
  const std::string long_text(1000, 'x');
  CHECK(gallery::crc32c(gallery::crc32c(0, long_text.data(), 500), long_text.data() + 500, 500) ==
        gallery::crc32c(0, long_text.data(), 1000));
}

TEST_CASE("gallery: what is not a gallery", "[gallery]") {
  test::TempDir dir;
  write_bytes(dir / "text.jsonl", "{\"type\":\"embedding\"}\n");
  CHECK_FALSE(gallery::is_gallery_file((dir / "text.jsonl").string()));
  CHECK_FALSE(gallery::is_gallery_file((dir / "missing").string()));
  CHECK_FALSE(gallery::is_gallery_file(dir.path().string()));
  CHECK(gallery::looks_like_gallery(gallery::k_magic));
}

TEST_CASE("gallery: a copy refuses a damaged matrix and another pipeline", "[gallery]") {
  test::TempDir dir;
  const std::string path = write_gallery(dir / "g.fvg", sample_records(api4ai(), 10, 8));
  std::string bytes = read_bytes(path);
  bytes[field(bytes, 48) + 3] ^= 0x20;
  write_bytes(dir / "bad.fvg", bytes);
  auto bad = gallery::Gallery::open((dir / "bad.fvg").string(), "bad.fvg");
  REQUIRE(bad);
  auto w = gallery::Writer::create((dir / "copy.fvg").string(), api4ai(), std::nullopt);
  REQUIRE(w);
  auto copied = (*w)->add_all(**bad);
  REQUIRE_FALSE(copied);
  CHECK(copied.error().message.find("bad.fvg: the matrix's checksum does not match") == 0);

  Provenance two = local();
  auto lw = gallery::Writer::create((dir / "local.fvg").string(), two, std::nullopt);
  REQUIRE(lw);
  Provenance one = local();
  one.pipeline = 0;  // not recorded: pipeline 1
  auto r = sample_records(one, 1, 8).front();
  auto refused = (*lw)->add(r);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "photos/p0.jpg: embedded by local pipeline 1, the gallery by pipeline 2; a gallery "
        "holds one pipeline (embed the images again with the same --decode)");
  // A failed photo has no embedding to mix: accepted whatever its provenance.
  EmbeddingRecord failed = r;
  failed.provenance = api4ai();
  failed.analysis = {};
  failed.error = Error{ErrorKind::http, "x: HTTP 503", {}, false, {}};
  CHECK((*lw)->add(failed));
}

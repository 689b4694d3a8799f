// SPDX-License-Identifier: MIT
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "faceverify/backend.hpp"
#include "faceverify/batch.hpp"
#include "faceverify/cache.hpp"
#include "faceverify/embedding_file.hpp"
#include "process.hpp"

using namespace faceverify;

namespace {

// Counts calls and overlapping calls; each face's embedding is derived from
// the image bytes, so a mix-up between subjects shows.
class FakeAnalyzer final : public FaceAnalyzer {
 public:
  std::atomic<int> calls{0};
  std::atomic<int> active{0};
  std::atomic<int> max_active{0};
  std::chrono::milliseconds delay{20};
  std::set<std::string> failing;   // bytes whose analysis fails
  std::set<std::string> faceless;  // bytes in which no face is found

  Expected<Analysis> analyze(const Image& image) override {
    ++calls;
    const int now = ++active;
    int seen = max_active.load();
    while (now > seen && !max_active.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(delay);
    {
      std::lock_guard lock(m_mutex);
      m_labels.push_back(image.label);
    }
    --active;
    if (failing.count(image.bytes)) {
      Error e{ErrorKind::http, image.label + ": HTTP 503: Service Unavailable", 503, true, {}};
      return std::unexpected(e);
    }
    if (faceless.count(image.bytes)) return Analysis{};
    return analysis_for(image.bytes);
  }

  std::vector<std::string> labels() {
    std::lock_guard lock(m_mutex);
    return m_labels;
  }

  static Analysis analysis_for(const std::string& bytes) {
    double sum = 0;
    for (unsigned char c : bytes) sum += c;
    Face f;
    f.box = {0.125, 0.25, 0.5, 0.5};
    f.confidence = 0.875;
    f.landmarks = {{"left-eye", {0.25, 0.375}}};
    f.embedding = {static_cast<double>(bytes.size()), sum / 1000.0, 1.0 / 3.0};
    Analysis a;
    a.faces = {f};
    a.width = 64;
    a.height = 48;
    return a;
  }

 private:
  std::mutex m_mutex;
  std::vector<std::string> m_labels;
};

const Provenance k_api4ai{BackendKind::api4ai, "demo", "https://demo.api4ai.cloud/face-analyzer/v1/results", {}, {}};

// A JPEG magic prefix (load_input sniffs it) and distinct bytes.
std::string jpeg_bytes(const std::string& tag) {
  return std::string("\xFF\xD8\xFF\xE0", 4) + "image " + tag;
}

std::string write_image(const test::TempDir& dir, const std::string& name, const std::string& tag) {
  const auto path = dir / name;
  test::write_file(path, jpeg_bytes(tag));
  return path.string();
}

struct Run {
  std::vector<std::size_t> done;  // subjects, in on_done order
  std::vector<bool> cached;       // cached flag at on_done time
  Expected<RunEnd> end = RunEnd::interrupted;
};

Run run(InputSet& inputs, Backend* backend, const EngineSettings& settings, Diagnostics& diag) {
  Run r;
  r.end = analyse_all(inputs, backend, settings, diag, [&](std::size_t i) {
    CHECK(inputs.subjects[i].done);
    r.done.push_back(i);
    r.cached.push_back(inputs.subjects[i].cached);
  });
  return r;
}

EngineSettings settings(int jobs, std::optional<cache::Cache> cache = std::nullopt) {
  EngineSettings s;
  s.jobs = jobs;
  s.cache = std::move(cache);
  s.progress = false;
  return s;
}

void add_all(InputSet& inputs, const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    auto added = inputs.add(p, -1, k_max_image_bytes);
    REQUIRE(added);
  }
}

std::filesystem::path entry_path(const cache::Cache& cache, const std::string& sha256) {
  const std::string key = cache::make_key(sha256, cache_identity(k_api4ai));
  return cache.directory() / "v1" / key.substr(0, 2) / key;
}

// A backend over a fresh FakeAnalyzer, and the analyzer to inspect.
struct FakeBackend {
  FakeAnalyzer* analyzer;
  std::unique_ptr<Backend> backend;
};
FakeBackend fake_backend() {
  auto fake = std::make_unique<FakeAnalyzer>();
  FakeAnalyzer* analyzer = fake.get();
  return {analyzer, wrap_backend(std::move(fake), k_api4ai)};
}

}  // namespace

TEST_CASE("batch: the same bytes under two names are analysed once", "[batch]") {
  test::TempDir dir;
  const auto a = write_image(dir, "a.jpg", "same");
  const auto b = write_image(dir, "b.jpg", "same");
  const auto c = write_image(dir, "c.jpg", "other");
  InputSet inputs;
  add_all(inputs, {a, b, c});
  REQUIRE(inputs.entries.size() == 3);
  REQUIRE(inputs.subjects.size() == 2);
  CHECK(inputs.entries[0].subject == 0);
  CHECK(inputs.entries[1].subject == 0);
  CHECK(inputs.entries[2].subject == 1);
  CHECK(inputs.entries[0].first_for_subject);
  CHECK_FALSE(inputs.entries[1].first_for_subject);
  CHECK(inputs.entries[2].first_for_subject);
  CHECK(inputs.entries[0].input == a);
  CHECK(inputs.entries[1].input == b);
  CHECK(inputs.subjects[0].input == a);
  CHECK(&inputs.subject_of(1) == &inputs.subjects[0]);

  auto [analyzer, backend] = fake_backend();
  std::ostringstream err;
  Diagnostics diag(err);
  Run r = run(inputs, backend.get(), settings(4), diag);
  REQUIRE(r.end);
  CHECK(*r.end == RunEnd::complete);
  CHECK(analyzer->calls == 2);
  auto done = r.done;
  std::sort(done.begin(), done.end());
  CHECK(done == std::vector<std::size_t>{0, 1});
  REQUIRE(inputs.subject_of(1).analysis);
  CHECK(inputs.subject_of(1).analysis->faces[0].embedding ==
        FakeAnalyzer::analysis_for(jpeg_bytes("same")).faces[0].embedding);
  CHECK(inputs.subject_of(2).analysis->faces[0].embedding ==
        FakeAnalyzer::analysis_for(jpeg_bytes("other")).faces[0].embedding);
  CHECK(inputs.subjects[0].provenance.backend == BackendKind::api4ai);
  CHECK(inputs.subjects[0].image->bytes.empty());  // freed once analysed
  CHECK(err.str().empty());
}

TEST_CASE("batch: the progress line counts subjects and is erased at the end", "[batch]") {
  test::TempDir dir;
  InputSet inputs;
  add_all(inputs, {write_image(dir, "a.jpg", "a"), write_image(dir, "b.jpg", "b"), write_image(dir, "c.jpg", "c")});
  auto fake = std::make_unique<FakeAnalyzer>();
  fake->failing = {jpeg_bytes("b")};
  auto backend = wrap_backend(std::move(fake), k_api4ai);
  std::ostringstream err;
  Diagnostics diag(err);
  diag.enable_progress();
  EngineSettings s = settings(1);
  s.progress = true;
  Run r = run(inputs, backend.get(), s, diag);
  REQUIRE(r.end);
  const std::string text = err.str();
  CHECK(text.rfind("\r\033[K0/3 done\r\033[K", 0) == 0);
  CHECK(text.find("\r\033[K3/3 done, 1 error, ") != std::string::npos);
  CHECK(text.size() >= 4);
  CHECK(text.substr(text.size() - 4) == "\r\033[K");  // erased when the run ends
  CHECK(text.find("ETA") != std::string::npos);
  CHECK(text.find('\n') == std::string::npos);  // a failure is the caller's to report
}

TEST_CASE("batch: URLs are deduplicated by address and never cached", "[batch]") {
  test::TempDir dir;
  const cache::Cache cache(dir / "cache");
  InputSet inputs;
  add_all(inputs, {"https://user:secret@example.com/a.jpg", "https://user:secret@example.com/a.jpg",
                   "https://example.com/b.jpg"});
  REQUIRE(inputs.entries.size() == 3);
  REQUIRE(inputs.subjects.size() == 2);
  CHECK(inputs.entries[1].subject == 0);
  CHECK_FALSE(inputs.entries[1].first_for_subject);
  CHECK(inputs.entries[0].input == "https://***@example.com/a.jpg");  // no credentials in reports
  CHECK(inputs.subjects[0].input == "https://***@example.com/a.jpg");
  CHECK(inputs.subjects[0].sha256.empty());
  auto [analyzer, backend] = fake_backend();
  std::ostringstream err;
  Diagnostics diag(err);
  for (int round = 0; round < 2; ++round) {
    InputSet again = inputs;
    Run r = run(again, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(r.cached == std::vector<bool>{false, false});
  }
  CHECK(analyzer->calls == 4);
}

// Regression: the store once lacked the `!s.sha256.empty()` of the load, so
// every URL analysis was written under make_key("", identity), an entry no
// run could read.
TEST_CASE("batch: URL analyses are not written to the cache", "[batch]") {
  test::TempDir dir;
  const cache::Cache cache(dir / "cache");
  InputSet inputs;
  add_all(inputs, {"https://example.com/a.jpg", "https://example.com/b.jpg"});
  auto backend = wrap_backend(std::make_unique<FakeAnalyzer>(), k_api4ai);
  std::ostringstream err;
  Diagnostics diag(err);
  Run r = run(inputs, backend.get(), settings(2, cache), diag);
  REQUIRE(r.end);
  auto stats = cache.stats();
  REQUIRE(stats);
  CHECK(stats->entries == 0);
  CHECK_FALSE(cache.load(cache::make_key("", cache_identity(k_api4ai))));
}

TEST_CASE("batch: jobs bound the concurrent analyses", "[batch]") {
  test::TempDir dir;
  InputSet inputs;
  for (int i = 0; i < 20; ++i)
    add_all(inputs, {write_image(dir, "img" + std::to_string(i) + ".jpg", std::to_string(i))});
  REQUIRE(inputs.subjects.size() == 20);
  auto [analyzer, backend] = fake_backend();
  std::ostringstream err;
  Diagnostics diag(err);
  Run r = run(inputs, backend.get(), settings(3), diag);
  REQUIRE(r.end);
  CHECK(*r.end == RunEnd::complete);
  CHECK(analyzer->calls == 20);
  CHECK(analyzer->max_active <= 3);
  CHECK(analyzer->max_active > 1);
  CHECK(r.done.size() == 20);
  CHECK(std::set<std::size_t>(r.done.begin(), r.done.end()).size() == 20);
  for (std::size_t i = 0; i < 20; ++i) {
    const Subject& s = inputs.subjects[i];
    CHECK(s.done);
    CHECK_FALSE(s.cached);
    REQUIRE(s.analysis);
    CHECK(s.analysis->faces[0].embedding ==
          FakeAnalyzer::analysis_for(jpeg_bytes(std::to_string(i))).faces[0].embedding);
    CHECK(s.elapsed_ms >= 15);
  }

  SECTION("one job: never two at once") {
    InputSet again;
    for (int i = 0; i < 4; ++i)
      add_all(again, {write_image(dir, "one" + std::to_string(i) + ".jpg", "one" + std::to_string(i))});
    auto f1 = std::make_unique<FakeAnalyzer>();
    FakeAnalyzer* a1 = f1.get();
    auto b1 = wrap_backend(std::move(f1), k_api4ai);
    Run r1 = run(again, b1.get(), settings(1), diag);
    REQUIRE(r1.end);
    CHECK(a1->calls == 4);
    CHECK(a1->max_active == 1);
  }
}

TEST_CASE("batch: the cache answers a second run", "[batch]") {
  test::TempDir dir;
  const std::vector<std::string> paths = {write_image(dir, "a.jpg", "a"), write_image(dir, "b.jpg", "b"),
                                          write_image(dir, "c.jpg", "c")};
  const cache::Cache cache(dir / "cache");
  std::ostringstream err;
  Diagnostics diag(err);

  auto first_run = [&](const std::set<std::string>& failing) {
    InputSet inputs;
    add_all(inputs, paths);
    auto fake = std::make_unique<FakeAnalyzer>();
    fake->failing = failing;
    FakeAnalyzer* analyzer = fake.get();
    auto backend = wrap_backend(std::move(fake), k_api4ai);
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(analyzer->calls == 3);
    CHECK(std::count(r.cached.begin(), r.cached.end(), true) == 0);
    return inputs;
  };

  SECTION("every image cached: no analysis at all") {
    const InputSet before = first_run({});
    InputSet inputs;
    add_all(inputs, paths);
    auto [analyzer, backend] = fake_backend();
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(*r.end == RunEnd::complete);
    CHECK(analyzer->calls == 0);
    CHECK(r.done == std::vector<std::size_t>{0, 1, 2});
    CHECK(r.cached == std::vector<bool>{true, true, true});
    for (std::size_t i = 0; i < 3; ++i) {
      REQUIRE(inputs.subjects[i].analysis);
      const Face& got = inputs.subjects[i].analysis->faces.at(0);
      const Face& want = before.subjects[i].analysis->faces.at(0);
      CHECK(got.embedding == want.embedding);
      CHECK(got.box == want.box);
      CHECK(got.confidence == want.confidence);
      CHECK(inputs.subjects[i].analysis->width == 64);
      CHECK(inputs.subjects[i].provenance.endpoint == k_api4ai.endpoint);
    }
    CHECK(err.str().empty());
  }

  SECTION("failures are not cached: only the failed image is analysed again") {
    first_run({jpeg_bytes("b")});
    InputSet probe;
    add_all(probe, paths);
    CHECK(cache.load(cache::make_key(probe.subjects[0].sha256, cache_identity(k_api4ai))));
    CHECK_FALSE(cache.load(cache::make_key(probe.subjects[1].sha256, cache_identity(k_api4ai))));
    InputSet inputs;
    add_all(inputs, paths);
    auto [analyzer, backend] = fake_backend();
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(analyzer->calls == 1);
    REQUIRE(analyzer->labels().size() == 1);
    CHECK(analyzer->labels()[0] == paths[1]);
    // Cache hits are reported first, then the analysis.
    CHECK(r.done == std::vector<std::size_t>{0, 2, 1});
    CHECK(r.cached == std::vector<bool>{true, true, false});
    CHECK(inputs.subjects[1].analysis);
  }

  SECTION("an analysis without a face is a result, and cached") {
    InputSet inputs;
    add_all(inputs, paths);
    auto fake = std::make_unique<FakeAnalyzer>();
    fake->faceless = {jpeg_bytes("a")};
    auto backend = wrap_backend(std::move(fake), k_api4ai);
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    REQUIRE(inputs.subjects[0].analysis);
    CHECK(inputs.subjects[0].analysis->faces.empty());

    InputSet again;
    add_all(again, paths);
    auto fake2 = std::make_unique<FakeAnalyzer>();
    FakeAnalyzer* analyzer = fake2.get();
    auto backend2 = wrap_backend(std::move(fake2), k_api4ai);
    Run r2 = run(again, backend2.get(), settings(2, cache), diag);
    REQUIRE(r2.end);
    CHECK(analyzer->calls == 0);
    CHECK(r2.cached == std::vector<bool>{true, true, true});
    REQUIRE(again.subjects[0].analysis);
    CHECK(again.subjects[0].analysis->faces.empty());
  }

  SECTION("a different endpoint is a different cache identity") {
    first_run({});
    InputSet inputs;
    add_all(inputs, paths);
    auto fake = std::make_unique<FakeAnalyzer>();
    FakeAnalyzer* analyzer = fake.get();
    Provenance other = k_api4ai;
    other.endpoint = "https://other.example/face-analyzer/v1/results";
    auto backend = wrap_backend(std::move(fake), other);
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(analyzer->calls == 3);
  }

  SECTION("a corrupted entry is analysed again and replaced") {
    first_run({});
    InputSet probe;
    add_all(probe, paths);
    const std::string sha_c = probe.subjects[2].sha256;
    const auto entry = entry_path(cache, sha_c);
    REQUIRE(std::filesystem::exists(entry));
    test::write_file(entry, "faceverify-cache 1 5 0000\nhello");

    InputSet inputs;
    add_all(inputs, paths);
    auto [analyzer, backend] = fake_backend();
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(analyzer->calls == 1);
    REQUIRE(analyzer->labels().size() == 1);
    CHECK(analyzer->labels()[0] == paths[2]);
    CHECK(r.cached == std::vector<bool>{true, true, false});
    // The entry was rewritten with the new analysis.
    const auto payload = cache.load(cache::make_key(sha_c, cache_identity(k_api4ai)));
    REQUIRE(payload);
    auto records = parse_embedding_file(*payload, "cache");
    REQUIRE(records);
    CHECK(records->front().sha256 == sha_c);
    CHECK(records->front().analysis.faces.at(0).embedding ==
          FakeAnalyzer::analysis_for(jpeg_bytes("c")).faces[0].embedding);
  }

  SECTION("an intact entry about other bytes, or not a record, is not trusted") {
    first_run({});
    InputSet probe;
    add_all(probe, paths);
    const std::string key_a = cache::make_key(probe.subjects[0].sha256, cache_identity(k_api4ai));
    const std::string key_b = cache::make_key(probe.subjects[1].sha256, cache_identity(k_api4ai));
    // a's key holds c's record (a well-formed entry, wrong sha256); b's holds junk.
    REQUIRE(cache.store(key_a, *cache.load(cache::make_key(probe.subjects[2].sha256, cache_identity(k_api4ai)))));
    REQUIRE(cache.store(key_b, "not a record\n"));

    InputSet inputs;
    add_all(inputs, paths);
    auto [analyzer, backend] = fake_backend();
    Run r = run(inputs, backend.get(), settings(2, cache), diag);
    REQUIRE(r.end);
    CHECK(analyzer->calls == 2);
    CHECK(r.done.front() == 2);
    CHECK(inputs.subjects[0].analysis->faces[0].embedding ==
          FakeAnalyzer::analysis_for(jpeg_bytes("a")).faces[0].embedding);
    auto again = parse_embedding_file(*cache.load(key_a), "cache");
    REQUIRE(again);
    CHECK(again->front().sha256 == probe.subjects[0].sha256);
  }

  SECTION("no cache (--no-cache): everything analysed each time") {
    first_run({});
    InputSet inputs;
    add_all(inputs, paths);
    auto [analyzer, backend] = fake_backend();
    Run r = run(inputs, backend.get(), settings(2), diag);
    REQUIRE(r.end);
    CHECK(analyzer->calls == 3);
  }
}

namespace {

EmbeddingRecord record(const std::string& input, std::vector<double> embedding, const Provenance& p) {
  EmbeddingRecord r;
  r.input = input;
  r.sha256 = std::string(64, 'a');
  Face f;
  f.box = {0.0, 0.0, 0.5, 0.5};
  f.embedding = std::move(embedding);
  r.analysis.faces = {f};
  r.provenance = p;
  r.tool_version = "X.Y.Z";
  return r;
}

const Provenance k_local{BackendKind::local,
                         "",
                         "",
                         {{"detector", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"},
                          {"landmarks", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"},
                          {"embedder", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"}},
                         {}};

}  // namespace

namespace {
// The one place this file's cache-identity test builds a local provenance.
Provenance local_provenance(std::vector<std::pair<std::string, std::string>> models) {
  Provenance p;
  p.backend = BackendKind::local;
  p.models = std::move(models);
  return p;
}
}  // namespace

TEST_CASE("batch: the cache identity of local analyses names every model hash", "[batch][cache]") {
  const std::vector<std::pair<std::string, std::string>> models = {
      {"detector", std::string(64, 'a')}, {"landmarks", std::string(64, 'b')}, {"embedder", std::string(64, 'c')}};
  const std::string base = cache_identity(local_provenance(models));
  CHECK(base == cache_identity(local_provenance(models)));  // deterministic
  for (std::size_t i = 0; i < models.size(); ++i) {
    auto other = models;
    other[i].second.back() = 'f';  // one hex digit of one model's sha256
    INFO("changed the " << models[i].first << "'s hash");
    const std::string changed = cache_identity(local_provenance(other));
    CHECK(changed != base);
    // So the same image bytes get another cache key: an entry made with other models is never reused.
    const std::string sha(64, '0');
    CHECK(cache::make_key(sha, changed) != cache::make_key(sha, base));
  }
  CHECK(cache_identity(local_provenance({models[0], models[1]})) != base);  // a model fewer
  CHECK(cache_identity(k_api4ai) != base);
}

TEST_CASE("batch: embedding-file inputs need no backend", "[batch]") {
  test::TempDir dir;
  EmbeddingRecord failed = record("photos/carol.jpg", {1.0}, k_api4ai);
  failed.error = Error{ErrorKind::network, "photos/carol.jpg: connection reset", {}, false, {}};
  const std::string text = render_embedding_record(record("photos/alice.jpg", {0.6, 0.8}, k_api4ai)) +
                           render_embedding_record(record("photos/bob.jpg", {0.8, 0.6}, k_api4ai)) +
                           render_embedding_record(failed);
  const auto file = dir / "people.jsonl";
  test::write_file(file, text);

  InputSet inputs;
  auto added = inputs.add(file.string(), -1, k_max_image_bytes);
  REQUIRE(added);
  CHECK(*added == std::vector<std::size_t>{0, 1, 2});
  REQUIRE(inputs.entries.size() == 3);
  REQUIRE(inputs.subjects.size() == 3);
  CHECK(inputs.entries[0].input == "photos/alice.jpg");
  CHECK(inputs.entries[1].input == "photos/bob.jpg");
  CHECK(inputs.entries[1].subject == 1);
  CHECK(inputs.subjects[0].label == "photos/alice.jpg");
  CHECK(inputs.subjects[0].from_file);
  CHECK(inputs.subjects[0].done);
  CHECK(inputs.subjects[0].sha256 == std::string(64, 'a'));
  CHECK(inputs.subjects[1].analysis->faces[0].embedding == std::vector<double>{0.8, 0.6});
  REQUIRE_FALSE(inputs.subjects[2].analysis);
  CHECK(inputs.subjects[2].analysis.error().kind == ErrorKind::network);
  CHECK(inputs.subjects[2].analysis.error().message == "photos/carol.jpg: connection reset");
  // Records sharing a sha256 are not merged: each is its own subject.
  CHECK(inputs.subjects[1].input == "photos/bob.jpg");
  CHECK(inputs.subjects[1].sha256 == inputs.subjects[0].sha256);

  std::ostringstream err;
  Diagnostics diag(err);
  Run r = run(inputs, nullptr, settings(2), diag);
  REQUIRE(r.end);
  CHECK(*r.end == RunEnd::complete);
  CHECK(r.done == std::vector<std::size_t>{0, 1, 2});
  CHECK(r.cached == std::vector<bool>{false, false, false});
  CHECK(inputs.check_comparable(k_api4ai));

  SECTION("an image besides the records needs a backend") {
    add_all(inputs, {write_image(dir, "d.jpg", "d")});
    auto end = analyse_all(inputs, nullptr, settings(2), diag, [](std::size_t) {});
    REQUIRE_FALSE(end);
    CHECK(end.error().kind == ErrorKind::internal);
  }
  SECTION("records from another backend than the images'") {
    test::write_file(dir / "local.jsonl", render_embedding_record(record("dave.jpg", {0.1, 0.2}, k_local)));
    InputSet mixed;
    add_all(mixed, {write_image(dir, "e.jpg", "e"), (dir / "local.jsonl").string()});
    auto ok = mixed.check_comparable(k_api4ai);
    REQUIRE_FALSE(ok);
    CHECK(ok.error().kind == ErrorKind::usage);
    CHECK(ok.error().message ==
          "dave.jpg: its embedding comes from the local backend (embedder 87aacdfe5751…) and cannot be compared "
          "with api4ai (demo) ones (use the same --backend, or embed the images again)");
    // Without images to analyse, only the records must agree with each other.
    InputSet only_local;
    add_all(only_local, {(dir / "local.jsonl").string()});
    CHECK(only_local.check_comparable(k_api4ai));
  }
  SECTION("records of two backends in one run") {
    test::write_file(dir / "local.jsonl", render_embedding_record(record("dave.jpg", {0.1, 0.2}, k_local)));
    add_all(inputs, {(dir / "local.jsonl").string()});
    auto ok = inputs.check_comparable(k_api4ai);
    REQUIRE_FALSE(ok);
    CHECK(ok.error().message ==
          "dave.jpg: its embedding comes from the local backend (embedder 87aacdfe5751…), photos/alice.jpg's from "
          "api4ai (demo); they cannot be compared");
  }
  SECTION("a malformed embedding file is refused when added") {
    test::write_file(dir / "bad.jsonl", text + "{\"type\":\"embedding\"}\n");
    InputSet bad;
    auto r2 = bad.add((dir / "bad.jsonl").string(), -1, k_max_image_bytes);
    REQUIRE_FALSE(r2);
    CHECK(r2.error().kind == ErrorKind::input);
    CHECK(r2.error().message == (dir / "bad.jsonl").string() + ": line 4: \"schema_version\" must be a whole number");
    CHECK(bad.entries.empty());
  }
}

// Regression, fixed (was in src/embedding_file.cpp parse_record + comparable()): a file written by
// the local backend reads its "models" back sorted by role, while
// Backend::open lists them as local::model_specs() does (detector, landmarks,
// embedder). comparable() compares the lists in order, so check_comparable
// refuses to compare a local embedding file with images analysed by the very
// same local models: "…its embedding comes from the local backend (embedder
// 87aacdfe5751…) and cannot be compared with the local backend (embedder
// 87aacdfe5751…) ones".
TEST_CASE("batch: a local embedding file is comparable with the local backend", "[batch][regression]") {
  test::TempDir dir;
  test::write_file(dir / "local.jsonl", render_embedding_record(record("dave.jpg", {0.1, 0.2}, k_local)));
  InputSet inputs;
  add_all(inputs, {write_image(dir, "e.jpg", "e"), (dir / "local.jsonl").string()});
  auto ok = inputs.check_comparable(k_local);
  INFO((ok ? std::string("ok") : ok.error().message));
  CHECK(ok);
}

TEST_CASE("batch: produced_provenance is the analyses' own, checked against each other", "[batch][serve]") {
  auto subject = [](std::string label, const Provenance& p, bool from_file) {
    Subject s;
    s.label = std::move(label);
    s.provenance = p;
    s.from_file = from_file;
    s.done = true;
    s.analysis = Analysis{};
    return s;
  };
  Provenance served = k_local;
  served.server = "http://127.0.0.1:8080/face-analyzer/v1/results";
  Provenance other = served;
  other.models = {{"model-set", std::string(64, 'e')}};
  InputSet inputs;
  SECTION("nothing analysed: the fallback") {
    auto p = inputs.produced_provenance(k_api4ai);
    REQUIRE(p);
    CHECK(p->backend == BackendKind::api4ai);
  }
  SECTION("an analysed image's provenance before a record's") {
    inputs.subjects = {subject("dave.jpg", k_local, true), subject("e.jpg", served, false)};
    auto p = inputs.produced_provenance(k_api4ai);
    REQUIRE(p);
    CHECK(p->server == served.server);
  }
  SECTION("a failed analysis does not count") {
    inputs.subjects = {subject("e.jpg", k_api4ai, false), subject("f.jpg", served, false)};
    inputs.subjects[0].analysis = fail(ErrorKind::network, "e.jpg: down");
    auto p = inputs.produced_provenance(k_api4ai);
    REQUIRE(p);
    CHECK(p->backend == BackendKind::local);
  }
  SECTION("a record of other models than the images'") {
    inputs.subjects = {subject("dave.jpg", k_local, true), subject("e.jpg", other, false)};
    auto p = inputs.produced_provenance(k_api4ai);
    REQUIRE_FALSE(p);
    CHECK(p.error().kind == ErrorKind::usage);
    CHECK(p.error().message ==
          "dave.jpg: its embedding comes from the local backend (embedder 87aacdfe5751…) and cannot be compared "
          "with the faceverify server http://127.0.0.1:8080/face-analyzer/v1/results (model-set eeeeeeeeeeee…) ones "
          "(embeddings from different model sets; embed the images again with the same models)");
  }
  SECTION("two images of different origins (a cached analysis keeps its own)") {
    inputs.subjects = {subject("e.jpg", served, false), subject("f.jpg", k_api4ai, false)};
    auto p = inputs.produced_provenance(k_api4ai);
    REQUIRE_FALSE(p);
    CHECK(p.error().message ==
          "f.jpg: its embedding comes from api4ai (demo), e.jpg's from the faceverify server "
          "http://127.0.0.1:8080/face-analyzer/v1/results (embedder 87aacdfe5751…); they cannot be compared");
  }
  SECTION("compare_subjects refuses them too") {
    const Subject a = subject("e.jpg", served, false), b = subject("f.jpg", other, false);
    auto c = compare_subjects(a, b, FacePolicy::largest, ScoreOptions{});
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == ErrorKind::usage);
    CHECK(c.error().message.find("embeddings from different model sets cannot be compared") != std::string::npos);
  }
}

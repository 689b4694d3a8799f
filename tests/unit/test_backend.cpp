// SPDX-License-Identifier: MIT
// The backend factory: which implementation each setting opens, what it
// checks before any request, and the rules every backend shares.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "env_var.hpp"
#include "faceverify/backend.hpp"
#include "faceverify/local_backend.hpp"
#include "faceverify/sha256.hpp"

using namespace faceverify;

namespace {

struct Opened {
  std::ostringstream err;
  Diagnostics diag{err};
  Expected<std::unique_ptr<Backend>> backend = fail(ErrorKind::internal, "not opened");
  explicit Opened(const BackendSettings& settings) { backend = open_backend(settings, BackendRun{}, diag); }
};

}  // namespace

TEST_CASE("backend: api4ai opens the demo endpoint without a key", "[backend]") {
  EnvVar key("API4AI_KEY");
  key.unset();
  BackendSettings s;
  Opened o(s);
  REQUIRE(o.backend);
  const Provenance& p = (*o.backend)->provenance();
  CHECK(p.backend == BackendKind::api4ai);
  CHECK(p.api == "demo");
  CHECK(p.endpoint == "https://demo.api4ai.cloud/face-analyzer/v1/results");
  CHECK(p.models.empty());
  auto analyzer = (*o.backend)->analyzer();
  REQUIRE(analyzer);
  CHECK(*analyzer != nullptr);
  CHECK(o.err.str().empty());
}

TEST_CASE("backend: api4ai checks the key and the URL before any request", "[backend]") {
  EnvVar key("API4AI_KEY");
  key.unset();
  SECTION("--api api4ai needs a key") {
    BackendSettings s;
    s.api = api4ai::Mode::api4ai;
    Opened o(s);
    REQUIRE_FALSE(o.backend);
    CHECK(o.backend.error().kind == ErrorKind::usage);
    CHECK(o.backend.error().message.find("API4AI_KEY") != std::string::npos);
  }
  SECTION("--api-url replaces the host and keeps the path") {
    BackendSettings s;
    s.api_url = "http://127.0.0.1:9";
    Opened o(s);
    REQUIRE(o.backend);
    CHECK((*o.backend)->provenance().endpoint == "http://127.0.0.1:9/face-analyzer/v1/results");
  }
  SECTION("a bad --api-url is a usage error") {
    BackendSettings s;
    s.api_url = "ftp://example.com";
    Opened o(s);
    REQUIRE_FALSE(o.backend);
    CHECK(o.backend.error().kind == ErrorKind::usage);
  }
  SECTION("--api-key works but warns, without printing the key") {
    BackendSettings s;
    s.api = api4ai::Mode::api4ai;
    s.api_key = "SECRET-KEY-1234";
    Opened o(s);
    REQUIRE(o.backend);
    CHECK(o.err.str().find("warning: a key given with --api-key is visible") != std::string::npos);
    CHECK(o.err.str().find("SECRET") == std::string::npos);
  }
}

TEST_CASE("backend: local opens without reading the models", "[backend]") {
  BackendSettings s;
  s.kind = BackendKind::local;
  s.models = "/nonexistent/models";
  Opened o(s);
  if (!local::compiled_in()) {
    REQUIRE_FALSE(o.backend);
    CHECK(o.backend.error().kind == ErrorKind::usage);
    return;
  }
  REQUIRE(o.backend);
  const Provenance& p = (*o.backend)->provenance();
  CHECK(p.backend == BackendKind::local);
  REQUIRE(p.models.size() == local::model_specs().size());
  for (std::size_t i = 0; i < p.models.size(); ++i) {
    CHECK(p.models[i].first == local::model_specs()[i].role);
    CHECK(p.models[i].second == local::model_specs()[i].sha256);
  }
  CHECK_FALSE((*o.backend)->service_version());
  // The models are read on first use: a missing directory fails then, and says how to install them.
  auto analyzer = (*o.backend)->analyzer();
  REQUIRE_FALSE(analyzer);
  CHECK(analyzer.error().kind == ErrorKind::usage);
  CHECK(analyzer.error().message.find("install-models") != std::string::npos);
}

TEST_CASE("backend: shared rules", "[backend]") {
  CHECK(max_image_bytes(BackendKind::api4ai) == k_max_image_bytes);
  CHECK(max_image_bytes(BackendKind::local) == k_max_local_image_bytes);
  const ImageSource url{SourceKind::url, "https://example.com/a.jpg"};
  const ImageSource file{SourceKind::file, "a.jpg"};
  CHECK(check_source(BackendKind::api4ai, url, "a"));
  CHECK(check_source(BackendKind::local, file, "a"));
  auto refused = check_source(BackendKind::local, url, "https://example.com/a.jpg");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::usage);
  CHECK(refused.error().message.starts_with("https://example.com/a.jpg: the local backend does not download URLs"));
}

TEST_CASE("backend: wrap_backend serves the caller's analyzer", "[backend]") {
  struct None final : FaceAnalyzer {
    Expected<Analysis> analyze(const Image&) override { return Analysis{}; }
  };
  auto analyzer = std::make_unique<None>();
  FaceAnalyzer* raw = analyzer.get();
  auto b = wrap_backend(std::move(analyzer), Provenance{BackendKind::api4ai, "demo", "http://x/results", {}, {}});
  CHECK(b->provenance().endpoint == "http://x/results");
  REQUIRE(b->analyzer());
  CHECK(*b->analyzer() == raw);
}

TEST_CASE("backend: model_set_id and the pinned models", "[backend][serve]") {
  const Provenance pinned = pinned_local_provenance();
  CHECK(pinned.backend == BackendKind::local);
  REQUIRE(pinned.models.size() == local::model_specs().size());
  std::string lines;
  for (const auto& spec : local::model_specs()) lines += std::string(spec.sha256) + "\n";
  CHECK(model_set_id(pinned) == sha256_hex(lines));
  CHECK(model_set_id(pinned).size() == 64);
  CHECK(model_set_id(Provenance{}).empty());
  Provenance reordered = pinned;
  std::swap(reordered.models.front(), reordered.models.back());
  CHECK(model_set_id(reordered) != model_set_id(pinned));  // the order of model_specs() is part of it
}

TEST_CASE("backend: produced_by names who made an analysis", "[backend][serve]") {
  Provenance api;
  api.backend = BackendKind::api4ai;
  api.api = "demo";
  api.endpoint = "http://127.0.0.1:8080/face-analyzer/v1/results";
  Analysis a;
  SECTION("a reply without the header: the backend's") {
    const Provenance p = produced_by(api, a);
    CHECK(p.backend == BackendKind::api4ai);
    CHECK(p.endpoint == api.endpoint);
    CHECK(p.server.empty());
  }
  SECTION("a faceverify server with our models: the local backend's") {
    a.model_set = model_set_id(pinned_local_provenance());
    const Provenance p = produced_by(api, a);
    CHECK(p.backend == BackendKind::local);
    CHECK(p.models == pinned_local_provenance().models);
    CHECK(p.server == api.endpoint);
    CHECK(p.api.empty());
    CHECK(p.endpoint.empty());
  }
  SECTION("a faceverify server with other models: only its model set") {
    a.model_set = std::string(64, 'e');
    const Provenance p = produced_by(api, a);
    CHECK(p.backend == BackendKind::local);
    CHECK(p.models == std::vector<std::pair<std::string, std::string>>{{"model-set", std::string(64, 'e')}});
    CHECK(p.server == api.endpoint);
  }
  SECTION("the local backend is never a server") {
    a.model_set = std::string(64, 'e');
    const Provenance p = produced_by(pinned_local_provenance(), a);
    CHECK(p.models == pinned_local_provenance().models);
    CHECK(p.server.empty());
  }
}

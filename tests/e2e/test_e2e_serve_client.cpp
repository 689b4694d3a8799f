// SPDX-License-Identifier: MIT
// The client side of faceverify serve (issue 12): a reply carrying
// X-Faceverify-Models comes from a faceverify server, so its embeddings are
// the local backend's with that model set. The fake server plays the part
// (a scenario's "headers"); the real binary records it in provenance, uses a
// config file's local threshold, and mixes with local embedding files only
// when the model set matches.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e_support.hpp"
#include "faceverify/backend.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::RunOptions;

const std::string k_pinned_id = faceverify::model_set_id(faceverify::pinned_local_provenance());
const std::string k_other_id(64, 'e');

// alice1 and alice2 score about 0.98: the same person at the default 0.8,
// different at a threshold of 0.999. Every reply names `model_set` (none: an
// ordinary API4AI-like reply).
json scenario(const std::string& model_set) {
  json images = {{"alice1.jpg", {{"person", "alice"}, {"noise", 0.6}}},
                 {"alice2.jpg", {{"person", "alice"}, {"noise", 0.6}}}};
  if (!model_set.empty()) {
    for (auto& [name, b] : images.items()) b["headers"] = {{"X-Faceverify-Models", model_set}};
  }
  return {{"images", images}};
}

struct Run {
  Photos photo;
  test::TempDir cache_home;
  RunOptions env() const {
    RunOptions o;
    o.env_overrides["XDG_CACHE_HOME"] = cache_home.path().string();
    return o;
  }
  test::ProcessResult operator()(std::vector<std::string> args) const { return run_faceverify(args, env()); }
  std::string file(const std::string& name, const std::string& text) {
    const std::string path = (photo.dir / name).string();
    test::write_file(path, text);
    return path;
  }
};

std::vector<json> records(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

json pinned_models_json() {
  json models = json::object();
  for (const auto& [role, sha] : faceverify::pinned_local_provenance().models) models[role] = {{"sha256", sha}};
  return models;
}

// A record as the local backend writes it (docs/embedding-file.md): another
// backend's record with the local provenance.
std::string as_local(json record) {
  for (const char* key : {"server", "api", "endpoint", "service_version"}) record.erase(key);
  record["backend"] = "local";
  record["models"] = pinned_models_json();
  return record.dump() + "\n";
}

std::string results_url(const test::FakeServer& s) {
  return s.base_url() + "/face-analyzer/v1/results";
}

}  // namespace

TEST_CASE("serve client: a faceverify server's verification is the local backend's", "[e2e][serve]") {
  test::FakeServer server(scenario(k_pinned_id));
  Run run;
  const auto a1 = run.photo("alice1.jpg"), a2 = run.photo("alice2.jpg");
  const auto local_config = run.file("local.toml", "backend = \"local\"\nthreshold = 0.999\n");
  const auto api_config = run.file("api.toml", "backend = \"api4ai\"\nthreshold = 0.999\n");

  auto r = run(with_server(server, {"--json", a1, a2}));
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  const json j = json::parse(r.out);
  CHECK(j["backend"] == "local");
  CHECK(j["models"] == pinned_models_json());
  CHECK(j["server"] == results_url(server));
  CHECK_FALSE(j.contains("api"));
  CHECK(j["threshold_source"] == "default");

  SECTION("a config file's local threshold applies") {
    auto l = run(with_server(server, {"--json", "--config", local_config, a1, a2}));
    CHECK(l.exit_code == 1);
    CHECK(l.err.empty());
    const json k = json::parse(l.out);
    CHECK(k["threshold"] == 0.999);
    CHECK(k["threshold_source"] == "config");
  }
  SECTION("an api4ai config's threshold does not") {
    auto a = run(with_server(server, {"--json", "--config", api_config, a1, a2}));
    CHECK(a.exit_code == 0);
    CHECK(json::parse(a.out)["threshold_source"] == "default");
  }
  SECTION("matrix and search settle the score the same way") {
    for (const std::string command : {"matrix", "search"}) {
      INFO(command);
      auto m = run({command, "--api-url", server.base_url(), "--format", "json", "--config", local_config, a1, a2});
      INFO(m.err);
      CHECK(m.err.empty());
      const auto recs = records(m.out);
      REQUIRE_FALSE(recs.empty());
      const json& k = recs.front();
      CHECK(k["threshold_source"] == "config");
      CHECK(k["backend"] == "local");
      CHECK(k["server"] == results_url(server));
    }
  }
  SECTION("pairs too") {
    const auto pairs = run.file("pairs.csv", a1 + "," + a2 + ",same\n");
    auto p = run({"pairs", "--api-url", server.base_url(), "--config", local_config, pairs});
    INFO(p.err);
    CHECK(p.exit_code == 1);  // 0.98 < 0.999: contradicts its label
    const auto recs = records(p.out);
    REQUIRE_FALSE(recs.empty());
    CHECK(recs.front()["threshold"] == 0.999);
  }
}

TEST_CASE("serve client: a faceverify server's embeddings mix with local ones of the same models", "[e2e][serve]") {
  test::FakeServer server(scenario(k_pinned_id));
  Run run;
  const auto a1 = run.photo("alice1.jpg"), a2 = run.photo("alice2.jpg");
  auto e = run({"embed", "--ordered", "--api-url", server.base_url(), a1, a2});
  REQUIRE(e.exit_code == 0);
  const auto recs = records(e.out);
  REQUIRE(recs.size() == 2);
  for (const json& rec : recs) {
    CHECK(rec["backend"] == "local");
    CHECK(rec["models"] == pinned_models_json());
    CHECK(rec["server"] == results_url(server));
    CHECK_FALSE(rec.contains("endpoint"));
  }
  const auto served = run.file("served.jsonl", recs[0].dump() + "\n");
  const auto local = run.file("local.jsonl", as_local(recs[1]));

  SECTION("records with records") {
    auto v = run({"--json", served, local});
    CHECK(v.exit_code == 0);
    CHECK(v.err.empty());
    auto s = run({"search", "--format", "json", served, local});
    CHECK(s.exit_code == 0);
    CHECK(s.err.empty());
  }
  SECTION("a cached analysis keeps the server's provenance") {
    const std::size_t before = server.requests().size();
    auto again = run({"embed", "--ordered", "--api-url", server.base_url(), a1, a2});
    CHECK(again.exit_code == 0);
    CHECK(server.requests().size() == before);  // all from the cache
    CHECK(records(again.out) == recs);
  }
}

TEST_CASE("serve client: a server of another model set does not mix with local embeddings", "[e2e][serve]") {
  test::FakeServer server(scenario(k_other_id));
  Run run;
  const auto a1 = run.photo("alice1.jpg"), a2 = run.photo("alice2.jpg");
  auto e = run({"embed", "--ordered", "--api-url", server.base_url(), a1, a2});
  REQUIRE(e.exit_code == 0);
  const auto recs = records(e.out);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["backend"] == "local");
  CHECK(recs[0]["models"] == json{{"model-set", {{"sha256", k_other_id}}}});
  CHECK(recs[0]["server"] == results_url(server));
  const auto served = run.file("served.jsonl", recs[0].dump() + "\n");
  const auto local = run.file("local.jsonl", as_local(recs[1]));

  SECTION("its own embeddings compare") {
    auto v = run(with_server(server, {a1, a2}));
    CHECK(v.exit_code == 0);
  }
  SECTION("records with records") {
    auto v = run({served, local});
    CHECK(v.exit_code == 2);
    CHECK(one_line(v.err));
    CHECK(v.err.find("embeddings from different model sets cannot be compared") != std::string::npos);
    CHECK(v.err.find("the faceverify server " + results_url(server) + " (model-set eeeeeeeeeeee…)") !=
          std::string::npos);
    CHECK(v.out.empty());
  }
  SECTION("with a record of the same server and a local one") {
    const auto both = run.file("both.jsonl", recs[0].dump() + "\n" + as_local(recs[1]));
    auto m = run({"matrix", both});
    CHECK(m.exit_code == 2);
    CHECK(one_line(m.err));
    CHECK(m.err.find("embeddings from different model sets cannot be compared") != std::string::npos);
  }
}

TEST_CASE("serve client: without the header nothing changes", "[e2e][serve]") {
  test::FakeServer server(scenario(""));
  Run run;
  const auto a1 = run.photo("alice1.jpg"), a2 = run.photo("alice2.jpg");
  const auto local_config = run.file("local.toml", "backend = \"local\"\nthreshold = 0.999\n");
  auto r = run(with_server(server, {"--json", "--config", local_config, a1, a2}));
  CHECK(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["backend"] == "api4ai");
  CHECK(j["endpoint"] == results_url(server));
  CHECK_FALSE(j.contains("server"));
  CHECK(j["threshold_source"] == "default");

  auto e = run({"embed", "--ordered", "--api-url", server.base_url(), a1, a2});
  REQUIRE(e.exit_code == 0);
  const auto local = run.file("local.jsonl", as_local(records(e.out)[1]));
  // Refused as before, in the same words, before any request.
  const std::size_t before = server.requests().size();
  auto v = run(with_server(server, {local, a1}));
  CHECK(v.exit_code == 2);
  CHECK(one_line(v.err));
  CHECK(v.err.find(": its embedding comes from the local backend (embedder ") != std::string::npos);
  CHECK(v.err.find("cannot be compared with api4ai (demo) ones (use the same --backend, or embed the images again)") !=
        std::string::npos);
  CHECK(v.out.empty());
  CHECK(server.requests().size() == before);
}

TEST_CASE("serve client: a malformed X-Faceverify-Models is the service's error", "[e2e][serve]") {
  test::FakeServer server(scenario("not a digest"));
  Run run;
  auto r = run(with_server(server, {run.photo("alice1.jpg"), run.photo("alice2.jpg")}));
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("X-Faceverify-Models header is not a SHA-256") != std::string::npos);
}

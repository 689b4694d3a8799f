// SPDX-License-Identifier: MIT
// The faceverify binary with --backend local: exit code, stdout and stderr.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>

#include "faceverify/backend.hpp"
#include "faceverify/cache.hpp"
#include "faceverify/face.hpp"
#include "faceverify/local_backend.hpp"
#include "local_test_support.hpp"
#include "process.hpp"

using nlohmann::json;
namespace test = faceverify::test;

namespace {

const std::string k_samples = std::string(FACEVERIFY_SOURCE_DIR) + "/samples/";

// Runs the binary with models found the normal way; nullopt (test skipped)
// when they are not installed, unless FACEVERIFY_REQUIRE_MODELS is set.
std::optional<test::ProcessResult> run_local(std::vector<std::string> args, test::RunOptions o = {}) {
  auto dir = test::models_or_skip();
  if (!dir) return std::nullopt;
  args.insert(args.begin(), {FACEVERIFY_BINARY_PATH, "--backend", "local"});
  if (!o.env_overrides.count("FACEVERIFY_MODELS")) o.env_overrides["FACEVERIFY_MODELS"] = dir->dir;
  // No proxy and an unroutable one: the local backend must not touch the network at all.
  o.env_overrides["https_proxy"] = "http://127.0.0.1:1";
  o.env_overrides["http_proxy"] = "http://127.0.0.1:1";
  return test::run_process(args, o);
}

// `faceverify COMMAND --backend local ARGS...` with the installed models
// (FACEVERIFY_MODELS unless `o` sets it); nullopt (skipped) without them.
std::optional<test::ProcessResult> run_local_command(const std::string& command, std::vector<std::string> args,
                                                     test::RunOptions o = {}) {
  auto dir = test::models_or_skip();
  if (!dir) return std::nullopt;
  args.insert(args.begin(), {FACEVERIFY_BINARY_PATH, command, "--backend", "local"});
  if (!o.env_overrides.count("FACEVERIFY_MODELS")) o.env_overrides["FACEVERIFY_MODELS"] = dir->dir;
  o.env_overrides["https_proxy"] = "http://127.0.0.1:1";
  o.env_overrides["http_proxy"] = "http://127.0.0.1:1";
  return test::run_process(args, o);
}

// The one place this file builds a Provenance: the local backend's, with its
// pinned models in their order, the embedder's hash replaced by `embedder_sha256`.
faceverify::Provenance local_provenance(const std::string& embedder_sha256) {
  faceverify::Provenance p = faceverify::pinned_local_provenance();  // the pipeline version too
  for (auto& [role, sha] : p.models) {
    if (role == "embedder") sha = embedder_sha256;
  }
  return p;
}

std::string pinned_embedder_sha256() {
  for (const auto& spec : faceverify::local::model_specs()) {
    if (spec.role == "embedder") return std::string(spec.sha256);
  }
  FAIL("no embedder among the pinned models");
  return {};
}

std::vector<double> first_embedding(const std::string& jsonl) {
  const auto j = json::parse(jsonl.substr(0, jsonl.find('\n')));
  return j.at("faces").at(0).at("embedding").get<std::vector<double>>();
}

}  // namespace

TEST_CASE("local e2e: embed reproduces the astronaut's reference embedding", "[local][e2e]") {
  auto r = run_local_command("embed", {"--no-cache", k_samples + "astronaut.jpg"});
  if (!r) return;
  CHECK(r->exit_code == 0);
  CHECK(r->err.empty());
  REQUIRE(std::count(r->out.begin(), r->out.end(), '\n') == 1);
  const auto reference = test::astronaut_reference_embedding();
  const auto e = first_embedding(r->out);
  REQUIRE(e.size() == 512);
  const double d = test::l2(e, reference);  // see tests/data/local/README.md for the noise measured
  INFO("L2 distance to the reference: " << d);
  CHECK(d <= 0.02);
}

TEST_CASE("local e2e: a cache entry made with other models is not reused", "[local][e2e]") {
  test::TempDir home;
  const std::string cache_dir = (home / "cache").string();
  const std::string photo = k_samples + "astronaut.jpg";
  auto fresh = run_local_command("embed", {"--no-cache", photo});
  if (!fresh) return;
  REQUIRE(fresh->exit_code == 0);
  const json record = json::parse(fresh->out.substr(0, fresh->out.find('\n')));
  const auto real = first_embedding(fresh->out);
  // A well-formed entry for these bytes whose embedding is unmistakable (the
  // real one negated), as an embedder with another hash might have left it.
  json planted = record;
  for (auto& x : planted["faces"][0]["embedding"]) x = -x.get<double>();
  const auto planted_embedding = planted["faces"][0]["embedding"].get<std::vector<double>>();
  const std::string sha = record["sha256"].get<std::string>();
  std::string other_sha = pinned_embedder_sha256();
  other_sha.back() = other_sha.back() == '0' ? '1' : '0';

  SECTION("planted under another embedder's identity: analysed afresh, and both entries kept") {
    const faceverify::cache::Cache cache(cache_dir);
    REQUIRE(cache.store(faceverify::cache::make_key(sha, faceverify::cache_identity(local_provenance(other_sha))),
                        planted.dump() + "\n"));
    auto r = run_local_command("embed", {"--cache-dir", cache_dir, photo});
    REQUIRE(r);
    CHECK(r->exit_code == 0);
    CHECK(r->err.empty());
    CHECK(test::l2(first_embedding(r->out), real) < 1e-6);
    auto stats = test::run_process({FACEVERIFY_BINARY_PATH, "cache", "stats", "--json", "--cache-dir", cache_dir});
    CHECK(stats.exit_code == 0);
    CHECK(json::parse(stats.out)["entries"] == 2);
    // The run's own entry answers the next run, which then needs no models at all.
    test::RunOptions no_models;
    no_models.env_overrides["FACEVERIFY_MODELS"] = (home / "no-models").string();
    auto again = run_local_command("embed", {"--cache-dir", cache_dir, photo}, no_models);
    REQUIRE(again);
    CHECK(again->exit_code == 0);
    CHECK(again->err.empty());
    CHECK(test::l2(first_embedding(again->out), real) < 1e-6);
  }
  SECTION("control: planted under the pinned models' identity, the entry is used") {
    const faceverify::cache::Cache cache(cache_dir);
    REQUIRE(cache.store(
        faceverify::cache::make_key(sha, faceverify::cache_identity(local_provenance(pinned_embedder_sha256()))),
        planted.dump() + "\n"));
    test::RunOptions no_models;
    no_models.env_overrides["FACEVERIFY_MODELS"] = (home / "no-models").string();
    auto r = run_local_command("embed", {"--cache-dir", cache_dir, photo}, no_models);
    REQUIRE(r);
    CHECK(r->exit_code == 0);
    CHECK(test::l2(first_embedding(r->out), planted_embedding) < 1e-6);
  }
}

TEST_CASE("local e2e: the bundled samples are the same person", "[local][e2e]") {
  auto r = run_local({k_samples + "astronaut.jpg", k_samples + "astronaut-crop.jpg"});
  if (!r) return;
  CHECK(r->exit_code == 0);
  CHECK(std::regex_match(r->out, std::regex(R"(Similarity is \d+\.\d%\.\nIt's the same person\.\n)")));
  CHECK(r->err.empty());
}

TEST_CASE("local e2e: --json records the backend and the models", "[local][e2e]") {
  test::RunOptions piped;
  piped.stdin_data = test::read_file(k_samples + "astronaut-crop.jpg");
  auto r = run_local({"--json", k_samples + "astronaut.jpg", "-"}, piped);
  if (!r) return;
  CHECK(r->exit_code == 0);
  auto j = json::parse(r->out);
  CHECK(j["backend"] == "local");
  CHECK(j["models"]["detector"]["sha256"] == "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854");
  CHECK(j["models"]["embedder"]["sha256"] == "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581");
  CHECK_FALSE(j.contains("endpoint"));
  CHECK(j["images"][0]["faces"] == 1);
  CHECK(j["images"][1]["input"] == "-");
  CHECK(j["images"][0]["landmarks"].size() == 5);
  CHECK(j["cosine"].get<double>() > 0.5);
  CHECK(j["similarity"].get<double>() > 0.8);
  CHECK(j["verified"] == true);
  CHECK(j["decision"] == "same");  // no uncertain band: verified is decision == "same"
}

TEST_CASE("local e2e: errors", "[local][e2e]") {
  test::TempDir dir;
  SECTION("no face: exit 3 naming the image") {
    cv::Mat noise(300, 400, CV_8UC3);
    cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
    const std::string path = (dir / "noise.png").string();
    cv::imwrite(path, noise);
    auto r = run_local({k_samples + "astronaut.jpg", path});
    if (!r) return;
    CHECK(r->exit_code == 3);
    CHECK(r->out.empty());
    CHECK(r->err == "faceverify: " + path + ": no face found in the image\n");
  }
  SECTION("a URL is refused before anything else") {
    auto r = run_local({k_samples + "astronaut.jpg", "https://example.com/a.jpg"});
    if (!r) return;
    CHECK(r->exit_code == 2);
    CHECK(r->err.find("https://example.com/a.jpg: the local backend does not download URLs") != std::string::npos);
  }
  SECTION("missing models: exit 2 with how to install them") {
    test::RunOptions o;
    o.env_overrides["FACEVERIFY_MODELS"] = (dir / "empty").string();
    auto r = run_local({k_samples + "astronaut.jpg", k_samples + "astronaut-crop.jpg"}, o);
    if (!r) return;
    CHECK(r->exit_code == 2);
    CHECK(r->out.empty());
    CHECK(r->err.find("models are not installed") != std::string::npos);
    CHECK(r->err.find("install them with faceverify-install-models") != std::string::npos);
    CHECK(std::count(r->err.begin(), r->err.end(), '\n') == 1);
  }
  SECTION("FACEVERIFY_BACKEND=local selects the backend") {
    auto dir_models = test::models_or_skip();
    if (!dir_models) return;
    test::RunOptions o;
    o.env_overrides["FACEVERIFY_BACKEND"] = "local";
    o.env_overrides["FACEVERIFY_MODELS"] = dir_models->dir;
    auto r = test::run_process(
        {FACEVERIFY_BINARY_PATH, "--json", k_samples + "astronaut.jpg", k_samples + "astronaut-crop.jpg"}, o);
    CHECK(r.exit_code == 0);
    CHECK(json::parse(r.out)["backend"] == "local");
  }
}

TEST_CASE("local e2e: --decode names its pipeline, and files of the other one compare with one note",
          "[local][e2e][decode]") {
  test::TempDir dir;
  const std::string old_file = (dir / "old.jsonl").string(), new_file = (dir / "new.jsonl").string();
  auto full = run_local_command("embed", {"--decode", "full", "--no-cache", "-q", k_samples + "astronaut.jpg"});
  if (!full) return;
  REQUIRE(full->exit_code == 0);
  CHECK(json::parse(full->out)["pipeline"] == 1);
  // Written before pipelines were recorded: no "pipeline", which is 1.
  json old_record = json::parse(full->out);
  old_record.erase("pipeline");
  test::write_file(old_file, old_record.dump() + "\n");
  auto scaled = run_local_command("embed", {"--decode", "scaled", "--no-cache", "-q", k_samples + "astronaut.jpg"});
  REQUIRE(scaled);
  REQUIRE(scaled->exit_code == 0);
  CHECK(json::parse(scaled->out)["pipeline"] == 2);
  test::write_file(new_file, scaled->out);

  // Images analysed by pipeline 2 against a file of pipeline 1.
  auto r = run_local({"--decode", "scaled", old_file, k_samples + "astronaut-crop.jpg"});
  REQUIRE(r);
  CHECK(r->exit_code == 0);
  CHECK(r->err == "faceverify: note: " + old_file +
                      " was embedded by local pipeline 1, this run uses 2; scores may differ by up to about 0.07\n");
  // The default, full, is pipeline 1: the same file, no note.
  auto same = run_local({old_file, k_samples + "astronaut-crop.jpg"});
  REQUIRE(same);
  CHECK(same->exit_code == 0);
  CHECK(same->err.empty());
  // Two files, nothing analysed: one note naming both.
  auto files = run_local_command("matrix", {"-q", old_file, new_file, new_file});
  REQUIRE(files);
  CHECK(files->exit_code == 0);
  CHECK(files->err == "faceverify: note: " + new_file + " was embedded by local pipeline 2, " + old_file +
                          " by 1; scores may differ by up to about 0.07\n");
  auto bad = run_local({"--decode", "half", old_file, new_file});
  REQUIRE(bad);
  CHECK(bad->exit_code == 2);
  CHECK(bad->err.find("--decode") != std::string::npos);
}

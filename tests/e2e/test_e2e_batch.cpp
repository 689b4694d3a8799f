// SPDX-License-Identifier: MIT
// The batch commands (embed, matrix, search, pairs, cache) end to end: the
// real binary against the fake API4AI server, exit code, stdout and stderr
// checked together, and the server's request log for what went on the wire.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "e2e_support.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;
namespace fs = std::filesystem;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::ProcessResult;
using faceverify::test::run_process;
using faceverify::test::RunOptions;

// A scratch cache per test, so runs never share (or pollute) ~/.cache.
struct Batch {
  Photos photo;
  test::TempDir cache_home;
  RunOptions env(RunOptions o = {}) const {
    o.env_overrides["XDG_CACHE_HOME"] = cache_home.path().string();
    o.env_overrides["NO_COLOR"] = std::nullopt;
    return o;
  }
  ProcessResult run(const test::FakeServer& s, std::vector<std::string> args, RunOptions o = {}) const {
    const std::string command = args.front();
    args.erase(args.begin());
    args = with_server(s, std::move(args));
    args.insert(args.begin(), command);
    return run_faceverify(std::move(args), env(std::move(o)));
  }
  fs::path cache_dir() const { return cache_home.path() / "faceverify"; }
};

// "<prefix><n>.jpg", built by appending: "p" + std::to_string(n) trips GCC
// 12's -Wrestrict at -O3 (a false positive, GCC bug 105329).
std::string numbered_jpg(std::string_view prefix, int n) {
  std::string name(prefix);
  name += std::to_string(n);
  name += ".jpg";
  return name;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<json> records(const std::string& text) {
  std::vector<json> out;
  for (const auto& line : lines_of(text)) out.push_back(json::parse(line));  // throws on a partial line
  return out;
}

// The most analysis requests the server was handling at the same moment.
std::size_t max_in_flight(const json& log) {
  std::size_t most = 0;
  for (const auto& r : log) {
    const double t = r["start_ms"].get<double>();
    std::size_t n = 0;
    for (const auto& q : log) {
      if (q["start_ms"].get<double>() <= t && t < q["end_ms"].get<double>()) ++n;
    }
    most = std::max(most, n);
  }
  return most;
}

std::size_t results_requests(const json& log) {
  return static_cast<std::size_t>(
      std::count_if(log.begin(), log.end(), [](const json& r) { return r["path"] == "/face-analyzer/v1/results"; }));
}

const json k_people = {{"images",
                        {{"alice1.jpg", {{"person", "alice"}}},
                         {"alice2.jpg", {{"person", "alice"}}},
                         {"alice3.jpg", {{"person", "alice"}}},
                         {"bob.jpg", {{"person", "bob"}}},
                         {"nobody.jpg", {{"faces", json::array()}}},
                         {"broken.jpg", {{"status", 503}, {"body", "{\"message\":\"overloaded\"}"}}}}}};

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; it != end; it.increment(ec)) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("batch: a 40-image matrix costs 40 requests, at most --jobs at once, and a rerun costs none",
          "[e2e][batch]") {
  test::FakeServer server(json{{"default", {{"delay_ms", 60}}}});
  Batch b;
  std::vector<std::string> args = {"matrix", "--format", "csv", "--jobs", "4"};
  for (int i = 0; i < 40; ++i) args.push_back(b.photo(numbered_jpg("p", i)));
  args.push_back(args[5]);  // the same file twice: still one analysis

  auto cold = b.run(server, args);
  CHECK(cold.exit_code == 0);
  CHECK(cold.err.empty());
  const auto rows = lines_of(cold.out);
  REQUIRE(rows.size() == 42);  // header + 41 inputs
  CHECK(rows[1].rfind(args[5] + ",1.000000,", 0) == 0);
  auto log = server.requests();
  CHECK(results_requests(log) == 40);
  std::set<std::string> distinct;
  for (const auto& r : log) distinct.insert(r["md5"].get<std::string>());
  CHECK(distinct.size() == 40);
  CHECK(max_in_flight(log) <= 4);
  CHECK(max_in_flight(log) >= 2);  // they do overlap

  server.reset();
  auto warm = b.run(server, args);
  CHECK(warm.exit_code == 0);
  CHECK(warm.out == cold.out);
  CHECK(server.requests().empty());

  SECTION("--no-cache asks again; --jobs 1 keeps one request in flight") {
    args[4] = "1";
    args.insert(args.begin() + 1, "--no-cache");
    args.resize(10);  // matrix --no-cache --format csv --jobs 1 + 4 photos
    server.reset();
    auto r = b.run(server, args);
    CHECK(r.exit_code == 0);
    log = server.requests();
    CHECK(results_requests(log) == 4);
    CHECK(max_in_flight(log) == 1);
  }
}

TEST_CASE("batch: the matrix table, its formats and failing images", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg"), bob = b.photo("bob.jpg");
  SECTION("text: aligned, short labels, 100% on the diagonal") {
    auto r = b.run(server, {"matrix", a1, a2, bob});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    const auto rows = lines_of(r.out);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].find("alice1") != std::string::npos);
    CHECK(rows[1].rfind("alice1", 0) == 0);
    CHECK(rows[1].find("100.0%") != std::string::npos);
    for (const auto& row : rows) CHECK(row.size() == rows[0].size());  // aligned
  }
  SECTION("json: similarity and distance matrices, provenance") {
    auto r = b.run(server, {"matrix", "--json", a1, a2, bob});
    CHECK(r.exit_code == 0);
    auto j = json::parse(r.out);
    CHECK(j["type"] == "matrix");
    CHECK(j["schema_version"] == 1);
    CHECK(j["inputs"].size() == 3);
    CHECK(j["similarity"][0][1].get<double>() > 0.8);
    CHECK(j["similarity"][0][2].get<double>() < 0.8);
    CHECK(j["distance"][1][1] == 0.0);
    CHECK(j["backend"] == "api4ai");
  }
  SECTION("a failed image and one without a face: '-' cells, one line each on stderr, exit 4") {
    auto r = b.run(server, {"matrix", "--retries", "0", a1, b.photo("broken.jpg"), b.photo("nobody.jpg")});
    CHECK(r.exit_code == 4);
    const auto err = lines_of(r.err);
    REQUIRE(err.size() == 2);
    CHECK(err[0].find("broken.jpg: HTTP 503") != std::string::npos);
    CHECK(err[1].find("nobody.jpg: no face found in the image") != std::string::npos);
    CHECK(lines_of(r.out)[1].find("-") != std::string::npos);
  }
  SECTION("no face only: exit 3") {
    auto r = b.run(server, {"matrix", a1, b.photo("nobody.jpg")});
    CHECK(r.exit_code == 3);
  }
  SECTION("a missing file stops before any request") {
    auto r = b.run(server, {"matrix", a1, (b.photo.dir / "missing.jpg").string()});
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(r.err.find("missing.jpg") != std::string::npos);
    CHECK(r.out.empty());
    CHECK(server.requests().empty());
  }
}

TEST_CASE("batch: embed writes an embedding file that works offline everywhere", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg"), a3 = b.photo("alice3.jpg"),
             bob = b.photo("bob.jpg");
  auto e = b.run(server, {"embed", "--ordered", a1, a2, bob});
  REQUIRE(e.exit_code == 0);
  CHECK(e.err.empty());
  const auto recs = records(e.out);
  REQUIRE(recs.size() == 3);
  CHECK(recs[0]["input"] == a1);
  CHECK(recs[2]["input"] == bob);
  for (const auto& r : recs) {
    CHECK(r["type"] == "embedding");
    CHECK(r["schema_version"] == 1);
    CHECK(r["sha256"].get<std::string>().size() == 64);
    CHECK(r["faces"].size() == 1);
    CHECK(r["faces"][0]["embedding"].size() == 512);
    CHECK(r["faces"][0]["box"].size() == 4);
    CHECK(r["service_version"] == "v1.16.2");
    CHECK(r["endpoint"] == server.base_url() + "/face-analyzer/v1/results");
  }
  const std::string people = (b.photo.dir / "people.jsonl").string();
  test::write_file(people, e.out);
  // Nothing below may touch the network: a dead endpoint and an empty cache.
  const test::TempDir empty_cache;
  RunOptions offline;
  offline.env_overrides["XDG_CACHE_HOME"] = empty_cache.path().string();
  const std::string dead = "http://127.0.0.1:1";

  SECTION("search among the file's images") {
    const std::string ref = (b.photo.dir / "a2.jsonl").string();
    test::write_file(ref, lines_of(e.out)[1] + "\n");
    auto s = run_faceverify({"search", "--api-url", dead, ref, people}, b.env(offline));
    CHECK(s.exit_code == 0);
    CHECK(s.err.empty());
    const auto rows = lines_of(s.out);
    REQUIRE(rows.size() == 3);  // a2's own record has the reference's SHA-256: not ranked
    CHECK(rows[0].find("match") != std::string::npos);
    CHECK(rows[0].find(a1) != std::string::npos);
    CHECK(rows[1].find(bob) != std::string::npos);
    CHECK(rows[2] == "1 of 2 candidates match " + a2 + " (threshold 80.0%)");
  }
  SECTION("matrix of the file alone") {
    auto r = run_faceverify({"matrix", "--api-url", dead, "--format", "csv", people}, b.env(offline));
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(lines_of(r.out).size() == 4);
  }
  SECTION("verify two embedding files of one image each, and one from stdin") {
    test::write_file(b.photo.dir / "a1.jsonl", lines_of(e.out)[0] + "\n");
    test::write_file(b.photo.dir / "bob.jsonl", lines_of(e.out)[2] + "\n");
    auto r = run_faceverify(
        {"--api-url", dead, (b.photo.dir / "a1.jsonl").string(), (b.photo.dir / "bob.jsonl").string()}, b.env(offline));
    CHECK(r.exit_code == 1);
    CHECK(r.out == "Similarity is " + lines_of(r.out)[0].substr(14) + "\nThere are different people on the images.\n");
    RunOptions in = b.env(offline);
    in.stdin_data = lines_of(e.out)[1] + "\n";
    auto s = run_faceverify({"--api-url", dead, "--json", (b.photo.dir / "a1.jsonl").string(), "-"}, in);
    CHECK(s.exit_code == 0);
    CHECK(json::parse(s.out)["verified"] == true);
    CHECK(verdict_agrees(json::parse(s.out)));
  }
  SECTION("a file of several images where one is expected is a usage error that says so") {
    auto r = run_faceverify({"--api-url", dead, people, a3}, b.env(offline));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + people +
                       ": holds 3 images; faceverify IMAGE1 IMAGE2 takes one per argument (use matrix, search or "
                       "pairs for several)\n");
    auto s = run_faceverify({"search", "--api-url", dead, people, a3}, b.env(offline));
    CHECK(s.exit_code == 2);
    CHECK(s.err.find("holds 3 images") != std::string::npos);
  }
  SECTION("embeddings of another backend are refused, not compared") {
    auto rec = recs[0];
    rec["backend"] = "local";
    rec["models"] = {{"embedder", {{"sha256", "00"}}}};
    test::write_file(b.photo.dir / "local.jsonl", rec.dump() + "\n");
    auto r = b.run(server, {"matrix", (b.photo.dir / "local.jsonl").string(), a3});
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(r.err.find("cannot be compared") != std::string::npos);
    CHECK(results_requests(server.requests()) == 3);  // the embed run's only
  }
  SECTION("a corrupt embedding file names the line") {
    test::write_file(b.photo.dir / "bad.jsonl", lines_of(e.out)[0] + "\n{\"type\":\"embedding\"\n");
    auto r = run_faceverify({"matrix", "--api-url", dead, (b.photo.dir / "bad.jsonl").string()}, b.env(offline));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + (b.photo.dir / "bad.jsonl").string() +
                       ": line 2: not valid JSON (expected a record written by faceverify embed)\n");
  }
}

namespace {

// Two embedding files of one person (alice1, alice2) rewritten as the local
// backend's records, and a third (bob) left as API4AI's: embedded once
// against the fake server, so every run below works offline.
struct OtherBackendFiles {
  std::string l1, l2, api_bob;
  OtherBackendFiles(const test::FakeServer& server, Batch& b) {
    const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg"), bob = b.photo("bob.jpg");
    auto e = b.run(server, {"embed", "--ordered", a1, a2, bob});
    REQUIRE(e.exit_code == 0);
    const auto recs = records(e.out);
    REQUIRE(recs.size() == 3);
    auto as_local = [](json rec) {
      rec.erase("api");
      rec.erase("endpoint");
      rec.erase("service_version");
      rec["backend"] = "local";
      rec["models"] = {
          {"detector", {{"sha256", "aa"}}}, {"landmarks", {{"sha256", "bb"}}}, {"embedder", {{"sha256", "cc"}}}};
      return rec.dump() + "\n";
    };
    l1 = (b.photo.dir / "l1.jsonl").string();
    l2 = (b.photo.dir / "l2.jsonl").string();
    api_bob = (b.photo.dir / "bob.jsonl").string();
    test::write_file(l1, as_local(recs[0]));
    test::write_file(l2, as_local(recs[1]));
    test::write_file(api_bob, recs[2].dump() + "\n");
  }
};

}  // namespace

TEST_CASE("batch: a config file's threshold applies only to embeddings of the backend it names", "[e2e][batch]") {
  // alice1 and alice2 score about 0.98: the same person at the default 0.8,
  // different at a threshold of 0.999.
  test::FakeServer server(json{{"images",
                                {{"alice1.jpg", {{"person", "alice"}, {"noise", 0.6}}},
                                 {"alice2.jpg", {{"person", "alice"}, {"noise", 0.6}}},
                                 {"bob.jpg", {{"person", "bob"}}}}}});
  Batch b;
  OtherBackendFiles f(server, b);
  const std::string api_config = (b.photo.dir / "api.toml").string();
  const std::string local_config = (b.photo.dir / "local.toml").string();
  test::write_file(api_config, "backend = \"api4ai\"\nthreshold = 0.999\n");
  test::write_file(local_config, "backend = \"local\"\nthreshold = 0.999\n");
  const std::string pairs = (b.photo.dir / "pairs.csv").string();
  test::write_file(pairs, f.l1 + "," + f.l2 + ",same\n");
  const std::string dead = "http://127.0.0.1:1";
  const std::size_t before = results_requests(server.requests());

  struct Case {
    std::string name;
    std::vector<std::string> args;  // before the config options
  };
  for (const auto& c : std::vector<Case>{{"verify", {"--json", f.l1, f.l2}},
                                         {"matrix", {"matrix", "--format", "json", f.l1, f.l2}},
                                         {"search", {"search", "--format", "json", f.l1, f.l2}},
                                         {"pairs", {"pairs", "-q", pairs}}}) {
    INFO(c.name);
    auto with_config = [&](const std::string& config, std::vector<std::string> extra) {
      std::vector<std::string> args = c.args;
      args.insert(args.begin() + (c.name == "verify" ? 0 : 1), {"--api-url", dead, "--config", config});
      args.insert(args.begin() + (c.name == "verify" ? 0 : 1), extra.begin(), extra.end());
      return run_faceverify(args, b.env());
    };
    // The run's backend is api4ai (the config says so), but these embeddings
    // are local ones: the default applies, and threshold_source says so.
    auto r = with_config(api_config, {});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    const json j = records(r.out).front();
    CHECK(j["threshold"] == 0.8);
    CHECK(j["threshold_source"] == "default");
    if (c.name != "matrix") CHECK(r.out.find("\"decision\":\"same\"") != std::string::npos);
    // A local config applies to them even when the run's backend is api4ai.
    auto l = with_config(local_config, {"--backend", "api4ai"});
    CHECK(l.exit_code == (c.name == "matrix" ? 0 : 1));
    const json k = records(l.out).front();
    CHECK(k["threshold"] == 0.999);
    CHECK(k["threshold_source"] == "config");
  }
  CHECK(results_requests(server.requests()) == before);  // nothing was analysed
}

TEST_CASE("batch: embeddings of different lengths from files are an input error naming both", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg");
  auto e = b.run(server, {"embed", "--ordered", a1, a2});
  REQUIRE(e.exit_code == 0);
  auto recs = records(e.out);
  REQUIRE(recs.size() == 2);
  auto& v = recs[1]["faces"][0]["embedding"];
  v.erase(v.begin() + 128, v.end());
  const std::string long_file = (b.photo.dir / "a512.jsonl").string();
  const std::string short_file = (b.photo.dir / "a128.jsonl").string();
  test::write_file(long_file, recs[0].dump() + "\n");
  test::write_file(short_file, recs[1].dump() + "\n");
  const std::string dead = "http://127.0.0.1:1";
  // A record is named by the image it stands for, as in every message about it.
  const std::string message = "faceverify: " + a2 + ": its embedding has 128 values, " + a1 +
                              "'s has 512; they cannot be compared (embed both images again with the same backend)\n";

  auto r = run_faceverify({"--api-url", dead, long_file, short_file}, b.env());
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == message);
  auto m = run_faceverify({"matrix", "--api-url", dead, long_file, short_file}, b.env());
  CHECK(m.exit_code == 2);
  CHECK(m.err == message);
  auto s = run_faceverify({"search", "--api-url", dead, "--format", "csv", long_file, short_file}, b.env());
  CHECK(s.exit_code == 2);
  CHECK(s.err == message);
  // An image analysed now against a record that does not fit: still the file's fault.
  auto i = b.run(server, {"search", "--format", "csv", short_file, a1});
  CHECK(i.exit_code == 2);
  CHECK(i.err == "faceverify: " + a1 + ": its embedding has 512 values, " + a2 +
                     "'s has 128; they cannot be compared (embed both images again with the same backend)\n");
}

TEST_CASE("batch: embed records each image's width and height, and verify reads them back", "[e2e][batch]") {
  test::FakeServer server(json{{"images", {{"wide.jpg", {{"person", "erin"}}}, {"tall.jpg", {{"person", "erin"}}}}}});
  Batch b;
  const std::string wide = (b.photo.dir / "wide.jpg").string(), tall = (b.photo.dir / "tall.jpg").string();
  test::write_file(wide, jpeg_of_size(640, 360, "wide"));
  test::write_file(tall, jpeg_of_size(270, 480, "tall"));
  auto e = b.run(server, {"embed", "--ordered", wide, tall});
  REQUIRE(e.exit_code == 0);
  CHECK(e.err.empty());
  const auto recs = records(e.out);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["input"] == wide);
  CHECK(recs[0]["width"] == 640);
  CHECK(recs[0]["height"] == 360);
  CHECK(recs[1]["input"] == tall);
  CHECK(recs[1]["width"] == 270);
  CHECK(recs[1]["height"] == 480);

  // The embedding files alone (no network) give verify the same sizes.
  const std::string wide_rec = (b.photo.dir / "wide.jsonl").string(), tall_rec = (b.photo.dir / "tall.jsonl").string();
  test::write_file(wide_rec, lines_of(e.out)[0] + "\n");
  test::write_file(tall_rec, lines_of(e.out)[1] + "\n");
  const test::TempDir empty_cache;
  RunOptions offline;
  offline.env_overrides["XDG_CACHE_HOME"] = empty_cache.path().string();
  auto v = run_faceverify({"--api-url", "http://127.0.0.1:1", "--json", wide_rec, tall_rec}, offline);
  CHECK(v.exit_code == 0);
  REQUIRE(one_line(v.out));
  const auto j = json::parse(v.out);
  CHECK(j["images"][0]["width"] == 640);
  CHECK(j["images"][0]["height"] == 360);
  CHECK(j["images"][1]["width"] == 270);
  CHECK(j["images"][1]["height"] == 480);
  CHECK(verdict_agrees(j));
  CHECK(v.err.empty());
}

TEST_CASE("batch: embed reports failures as records and in its exit code", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), broken = b.photo("broken.jpg"), nobody = b.photo("nobody.jpg");
  const std::string copy = (b.photo.dir / "copy-of-alice1.jpg").string();
  fs::copy_file(a1, copy);
  auto r = b.run(server, {"embed", "--ordered", "--retries", "0", a1, broken, nobody, copy});
  CHECK(r.exit_code == 4);  // 4 outranks 3
  const auto recs = records(r.out);
  REQUIRE(recs.size() == 4);  // one line per input, even for the same bytes twice
  CHECK(recs[1]["type"] == "error");
  CHECK(recs[1]["error"]["kind"] == "http");
  CHECK(recs[1]["error"]["message"].get<std::string>().find("HTTP 503") != std::string::npos);
  CHECK(recs[2]["faces"].empty());
  CHECK(recs[3]["input"] == copy);
  CHECK(recs[3]["faces"] == recs[0]["faces"]);
  CHECK(lines_of(r.err).size() == 2);  // the 503 and the missing face
  auto log = server.requests();
  CHECK(results_requests(log) == 3);  // the copy is the same bytes: no second analysis

  SECTION("failures are not cached: the rerun asks again for the broken image only") {
    server.reset();
    auto again = b.run(server, {"embed", "--retries", "0", a1, broken, nobody});
    CHECK(again.exit_code == 4);
    log = server.requests();
    CHECK(results_requests(log) == 1);
    CHECK(requests_for(log, "broken.jpg") == 1);
  }
}

TEST_CASE("batch: pairs reports every pair and goes on past failures", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg"), bob = b.photo("bob.jpg");
  const auto broken = b.photo("broken.jpg");
  const std::string missing = (b.photo.dir / "missing.jpg").string();
  const std::string pairs = (b.photo.dir / "pairs.csv").string();
  test::write_file(pairs, "image1,image2,expected\n" + a1 + "," + a2 + ",same\n" + a1 + "," + bob + ",same\n" +
                              "just one field\n" + missing + "," + a1 + ",different\n" + broken + "," + bob +
                              ",different\n" + a2 + "\t" + bob + "\n" + a2 + "," + bob + ",maybe\n" + a2 + "," + bob +
                              "\n");
  const std::string junit = (b.photo.dir / "report.xml").string();
  auto r = b.run(server, {"pairs", "--retries", "0", "--ordered", "--junit", junit, pairs});
  CHECK(r.exit_code == 4);  // errors outrank the contradiction
  const auto recs = records(r.out);
  REQUIRE(recs.size() == 8);
  std::vector<int> lines;
  for (const auto& rec : recs) {
    CHECK(rec["type"] == "pair");
    CHECK(rec["schema_version"] == 1);
    lines.push_back(rec["line"].get<int>());
  }
  CHECK(lines == std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(recs[0]["decision"] == "same");
  CHECK(recs[0]["as_expected"] == true);
  CHECK(recs[0]["error"].is_null());
  CHECK(recs[1]["decision"] == "different");
  CHECK(recs[1]["as_expected"] == false);
  CHECK(recs[2]["error"]["message"] == "line 4: expected 2 or 3 fields (image1,image2[,expected]), got 1");
  CHECK(recs[3]["error"]["kind"] == "input");
  CHECK(recs[3]["error"]["message"].get<std::string>().find("missing.jpg") != std::string::npos);
  CHECK(recs[4]["error"]["kind"] == "http");
  CHECK(recs[5]["error"].is_object());  // a tab in a comma file: one field
  CHECK(recs[6]["error"]["message"].get<std::string>().find("\"maybe\"") != std::string::npos);
  CHECK(recs[7]["decision"] == "different");
  CHECK(recs[7]["expected"].is_null());
  CHECK(recs[7]["as_expected"].is_null());
  const auto err = lines_of(r.err);
  REQUIRE(!err.empty());
  CHECK(err.back() == "faceverify: pairs: 8 pairs: 1 same, 2 different, 5 errors; 1 contradicts its expected label");
  for (const auto& line : err) CHECK(line.rfind("faceverify: ", 0) == 0);
  CHECK(results_requests(server.requests()) == 4);  // a1, a2, bob, broken: once each

  const std::string xml = test::read_file(junit);
  CHECK(xml.find("tests=\"8\" failures=\"1\" errors=\"5\"") != std::string::npos);
  CHECK(std::count(xml.begin(), xml.end(), '\n') > 8);
  CHECK(xml.find("<failure type=\"contradiction\"") != std::string::npos);

  SECTION("CSV output; contradictions alone exit 1; all as expected exit 0") {
    test::write_file(pairs, a1 + "," + a2 + ",same\n" + a1 + "," + bob + ",same\n");
    auto c = b.run(server, {"pairs", "--format", "csv", "--ordered", pairs});
    CHECK(c.exit_code == 1);
    CHECK(lines_of(c.out).size() == 3);
    CHECK(lines_of(c.out)[0] == "line,image1,image2,expected,decision,similarity,distance,as_expected,error");
    CHECK(lines_of(c.out)[2].find(",same,different,") != std::string::npos);
    test::write_file(pairs, a1 + "," + bob + ",same\n" + a2 + "," + bob + ",same\n");
    auto two = b.run(server, {"pairs", "--format", "csv", "--ordered", pairs});
    CHECK(two.exit_code == 1);
    CHECK(two.err == "faceverify: pairs: 2 pairs: 0 same, 2 different, 0 errors; 2 contradict their expected labels\n");
    test::write_file(pairs, a1 + "," + a2 + ",same\n" + a1 + "," + bob + ",different\n");
    RunOptions in;
    in.stdin_data = test::read_file(pairs);
    auto ok = b.run(server, {"pairs", "-q", "-"}, in);
    CHECK(ok.exit_code == 0);
    CHECK(ok.err.empty());
    CHECK(records(ok.out).size() == 2);
  }
  SECTION("an unreadable or empty pairs file is a usage error") {
    auto m = b.run(server, {"pairs", missing});
    CHECK(m.exit_code == 2);
    CHECK(one_line(m.err));
    test::write_file(pairs, "# nothing\n\n");
    auto e = b.run(server, {"pairs", pairs});
    CHECK(e.exit_code == 2);
    CHECK(e.err.find("no pairs") != std::string::npos);
  }
}

TEST_CASE("batch: search ranks, --top, --gallery and exit codes", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg");
  fs::create_directories(b.photo.dir / "gallery" / "sub");
  const auto a2 = b.photo("gallery/alice2.jpg"), a3 = b.photo("gallery/sub/alice3.jpg"),
             bob = b.photo("gallery/bob.jpg"), nobody = b.photo("gallery/sub/nobody.jpg");
  test::write_file(b.photo.dir / "gallery" / "notes.txt", "not an image");
  const std::string gallery = (b.photo.dir / "gallery").string();
  SECTION("--gallery is recursive and takes images only") {
    auto r = b.run(server, {"search", "--gallery", gallery, "--json", a1});
    CHECK(r.exit_code == 0);
    auto j = json::parse(r.out);
    CHECK(j["type"] == "search");
    CHECK(j["candidates"] == 4);
    CHECK(j["matches"] == 2);
    REQUIRE(j["results"].size() == 4);
    CHECK(j["results"][0]["verified"] == true);
    CHECK(j["results"][1]["verified"] == true);
    CHECK(j["results"][2]["input"] == bob);
    CHECK(j["results"][3]["input"] == nobody);
    CHECK(j["results"][3]["error"]["kind"] == "no_face");
    CHECK(results_requests(server.requests()) == 5);
    CHECK(r.err == "faceverify: " + gallery + ": skipped 1 file that is not an image\nfaceverify: " + nobody +
                       ": no face found in the image\n");
  }
  SECTION("--top K shows the K best; no match exits 1") {
    auto r = b.run(server, {"search", "--top", "1", "--format", "csv", a1, a2, bob});
    CHECK(r.exit_code == 0);
    CHECK(lines_of(r.out).size() == 2);
    CHECK(lines_of(r.out)[1].rfind("1," + a2 + ",", 0) == 0);
    auto none = b.run(server, {"search", a1, bob});
    CHECK(none.exit_code == 1);
  }
  SECTION("a reference without a face exits 3; a failed candidate exits 4") {
    auto r = b.run(server, {"search", nobody, a1});
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    auto f = b.run(server, {"search", "--retries", "0", a1, a2, b.photo("broken.jpg")});
    CHECK(f.exit_code == 4);
    CHECK(f.out.find("match") != std::string::npos);  // the ranking is still printed
  }
  SECTION("usage errors") {
    CHECK(b.run(server, {"search", a1}).exit_code == 2);
    CHECK(b.run(server, {"search", "--gallery", (b.photo.dir / "none").string(), a1}).exit_code == 2);
    CHECK(b.run(server, {"search", "--top", "0", a1, a2}).exit_code == 2);
    CHECK(server.requests().empty());
  }
}

TEST_CASE("batch: HTTP 429 pauses every job, --max-rps spaces the starts", "[e2e][batch]") {
  Batch b;
  SECTION("Retry-After holds back requests that had not started yet") {
    json scenario = {
        {"default", {{"delay_ms", 50}}},
        {"images",
         {{"p0.jpg",
           {{"sequence", json::array({{{"status", 429}, {"headers", {{"Retry-After", "1"}}}}, json::object()})}}}}}};
    test::FakeServer server(scenario);
    std::vector<std::string> args = {"matrix", "--jobs", "4", "--format", "csv"};
    for (int i = 0; i < 12; ++i) args.push_back(b.photo(numbered_jpg("p", i)));
    auto r = b.run(server, args);
    CHECK(r.exit_code == 0);
    const auto log = server.requests();
    CHECK(results_requests(log) == 13);
    double throttled_at = -1;
    for (const auto& q : log) {
      if (q["status"] == 429) throttled_at = q["end_ms"].get<double>();
    }
    REQUIRE(throttled_at >= 0);
    // Requests sent before the 429 reached the client may start just after
    // it; the next wave (each request takes 50 ms) must wait for Retry-After.
    std::size_t held_back = 0;
    for (const auto& q : log) {
      const double start = q["start_ms"].get<double>();
      if (start > throttled_at + 30) {
        CHECK(start >= throttled_at + 900);
        ++held_back;
      }
    }
    CHECK(held_back >= 4);
  }
  SECTION("--max-rps 5: starts at least ~200 ms apart") {
    test::FakeServer server(json::object());
    std::vector<std::string> args = {"matrix", "--max-rps", "5", "--jobs", "4"};
    for (int i = 0; i < 6; ++i) args.push_back(b.photo(numbered_jpg("q", i)));
    auto r = b.run(server, args);
    CHECK(r.exit_code == 0);
    std::vector<double> starts;
    for (const auto& q : server.requests()) starts.push_back(q["start_ms"].get<double>());
    std::sort(starts.begin(), starts.end());
    REQUIRE(starts.size() == 6);
    for (std::size_t i = 1; i < starts.size(); ++i) CHECK(starts[i] - starts[i - 1] >= 180);
  }
}

TEST_CASE("batch: SIGINT mid-run leaves complete records and a cache that resumes", "[e2e][batch]") {
  test::FakeServer server(json{{"default", {{"delay_ms", 400}}}});
  Batch b;
  std::vector<std::string> inputs;
  for (int i = 0; i < 16; ++i) inputs.push_back(b.photo(numbered_jpg("s", i)));
  std::vector<std::string> argv = {"env",
                                   "-u",
                                   "http_proxy",
                                   "-u",
                                   "https_proxy",
                                   "-u",
                                   "HTTP_PROXY",
                                   "-u",
                                   "HTTPS_PROXY",
                                   "-u",
                                   "ALL_PROXY",
                                   "-u",
                                   "all_proxy",
                                   "XDG_CACHE_HOME=" + b.cache_home.path().string(),
                                   FACEVERIFY_BINARY_PATH,
                                   "embed",
                                   "--jobs",
                                   "2",
                                   "--api-url",
                                   server.base_url()};
  argv.insert(argv.end(), inputs.begin(), inputs.end());
  const auto child = test::spawn_with_stdout_pipe(argv);
  // Read until a few records arrived, then interrupt.
  std::string out;
  char buf[65536];
  while (std::count(out.begin(), out.end(), '\n') < 3) {
    const ssize_t n = ::read(child.stdout_fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  const auto sent = std::chrono::steady_clock::now();
  ::kill(child.pid, SIGINT);
  for (ssize_t n; (n = ::read(child.stdout_fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(child.stdout_fd);
  int wstatus = 0;
  ::waitpid(child.pid, &wstatus, 0);
  const auto took = std::chrono::steady_clock::now() - sent;
  CHECK(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 130);
  CHECK(took < std::chrono::seconds(3));
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  const auto done = records(out);  // every line a complete record
  CHECK(done.size() >= 3);
  CHECK(done.size() < 16);

  server.reset();
  std::vector<std::string> args = {"embed"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  auto resumed = b.run(server, args);
  CHECK(resumed.exit_code == 0);
  CHECK(records(resumed.out).size() == 16);
  // Only what had not finished is asked again: what was printed is cached,
  // and at most the --jobs analyses in flight finished unprinted.
  const std::size_t asked = results_requests(server.requests());
  CHECK(asked <= 16 - done.size());
  CHECK(asked + 2 >= 16 - done.size());
}

TEST_CASE("batch: the cache survives corruption and can be inspected and cleared", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg"), bob = b.photo("bob.jpg");
  REQUIRE(b.run(server, {"matrix", a1, a2, bob}).exit_code == 0);
  const fs::path dir = b.cache_dir();
  REQUIRE(count_files(dir / "v1") == 3);
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  for (fs::recursive_directory_iterator it(dir / "v1"), end; it != end; ++it) {
    REQUIRE(::stat(it->path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (it->is_directory() ? 0700u : 0600u));
    if (it->is_regular_file()) {
      const std::string entry = test::read_file(it->path());
      CHECK(entry.find("\"embedding\"") != std::string::npos);
      CHECK(entry.find("bytes of") == std::string::npos);  // never the image
    }
  }
  // Truncate one entry: it is detected, ignored, re-analysed and replaced.
  fs::path victim;
  for (fs::recursive_directory_iterator it(dir / "v1"), end; it != end; ++it) {
    if (it->is_regular_file()) victim = it->path();
  }
  const std::string whole = test::read_file(victim);
  test::write_file(victim, whole.substr(0, whole.size() / 2));
  server.reset();
  auto r = b.run(server, {"matrix", a1, a2, bob});
  CHECK(r.exit_code == 0);
  CHECK(results_requests(server.requests()) == 1);
  CHECK(test::read_file(victim).size() == whole.size());

  auto stats = run_faceverify({"cache", "stats", "--json"}, b.env());
  CHECK(stats.exit_code == 0);
  auto j = json::parse(stats.out);
  CHECK(j["entries"] == 3);
  CHECK(j["directory"] == dir.string());
  auto cleared = run_faceverify({"cache", "clear"}, b.env());
  CHECK(cleared.exit_code == 0);
  CHECK(cleared.out == "Removed 3 entries from " + dir.string() + "\n");
  CHECK(json::parse(run_faceverify({"cache", "stats", "--json"}, b.env()).out)["entries"] == 0);
  CHECK(run_faceverify({"cache"}, b.env()).exit_code == 2);
}

TEST_CASE("batch: progress only on a terminal", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg"), a2 = b.photo("alice2.jpg");
  auto piped = b.run(server, {"matrix", a1, a2});
  CHECK(piped.err.empty());  // stderr is a pipe here: no progress line
  // script(1) gives the child a terminal.
  const std::string command = std::string("'") + FACEVERIFY_BINARY_PATH + "' matrix --no-cache --api-url " +
                              server.base_url() + " '" + a1 + "' '" + a2 + "'";
  RunOptions tty = b.env();
  tty.env_overrides["TERM"] = "xterm";
  auto shown = run_process({"script", "-qec", command, "/dev/null"}, clean_env(tty));
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("2/2 done") != std::string::npos);
  CHECK(shown.out.find("\r\033[K") != std::string::npos);
  auto quiet = run_process({"script", "-qec", command + " --quiet", "/dev/null"}, clean_env(tty));
  CHECK(quiet.out.find("done") == std::string::npos);
  tty.env_overrides["NO_COLOR"] = "1";
  auto no_color = run_process({"script", "-qec", command, "/dev/null"}, clean_env(tty));
  CHECK(no_color.out.find("done") == std::string::npos);
}

TEST_CASE("batch: command-line errors", "[e2e][batch]") {
  test::FakeServer server(k_people);
  Batch b;
  const auto a1 = b.photo("alice1.jpg");
  for (const auto& args : std::vector<std::vector<std::string>>{{"matrix", "--jobs", "0", a1},
                                                                {"matrix", "--max-rps", "0", a1},
                                                                {"matrix", "--format", "xml", a1},
                                                                {"embed"},
                                                                {"pairs"},
                                                                {"matrix", "--no-cache", "--cache-dir", "x", a1},
                                                                {"embed", "-", "-"}}) {
    INFO(args[0] << " " << (args.size() > 1 ? args[1] : ""));
    auto r = b.run(server, args);
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(r.out.empty());
  }
  CHECK(server.requests().empty());
  auto help = run_faceverify({"pairs", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--junit") != std::string::npos);
  CHECK(help.out.find("Exit codes") != std::string::npos);
}

TEST_CASE("batch: absurd Retry-After, lost output and Ctrl-C during a backoff", "[e2e][batch]") {
  Batch b;
  SECTION("a Retry-After of 3,000 years neither hangs nor outlives --timeout") {
    test::FakeServer server(json{{"default", {{"status", 429}, {"headers", {{"Retry-After", "99999999999"}}}}}});
    const auto a = b.photo("a.jpg"), c = b.photo("c.jpg");
    auto v = run_faceverify(with_server(server, {"--timeout", "3", a, c}), b.env());
    CHECK(v.exit_code == 4);
    CHECK(v.wall_ms < 5000);
    auto e = b.run(server, {"embed", "--timeout", "3", a});
    CHECK(e.exit_code == 4);
    CHECK(e.wall_ms < 5000);
    CHECK(records(e.out).front()["type"] == "error");
  }
  SECTION("results that cannot be written exit 2, not 0") {
    test::FakeServer server(k_people);
    const auto a1 = b.photo("alice1.jpg");
    for (const std::string command : {"embed", "matrix"}) {
      auto r = test::run_process({"bash", "-c", "\"$0\" \"$@\" >/dev/full", FACEVERIFY_BINARY_PATH, command,
                                  "--api-url", server.base_url(), a1},
                                 clean_env(b.env()));
      INFO(command << ": " << r.err);
      CHECK(r.exit_code == 2);
      CHECK(r.err.find("cannot write to standard output") != std::string::npos);
    }
  }
  SECTION("SIGINT during a long backoff ends the run at once") {
    test::FakeServer server(json{{"default", {{"status", 503}, {"headers", {{"Retry-After", "20"}}}}}});
    const auto a = b.photo("a.jpg");
    const auto child = test::spawn_with_stdout_pipe(
        {"env", "-u", "http_proxy", "-u", "https_proxy", "-u", "HTTP_PROXY", "-u", "HTTPS_PROXY", "-u", "ALL_PROXY",
         "-u", "all_proxy", "XDG_CACHE_HOME=" + b.cache_home.path().string(), FACEVERIFY_BINARY_PATH, "embed",
         "--api-url", server.base_url(), a});
    for (int i = 0; i < 100 && server.requests().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // now in the 20 s backoff
    const auto sent = std::chrono::steady_clock::now();
    ::kill(child.pid, SIGINT);
    int wstatus = 0;
    ::waitpid(child.pid, &wstatus, 0);
    ::close(child.stdout_fd);
    CHECK(WIFEXITED(wstatus));
    CHECK(WEXITSTATUS(wstatus) == 130);
    CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(2));
    CHECK(server.requests().size() == 1);  // no retry after the interruption
  }
}

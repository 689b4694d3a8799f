// SPDX-License-Identifier: MIT
// What a reply may carry (issue 11): a key the server echoes back, JSON-escaped or cut, never reaches any output;
// faces are validated the same way whatever their source (a reply, the cache, an embedding file); degenerate
// embeddings are refused, never scored; pages and faces without an embedding; RapidAPI's daily quota.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "e2e_support.hpp"

using nlohmann::json;
namespace test = faceverify::test;
namespace fs = std::filesystem;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::ProcessResult;
using faceverify::test::RunOptions;

const std::string k_key = "SECRETKEY123456X";

// Every 6-character piece of the key found in `text`, for the failure message.
std::vector<std::string> key_pieces_in(const std::string& text) {
  std::vector<std::string> found;
  for (std::size_t i = 0; i + 6 <= k_key.size(); ++i) {
    if (text.find(k_key.substr(i, 6)) != std::string::npos) found.push_back(k_key.substr(i, 6));
  }
  return found;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A scratch home (cache and config) and photos; runs with the key in API4AI_KEY.
struct Run {
  Photos photo;
  test::TempDir home;
  RunOptions env() const {
    RunOptions o;
    o.env_overrides["XDG_CACHE_HOME"] = (home.path() / "cache").string();
    o.env_overrides["API4AI_KEY"] = k_key;
    return o;
  }
  ProcessResult operator()(const test::FakeServer& s, std::vector<std::string> args) const {
    const std::string command = args.front();
    args.erase(args.begin());
    args.insert(args.begin(), {"--api", "api4ai", "--api-url", s.base_url(), "--retries", "0"});
    if (!command.empty()) args.insert(args.begin(), command);
    return run_faceverify(std::move(args), env());
  }
};

std::string all_files_under(const fs::path& dir) {
  std::string text;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; it != end; it.increment(ec)) {
    if (it->is_regular_file()) text += test::read_file(it->path().string());
  }
  return text;
}

// A 200 body of `results` pages, each the face list given: true = a face with a vector, false = without.
std::string reply_body(std::size_t pages, const std::vector<bool>& faces) {
  json objects = json::array();
  for (std::size_t i = 0; i < faces.size(); ++i) {
    json entities = json::array({json{{"kind", "classes"}, {"name", "face"}, {"classes", {{"face", 0.99}}}}});
    if (faces[i]) {
      entities.push_back(
          json{{"kind", "vector"}, {"name", "face-embeddings"}, {"vector", std::vector<double>(512, 0.04)}});
    }
    objects.push_back(json{{"box", {0.1 + 0.2 * static_cast<double>(i), 0.1, 0.15, 0.3}}, {"entities", entities}});
  }
  json result = {
      {"status", {{"code", "ok"}, {"message", "Success"}}},
      {"name", "x.jpg"},
      {"md5", "0123"},
      {"entities", json::array({json{{"kind", "objects"}, {"name", "face-detector"}, {"objects", objects}}})}};
  json body = {{"results", json::array()}};
  for (std::size_t p = 0; p < pages; ++p) body["results"].push_back(result);
  return body.dump();
}

}  // namespace

TEST_CASE("replies: a key echoed JSON-escaped or cut never reaches any output", "[e2e][secrets]") {
  json images;
  images["echo_a.jpg"] = {{"person", "p1"}, {"echo_key", {{"offset", 0}}}};
  images["echo_b.jpg"] = {{"person", "p1"}, {"echo_key", {{"offset", 190}}}};
  images["split.jpg"] = {{"person", "p2"}, {"echo_key", {{"offset", 3}, {"split", true}}}};
  const std::vector<int> offsets = {0, 180, 183, 185, 186, 187, 188, 189, 190, 192, 195, 199, 200, 205};
  for (int n : offsets) {
    images["err" + std::to_string(n) + ".jpg"] = {{"status", 401}, {"echo_key", {{"offset", n}}}};
    images["fail" + std::to_string(n) + ".jpg"] = {{"failure", "x"}, {"echo_key", {{"offset", n}}}};
  }
  test::FakeServer server(json{{"images", images}});
  Run run;
  const auto a = run.photo("echo_a.jpg"), b = run.photo("echo_b.jpg"), split = run.photo("split.jpg");
  std::vector<std::string> failing;
  for (int n : offsets) {
    failing.push_back(run.photo("err" + std::to_string(n) + ".jpg"));
    failing.push_back(run.photo("fail" + std::to_string(n) + ".jpg"));
  }
  std::vector<std::pair<std::string, std::string>> outputs;  // what, text
  const auto keep = [&](const std::string& what, const ProcessResult& r) {
    outputs.emplace_back(what + " stdout", r.out);
    outputs.emplace_back(what + " stderr", r.err);
  };

  // The replies are good apart from the echo: they still verify.
  auto v = run(server, {"", "--json", "-v", a, b});
  CHECK(v.exit_code == 0);
  keep("verify --json", v);
  auto v2 = run(server, {"", "-v", a, split});
  CHECK(v2.exit_code == 1);
  keep("verify", v2);
  for (const auto& f : failing) {
    auto r = run(server, {"", "-v", a, f});
    CHECK(r.exit_code == 4);
    keep("verify " + f, r);
  }

  std::vector<std::string> embed_args = {"embed", "--ordered", a, b, split};
  embed_args.insert(embed_args.end(), failing.begin(), failing.end());
  auto e = run(server, embed_args);
  CHECK(e.exit_code == 4);
  keep("embed", e);
  auto again = run(server, embed_args);  // the good ones from the cache
  keep("embed from the cache", again);
  const std::string people = (run.photo.dir / "people.jsonl").string();
  test::write_file(people, e.out);
  auto offline = run(server, {"", "--json", people + "", people});
  keep("verify of the embedding file", offline);

  const std::string pairs = (run.photo.dir / "pairs.csv").string();
  std::string rows = a + "," + b + ",same\n" + a + "," + split + ",different\n";
  for (const auto& f : failing) rows += a + "," + f + ",same\n";
  test::write_file(pairs, rows);
  const std::string junit = (run.photo.dir / "report.xml").string();
  auto p = run(server, {"pairs", "--junit", junit, pairs});
  CHECK(p.exit_code == 4);
  keep("pairs", p);
  outputs.emplace_back("JUnit report", test::read_file(junit));

  const std::string labelled = (run.photo.dir / "labelled.csv").string();
  test::write_file(labelled, a + "," + b + ",same\n" + a + "," + split + ",different\n" + b + "," + split +
                                 ",different\n" + failing[0] + "," + a + ",same\n");
  const std::string html = (run.photo.dir / "report.html").string();
  auto c = run(server, {"calibrate", "--report", html, labelled});
  keep("calibrate", c);
  if (fs::exists(html)) outputs.emplace_back("HTML report", test::read_file(html));
  outputs.emplace_back("cache directory", all_files_under(run.home.path() / "cache"));

  // The echoes did reach faceverify: the replies carried them, escaped.
  CHECK(e.out.find("[redacted]") != std::string::npos);
  CHECK(e.err.find("[redacted]") != std::string::npos);
  for (const auto& [what, text] : outputs) {
    INFO(what << ":\n" << text);
    CHECK(key_pieces_in(text).empty());
  }
}

TEST_CASE("replies: several pages and faces without an embedding are warned about, once", "[e2e][replies]") {
  test::FakeServer server(json{{"images",
                                {{"pages.jpg", {{"body", reply_body(3, {true})}}},
                                 {"partial.jpg", {{"body", reply_body(1, {false, true, false})}}},
                                 {"bare.jpg", {{"body", reply_body(1, {false, false})}}}}}});
  Run run;
  const auto pages = run.photo("pages.jpg"), partial = run.photo("partial.jpg"), bare = run.photo("bare.jpg");
  SECTION("verify uses the first page and the faces with a vector") {
    auto r = run(server, {"", pages, partial});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("same person") != std::string::npos);
    auto err = lines_of(r.err);
    std::sort(err.begin(), err.end());
    CHECK(err == std::vector<std::string>{
                     "faceverify: warning: " + pages +
                         ": the service answered with 3 results (pages); only the "
                         "first is used",
                     "faceverify: warning: " + partial + ": 2 faces have no embedding in the reply and are skipped"});
  }
  SECTION("embed warns once: a rerun from the cache is quiet") {
    auto e = run(server, {"embed", "--ordered", pages, partial});
    CHECK(e.exit_code == 0);
    CHECK(lines_of(e.err).size() == 2);
    CHECK(lines_of(e.out).size() == 2);
    CHECK(json::parse(lines_of(e.out)[1])["faces"].size() == 1);
    auto again = run(server, {"embed", "--ordered", pages, partial});
    CHECK(again.exit_code == 0);
    CHECK(again.err.empty());
    CHECK(again.out == e.out);
  }
  SECTION("no face with a vector at all is still an error") {
    auto r = run(server, {"", pages, bare});
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    const auto err = lines_of(r.err);
    CHECK(err.size() == 2);  // and the first image's warning
    CHECK(std::find(err.begin(), err.end(),
                    "faceverify: " + bare +
                        ": malformed response: no face (results[0].entities[0].objects[0] and 1 more) has a "
                        "face-embeddings vector (the request must ask for embeddings=true)") != err.end());
  }
}

TEST_CASE("replies: degenerate embeddings are refused, never scored", "[e2e][replies]") {
  std::string huge = "[1e200";
  for (int i = 1; i < 512; ++i) huge += i % 2 ? ",-1e200" : ",1e200";
  huge += "]";
  test::FakeServer server(json{{"images",
                                {{"zero.jpg", {{"embedding", std::vector<double>(512, 0.0)}}},
                                 {"huge.jpg", {{"raw_vector", huge}}},
                                 {"fine.jpg", {{"person", "p"}}}}}});
  Run run;
  const auto zero = run.photo("zero.jpg"), big = run.photo("huge.jpg"), fine = run.photo("fine.jpg");
  SECTION("from the service: exit 4, naming the image") {
    auto r = run(server, {"", "--json", fine, zero});
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + zero +
                       ": malformed response: results[0].entities[0].objects[0]: embedding is all zeros (or "
                       "nearly): it cannot be compared\n");
    r = run(server, {"", fine, big});
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + big +
                       ": malformed response: results[0].entities[0].objects[0]: embedding value 0 is out of range "
                       "(real embeddings have values near 0)\n");
  }
  SECTION("from an embedding file: exit 2, naming the file") {
    auto e = run(server, {"embed", fine});
    REQUIRE(e.exit_code == 0);
    json rec = json::parse(e.out);
    const std::string good = (run.photo.dir / "good.jsonl").string();
    test::write_file(good, e.out);
    for (const auto& [name, vector] : std::vector<std::pair<std::string, json>>{
             {"zero", std::vector<double>(512, 0.0)}, {"huge", json::array({1e200, -1e200})}}) {
      INFO(name);
      rec["faces"][0]["embedding"] = vector;
      const std::string bad = (run.photo.dir / (name + ".jsonl")).string();
      test::write_file(bad, rec.dump() + "\n");
      for (const auto& args : {std::vector<std::string>{"", "--json", good, bad},
                               std::vector<std::string>{"matrix", "--format", "csv", good, bad}}) {
        auto r = run(server, args);
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(one_line(r.err));
        CHECK(r.err.starts_with("faceverify: " + bad + ": line 1: face 1: embedding "));
      }
    }
  }
}

TEST_CASE("replies: one set of face limits for replies, the cache and embedding files", "[e2e][replies]") {
  json many = json::array(), too_many = json::array();
  for (int i = 0; i < 1000; ++i)
    many.push_back(json{{"box", {0.1, 0.1, 0.2, 0.2}}, {"confidence", 0.9}, {"embedding_length", 4}});
  too_many = many;
  too_many.push_back(many[0]);
  test::FakeServer server(json{
      {"images",
       {{"crowd.jpg", {{"faces", many}}}, {"bigger.jpg", {{"faces", too_many}}}, {"fine.jpg", {{"person", "p"}}}}}});
  Run run;
  const auto crowd = run.photo("crowd.jpg"), bigger = run.photo("bigger.jpg");
  SECTION("1000 faces: written, cached and read back; never uploaded again") {
    auto e = run(server, {"embed", crowd});
    REQUIRE(e.exit_code == 0);
    CHECK(json::parse(e.out)["faces"].size() == 1000);
    server.reset();
    auto again = run(server, {"embed", crowd});
    CHECK(again.exit_code == 0);
    CHECK(again.out == e.out);
    CHECK(requests_for(server.requests(), "crowd.jpg") == 0);
    const std::string file = (run.photo.dir / "crowd.jsonl").string();
    test::write_file(file, e.out);
    auto v = run(server, {"", "--face", "first", file, file});
    CHECK(v.exit_code == 0);
  }
  SECTION("1001 faces: refused clearly, not written as a record no reader accepts") {
    auto e = run(server, {"embed", bigger});
    CHECK(e.exit_code == 4);
    CHECK(json::parse(e.out)["type"] == "error");
    CHECK(e.err == "faceverify: " + bigger +
                       ": malformed response: results[0].entities[0].objects has 1001 faces (more than the 1000 "
                       "faceverify handles per image; crop the image)\n");
  }
  SECTION("an embedding file's box is checked as a reply's is") {
    auto e = run(server, {"embed", run.photo("fine.jpg")});
    REQUIRE(e.exit_code == 0);
    json rec = json::parse(e.out);
    const std::string good = (run.photo.dir / "good.jsonl").string();
    test::write_file(good, e.out);
    rec["faces"][0]["box"] = {0.9, 0.9, -3, -3};
    const std::string bad = (run.photo.dir / "box.jsonl").string();
    test::write_file(bad, rec.dump() + "\n");
    auto r = run(server, {"", "--face", "largest", good, bad});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + bad + ": line 1: face 1: box has a width or height that is not positive\n");
  }
}

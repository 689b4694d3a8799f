// SPDX-License-Identifier: MIT
#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "faceverify/embedding_file.hpp"
#include "golden.hpp"
#include "process.hpp"

using namespace faceverify;
using nlohmann::json;

using faceverify::test::check_golden;

namespace {

const std::string k_sha = "7d5b1c8e0f5c1f0e5a2b6c3d4e5f60718293a4b5c6d7e8f90112233445566778";
const std::string k_endpoint = "https://demo.api4ai.cloud/face-analyzer/v1/results";

Provenance api4ai_provenance(std::string endpoint = k_endpoint) {
  return Provenance{BackendKind::api4ai, "demo", std::move(endpoint), {}, {}};
}

// The local backend's roles in the order Backend::open lists them (local::model_specs()).
Provenance local_provenance(
    std::string embedder_sha = "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581") {
  return Provenance{BackendKind::local,
                    "",
                    "",
                    {{"detector", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"},
                     {"landmarks", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"},
                     {"embedder", std::move(embedder_sha)}},
                    {}};
}

// Two faces: the first complete (landmarks in alphabetical order, see the
// regression case below for the service's order), the second minimal.
EmbeddingRecord api4ai_record() {
  EmbeddingRecord r;
  r.input = "photos/alice.jpg";
  r.sha256 = k_sha;
  r.analysis.md5 = "533c3e2300f8ddc5eb261a9f2d8d87d3";
  r.analysis.width = 640;
  r.analysis.height = 480;
  Face f;
  f.box = {0.2931367974543039, 0.1336476319097939, 0.6403101791812056, 0.5};
  f.confidence = 0.9920044541358948;
  f.landmarks = {{"left-eye", {0.5686073875427247, 0.3465519905090332}},
                 {"mouth-left-corner", {0.5597362375259399, 0.5910256290435791}},
                 {"right-eye", {0.764842004776001, 0.3802739334106445}}};
  f.embedding = {0.1, -0.2, 1.0 / 3.0, 1e-300, -0.0, 12345.678901234567, 0.030000000000000002, 7.0};
  Face g;
  g.box = {0.0, 0.0, 1.0, 1.0};
  g.embedding = {0.5};
  r.analysis.faces = {f, g};
  r.provenance = api4ai_provenance();
  r.service_version = "v1.16.2";
  r.tool_version = "X.Y.Z";
  return r;
}

EmbeddingRecord local_record() {
  EmbeddingRecord r;
  r.input = "bob.png";
  r.sha256 = std::string(64, 'b');
  Face f;
  f.box = {0.25, 0.125, 0.5, 0.5};
  f.confidence = 0.75;
  f.embedding = {0.6, 0.8};
  r.analysis.faces = {f};
  r.provenance = local_provenance();
  r.tool_version = "X.Y.Z";
  return r;
}

EmbeddingRecord error_record() {
  EmbeddingRecord r;
  r.input = "https://example.com/carol.jpg";
  r.provenance = api4ai_provenance();
  r.tool_version = "X.Y.Z";
  r.error = Error{ErrorKind::http, "https://example.com/carol.jpg: HTTP 503: Service Unavailable", 503, true, {}};
  return r;
}

void check_same_faces(const std::vector<Face>& a, const std::vector<Face>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].box == b[i].box);
    CHECK(a[i].confidence == b[i].confidence);
    REQUIRE(a[i].landmarks.size() == b[i].landmarks.size());
    for (std::size_t k = 0; k < a[i].landmarks.size(); ++k) {
      CHECK(a[i].landmarks[k].first == b[i].landmarks[k].first);
      CHECK(a[i].landmarks[k].second.x == b[i].landmarks[k].second.x);
      CHECK(a[i].landmarks[k].second.y == b[i].landmarks[k].second.y);
    }
    CHECK(a[i].embedding == b[i].embedding);  // exact doubles
  }
}

// A valid record line as JSON, to mutate into an invalid one.
json valid_line() {
  return json::parse(render_embedding_record(api4ai_record()));
}

// The error for a file whose first line is valid, second blank and third `bad`.
std::string third_line_error(const std::string& bad) {
  const std::string text = render_embedding_record(api4ai_record()) + "\n" + bad + "\n";
  auto r = parse_embedding_file(text, "people.jsonl");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::input);
  return r.error().message;
}

std::string bad_record(const json& bad) {
  return third_line_error(bad.dump());
}

}  // namespace

TEST_CASE("embedding_file: api4ai record round trip", "[embedding_file]") {
  const EmbeddingRecord original = api4ai_record();
  const std::string line = render_embedding_record(original);
  CHECK(line.back() == '\n');
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  auto parsed = parse_embedding_file(line, "x.jsonl");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  const EmbeddingRecord& r = parsed->front();
  CHECK(r.input == "photos/alice.jpg");
  CHECK(r.sha256 == k_sha);
  CHECK(r.analysis.md5 == "533c3e2300f8ddc5eb261a9f2d8d87d3");
  CHECK(r.analysis.width == 640);
  CHECK(r.analysis.height == 480);
  CHECK(r.analysis.name.empty());
  check_same_faces(r.analysis.faces, original.analysis.faces);
  REQUIRE(r.analysis.faces.size() == 2);
  CHECK_FALSE(r.analysis.faces[1].confidence.has_value());
  CHECK(r.analysis.faces[1].landmarks.empty());
  CHECK(std::signbit(r.analysis.faces[0].embedding[4]));  // -0.0 stays negative zero
  CHECK(r.provenance.backend == BackendKind::api4ai);
  CHECK(r.provenance.api == "demo");
  CHECK(r.provenance.endpoint == k_endpoint);
  CHECK(r.provenance.models.empty());
  CHECK(r.service_version == std::optional<std::string>("v1.16.2"));
  CHECK(r.tool_version == "X.Y.Z");
  CHECK_FALSE(r.error.has_value());
  // Rendering the parsed record again gives the same bytes.
  CHECK(render_embedding_record(r) == line);
}

TEST_CASE("embedding_file: local record round trip and optional members", "[embedding_file]") {
  EmbeddingRecord original = local_record();
  const std::string line = render_embedding_record(original);
  const json j = json::parse(line);
  CHECK(j["backend"] == "local");
  CHECK(j["models"]["embedder"]["sha256"] == original.provenance.models[2].second);
  CHECK_FALSE(j.contains("api"));
  CHECK_FALSE(j.contains("endpoint"));
  CHECK_FALSE(j.contains("service_version"));
  CHECK(j["md5"].is_null());
  CHECK(j["width"].is_null());
  CHECK(j["faces"][0]["landmarks"] == json::object());
  auto parsed = parse_embedding_file(line, "x.jsonl");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  const EmbeddingRecord& r = parsed->front();
  CHECK(r.input == "bob.png");
  CHECK(r.sha256 == std::string(64, 'b'));
  CHECK(r.analysis.md5.empty());
  CHECK_FALSE(r.analysis.width.has_value());
  CHECK_FALSE(r.analysis.height.has_value());
  check_same_faces(r.analysis.faces, original.analysis.faces);
  CHECK(r.provenance.backend == BackendKind::local);
  CHECK_FALSE(r.service_version.has_value());
  // Every role and digest survives (compared as a set here: see the
  // regression case on the order below).
  REQUIRE(r.provenance.models.size() == 3);
  auto models = r.provenance.models;
  std::sort(models.begin(), models.end());
  auto expected = original.provenance.models;
  std::sort(expected.begin(), expected.end());
  CHECK(models == expected);

  SECTION("no sha256, no service version, zero faces") {
    EmbeddingRecord e = api4ai_record();
    e.sha256.clear();
    e.service_version.reset();
    e.analysis.faces.clear();
    const std::string text = render_embedding_record(e);
    CHECK(json::parse(text)["sha256"].is_null());
    CHECK(json::parse(text)["service_version"].is_null());
    auto p = parse_embedding_file(text, "x");
    REQUIRE(p);
    CHECK(p->front().sha256.empty());
    CHECK_FALSE(p->front().service_version.has_value());
    CHECK(p->front().analysis.faces.empty());
  }
}

TEST_CASE("embedding_file: the local pipeline version is kept, and optional", "[embedding_file]") {
  EmbeddingRecord original = local_record();
  CHECK_FALSE(json::parse(render_embedding_record(original)).contains("pipeline"));  // not recorded: pipeline 1
  auto old = parse_embedding_file(render_embedding_record(original), "old.jsonl");
  REQUIRE(old);
  CHECK(old->front().provenance.pipeline == 0);
  original.provenance.pipeline = 2;
  const std::string line = render_embedding_record(original);
  CHECK(json::parse(line)["pipeline"] == 2);
  auto parsed = parse_embedding_file(line, "x.jsonl");
  REQUIRE(parsed);
  CHECK(parsed->front().provenance.pipeline == 2);
  CHECK(render_embedding_record(parsed->front()) == line);
  for (const std::string bad : {"0", "-1", "\"2\"", "2.5", "1e9"}) {
    json j = json::parse(line);
    j["pipeline"] = json::parse(bad);
    auto r = parse_embedding_file(j.dump(), "x.jsonl");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "x.jsonl: line 1: \"pipeline\" must be a whole number of at least 1 (local backend)");
  }
}

TEST_CASE("embedding_file: error records round trip", "[embedding_file]") {
  const std::string line = render_embedding_record(error_record());
  const json j = json::parse(line);
  CHECK(j["type"] == "error");
  CHECK(j["error"] ==
        json{{"kind", "http"}, {"message", "https://example.com/carol.jpg: HTTP 503: Service Unavailable"}});
  CHECK_FALSE(j.contains("faces"));
  CHECK(j["sha256"].is_null());
  auto parsed = parse_embedding_file(line, "x");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  const EmbeddingRecord& r = parsed->front();
  REQUIRE(r.error.has_value());
  CHECK(r.error->kind == ErrorKind::http);
  CHECK(r.error->message == "https://example.com/carol.jpg: HTTP 503: Service Unavailable");
  CHECK(r.input == "https://example.com/carol.jpg");
  CHECK(r.analysis.faces.empty());
  CHECK(r.provenance.backend == BackendKind::api4ai);

  SECTION("every error kind survives") {
    for (ErrorKind kind : {ErrorKind::usage, ErrorKind::input, ErrorKind::no_face, ErrorKind::network,
                           ErrorKind::timeout, ErrorKind::http, ErrorKind::api_response, ErrorKind::internal}) {
      EmbeddingRecord e = error_record();
      e.error->kind = kind;
      auto p = parse_embedding_file(render_embedding_record(e), "x");
      REQUIRE(p);
      CHECK(p->front().error->kind == kind);
    }
  }
}

TEST_CASE("embedding_file: several records, blank lines skipped", "[embedding_file]") {
  const std::string text = "\n" + render_embedding_record(api4ai_record()) + "   \n\t\r\n" +
                           render_embedding_record(error_record()) + "\r\n\n" + render_embedding_record(local_record());
  auto parsed = parse_embedding_file(text, "x");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[0].input == "photos/alice.jpg");
  CHECK((*parsed)[1].error.has_value());
  CHECK((*parsed)[2].input == "bob.png");
  // No trailing newline on the last line is fine too.
  std::string no_newline = render_embedding_record(api4ai_record());
  no_newline.pop_back();
  CHECK(parse_embedding_file(no_newline, "x").has_value());
}

TEST_CASE("embedding_file: invalid UTF-8 is replaced when rendering", "[embedding_file]") {
  EmbeddingRecord r = api4ai_record();
  r.input = "bad\xFFname.jpg";
  const std::string line = render_embedding_record(r);
  auto parsed = parse_embedding_file(line, "x");
  REQUIRE(parsed);
  CHECK(parsed->front().input == "bad\xEF\xBF\xBDname.jpg");  // U+FFFD
}

TEST_CASE("embedding_file: strict parse errors name the file and line", "[embedding_file]") {
  const std::string p = "people.jsonl: line 3: ";
  SECTION("not JSON") {
    CHECK(third_line_error("{\"type\": embedding") ==
          p + "not valid JSON (expected a record written by faceverify embed)");
    CHECK(third_line_error("hello") == p + "not valid JSON (expected a record written by faceverify embed)");
  }
  SECTION("not an object") {
    CHECK(third_line_error("[1, 2]") == p + "not a JSON object");
    CHECK(third_line_error("42") == p + "not a JSON object");
  }
  SECTION("type") {
    json j = valid_line();
    j["type"] = "face";
    CHECK(bad_record(j) == p + "unknown record type \"face\" (expected \"embedding\" or \"error\")");
    j.erase("type");
    CHECK(bad_record(j) == p + "\"type\" must be a string");
  }
  SECTION("schema_version") {
    json j = valid_line();
    j["schema_version"] = 2;
    CHECK(bad_record(j) == p + "schema_version 2 is not supported (this faceverify reads 1; upgrade it)");
    j["schema_version"] = "1";
    CHECK(bad_record(j) == p + "\"schema_version\" must be a whole number");
    j["schema_version"] = 1.0;
    CHECK(bad_record(j) == p + "\"schema_version\" must be a whole number");
  }
  SECTION("input") {
    json j = valid_line();
    j.erase("input");
    CHECK(bad_record(j) == p + "\"input\" must be a string");
    j = valid_line();
    j["sha256"] = 5;
    CHECK(bad_record(j) == p + "\"sha256\" must be a string or null");
  }
  SECTION("faces") {
    json j = valid_line();
    j.erase("faces");
    CHECK(bad_record(j) == p + "\"faces\" must be an array");
    j["faces"] = json::object();
    CHECK(bad_record(j) == p + "\"faces\" must be an array");
    j["faces"] = json::array({1});
    CHECK(bad_record(j) == p + "face 1: not an object");
  }
  SECTION("box") {
    json j = valid_line();
    j["faces"][1]["box"] = {0.1, 0.2, 0.3};
    CHECK(bad_record(j) == p + "face 2: \"box\" must be [x, y, width, height]");
    j["faces"][1]["box"] = {0.1, 0.2, 0.3, 0.4, 0.5};
    CHECK(bad_record(j) == p + "face 2: \"box\" must be [x, y, width, height]");
    j["faces"][1]["box"] = {0.1, "0.2", 0.3, 0.4};
    CHECK(bad_record(j) == p + "face 2: box is not a number");
    j["faces"][1]["box"] = {0.1, nullptr, 0.3, 0.4};
    CHECK(bad_record(j) == p + "face 2: box is not a number");
  }
  SECTION("embedding values") {
    json j = valid_line();
    j["faces"][0]["embedding"][5] = "0.5";
    CHECK(bad_record(j) == p + "face 1: embedding has a non-number at 5");
    j["faces"][0]["embedding"][5] = true;
    CHECK(bad_record(j) == p + "face 1: embedding has a non-number at 5");
    j["faces"][0]["embedding"][5] = nullptr;  // how a NaN would be written
    CHECK(bad_record(j) == p + "face 1: embedding has a non-number at 5");
    // JSON has no infinity; a literal that overflows a double is refused.
    std::string text = valid_line().dump();
    const auto at = text.find(",7.0]");
    REQUIRE(at != std::string::npos);
    text.replace(at + 1, 3, "1e999");
    CHECK(third_line_error(text) == p + "not valid JSON (expected a record written by faceverify embed)");
    text.replace(text.find("1e999"), 5, "NaN");
    CHECK(third_line_error(text) == p + "not valid JSON (expected a record written by faceverify embed)");
  }
  SECTION("embedding size") {
    json j = valid_line();
    j["faces"][0]["embedding"] = json::array();
    CHECK(bad_record(j) == p + "face 1: \"embedding\" must be an array of 1 to 65536 numbers");
    j["faces"][0]["embedding"] = std::vector<double>(65537, 0.5);
    CHECK(bad_record(j) == p + "face 1: \"embedding\" must be an array of 1 to 65536 numbers");
    j["faces"][0].erase("embedding");
    CHECK(bad_record(j) == p + "face 1: \"embedding\" must be an array of 1 to 65536 numbers");
    j["faces"][0]["embedding"] = std::vector<double>(65536, 0.5);  // the maximum is fine
    auto ok = parse_embedding_file(j.dump(), "x");
    REQUIRE(ok);
    CHECK(ok->front().analysis.faces[0].embedding.size() == 65536);
  }
  SECTION("landmarks, confidence, dimensions") {
    json j = valid_line();
    j["faces"][0]["landmarks"]["left-eye"] = json::array({0.5});
    CHECK(bad_record(j) == p + "face 1: landmark \"left-eye\" must be [x, y]");
    j["faces"][0]["landmarks"] = json::array();
    CHECK(bad_record(j) == p + "face 1: \"landmarks\" must be an object of [x, y] points");
    j = valid_line();
    j["faces"][0]["confidence"] = "high";
    CHECK(bad_record(j) == p + "face 1: confidence is not a number");
    j = valid_line();
    j["width"] = -1;
    CHECK(bad_record(j) == p + "\"width\" must be a whole number of pixels or null");
    j["width"] = 12.5;
    CHECK(bad_record(j) == p + "\"width\" must be a whole number of pixels or null");
  }
  SECTION("backend") {
    json j = valid_line();
    j["backend"] = "cloud";
    CHECK(bad_record(j) == p + "unknown backend \"cloud\" (expected \"api4ai\" or \"local\")");
    j.erase("backend");
    CHECK(bad_record(j) == p + "\"backend\" must be a string");
    j = json::parse(render_embedding_record(local_record()));
    j.erase("models");
    CHECK(bad_record(j) == p + "\"models\" must be an object (local backend)");
    j["models"] = {{"embedder", "abc"}};
    CHECK(bad_record(j) == p + "model \"embedder\" must be an object");
  }
  SECTION("error records") {
    json j = json::parse(render_embedding_record(error_record()));
    j["error"]["kind"] = "oops";
    CHECK(bad_record(j) == p + "unknown error kind \"oops\"");
    j["error"] = "HTTP 503";
    CHECK(bad_record(j) == p + "\"error\" must be an object with kind and message");
    j["error"] = {{"kind", "http"}};
    CHECK(bad_record(j) == p + "\"message\" must be a string");
  }
  SECTION("deeply nested line") {
    const std::string deep = std::string(10000, '[') + std::string(10000, ']');
    CHECK(third_line_error(deep) == p + "nested too deeply to be a record");
    json j = valid_line();
    j["extra"] = json::parse("[[[[[[[[1]]]]]]]]");  // depth 9 with the record itself
    CHECK(bad_record(j) == p + "nested too deeply to be a record");
    j["extra"] = json::parse("[[[[[[[1]]]]]]]");  // depth 8: unknown members are ignored
    CHECK(parse_embedding_file(j.dump(), "x").has_value());
  }
  SECTION("the first bad line is reported") {
    auto r = parse_embedding_file("[]\nnot json\n", "f");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "f: line 1: not a JSON object");
  }
}

TEST_CASE("embedding_file: an empty file is an error", "[embedding_file]") {
  for (const std::string& text : std::vector<std::string>{"", "\n", "  \n\t\n\r\n"}) {
    auto r = parse_embedding_file(text, "empty.jsonl");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::input);
    CHECK(r.error().message == "empty.jsonl: no records (expected lines written by faceverify embed)");
  }
}

TEST_CASE("embedding_file: comparable and describe", "[embedding_file]") {
  CHECK(comparable(api4ai_provenance(), api4ai_provenance("https://other.example/face-analyzer/v1/results")));
  CHECK(comparable(Provenance{BackendKind::api4ai, "demo", "https://a", {}, {}},
                   Provenance{BackendKind::api4ai, "rapidapi", "https://b", {}, {}}));
  CHECK_FALSE(comparable(api4ai_provenance(), local_provenance()));
  CHECK_FALSE(comparable(local_provenance(), api4ai_provenance()));
  CHECK(comparable(local_provenance(), local_provenance()));
  CHECK_FALSE(comparable(local_provenance(), local_provenance(std::string(64, 'f'))));

  CHECK(describe(api4ai_provenance()) == "api4ai (demo)");
  CHECK(describe(Provenance{BackendKind::api4ai, "", "", {}, {}}) == "api4ai");
  CHECK(describe(local_provenance()) == "the local backend (embedder 87aacdfe5751…)");
  Provenance served = local_provenance();
  served.server = "http://127.0.0.1:8080/face-analyzer/v1/results";
  CHECK(describe(served) ==
        "the faceverify server http://127.0.0.1:8080/face-analyzer/v1/results (embedder 87aacdfe5751…)");
  CHECK(comparable(served, local_provenance()));  // the models decide, not who ran them
  Provenance other = served;
  other.models = {{"model-set", std::string(64, 'e')}};
  CHECK(describe(other) ==
        "the faceverify server http://127.0.0.1:8080/face-analyzer/v1/results (model-set eeeeeeeeeeee…)");
  CHECK_FALSE(comparable(other, local_provenance()));
  CHECK(comparable(other, other));
  CHECK(describe(Provenance{BackendKind::local, "", "", {}, {}}) == "the local backend");
}

// Regression, fixed (was in src/embedding_file.cpp, parse_embedding_file/parse_record): records are
// parsed with nlohmann::json, whose objects are std::map, so the "models"
// object comes back sorted by role (detector, embedder, landmarks) instead of
// the order it was written in (detector, landmarks, embedder, as
// Backend::open and local::model_specs() list them). comparable() compares
// the vectors in order, so a file written by `embed --backend local` is not
// comparable with the very provenance that wrote it.
TEST_CASE("embedding_file: local models order survives a round trip", "[embedding_file][regression]") {
  const Provenance written = local_provenance();
  auto parsed = parse_embedding_file(render_embedding_record(local_record()), "x");
  REQUIRE(parsed);
  const Provenance& read = parsed->front().provenance;
  CHECK(read.models == written.models);
  CHECK(comparable(read, written));
}

// Regression, fixed (was in same cause): landmarks are documented as "in the service's order"
// (face.hpp) and render_embedding_record writes them in that order, but
// parsing returns them sorted by name. The local backend reports left-eye,
// right-eye, nose-tip, mouth-left-corner, mouth-right-corner
// (src/local/analyzer.cpp k_names); read back from the cache or an embedding
// file they come as left-eye, mouth-left-corner, mouth-right-corner,
// nose-tip, right-eye, so a cached analysis differs from a fresh one. (The
// API4AI parser already sorts them, so API4AI analyses are not affected.)
TEST_CASE("embedding_file: landmarks keep the service's order", "[embedding_file][regression]") {
  EmbeddingRecord r = api4ai_record();
  r.analysis.faces[0].landmarks = {{"left-eye", {0.1, 0.2}},
                                   {"right-eye", {0.3, 0.2}},
                                   {"nose-tip", {0.2, 0.3}},
                                   {"mouth-left-corner", {0.15, 0.4}},
                                   {"mouth-right-corner", {0.25, 0.4}}};
  auto parsed = parse_embedding_file(render_embedding_record(r), "x");
  REQUIRE(parsed);
  const auto& marks = parsed->front().analysis.faces[0].landmarks;
  REQUIRE(marks.size() == 5);
  CHECK(marks[1].first == "right-eye");
  CHECK(marks[2].first == "nose-tip");
}

TEST_CASE("embedding_file: a faceverify server's record keeps its server", "[embedding_file][serve]") {
  EmbeddingRecord r = local_record();
  r.provenance.server = "http://127.0.0.1:8080/face-analyzer/v1/results";
  const std::string text = render_embedding_record(r);
  CHECK(text.find(R"("server":"http://127.0.0.1:8080/face-analyzer/v1/results")") != std::string::npos);
  CHECK(render_embedding_record(local_record()).find("\"server\"") == std::string::npos);
  auto parsed = parse_embedding_file(text, "x");
  REQUIRE(parsed);
  CHECK(parsed->front().provenance.server == r.provenance.server);
  CHECK(parsed->front().provenance.models == r.provenance.models);
  auto bad = parse_embedding_file(text.substr(0, text.find("\"server\"")) + "\"server\":7}\n", "x");
  CHECK_FALSE(bad);
}

TEST_CASE("embedding_file: golden", "[embedding_file]") {
  const std::string text = render_embedding_record(api4ai_record()) + render_embedding_record(local_record()) +
                           render_embedding_record(error_record());
  CHECK(text.rfind("{\"type\":\"embedding\",\"schema_version\":1,\"input\":\"photos/alice.jpg\",", 0) == 0);
  check_golden("embedding.jsonl", text);
  // The golden file parses back to the same records.
  auto parsed = parse_embedding_file(
      test::read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/golden/embedding.jsonl"), "embedding.jsonl");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 3);
  check_same_faces((*parsed)[0].analysis.faces, api4ai_record().analysis.faces);
  check_same_faces((*parsed)[1].analysis.faces, local_record().analysis.faces);
  CHECK((*parsed)[2].error->kind == ErrorKind::http);
}

// Regression, fixed (was in src/embedding_file.cpp parse_record/parse_face): Error::message is
// "one line" (error.hpp) and docs/embedding-file.md promises "one line on
// stderr", but the record's own strings are quoted into messages unescaped:
// an unknown "type", "backend" or error "kind", a landmark name or a model
// role holding "\n" (or ESC sequences) splits the diagnostic or writes
// control characters to the terminal. pairs_file.cpp's snippet() shows the
// intended treatment (control bytes as '?', bounded length).
TEST_CASE("embedding_file: error messages stay one line", "[embedding_file][regression]") {
  json j = valid_line();
  j["type"] = "evil\nfaceverify: all good\x1b[2J";
  const std::string type_message = bad_record(j);
  CHECK(type_message.find('\n') == std::string::npos);  // actual: contains '\n'
  CHECK(type_message.find('\x1b') == std::string::npos);
  j = valid_line();
  j["backend"] = "a\nb";
  CHECK(bad_record(j).find('\n') == std::string::npos);
  j = valid_line();
  j["faces"][0]["landmarks"]["x\ny"] = 1;
  CHECK(bad_record(j).find('\n') == std::string::npos);
}

TEST_CASE("embedding_file: the packed encoding round-trips exactly and is strict", "[embedding_file]") {
  EmbeddingRecord r = api4ai_record();
  r.analysis.faces[0].embedding = {0.1, -0.0, 1e-308, -123.456789012345678, 0.30000000000000004};
  const std::string line = render_embedding_record(r, EmbeddingEncoding::packed);
  CHECK(line.find("\"embedding_f64\":\"") != std::string::npos);
  CHECK(line.find("\"embedding\":") == std::string::npos);
  auto parsed = parse_embedding_file(line, "cache");
  REQUIRE(parsed);
  const auto& e = parsed->front().analysis.faces[0].embedding;
  REQUIRE(e.size() == 5);
  for (std::size_t i = 0; i < e.size(); ++i) {
    CHECK(std::bit_cast<std::uint64_t>(e[i]) == std::bit_cast<std::uint64_t>(r.analysis.faces[0].embedding[i]));
  }
  check_same_faces(std::vector<Face>(parsed->front().analysis.faces.begin() + 1, parsed->front().analysis.faces.end()),
                   std::vector<Face>(r.analysis.faces.begin() + 1, r.analysis.faces.end()));
  // Not base64, not a whole number of doubles, empty, or a non-finite value: refused.
  json j = json::parse(line);
  for (const std::string bad : {"not base64!", "AAAA", "", "AAAAAAAAAA=="}) {
    j["faces"][0]["embedding_f64"] = bad;
    auto p = parse_embedding_file(j.dump(), "cache");
    REQUIRE_FALSE(p);
    CHECK(p.error().message.find("embedding_f64") != std::string::npos);
  }
  j["faces"][0]["embedding_f64"] = "AAAAAAAA8H8=";  // +infinity
  auto inf = parse_embedding_file(j.dump(), "cache");
  REQUIRE_FALSE(inf);
  CHECK(inf.error().message.find("non-finite") != std::string::npos);
}

TEST_CASE("embedding_file: faces pass the same validation as a service reply's", "[embedding_file][replies]") {
  const std::string p = "people.jsonl: line 3: ";
  SECTION("a box the API path refuses") {
    json j = valid_line();
    j["faces"][1]["box"] = {0.9, 0.9, -3, -3};
    CHECK(bad_record(j) == p + "face 2: box has a width or height that is not positive");
    j["faces"][1]["box"] = {1.5, 0.2, 0.3, 0.3};
    CHECK(bad_record(j) == p + "face 2: box lies outside the image");
  }
  SECTION("a box partly outside is clipped, as the service's are") {
    json j = valid_line();
    j["faces"][1]["box"] = {-0.5, 0.5, 1.0, 1.0};
    auto r = parse_embedding_file(j.dump(), "people.jsonl");
    REQUIRE(r);
    CHECK(r->front().analysis.faces[1].box == std::array<double, 4>{0.0, 0.5, 0.5, 0.5});
  }
  SECTION("degenerate embeddings") {
    json j = valid_line();
    j["faces"][1]["embedding"] = {0.0, 0.0, 0.0};
    CHECK(bad_record(j) == p + "face 2: embedding is all zeros (or nearly): it cannot be compared");
    j["faces"][1]["embedding"] = {1e200, -1e200};
    CHECK(bad_record(j) == p + "face 2: embedding value 0 is out of range (real embeddings have values near 0)");
    EmbeddingRecord packed = api4ai_record();
    packed.analysis.faces[1].embedding = {0.0, 0.0};
    CHECK(third_line_error(render_embedding_record(packed, EmbeddingEncoding::packed)) ==
          p + "face 2: embedding is all zeros (or nearly): it cannot be compared");
  }
  SECTION("confidence and landmarks") {
    json j = valid_line();
    j["faces"][0]["confidence"] = 2.0;
    CHECK(bad_record(j) == p + "face 1: confidence is not a number in [0, 1]");
    j = valid_line();
    j["faces"][0]["landmarks"]["left-eye"] = {1e9, 0.5};
    CHECK(bad_record(j) == p + "face 1: landmark \"left-eye\" is not a point near the image");
  }
  SECTION("as many faces as the limit round-trip; one more is refused with the same words as a reply") {
    EmbeddingRecord r = local_record();
    r.analysis.faces.assign(limits::k_max_faces, r.analysis.faces.front());
    auto back = parse_embedding_file(render_embedding_record(r), "many.jsonl");
    REQUIRE(back);
    CHECK(back->front().analysis.faces.size() == limits::k_max_faces);
    r.analysis.faces.push_back(r.analysis.faces.front());
    auto refused = parse_embedding_file(render_embedding_record(r), "many.jsonl");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message ==
          "many.jsonl: line 1: the record has 1001 faces (more than the 1000 faceverify handles per image; crop the "
          "image)");
  }
}

namespace {

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Every field of two records equal, doubles bit for bit (-0.0 is not 0.0).
void check_same_record(const EmbeddingRecord& a, const EmbeddingRecord& b) {
  CHECK(a.input == b.input);
  CHECK(a.sha256 == b.sha256);
  CHECK(a.analysis.md5 == b.analysis.md5);
  CHECK(a.analysis.width == b.analysis.width);
  CHECK(a.analysis.height == b.analysis.height);
  CHECK(a.provenance.backend == b.provenance.backend);
  CHECK(a.provenance.api == b.provenance.api);
  CHECK(a.provenance.endpoint == b.provenance.endpoint);
  CHECK(a.provenance.models == b.provenance.models);
  CHECK(a.provenance.server == b.provenance.server);
  CHECK(a.provenance.pipeline == b.provenance.pipeline);
  CHECK(a.service_version == b.service_version);
  CHECK(a.tool_version == b.tool_version);
  REQUIRE(a.analysis.faces.size() == b.analysis.faces.size());
  for (std::size_t i = 0; i < a.analysis.faces.size(); ++i) {
    const Face& f = a.analysis.faces[i];
    const Face& g = b.analysis.faces[i];
    for (std::size_t k = 0; k < 4; ++k) CHECK(same_bits(f.box[k], g.box[k]));
    REQUIRE(f.confidence.has_value() == g.confidence.has_value());
    if (f.confidence) CHECK(same_bits(*f.confidence, *g.confidence));
    REQUIRE(f.landmarks.size() == g.landmarks.size());
    for (std::size_t k = 0; k < f.landmarks.size(); ++k) {
      CHECK(f.landmarks[k].first == g.landmarks[k].first);
      CHECK(same_bits(f.landmarks[k].second.x, g.landmarks[k].second.x));
      CHECK(same_bits(f.landmarks[k].second.y, g.landmarks[k].second.y));
    }
    REQUIRE(f.embedding.size() == g.embedding.size());
    std::size_t differing = 0;
    for (std::size_t k = 0; k < f.embedding.size(); ++k) differing += !same_bits(f.embedding[k], g.embedding[k]);
    CHECK(differing == 0);
  }
}

// Names with what a renderer must escape and what UTF-8 allows.
std::string random_name(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {
      "a",    "Z", "0", " ",    "\"", "\\",           "/",    "\t", "\n", "\x01", "\x1f",
      "\x7f", "é", "ß", "日本", "😀",  "\xE2\x80\xA8", "face", "-",  "."};
  std::string out;
  const auto n = std::uniform_int_distribution<int>(1, 12)(rng);
  for (int i = 0; i < n; ++i) out += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
  return out;
}

// A value an embedding may hold: ordinary, tiny, subnormal, signed zero or large.
double random_component(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
    case 0: return -0.0;
    case 1: return 0.0;
    case 2: return 1e-300 * unit(rng);
    case 3: return std::bit_cast<double>(rng() & 0x000FFFFFFFFFFFFFull);  // subnormal, positive
    case 4: return -std::bit_cast<double>(rng() & 0x000FFFFFFFFFFFFFull);
    case 5: return std::nextafter(1e6, 0.0) * unit(rng);
    case 6: return std::ldexp(unit(rng), std::uniform_int_distribution<int>(-1000, 0)(rng));
    default: return unit(rng) * 0.1;
  }
}

EmbeddingRecord random_record(std::mt19937_64& rng, int n) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  EmbeddingRecord r;
  r.input = random_name(rng) + std::to_string(n) + ".jpg";
  r.sha256 = n % 5 == 0 ? "" : std::string(64, "0123456789abcdef"[n % 16]);
  r.tool_version = random_name(rng);
  if (n % 3 == 0) {
    r.provenance = local_provenance(std::string(64, 'e'));
    r.provenance.pipeline = 1 + n % 3;
    if (n % 2 == 0) r.provenance.server = "http://" + random_name(rng);
  } else {
    r.provenance = api4ai_provenance(random_name(rng));
    if (n % 2 == 0) r.service_version = random_name(rng);
  }
  if (n % 17 == 0) {
    r.error = Error{ErrorKind::network, random_name(rng), {}, false, {}};
    return r;
  }
  r.analysis.md5 = n % 4 == 0 ? "" : std::string(32, 'c');
  if (n % 7 != 0) r.analysis.width = std::uniform_int_distribution<int>(0, 1'000'000)(rng);
  if (n % 7 != 0) r.analysis.height = std::uniform_int_distribution<int>(1, 4000)(rng);
  const int faces = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < faces; ++i) {
    Face f;
    f.box = {unit(rng) * 0.5, unit(rng) * 0.5, 0.1 + unit(rng) * 0.4, 0.1 + unit(rng) * 0.4};
    if (i % 2 == 0) f.confidence = unit(rng);
    const int marks = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int k = 0; k < marks; ++k) {
      f.landmarks.emplace_back(random_name(rng) + std::to_string(k), Point{unit(rng), unit(rng)});
    }
    const int size = std::uniform_int_distribution<int>(1, 600)(rng);
    for (int k = 0; k < size; ++k) f.embedding.push_back(random_component(rng));
    f.embedding[0] = 0.5;              // a norm an embedding may have
    REQUIRE_FALSE(normalize_face(f));  // as a reader leaves it (the box clipped: its bits may change)
    r.analysis.faces.push_back(std::move(f));
  }
  return r;
}

}  // namespace

TEST_CASE("embedding_file: generated records parse back exactly, both encodings", "[embedding_file]") {
  std::mt19937_64 rng(20261202);
  std::vector<EmbeddingRecord> originals;
  for (int n = 0; n < 300; ++n) originals.push_back(random_record(rng, n));
  for (const auto encoding : {EmbeddingEncoding::numbers, EmbeddingEncoding::packed}) {
    std::string text;
    for (const auto& r : originals) text += render_embedding_record(r, encoding);
    // Also without the last '\n' (the last line then has no padding after it in the text).
    for (const auto& file : {text, text.substr(0, text.size() - 1)}) {
      auto parsed = parse_embedding_file(file, "generated.jsonl");
      REQUIRE(parsed);
      REQUIRE(parsed->size() == originals.size());
      for (std::size_t i = 0; i < originals.size(); ++i) {
        INFO("record " << i);
        check_same_record((*parsed)[i], originals[i]);
        CHECK((*parsed)[i].error.has_value() == originals[i].error.has_value());
        if (originals[i].error) CHECK((*parsed)[i].error->message == originals[i].error->message);
      }
    }
  }
}

TEST_CASE("embedding_file: long decimal numbers read as strtod reads them", "[embedding_file]") {
  // Exact decimal expansions and 30-digit mantissas: each must round to the double strtod gives.
  const std::vector<std::string> numbers = {
      "0.1000000000000000055511151231257827021181583404541015625",
      "0.333333333333333314829616256247390992939472198486328125",
      "2.2250738585072011e-308",
      "4.9406564584124654e-324",
      "2.4703282292062328e-324",  // just above half the smallest subnormal: rounds up
      "-0.0",
      "1e-400",
      "-1e-400",
      "123456.789012345678901234567890123",
      "0.000000000000000000000000000000000000001234567890123456789",
      "999999.99999999999999999999999",
      "7E-5",
      "-3e+2"};
  std::string line = valid_line().dump();
  const auto at = line.find("\"embedding\":[") + 13;
  std::string values;
  for (const auto& n : numbers) values += (values.empty() ? "" : ",") + n;
  line.replace(at, line.find(']', at) - at, "0.5," + values);
  auto parsed = parse_embedding_file(line, "x");
  REQUIRE(parsed);
  const auto& e = parsed->front().analysis.faces[0].embedding;
  REQUIRE(e.size() == numbers.size() + 1);
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    INFO(numbers[i]);
    CHECK(same_bits(e[i + 1], std::strtod(numbers[i].c_str(), nullptr)));
  }
}

TEST_CASE("embedding_file: of duplicate keys the last counts, in the place of the first", "[embedding_file]") {
  // What nlohmann's ordered_json did: kept, not refused (a file edited by hand stays readable).
  std::string line = render_embedding_record(api4ai_record());
  line.insert(1, "\"input\":\"first.jpg\",");
  const auto marks = line.find("\"landmarks\":{") + 13;
  line.insert(marks, "\"right-eye\":[0.1,0.2],\"nose\":[0.3,0.4],\"nose\":[0.5,0.6],");
  auto parsed = parse_embedding_file(line, "x");
  REQUIRE(parsed);
  const EmbeddingRecord& r = parsed->front();
  CHECK(r.input == "photos/alice.jpg");
  const auto& lm = r.analysis.faces[0].landmarks;
  REQUIRE(lm.size() == 4);
  CHECK(lm[0].first == "right-eye");  // first seen first, with its last value
  CHECK(lm[0].second.x == 0.764842004776001);
  CHECK(lm[1].first == "nose");
  CHECK(lm[1].second.x == 0.5);
  CHECK(lm[2].first == "left-eye");
  CHECK(lm[3].first == "mouth-left-corner");
  // Models too; and a duplicate's last value is the one checked.
  std::string local = render_embedding_record(local_record());
  const auto models = local.find("\"models\":{") + 10;
  local.insert(models, "\"embedder\":{\"sha256\":\"old\"},");
  parsed = parse_embedding_file(local, "x");
  REQUIRE(parsed);
  REQUIRE(parsed->front().provenance.models.size() == 3);
  CHECK(parsed->front().provenance.models[0] ==
        std::pair<std::string, std::string>{"embedder", local_provenance().models[2].second});
  std::string bad = render_embedding_record(api4ai_record());
  bad.insert(bad.size() - 2, ",\"schema_version\":2");
  auto refused = parse_embedding_file(bad, "x");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "x: line 1: schema_version 2 is not supported (this faceverify reads 1; upgrade it)");
  // Many landmarks (past the linear search) deduplicate the same way.
  json j = valid_line();
  std::string many = j.dump();
  std::string extra;
  for (int k = 0; k < 100; ++k) extra += "\"p" + std::to_string(k % 40) + "\":[0." + std::to_string(k % 10) + ",0.5],";
  many.insert(many.find("\"landmarks\":{") + 13, extra);
  parsed = parse_embedding_file(many, "x");
  REQUIRE(parsed);
  const auto& pts = parsed->front().analysis.faces[0].landmarks;
  REQUIRE(pts.size() == 43);
  CHECK(pts[0].first == "p0");
  CHECK(pts[0].second.x == 0.0);  // k = 80
  CHECK(pts[39].first == "p39");
  CHECK(pts[39].second.x == 0.9);  // k = 79
}

TEST_CASE("embedding_file: JSON that nlohmann read and simdjson does not is still read alike", "[embedding_file]") {
  const std::string line = render_embedding_record(api4ai_record());
  // A byte-order mark before a record.
  auto parsed = parse_embedding_file("\xEF\xBB\xBF" + line + "\xEF\xBB\xBF" + line, "x");
  REQUIRE(parsed);
  CHECK(parsed->size() == 2);
  // A whole number past 64 bits: a double, so not a whole number of pixels; ignored where unknown.
  json j = valid_line();
  std::string big = j.dump();
  big.insert(1, "\"extra\":100000000000000000000000,\"more\":-9223372036854775809,");
  CHECK(parse_embedding_file(big, "x").has_value());
  big.replace(big.find("\"width\":640"), 11, "\"width\":18446744073709551616");
  CHECK(parse_embedding_file(big, "x").error().message ==
        "x: line 1: \"width\" must be a whole number of pixels or null");
  // Past int64 but within uint64: a whole number, refused for its size.
  j["width"] = 18446744073709551615ull;
  CHECK(bad_record(j) == "people.jsonl: line 3: \"width\" must be a whole number of pixels or null");
  j = valid_line();
  j["schema_version"] = 18446744073709551615ull;
  CHECK(bad_record(j) ==
        "people.jsonl: line 3: schema_version 18446744073709551615 is not supported (this faceverify reads 1; "
        "upgrade it)");
  j["schema_version"] = -1;
  CHECK(bad_record(j) ==
        "people.jsonl: line 3: schema_version -1 is not supported (this faceverify reads 1; upgrade it)");
}

TEST_CASE("embedding_file: strings must be valid JSON and UTF-8", "[embedding_file]") {
  const std::string p = "people.jsonl: line 3: not valid JSON (expected a record written by faceverify embed)";
  const std::string line = valid_line().dump();
  const auto input = line.find("photos/alice.jpg");
  for (const std::string bad : {"\xC3\x28", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\xAF", "\\ud800", "\\udc00",
                                "\\ud800\\u0041", "\x01", "\\x41"}) {
    INFO(bad);
    std::string text = line;
    text.insert(input, bad);
    CHECK(third_line_error(text) == p);
  }
  std::string nul = line;
  nul.insert(input, "\\u0000\\ud83d\\ude00");
  auto parsed = parse_embedding_file(nul, "x");
  REQUIRE(parsed);
  CHECK(parsed->front().input == std::string("\0\xF0\x9F\x98\x80photos/alice.jpg", 21));
}

TEST_CASE("embedding_file: a large file parsed on several threads reads like one", "[embedding_file]") {
  // Over 16 MB: split at line ends across threads (k_bytes_per_thread); the
  // records keep file order and the first error in file order names its line.
  EmbeddingRecord r = api4ai_record();
  r.analysis.faces.resize(1);
  r.analysis.faces[0].embedding.assign(512, 0.0);
  std::string text;
  std::size_t n = 0;
  while (text.size() < 20u << 20) {
    r.input = "photos/" + std::to_string(n++) + ".jpg";
    for (std::size_t k = 0; k < 512; ++k) r.analysis.faces[0].embedding[k] = 1.0 / static_cast<double>(n + k + 1);
    text += render_embedding_record(r);
    if (n % 97 == 0) text += "\n";  // blank lines count as lines
  }
  auto all = parse_embedding_file(text, "big.jsonl");
  REQUIRE(all);
  REQUIRE(all->size() == n);
  for (std::size_t i = 0; i < n; i += 101) CHECK((*all)[i].input == "photos/" + std::to_string(i) + ".jpg");
  CHECK(all->back().input == "photos/" + std::to_string(n - 1) + ".jpg");
  // Damage two lines, one in each half: the earlier is reported, with its line number.
  std::size_t line = 0, at = 0;
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < text.size(); i = text.find('\n', i) + 1) {
    starts.push_back(i);
    if (text.find('\n', i) == std::string::npos) break;
  }
  std::string bad = text;
  for (const double where : {0.8, 0.6}) {
    line = static_cast<std::size_t>(static_cast<double>(starts.size()) * where);
    while (bad[starts[line]] != '{') ++line;
    at = starts[line];
    bad[at] = '[';
  }
  auto e = parse_embedding_file(bad, "big.jsonl");
  REQUIRE_FALSE(e);
  CHECK(e.error().message.rfind("big.jsonl: line " + std::to_string(line + 1) + ": ", 0) == 0);
}

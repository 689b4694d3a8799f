// SPDX-License-Identifier: MIT
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "faceverify/batch_report.hpp"
#include "faceverify/version.hpp"
#include "golden.hpp"
#include "process.hpp"

using namespace faceverify;
using nlohmann::json;

using faceverify::test::check_golden;

namespace {

// The golden files pin the exact bytes; the version is normalised so a
// release does not rewrite them.
std::string normalise_version(std::string text) {
  const std::string field = std::string("\"tool_version\":\"") + k_version + "\"";
  const auto at = text.find(field);
  REQUIRE(at != std::string::npos);
  text.replace(at, field.size(), "\"tool_version\":\"X.Y.Z\"");
  return text;
}

ScoreContext context() {
  ScoreContext c;
  c.score = {0.8, 1.23};
  c.threshold_source = "default";
  c.policy = FacePolicy::largest;
  c.provenance = Provenance{BackendKind::api4ai, "demo", "https://demo.api4ai.cloud/face-analyzer/v1/results", {}, {}};
  return c;
}

Comparison cmp(double similarity, double distance, double cosine) {
  return Comparison{0, 0, distance, similarity, cosine};
}

InputSummary ok_input(std::string input, char sha, std::size_t faces = 1) {
  return InputSummary{std::move(input), std::string(64, sha), faces, std::nullopt};
}

// alice twice (two directories: numbered labels), a long name that failed.
MatrixReport matrix() {
  MatrixReport r;
  r.inputs = {ok_input("photos/alice.jpg", 'a'), ok_input("more/alice.png", 'b', 2),
              InputSummary{"scans/a_very_long_file_name.jpeg", "", std::nullopt,
                           Error{ErrorKind::http, "scans/a_very_long_file_name.jpeg: HTTP 503: busy", 503, true, {}}}};
  const Comparison self = cmp(1.0, 0.0, 1.0);
  const Comparison pair = cmp(0.87654, 0.5, 0.875);
  r.cells = {{self, pair, std::nullopt}, {pair, self, std::nullopt}, {std::nullopt, std::nullopt, std::nullopt}};
  r.context = context();
  return r;
}

SearchResult result(std::string input, std::optional<Comparison> c, char sha = 'c') {
  return SearchResult{ok_input(std::move(input), sha), c};
}

SearchResult no_face(std::string input) {
  SearchResult r{
      InputSummary{input, std::string(64, 'e'), 0, Error{ErrorKind::no_face, input + ": no face found", {}, false, {}}},
      std::nullopt};
  return r;
}

SearchResult failed(std::string input, ErrorKind kind, std::string message) {
  return SearchResult{InputSummary{std::move(input), "", std::nullopt, Error{kind, std::move(message), {}, false, {}}},
                      std::nullopt};
}

std::vector<std::string> inputs_of(const std::vector<SearchResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results) out.push_back(r.candidate.input);
  return out;
}

// Seven candidates in no particular order; ranked, --top 6 hides the last error.
SearchReport search() {
  SearchReport s;
  s.reference = ok_input("ref.jpg", 'f');
  s.results = {failed("gone.jpg", ErrorKind::network, "gone.jpg: connection reset"),
               result("c3, the \"odd\" one.jpg", cmp(0.4, 1.0, 0.5)),
               no_face("noface.jpg"),
               result("c4.jpg", cmp(0.85, 0.6, 0.82)),
               failed("broken.jpg", ErrorKind::http, "broken.jpg: HTTP 503: Service Unavailable"),
               result("c1.jpg", cmp(0.95, 0.3, 0.955)),
               result("c2.jpg", cmp(0.85, 0.6, 0.82))};
  rank_results(s.results);
  s.shown = 6;
  s.context = context();
  return s;
}

}  // namespace

TEST_CASE("batch_report: short_labels", "[batch_report]") {
  using V = std::vector<std::string>;
  CHECK(short_labels({"photos/alice.jpg", "bob.png", "carol"}) == V{"alice", "bob", "carol"});
  CHECK(short_labels({"photos/alice.jpg", "more/alice.png", "bob.png"}) == V{"alice#1", "alice#2", "bob"});
  // Cut to the width with a '~' (the '~' counts).
  CHECK(short_labels({"scans/a_very_long_file_name.jpeg"}) == V{"a_very_long~"});
  CHECK(short_labels({"abcdefghijklmnop.jpg"}, 8) == V{"abcdefg~"});
  CHECK(short_labels({"abcdefgh.jpg"}, 8) == V{"abcdefgh"});  // exactly the width: kept
  CHECK(short_labels({"abcdefgh"}, 2) == V{"abc~"});          // never narrower than 4
  // Width counts code points, and a cut never splits one.
  CHECK(short_labels({"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9.jpg"}, 5) ==
        V{"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9~"});
  // Names that collide once cut are numbered too.
  CHECK(short_labels({"abcdefghijkl_one.jpg", "abcdefghijkl_two.jpg"}) == V{"abcdefghijk~#1", "abcdefghijk~#2"});
  // Odd names: a dot file keeps its name, a URL loses its directory.
  CHECK(short_labels({".hidden", "https://example.com/x/face.jpg"}) == V{".hidden", "face"});
  CHECK(short_labels({}).empty());
  // Three of a kind.
  CHECK(short_labels({"a/x.jpg", "b/x.jpg", "c/x.jpg"}) == V{"x#1", "x#2", "x#3"});
}

// Regression, fixed (was in src/batch_report.cpp short_labels): labels are promised unique, but
// the "#N" suffix is appended without checking it against the other labels:
// inputs a/x.jpg, b/x.jpg and x#1.jpg get "x#1", "x#2" and "x#1", so the
// matrix shows two columns named x#1.
TEST_CASE("batch_report: short_labels stay unique against a literal #N", "[batch_report][regression]") {
  const auto labels = short_labels({"a/x.jpg", "b/x.jpg", "x#1.jpg"});
  REQUIRE(labels.size() == 3);
  CHECK(std::set<std::string>(labels.begin(), labels.end()).size() == 3);  // actual: {"x#1", "x#2", "x#1"}
}

TEST_CASE("batch_report: csv_field", "[batch_report]") {
  CHECK(csv_field("plain.jpg") == "plain.jpg");
  CHECK(csv_field("") == "");
  CHECK(csv_field("with space.jpg") == "with space.jpg");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("\"") == "\"\"\"\"");
  CHECK(csv_field("line\nbreak") == "\"line\nbreak\"");
  CHECK(csv_field("cr\r") == "\"cr\r\"");
  CHECK(csv_field("tab\there") == "tab\there");
}

TEST_CASE("batch_report: rank_results", "[batch_report]") {
  const SearchReport s = search();
  CHECK(inputs_of(s.results) == std::vector<std::string>{"c1.jpg", "c2.jpg", "c4.jpg", "c3, the \"odd\" one.jpg",
                                                         "noface.jpg", "broken.jpg", "gone.jpg"});
  SECTION("an error that is not no_face ranks after no face, whatever its name") {
    std::vector<SearchResult> rs = {no_face("z.jpg"), failed("a.jpg", ErrorKind::api_response, "bad"), no_face("b.jpg"),
                                    result("y.jpg", cmp(0.1, 2.0, 0.0))};
    rank_results(rs);
    CHECK(inputs_of(rs) == std::vector<std::string>{"y.jpg", "b.jpg", "z.jpg", "a.jpg"});
  }
  SECTION("equal similarity: by input") {
    std::vector<SearchResult> rs = {result("b.jpg", cmp(0.5, 1.0, 0.5)), result("a.jpg", cmp(0.5, 1.0, 0.5)),
                                    result("c.jpg", cmp(0.50001, 1.0, 0.5))};
    rank_results(rs);
    CHECK(inputs_of(rs) == std::vector<std::string>{"c.jpg", "a.jpg", "b.jpg"});
  }
  SECTION("empty") {
    std::vector<SearchResult> rs;
    rank_results(rs);
    CHECK(rs.empty());
  }
}

TEST_CASE("batch_report: render_matrix", "[batch_report]") {
  const MatrixReport r = matrix();
  SECTION("text") {
    const std::string text = render_matrix(r, OutputFormat::text);
    // Labels are 12 wide at most; cells are as wide as the widest label.
    CHECK(text ==
          "                   alice#1       alice#2  a_very_long~\n"
          "alice#1             100.0%         87.7%             -\n"
          "alice#2              87.7%        100.0%             -\n"
          "a_very_long~             -             -             -\n"
          "\n"
          "alice#1       photos/alice.jpg\n"
          "alice#2       more/alice.png\n"
          "a_very_long~  scans/a_very_long_file_name.jpeg\n");
    check_golden("matrix.txt", text);
  }
  SECTION("text without a legend when every label is the file's name") {
    MatrixReport small;
    small.inputs = {ok_input("photos/alice.jpg", 'a'), ok_input("bob.jpg", 'b')};
    small.cells = {{cmp(1.0, 0.0, 1.0), cmp(0.25, 1.5, 0.1)}, {cmp(0.25, 1.5, 0.1), cmp(1.0, 0.0, 1.0)}};
    small.context = context();
    CHECK(render_matrix(small, OutputFormat::text) ==
          "        alice     bob\n"
          "alice  100.0%   25.0%\n"
          "bob     25.0%  100.0%\n");
  }
  SECTION("csv") {
    const std::string csv = render_matrix(r, OutputFormat::csv);
    CHECK(csv ==
          "input,photos/alice.jpg,more/alice.png,scans/a_very_long_file_name.jpeg\n"
          "photos/alice.jpg,1.000000,0.876540,\n"
          "more/alice.png,0.876540,1.000000,\n"
          "scans/a_very_long_file_name.jpeg,,,\n");
    check_golden("matrix.csv", csv);
  }
  SECTION("json") {
    const std::string text = render_matrix(r, OutputFormat::json);
    CHECK(text.back() == '\n');
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(render_matrix(r, OutputFormat::jsonl) == text);
    const json j = json::parse(text);
    CHECK(j["type"] == "matrix");
    CHECK(j["schema_version"] == 1);
    CHECK(j["inputs"].size() == 3);
    CHECK(j["inputs"][1]["faces"] == 2);
    CHECK(j["inputs"][2]["faces"].is_null());
    CHECK(j["inputs"][2]["sha256"].is_null());
    CHECK(j["inputs"][2]["error"]["kind"] == "http");
    CHECK(j["inputs"][0]["error"].is_null());
    CHECK(j["similarity"][0][1] == 0.87654);
    CHECK(j["similarity"][2][2].is_null());
    CHECK(j["distance"][1][0] == 0.5);
    CHECK(j["threshold"] == 0.8);
    CHECK(j["threshold_source"] == "default");
    CHECK(j["threshold_distance"].get<double>() == Approx(1.23 * std::pow(-std::log(0.8) / std::log(2.0), 1.0 / 7.0)));
    CHECK(j["half_distance"] == 1.23);
    CHECK(j["face_policy"] == "largest");
    CHECK(j["backend"] == "api4ai");
    CHECK(j["api"] == "demo");
    CHECK(j["tool_version"] == k_version);
    check_golden("matrix.json", normalise_version(text));
  }
  SECTION("json with the local backend names its models") {
    MatrixReport local = r;
    local.context.provenance =
        Provenance{BackendKind::local, "", "", {{"detector", "aa"}, {"landmarks", "bb"}, {"embedder", "cc"}}, {}};
    const json j = json::parse(render_matrix(local, OutputFormat::json));
    CHECK(j["backend"] == "local");
    CHECK(j["models"]["landmarks"]["sha256"] == "bb");
    CHECK_FALSE(j.contains("api"));
    CHECK_FALSE(j.contains("endpoint"));
  }
}

TEST_CASE("batch_report: render_search", "[batch_report]") {
  const SearchReport s = search();
  SECTION("text") {
    const std::string text = render_search(s, OutputFormat::text);
    CHECK(text ==
          "1    95.0%  match  c1.jpg\n"
          "2    85.0%  match  c2.jpg\n"
          "3    85.0%  match  c4.jpg\n"
          "4    40.0%         c3, the \"odd\" one.jpg\n"
          "-  no face         noface.jpg\n"
          "-    error         broken.jpg\n"
          "3 of 7 candidates match ref.jpg (threshold 80.0%)\n");
    check_golden("search.txt", text);
  }
  SECTION("text: one candidate, ranks wider than one digit") {
    SearchReport one = s;
    one.results.resize(1);
    CHECK(render_search(one, OutputFormat::text) ==
          "1    95.0%  match  c1.jpg\n"
          "1 of 1 candidate matches ref.jpg (threshold 80.0%)\n");
    SearchReport many = s;
    for (int i = 0; i < 9; ++i) many.results.push_back(result("z" + std::to_string(i) + ".jpg", cmp(0.1, 2, 0)));
    rank_results(many.results);
    many.shown = 10;
    const std::string text = render_search(many, OutputFormat::text);
    CHECK(text.rfind(" 1    95.0%  match  c1.jpg\n", 0) == 0);
    CHECK(text.find("\n10    10.0%         z5.jpg\n") != std::string::npos);
    CHECK(text.find("3 of 16 candidates match") != std::string::npos);
  }
  SECTION("csv") {
    const std::string csv = render_search(s, OutputFormat::csv);
    CHECK(csv ==
          "rank,input,similarity,distance,decision,error\n"
          "1,c1.jpg,0.950000,0.300000,same,\n"
          "2,c2.jpg,0.850000,0.600000,same,\n"
          "3,c4.jpg,0.850000,0.600000,same,\n"
          "4,\"c3, the \"\"odd\"\" one.jpg\",0.400000,1.000000,different,\n"
          ",noface.jpg,,,,noface.jpg: no face found\n"
          ",broken.jpg,,,,broken.jpg: HTTP 503: Service Unavailable\n");
    check_golden("search.csv", csv);
  }
  SECTION("json") {
    const std::string text = render_search(s, OutputFormat::json);
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(render_search(s, OutputFormat::jsonl) == text);
    const json j = json::parse(text);
    CHECK(j["type"] == "search");
    CHECK(j["reference"]["input"] == "ref.jpg");
    CHECK(j["candidates"] == 7);
    CHECK(j["matches"] == 3);
    REQUIRE(j["results"].size() == 6);
    CHECK(j["results"][0]["rank"] == 1);
    CHECK(j["results"][0]["verified"] == true);
    CHECK(j["results"][0]["decision"] == "same");
    CHECK(j["results"][0]["similarity"] == 0.95);
    CHECK(j["results"][0]["cosine"] == 0.955);
    CHECK(j["results"][3]["decision"] == "different");
    CHECK(j["results"][3]["verified"] == false);
    CHECK(j["results"][4]["rank"].is_null());
    CHECK(j["results"][4]["faces"] == 0);
    CHECK(j["results"][4]["error"]["kind"] == "no_face");
    CHECK(j["results"][5]["faces"].is_null());
    CHECK(j["results"][5]["similarity"].is_null());
    CHECK(j["results"][5]["error"]["message"] == "broken.jpg: HTTP 503: Service Unavailable");
    CHECK(j["tool_version"] == k_version);
    check_golden("search.json", normalise_version(text));
  }
  SECTION("--top larger than the results shows them all") {
    SearchReport all = s;
    all.shown = 100;
    CHECK(json::parse(render_search(all, OutputFormat::json))["results"].size() == 7);
    all.shown = 0;
    CHECK(render_search(all, OutputFormat::csv) == "rank,input,similarity,distance,decision,error\n");
  }
}

TEST_CASE("batch_report: render_pair", "[batch_report]") {
  const ScoreContext c = context();
  PairResult as_expected{3, "a.jpg", "b.jpg", Expectation::same, cmp(0.9, 0.4, 0.92), std::nullopt, 1.5, std::nullopt};
  PairResult contradicted{4,   "a.jpg",     "c, d.jpg", Expectation::different, cmp(0.85, 0.55, 0.85), std::nullopt,
                          0.5, std::nullopt};
  PairResult no_expectation{5,    "e.jpg",     "f.jpg", Expectation::none, cmp(0.2, 1.6, 0.1), std::nullopt,
                            0.25, std::nullopt};
  PairResult uncertain{6, "h.jpg", "i.jpg", Expectation::same, cmp(0.82, 0.7, 0.8), std::nullopt, 0.25, 0.05};
  PairResult errored{7,
                     "g.jpg",
                     "missing.jpg",
                     Expectation::same,
                     std::nullopt,
                     Error{ErrorKind::input, "missing.jpg: No such file or directory", {}, false, {}},
                     0.0,
                     std::nullopt};

  CHECK(as_expected.as_expected(c.score) == std::optional<bool>(true));
  CHECK(contradicted.as_expected(c.score) == std::optional<bool>(false));
  CHECK_FALSE(no_expectation.as_expected(c.score).has_value());
  CHECK_FALSE(uncertain.as_expected(c.score).has_value());
  CHECK(uncertain.decision(c.score) == std::optional<Decision>(Decision::uncertain));
  CHECK_FALSE(errored.as_expected(c.score).has_value());
  CHECK_FALSE(errored.decision(c.score).has_value());
  PairResult expected_different = no_expectation;
  expected_different.expected = Expectation::different;
  CHECK(expected_different.as_expected(c.score) == std::optional<bool>(true));

  CHECK(pairs_csv_header() == "line,image1,image2,expected,decision,similarity,distance,as_expected,error\n");
  const std::string csv = pairs_csv_header() + render_pair(as_expected, c, OutputFormat::csv) +
                          render_pair(contradicted, c, OutputFormat::csv) +
                          render_pair(no_expectation, c, OutputFormat::csv) +
                          render_pair(uncertain, c, OutputFormat::csv) + render_pair(errored, c, OutputFormat::csv);
  CHECK(csv ==
        "line,image1,image2,expected,decision,similarity,distance,as_expected,error\n"
        "3,a.jpg,b.jpg,same,same,0.900000,0.400000,true,\n"
        "4,a.jpg,\"c, d.jpg\",different,same,0.850000,0.550000,false,\n"
        "5,e.jpg,f.jpg,,different,0.200000,1.600000,,\n"
        "6,h.jpg,i.jpg,same,uncertain,0.820000,0.700000,,\n"
        "7,g.jpg,missing.jpg,same,,,,,missing.jpg: No such file or directory\n");
  check_golden("pairs.csv", csv);

  const std::string jsonl =
      render_pair(as_expected, c, OutputFormat::jsonl) + render_pair(contradicted, c, OutputFormat::jsonl) +
      render_pair(no_expectation, c, OutputFormat::json) + render_pair(uncertain, c, OutputFormat::jsonl) +
      render_pair(errored, c, OutputFormat::jsonl);
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 5);
  std::vector<json> lines;
  std::size_t pos = 0;
  while (pos < jsonl.size()) {
    const auto nl = jsonl.find('\n', pos);
    lines.push_back(json::parse(jsonl.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["type"] == "pair");
  CHECK(lines[0]["schema_version"] == 1);
  CHECK(lines[0]["line"] == 3);
  CHECK(lines[0]["expected"] == "same");
  CHECK(lines[0]["verified"] == true);
  CHECK(lines[0]["decision"] == "same");
  CHECK(lines[0]["similarity"] == 0.9);
  CHECK(lines[0]["cosine"] == 0.92);
  CHECK(lines[0]["as_expected"] == true);
  CHECK(lines[0]["threshold"] == 0.8);
  CHECK(lines[0]["error"].is_null());
  CHECK(lines[1]["as_expected"] == false);
  CHECK(lines[1]["image2"] == "c, d.jpg");
  CHECK(lines[2]["expected"].is_null());
  CHECK(lines[2]["as_expected"].is_null());
  CHECK(lines[2]["decision"] == "different");
  CHECK(lines[3]["decision"] == "uncertain");
  CHECK(lines[3]["as_expected"].is_null());
  CHECK(lines[4]["similarity"].is_null());
  CHECK(lines[4]["decision"].is_null());
  CHECK(lines[4]["verified"].is_null());
  CHECK(lines[4]["as_expected"].is_null());
  CHECK(lines[4]["error"] == json{{"kind", "input"}, {"message", "missing.jpg: No such file or directory"}});
  check_golden("pairs.jsonl", jsonl);
}

// SPDX-License-Identifier: MIT
// Thresholds users can trust (issue 6) end to end: calibrate on the fake
// server with known embeddings, the config file it writes and the threshold's
// provenance, and the uncertain band.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e_support.hpp"
#include "fake_server.hpp"
#include "golden.hpp"

using nlohmann::json;
namespace test = faceverify::test;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::RunOptions;

// The similarity faceverify reports for an L2 distance d (a = 1.23).
double similarity(double d) {
  return std::exp(std::pow(d / 1.23, 7) * std::log(0.5));
}

// Five pairs whose distances are known exactly: genuine 0.5, 0.9 and 1.3,
// impostor 1.2 and 1.5 (so one genuine pair scores below an impostor), on
// 2-value embeddings the server sends verbatim.
json scenario() {
  json images;
  // A second coordinate of 1 keeps every vector off zero (an all-zero one is refused).
  auto put = [&](const std::string& name, double x) { images[name] = {{"embedding", {x, 1.0}}}; };
  put("g1a.jpg", 0.0), put("g1b.jpg", 0.5);        // genuine, d = 0.5
  put("g2a.jpg", 10.0), put("g2b.jpg", 10.9);      // genuine, d = 0.9
  put("i1a.jpg", 20.0), put("i1b.jpg", 21.2);      // impostor, d = 1.2
  put("i2a.jpg", 30.0), put("i2b.jpg", 31.5);      // impostor, d = 1.5
  put("g3a.jpg", 50.0), put("g3b.jpg", 51.3);      // genuine, d = 1.3
  put("edge.jpg", 40.0), put("edge2.jpg", 41.05);  // d = 1.05: similarity 0.7953
  return {{"images", images}};
}

struct Calib {
  test::FakeServer server{scenario()};
  Photos photo;
  test::TempDir home;  // XDG_CACHE_HOME and XDG_CONFIG_HOME
  std::string pairs_file;
  Calib() {
    pairs_file = (photo.dir / "labelled.csv").string();
    test::write_file(pairs_file, photo("g1a.jpg") + "," + photo("g1b.jpg") + ",same\n" + photo("g2a.jpg") + "," +
                                     photo("g2b.jpg") + ",same\n" + photo("i1a.jpg") + "," + photo("i1b.jpg") +
                                     ",different\n" + photo("i2a.jpg") + "," + photo("i2b.jpg") + ",different\n" +
                                     photo("g3a.jpg") + "," + photo("g3b.jpg") + ",same\n");
  }
  RunOptions env() const {
    RunOptions o;
    o.env_overrides["XDG_CACHE_HOME"] = (home.path() / "cache").string();
    o.env_overrides["XDG_CONFIG_HOME"] = (home.path() / "config").string();
    return o;
  }
  test::ProcessResult run(std::vector<std::string> args, RunOptions o) const {
    const std::string command = args.front();
    args.erase(args.begin());
    args = with_server(server, std::move(args));
    if (!command.empty()) args.insert(args.begin(), command);
    return run_faceverify(std::move(args), std::move(o));
  }
  test::ProcessResult run(std::vector<std::string> args) const { return run(std::move(args), env()); }
};

}  // namespace

TEST_CASE("calibrate: known embeddings reproduce the expected thresholds", "[e2e][calibrate]") {
  Calib c;
  SECTION("--json: the best-accuracy cut; of two equally accurate cuts, the higher") {
    auto r = c.run({"calibrate", "--json", c.pairs_file});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    auto j = json::parse(r.out);
    CHECK(j["type"] == "calibration");
    CHECK(j["schema_version"] == 1);
    CHECK(j["threshold"].get<double>() == Approx((similarity(0.9) + similarity(1.2)) / 2).epsilon(1e-9));
    CHECK(j["threshold_reason"] == "best_accuracy");
    // Accepting down to 0.9 or down to 1.3 both get 4 of 5 pairs right.
    CHECK(j["auc"].get<double>() == Approx(5.0 / 6.0));  // 5 of the 6 genuine-impostor orderings are right
    CHECK(j["pairs"]["genuine"] == 3);
    CHECK(j["pairs"]["impostor"] == 2);
    CHECK(j["best_accuracy"]["accuracy"].get<double>() == Approx(0.8));
    CHECK(j["genuine_scores"]["min"].get<double>() == Approx(similarity(1.3)).epsilon(1e-9));
    CHECK(j["impostor_scores"]["max"].get<double>() == Approx(similarity(1.2)).epsilon(1e-9));
    REQUIRE(j["far_targets"].size() == 3);
    CHECK(j["far_targets"][0]["target_far"] == 0.01);
    CHECK(j["far_targets"][0]["impostors"] == 2);
    CHECK(j["far_targets"][0]["meaningful"] == false);
    CHECK(j["far_targets"][0]["note"].is_string());
    CHECK(j["backend"] == "api4ai");
  }
  SECTION("--target-far 0.5 lets one impostor pair through to accept every genuine pair") {
    auto r = c.run({"calibrate", "--json", "--target-far", "0.5", c.pairs_file});
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out);
    CHECK(j["threshold"].get<double>() == Approx((similarity(1.3) + similarity(1.5)) / 2).epsilon(1e-9));
    CHECK(j["threshold_reason"] == "target_far");
    CHECK(j["far_targets"].back()["target_far"] == 0.5);
    CHECK(j["far_targets"].back()["far"] == 0.5);
    CHECK(j["far_targets"].back()["tar"] == 1.0);
  }
  SECTION("text: every figure with its threshold as a similarity and a distance") {
    auto r = c.run({"calibrate", c.pairs_file});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("Pairs: 5 (3 genuine, 2 impostor)") != std::string::npos);
    CHECK(r.out.find("AUC 0.8333, EER ") != std::string::npos);
    CHECK(r.out.find("FAR 0.1%") != std::string::npos);
    CHECK(r.out.find("Best accuracy: 80.00%") != std::string::npos);
    CHECK(r.out.find("Chosen threshold: similarity ") != std::string::npos);
    CHECK(r.out.find("(distance ") != std::string::npos);
  }
  SECTION("a folder with labels.csv forms every pair") {
    test::write_file(c.photo.dir / "labels.csv", "file,identity\ng1a.jpg,x\ng1b.jpg,x\ni1a.jpg,y\n");
    auto r = c.run({"calibrate", "--json", c.photo.dir.path().string()});
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out);
    CHECK(j["pairs"]["genuine"] == 1);   // g1a-g1b
    CHECK(j["pairs"]["impostor"] == 2);  // g1a-i1a, g1b-i1a
  }
  SECTION("unlabelled rows and unreadable inputs are usage errors before any request") {
    test::write_file(c.pairs_file, c.photo("g1a.jpg") + "," + c.photo("g1b.jpg") + "\n");
    auto r = c.run({"calibrate", c.pairs_file});
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(r.err.find("line 1: no label") != std::string::npos);
    auto m = c.run({"calibrate", (c.photo.dir / "nothing.csv").string()});
    CHECK(m.exit_code == 2);
    CHECK(c.server.requests().empty());
  }
}

TEST_CASE("calibrate: golden text and JSON output", "[e2e][calibrate]") {
  Calib c;
  // What varies between runs (scratch paths, the server's port, the version)
  // is replaced before comparing.
  auto normalise = [&](std::string text) {
    auto replace_all = [&](const std::string& from, const std::string& to) {
      for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) {
        text.replace(at, from.size(), to);
      }
    };
    replace_all(c.photo.dir.path().string(), "DIR");
    replace_all(c.server.base_url(), "http://127.0.0.1:PORT");
    replace_all(std::string("\"tool_version\":\"") + FACEVERIFY_VERSION_STRING + "\"", "\"tool_version\":\"X.Y.Z\"");
    return text;
  };
  auto text = c.run({"calibrate", "--target-far", "0.5", c.pairs_file});
  REQUIRE(text.exit_code == 0);
  test::check_golden("calibrate.txt", normalise(text.out));
  auto j = c.run({"calibrate", "--json", "--target-far", "0.5", c.pairs_file});
  REQUIRE(j.exit_code == 0);
  test::check_golden("calibrate.json", normalise(j.out));
}

TEST_CASE("calibrate --write-config: later runs use the threshold and say where it came from", "[e2e][calibrate]") {
  Calib c;
  auto w = c.run({"calibrate", "--write-config", "--target-far", "0.5", c.pairs_file});
  REQUIRE(w.exit_code == 0);
  const auto config = c.home.path() / "config" / "faceverify" / "config.toml";
  CHECK(w.err == "faceverify: saved threshold " + std::string(w.err.substr(w.err.find("threshold ") + 10, 6)) +
                     " for the api4ai backend to " + config.string() + "\n");
  const std::string text = test::read_file(config);
  CHECK(text.find("backend = \"api4ai\"") != std::string::npos);
  CHECK(text.find("threshold = ") != std::string::npos);
  const double saved = (similarity(1.3) + similarity(1.5)) / 2;  // about 0.21
  const auto a = c.photo("edge.jpg"), b = c.photo("edge2.jpg");  // similarity 0.7953: below 0.8, above the saved cut

  auto from_config = c.run({"", "--json", a, b});
  CHECK(from_config.exit_code == 0);
  auto j = json::parse(from_config.out);
  CHECK(verdict_agrees(j));
  CHECK(j["threshold_source"] == "config");
  CHECK(j["threshold"].get<double>() == Approx(saved).epsilon(1e-5));

  RunOptions env = c.env();
  env.env_overrides["FACEVERIFY_THRESHOLD"] = "0.9";
  auto from_env = c.run({"", "--json", a, b}, env);
  CHECK(from_env.exit_code == 1);
  CHECK(json::parse(from_env.out)["threshold_source"] == "env");
  CHECK(verdict_agrees(json::parse(from_env.out)));
  auto from_option = c.run({"", "--json", "-t", "0.5", a, b}, env);
  CHECK(json::parse(from_option.out)["threshold_source"] == "option");
  CHECK(verdict_agrees(json::parse(from_option.out)));
  auto other_backend = c.run({"", "--json", "--config", config.string(), a, b});
  CHECK(json::parse(other_backend.out)["threshold_source"] == "config");
  test::write_file(config, "backend = \"local\"\nthreshold = 0.1\n");
  auto not_ours = c.run({"", "--json", "--backend", "api4ai", a, b});
  CHECK(json::parse(not_ours.out)["threshold_source"] == "default");  // measured on another backend's model

  SECTION("pairs records carry the source too") {
    test::write_file(config, "threshold = 0.7\n");
    auto p = c.run({"pairs", c.pairs_file});
    CHECK(json::parse(p.out.substr(0, p.out.find('\n')))["threshold_source"] == "config");
  }
  SECTION("a malformed config file is a usage error naming the line") {
    test::write_file(config, "threshold = 0.7\nthreshold = high\n");
    auto r = c.run({"", a, b});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + config.string() + ": line 2: threshold must be a number from 0 to 1\n");
    auto missing = c.run({"", "--config", (c.home.path() / "none.toml").string(), a, b});
    CHECK(missing.exit_code == 2);
  }
}

TEST_CASE("uncertain band: results near the threshold are called uncertain, exit 5", "[e2e][calibrate]") {
  Calib c;
  const auto a = c.photo("edge.jpg"), b = c.photo("edge2.jpg");  // similarity 0.7953
  SECTION("text and exit code") {
    auto r = c.run({"", "--uncertain-band", "0.01", a, b});
    CHECK(r.exit_code == 5);
    CHECK(r.out ==
          "Similarity is 79.5%.\nIt's uncertain whether it's the same person (within 1.0 points of the 80.0% "
          "threshold).\n");
    CHECK(r.err.empty());
  }
  SECTION("JSON: decision uncertain, the band recorded") {
    auto r = c.run({"", "--json", "--uncertain-band", "0.01", a, b});
    CHECK(r.exit_code == 5);
    auto j = json::parse(r.out);
    CHECK(j["decision"] == "uncertain");
    CHECK(j["uncertain_band"] == 0.01);
    CHECK(j["verified"] == false);
  }
  SECTION("outside the band the verdict stands; without the option nothing changes") {
    CHECK(c.run({"", "--uncertain-band", "0.001", a, b}).exit_code == 1);
    auto r = c.run({"", "--json", a, b});
    CHECK(r.exit_code == 1);
    CHECK(json::parse(r.out)["decision"] == "different");
    CHECK(json::parse(r.out)["uncertain_band"].is_null());
    CHECK(verdict_agrees(json::parse(r.out)));
  }
  SECTION("pairs: uncertain records are neither right nor wrong; exit 5 when nothing worse happened") {
    test::write_file(c.pairs_file, a + "," + b + ",same\n" + c.photo("g1a.jpg") + "," + c.photo("g1b.jpg") + ",same\n");
    auto r = c.run({"pairs", "--ordered", "--uncertain-band", "0.01", c.pairs_file});
    CHECK(r.exit_code == 5);
    std::istringstream lines(r.out);
    std::string first;
    std::getline(lines, first);
    auto j = json::parse(first);
    CHECK(j["decision"] == "uncertain");
    CHECK(j["as_expected"].is_null());
    CHECK(r.err.find("1 same, 0 different, 1 uncertain, 0 errors") != std::string::npos);
  }
  SECTION("pairs: a contradicted label outranks an uncertain pair (exit 1); a pair error outranks both") {
    // edge: uncertain; i1 (similarity 0.56) labelled same: a contradiction; g1: as expected.
    const std::string rows = a + "," + b + ",same\n" + c.photo("i1a.jpg") + "," + c.photo("i1b.jpg") + ",same\n" +
                             c.photo("g1a.jpg") + "," + c.photo("g1b.jpg") + ",same\n";
    test::write_file(c.pairs_file, rows);
    auto r = c.run({"pairs", "--ordered", "--uncertain-band", "0.01", c.pairs_file});
    CHECK(r.exit_code == 1);
    std::vector<json> recs;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) recs.push_back(json::parse(line));
    REQUIRE(recs.size() == 3);
    CHECK(recs[0]["decision"] == "uncertain");
    CHECK(recs[0]["as_expected"].is_null());
    CHECK(recs[1]["decision"] == "different");
    CHECK(recs[1]["as_expected"] == false);
    CHECK(recs[2]["decision"] == "same");
    CHECK(recs[2]["as_expected"] == true);
    CHECK(r.err ==
          "faceverify: pairs: 3 pairs: 1 same, 1 different, 1 uncertain, 0 errors; 1 contradicts its expected label\n");
    // The contradiction listed after the uncertain pair, and before it: the same status.
    test::write_file(c.pairs_file, c.photo("i1a.jpg") + "," + c.photo("i1b.jpg") + ",same\n" + a + "," + b + ",same\n");
    CHECK(c.run({"pairs", "-q", "--uncertain-band", "0.01", c.pairs_file}).exit_code == 1);

    // A row whose image is missing: an input error (2) outranks the contradiction and the uncertain pair.
    const std::string missing = (c.photo.dir / "missing.jpg").string();
    test::write_file(c.pairs_file, rows + missing + "," + a + ",different\n");
    auto e = c.run({"pairs", "--ordered", "--uncertain-band", "0.01", c.pairs_file});
    CHECK(e.exit_code == 2);
    std::vector<json> with_error;
    std::istringstream more(e.out);
    for (std::string line; std::getline(more, line);) with_error.push_back(json::parse(line));
    REQUIRE(with_error.size() == 4);
    CHECK(with_error[1]["as_expected"] == false);
    CHECK(with_error[3]["error"]["kind"] == "input");
    CHECK(e.err.find("missing.jpg") != std::string::npos);
    CHECK(e.err.ends_with(
        "faceverify: pairs: 4 pairs: 1 same, 1 different, 1 uncertain, 1 error; 1 contradicts its expected label\n"));
  }
  SECTION("search: an uncertain candidate and no match exits 5; a match still wins") {
    auto r = c.run({"search", "--uncertain-band", "0.01", a, b, c.photo("g1a.jpg")});
    CHECK(r.exit_code == 5);
    CHECK(r.out.find("uncertain  " + b) != std::string::npos);
    CHECK(r.out.find("0 of 2 candidates match " + a + ", 1 uncertain (threshold 80.0%, band 1.0 points)") !=
          std::string::npos);
    auto j = c.run({"search", "--json", "--uncertain-band", "0.01", a, b});
    CHECK(json::parse(j.out)["results"][0]["decision"] == "uncertain");
    CHECK(json::parse(j.out)["uncertain"] == 1);
    auto m = c.run({"search", "--uncertain-band", "0.01", c.photo("g1a.jpg"), c.photo("g1b.jpg"), a});
    CHECK(m.exit_code == 0);
  }
  SECTION("a band outside [0, 1] is a usage error") {
    CHECK(c.run({"", "--uncertain-band", "2", a, b}).exit_code == 2);
  }
}

TEST_CASE("calibrate: a pair whose embeddings cannot be compared is an input error and keeps the config",
          "[e2e][calibrate]") {
  Calib c;
  auto embed = [&](const std::string& photo, const std::string& name) {
    auto e = c.run({"embed", c.photo(photo)});
    REQUIRE(e.exit_code == 0);
    const std::string file = (c.photo.dir / name).string();
    test::write_file(file, e.out);
    return file;
  };
  const std::string e1 = embed("g1a.jpg", "e1.jsonl"), e2 = embed("g1b.jpg", "e2.jsonl");
  const std::string e3 = embed("i1a.jpg", "e3.jsonl");
  // Another photo's record with a 3-value embedding, as another backend's file would carry.
  json record = json::parse(test::read_file(e1));
  record["input"] = c.photo("short.jpg");
  record["sha256"] = std::string(64, 'a');
  record["faces"][0]["embedding"] = {0.6, 0.0, 0.8};
  const std::string short_file = (c.photo.dir / "short.jsonl").string();
  test::write_file(short_file, record.dump() + "\n");
  const std::string labels = (c.photo.dir / "mismatch.csv").string();
  test::write_file(labels,
                   e1 + "," + short_file + ",same\n" + e1 + "," + e2 + ",same\n" + e1 + "," + e3 + ",different\n");
  const std::string config = (c.home.path() / "o.toml").string();
  const std::string before = "threshold = 0.7\n";
  test::write_file(config, before);
  const std::string mismatch = "faceverify: " + c.photo("short.jpg") + ": its embedding has 3 values, " +
                               c.photo("g1a.jpg") +
                               "'s has 2; they cannot be compared (embed both images again with the same backend)\n";

  auto r = c.run({"calibrate", "--config", config, "--write-config", labels});
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("1 left out") != std::string::npos);  // the figures still use the rest
  CHECK(r.err == mismatch + "faceverify: " + config +
                     ": not saved: some images or pairs failed (above), so the threshold would rest on part of the "
                     "data; fix them and run again\n");
  CHECK(test::read_file(config) == before);

  auto j = c.run({"calibrate", "--json", labels});  // without --write-config: the same error and exit status
  CHECK(j.exit_code == 2);
  CHECK(j.err == mismatch);
  CHECK(json::parse(j.out)["pairs"]["left_out"] == 1);
}

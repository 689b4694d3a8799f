// SPDX-License-Identifier: MIT
// Inputs of the batch commands (issue 11): every bad input named before any
// request, --gallery for embed/matrix/search, the reference skipped by its
// SHA-256 whatever it comes from, pairs files' paths and hints, and the
// bounds on the work a run may hold.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "e2e_support.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;
namespace fs = std::filesystem;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::ProcessResult;
using faceverify::test::RunOptions;

const json k_people = {{"images",
                        {{"alice1.jpg", {{"person", "alice"}}},
                         {"alice2.jpg", {{"person", "alice"}}},
                         {"bob.jpg", {{"person", "bob"}}},
                         {"nobody.jpg", {{"faces", json::array()}}}}}};

struct Run {
  Photos photo;
  test::TempDir cache_home;
  RunOptions env(RunOptions o = {}) const {
    o.env_overrides["XDG_CACHE_HOME"] = cache_home.path().string();
    o.env_overrides["NO_COLOR"] = std::nullopt;
    return o;
  }
  // `prefix` runs the binary under another program (setpriv, below).
  ProcessResult operator()(const test::FakeServer& s, std::vector<std::string> args, RunOptions o = {},
                           std::vector<std::string> prefix = {}) const {
    const std::string command = args.front();
    args.erase(args.begin());
    args = with_server(s, std::move(args));
    args.insert(args.begin(), command);
    if (prefix.empty()) return run_faceverify(std::move(args), env(std::move(o)));
    args.insert(args.begin(), FACEVERIFY_BINARY_PATH);
    args.insert(args.begin(), prefix.begin(), prefix.end());
    return test::run_process(args, clean_env(env(std::move(o))));
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t results_requests(const json& log) {
  return static_cast<std::size_t>(
      std::count_if(log.begin(), log.end(), [](const json& r) { return r["path"] == "/face-analyzer/v1/results"; }));
}

// An embedding file of `n` records, each one face with a 2-D unit embedding
// (different angles: every pair has its own score), distinct SHA-256s.
std::string embedding_file(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    const double angle = static_cast<double>(i) * 0.001;
    char sha[65];
    std::snprintf(sha, sizeof sha, "%064zx", i + 1);
    out += R"({"type":"embedding","schema_version":1,"input":"r)" + std::to_string(i) + R"(.jpg","sha256":")" + sha +
           R"(","backend":"api4ai","faces":[{"box":[0,0,1,1],"embedding":[)" + std::to_string(std::cos(angle)) + "," +
           std::to_string(std::sin(angle)) + "]}]}\n";
  }
  return out;
}

// Root reads files whatever their mode: without CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH (dropped by setpriv) it cannot, like any user.
std::optional<std::vector<std::string>> unprivileged() {
  if (::geteuid() != 0) return std::vector<std::string>{};
  if (!fs::exists("/usr/bin/setpriv")) return std::nullopt;
  return std::vector<std::string>{"/usr/bin/setpriv", "--bounding-set", "-dac_override,-dac_read_search"};
}

}  // namespace

TEST_CASE("inputs: every bad input is named one line each before any request", "[e2e][inputs]") {
  test::FakeServer server(k_people);
  Run run;
  const auto a1 = run.photo("alice1.jpg"), bob = run.photo("bob.jpg");
  const std::string missing1 = (run.photo.dir / "missing1.jpg").string();
  const std::string missing2 = (run.photo.dir / "missing2.jpg").string();
  const std::string text = (run.photo.dir / "notes.txt").string();
  test::write_file(text, "not an image");
  for (const std::string command : {"embed", "matrix", "search"}) {
    INFO(command);
    auto r = run(server, {command, a1, missing1, text, bob, missing2});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    const auto err = lines_of(r.err);
    REQUIRE(err.size() == 3);
    CHECK(err[0].rfind("faceverify: " + missing1 + ": ", 0) == 0);
    CHECK(err[1].rfind("faceverify: " + text + ": ", 0) == 0);
    CHECK(err[2].rfind("faceverify: " + missing2 + ": ", 0) == 0);
  }
  SECTION("search: a bad reference and bad candidates together") {
    auto r = run(server, {"search", missing1, a1, missing2});
    CHECK(r.exit_code == 2);
    CHECK(lines_of(r.err).size() == 2);
  }
  SECTION("calibrate: every unreadable image and every bad row of its pairs file") {
    const std::string pairs = (run.photo.dir / "labelled.csv").string();
    test::write_file(pairs, a1 + "," + missing1 + ",same\n" + a1 + "," + bob + ",maybe\n" + missing2 + "," + bob +
                                ",different\n" + a1 + "," + bob + "\n");
    auto r = run(server, {"calibrate", pairs});
    CHECK(r.exit_code == 2);
    const auto err = lines_of(r.err);
    REQUIRE(err.size() == 4);
    CHECK(err[0].find("line 2: expected must be") != std::string::npos);
    CHECK(err[1].find("line 4: no label") != std::string::npos);
    CHECK(err[2].rfind("faceverify: line 1: " + missing1 + ": ", 0) == 0);
    CHECK(err[3].rfind("faceverify: line 3: " + missing2 + ": ", 0) == 0);
  }
  SECTION("'-' twice is one usage error stdin unread") {
    auto r = run(server, {"embed", "-", a1, "-"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: standard input (-) can be given only once\n");
  }
  CHECK(results_requests(server.requests()) == 0);
}

TEST_CASE("inputs: embed and matrix take --gallery like search", "[e2e][inputs]") {
  test::FakeServer server(k_people);
  Run run;
  fs::create_directories(run.photo.dir / "gallery" / "sub");
  const auto a2 = run.photo("gallery/alice2.jpg"), bob = run.photo("gallery/sub/bob.jpg");
  const auto a1 = run.photo("alice1.jpg");
  for (const char* name : {"notes.txt", "sub/list.csv", "sub/.DS_Store"}) {
    test::write_file(run.photo.dir / "gallery" / name, "not an image");
  }
  const std::string gallery = (run.photo.dir / "gallery").string();
  const std::string skipped = "faceverify: " + gallery + ": skipped 3 files that are not images\n";

  SECTION("embed --gallery DIR: one record per image sorted non-images counted") {
    auto r = run(server, {"embed", "--gallery", gallery});
    CHECK(r.exit_code == 0);
    CHECK(r.err == skipped);
    const auto recs = lines_of(r.out);
    REQUIRE(recs.size() == 2);
    std::vector<std::string> inputs;
    for (const auto& line : recs) inputs.push_back(json::parse(line)["input"]);
    std::sort(inputs.begin(), inputs.end());
    CHECK(inputs == std::vector<std::string>{a2, bob});
    auto quiet = run(server, {"embed", "-q", "--gallery", gallery});
    CHECK(quiet.exit_code == 0);
    CHECK(quiet.err.empty());
  }
  SECTION("matrix IMAGE --gallery DIR: the arguments first then the gallery") {
    auto r = run(server, {"matrix", "--json", a1, "--gallery", gallery});
    CHECK(r.exit_code == 0);
    CHECK(r.err == skipped);
    const auto j = json::parse(r.out);
    REQUIRE(j["inputs"].size() == 3);
    CHECK(j["inputs"][0]["input"] == a1);
    CHECK(j["inputs"][1]["input"] == a2);
    CHECK(j["inputs"][2]["input"] == bob);
  }
  SECTION("a directory as an argument suggests --gallery") {
    for (const std::string command : {"embed", "matrix"}) {
      auto r = run(server, {command, gallery});
      CHECK(r.exit_code == 2);
      CHECK(r.err ==
            "faceverify: " + gallery + ": is a directory; to use the images in it, give --gallery " + gallery + "\n");
    }
    CHECK(results_requests(server.requests()) == 0);
  }
  SECTION("neither images nor --gallery is a usage error") {
    auto r = run(server, {"matrix"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--gallery DIR") != std::string::npos);
  }
}

TEST_CASE("inputs: search skips the reference by SHA-256 embedding files included", "[e2e][inputs]") {
  test::FakeServer server(k_people);
  Run run;
  const auto a1 = run.photo("alice1.jpg"), a2 = run.photo("alice2.jpg"), bob = run.photo("bob.jpg");
  auto e = run(server, {"embed", "--ordered", a1, a2, bob});
  REQUIRE(e.exit_code == 0);
  const std::string people = (run.photo.dir / "people.jsonl").string();
  test::write_file(people, e.out);
  const std::string ref = (run.photo.dir / "a1.jsonl").string();
  test::write_file(ref, lines_of(e.out)[0] + "\n");

  auto check = [&](const std::vector<std::string>& args) {
    auto r = run(server, args);
    CHECK(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["candidates"] == 2);  // a2 and bob; a1 is the reference itself
    for (const auto& c : j["results"]) CHECK(c["sha256"] != json::parse(lines_of(e.out)[0])["sha256"]);
  };
  SECTION("reference from an embedding file candidate image") {
    check({"search", "--json", ref, a1, a2, bob});
  }
  SECTION("reference image candidates from an embedding file") {
    check({"search", "--json", a1, people});
  }
  SECTION("both from embedding files") {
    check({"search", "--json", ref, people});
  }
}

TEST_CASE("inputs: search --gallery reports what it cannot read", "[e2e][inputs]") {
  const auto prefix = unprivileged();
  if (!prefix) {
    WARN("running as root without setpriv: cannot make a file unreadable; skipped");
    return;
  }
  test::FakeServer server(k_people);
  Run run;
  fs::create_directories(run.photo.dir / "gallery" / "locked");
  const auto a1 = run.photo("alice1.jpg");
  const auto a2 = run.photo("gallery/alice2.jpg"), bob = run.photo("gallery/bob.jpg");
  const auto hidden = run.photo("gallery/locked/alice-hidden.jpg");
  const auto secret = run.photo("gallery/secret.jpg");
  ::chmod(secret.c_str(), 0);
  const std::string locked = (run.photo.dir / "gallery" / "locked").string();
  ::chmod(locked.c_str(), 0);
  const std::string gallery = (run.photo.dir / "gallery").string();
  auto r = run(server, {"search", "--gallery", gallery, a1}, {}, *prefix);
  ::chmod(locked.c_str(), 0755);  // so TempDir can remove it
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  const auto err = lines_of(r.err);
  REQUIRE(err.size() == 2);
  CHECK(err[0].rfind("faceverify: " + locked + ": cannot list this gallery folder: Permission denied", 0) == 0);
  CHECK(err[1] == "faceverify: " + secret + ": permission denied (check the file's mode)");
  CHECK(results_requests(server.requests()) == 0);
}

TEST_CASE("inputs: --gallery names special files and dangling symlinks that look like images", "[e2e][inputs]") {
  test::FakeServer server(k_people);
  Run run;
  fs::create_directories(run.photo.dir / "gallery");
  fs::create_directories(run.photo.dir / "elsewhere");
  const auto a1 = run.photo("alice1.jpg");
  run.photo("gallery/alice2.jpg");
  run.photo("elsewhere/bob.jpg");
  const fs::path g = run.photo.dir / "gallery";
  REQUIRE(::mkfifo((g / "fifo.jpg").c_str(), 0644) == 0);  // would block a reader: never opened
  REQUIRE(::mkfifo((g / "pipe").c_str(), 0644) == 0);      // not named like an image: counted
  fs::create_symlink("/nonexistent/bob.jpg", g / "gone.JPG");
  fs::create_symlink("/nonexistent/notes", g / "gone-notes");  // counted
  fs::create_directory_symlink(run.photo.dir / "elsewhere", g / "linked");
  const std::string gallery = g.string();
  for (const std::string command : {"search", "matrix", "embed"}) {
    INFO(command);
    auto r = run(server, {command, a1, "--gallery", gallery});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + (g / "fifo.jpg").string() +
                       ": not a regular file (a FIFO); an image must be a regular file: replace or remove it\n"
                       "faceverify: " +
                       (g / "gone.JPG").string() +
                       ": a symlink to /nonexistent/bob.jpg, which does not exist; fix or remove the link\n"
                       "faceverify: " +
                       gallery +
                       ": skipped 2 files that are not images\n"
                       "faceverify: " +
                       gallery +
                       ": did not follow 1 symlink to a folder (the walk follows no "
                       "folder links; give such a folder as its own input)\n");
  }
  CHECK(results_requests(server.requests()) == 0);
  SECTION("without the broken entries the folder link is still said and not followed") {
    fs::remove(g / "fifo.jpg");
    fs::remove(g / "gone.JPG");
    auto r = run(server, {"search", "--json", a1, "--gallery", gallery});
    CHECK(r.exit_code == 0);
    CHECK(r.err == "faceverify: " + gallery +
                       ": skipped 2 files that are not images\n"
                       "faceverify: " +
                       gallery +
                       ": did not follow 1 symlink to a folder (the walk follows no "
                       "folder links; give such a folder as its own input)\n");
    CHECK(r.out.find("bob.jpg") == std::string::npos);
  }
}

TEST_CASE("inputs: pairs files resolve relative paths give hints and never count the header", "[e2e][inputs]") {
  test::FakeServer server(k_people);
  Run run;
  fs::create_directories(run.photo.dir / "set");
  run.photo("set/alice1.jpg");
  run.photo("set/alice2.jpg");
  const std::string pairs = (run.photo.dir / "set" / "pairs.csv").string();
  test::write_file(pairs, "image1,image2,expected\nalice1.jpg,alice2.jpg,same\n");
  RunOptions elsewhere;
  elsewhere.cwd = run.photo.dir.path().string();  // not the pairs file's folder

  SECTION("relative paths are read from the current directory and the message points at the file beside") {
    auto r = run(server, {"pairs", pairs}, elsewhere);
    CHECK(r.exit_code == 2);
    const auto err = lines_of(r.err);
    REQUIRE(err.size() == 2);
    const std::string beside = (run.photo.dir / "set").string();
    CHECK(err[0] == "faceverify: line 2: alice1.jpg: no such file; " + beside +
                        "/alice1.jpg exists next to the pairs file, but relative paths are read from the current "
                        "directory: add --base-dir " +
                        beside);
    CHECK(err[1] == "faceverify: pairs: 1 pair: 0 same, 0 different, 1 error");
  }
  SECTION("--base-dir DIR resolves them against DIR") {
    const std::string junit = (run.photo.dir / "report.xml").string();
    auto r = run(server, {"pairs", "--junit", junit, "--base-dir", "set", pairs}, elsewhere);
    CHECK(r.exit_code == 0);
    CHECK(r.err == "faceverify: pairs: 1 pair: 1 same, 0 different, 0 errors\n");
    REQUIRE(lines_of(r.out).size() == 1);
    CHECK(json::parse(r.out)["image1"] == "alice1.jpg");  // as written in the file
    CHECK(test::read_file(junit).find("tests=\"1\" failures=\"0\" errors=\"0\"") != std::string::npos);
    auto bad = run(server, {"pairs", "--base-dir", "nowhere", pairs}, elsewhere);
    CHECK(bad.exit_code == 2);
    CHECK(bad.err == "faceverify: --base-dir nowhere: not a directory (it does not exist)\n");
  }
  SECTION("a header line is never a pair whatever its column names") {
    for (const std::string header : {"image1,image2,expected", "img1,img2,label", "left,right,expected",
                                     "\"Image1\",\"Image2\"", "image_a,image_b,same_person"}) {
      INFO(header);
      test::write_file(pairs, "# photos of alice\n" + header + "\nalice1.jpg,alice2.jpg,same\n");
      const std::string junit = (run.photo.dir / "report.xml").string();
      auto r = run(server, {"pairs", "--junit", junit, "--base-dir", "set", pairs}, elsewhere);
      CHECK(r.exit_code == 0);
      CHECK(r.err == "faceverify: pairs: 1 pair: 1 same, 0 different, 0 errors\n");
      CHECK(lines_of(r.out).size() == 1);
      CHECK(test::read_file(junit).find("tests=\"1\" failures=\"0\" errors=\"0\"") != std::string::npos);
    }
  }
  SECTION("a semicolon-separated file gets a hint") {
    test::write_file(pairs, "alice1.jpg;alice2.jpg;same\n");
    auto r = run(server, {"pairs", "--base-dir", "set", pairs}, elsewhere);
    CHECK(r.exit_code == 2);
    CHECK(lines_of(r.err)[0] ==
          "faceverify: line 1: expected 2 or 3 fields (image1,image2[,expected]), got 1 (the line has ';' but no ',' "
          "or tab: pairs files are comma- or tab-separated)");
  }
}

TEST_CASE("inputs: pairs streams the pairs of big embedding files and refuses what it cannot hold", "[e2e][inputs]") {
  test::TempDir dir;
  const std::string pairs = (dir / "pairs.csv").string();
  SECTION("600 x 600 records: 360000 pairs streamed") {
    test::write_file(dir / "e.jsonl", embedding_file(600));
    test::write_file(pairs, "e.jsonl,e.jsonl\n");
    RunOptions o;
    o.cwd = dir.path().string();
    auto r = run_faceverify({"pairs", "--format", "csv", pairs}, o);
    CHECK(r.exit_code == 0);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 360001);  // the header, then one row per pair
    CHECK(r.err.rfind("faceverify: pairs: 360000 pairs: ", 0) == 0);
    CHECK(r.err.find(" different, 0 errors\n") != std::string::npos);
    CHECK(lines_of(r.err).size() == 1);
  }
  SECTION("more than 10000000 pairs are refused before any work") {
    test::write_file(dir / "e.jsonl", embedding_file(3163));
    test::write_file(pairs, "e.jsonl,e.jsonl\n");
    RunOptions o;
    o.cwd = dir.path().string();
    auto r = run_faceverify({"pairs", pairs}, o);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + pairs +
                       ": 10004569 pairs (line 1 alone is 3163 x 3163 images: an embedding file stands for all its "
                       "images); at most 10000000 pairs per run: split the file\n");
  }
  SECTION("--junit holds at most 100000 test cases") {
    test::write_file(dir / "e.jsonl", embedding_file(317));
    test::write_file(pairs, "e.jsonl,e.jsonl\n");
    RunOptions o;
    o.cwd = dir.path().string();
    auto r = run_faceverify({"pairs", "--junit", (dir / "r.xml").string(), pairs}, o);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(": 100489 pairs (line 1 alone is 317 x 317 images") != std::string::npos);
    CHECK(r.err.find("a JUnit report holds at most 100000 (one test case each): drop --junit") != std::string::npos);
    CHECK(!fs::exists(dir / "r.xml"));
  }
}

TEST_CASE("inputs: matrix refuses a table it cannot hold with the size it would need", "[e2e][inputs]") {
  test::TempDir dir;
  test::write_file(dir / "e.jsonl", embedding_file(2001));
  auto r = run_faceverify({"matrix", "--format", "csv", (dir / "e.jsonl").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "faceverify: matrix of 2001 inputs needs 192.2 MB of cells; at most 2000 inputs (for one face against many, "
        "use search; for chosen pairs, pairs)\n");
}

// The statements of docs/calibration.md and docs/pairs-file.md that issue 11
// found false were fixed in the docs; these pin what the docs now say.
TEST_CASE("inputs: what the docs say of -q and the band and JUnit types and the saved threshold", "[e2e][inputs]") {
  test::TempDir dir;
  auto record = [&](const std::string& name, int n, const std::string& faces) {
    char sha[65];
    std::snprintf(sha, sizeof sha, "%064d", n);
    test::write_file(dir / (name + ".jsonl"), R"({"type":"embedding","schema_version":1,"input":")" + name +
                                                  R"(.jpg","sha256":")" + sha + R"(","backend":"api4ai","faces":)" +
                                                  faces + "}\n");
    return (dir / (name + ".jsonl")).string();
  };
  const auto a = record("a", 1, R"([{"box":[0,0,1,1],"embedding":[1,0]}])");
  const auto b = record("b", 2, R"([{"box":[0,0,1,1],"embedding":[0.99,0.1]}])");
  const auto c = record("c", 3, "[]");
  const auto d = record("d", 4, R"([{"box":[0,0,1,1],"embedding":[0,1]}])");
  RunOptions o;
  o.cwd = dir.path().string();
  SECTION("calibrate -q still names a photo without a face and writes the threshold in full") {
    test::write_file(dir / "lab.csv", "a.jsonl,b.jsonl,same\na.jsonl,d.jsonl,different\na.jsonl,c.jsonl,different\n");
    const std::string config = (dir / "cfg.toml").string();
    auto r = run_faceverify({"calibrate", "-q", "--write-config", "--config", config, "lab.csv"}, o);
    CHECK(r.exit_code == 0);
    CHECK(r.err == "faceverify: c.jpg: no face found in the image; its pairs are left out\n");
    const std::string saved = test::read_file(config);
    const auto at = saved.find("threshold = ");
    REQUIRE(at != std::string::npos);
    const std::string value = saved.substr(at + 12, saved.find('\n', at) - at - 12);
    CHECK(value.size() > 8);  // not 6 significant digits: the value that reads back exactly
  }
  SECTION("search exits 5 on an uncertain candidate") {
    auto r = run_faceverify({"search", "--uncertain-band", "0.5", a, b, d}, o);
    CHECK(r.exit_code == 5);
    CHECK(r.out.find("uncertain") != std::string::npos);
  }
  SECTION("a JUnit error's type is the error kind") {
    test::write_file(dir / "p.csv", "a.jsonl,c.jsonl\n");
    auto r = run_faceverify({"pairs", "--junit", (dir / "r.xml").string(), "p.csv"}, o);
    CHECK(r.exit_code == 3);
    CHECK(test::read_file(dir / "r.xml").find("<error type=\"no_face\"") != std::string::npos);
  }
}

// SPDX-License-Identifier: MIT
// run(): the whole program in-process (parse, settings, command, exit
// status), on embedding files so that no backend is needed.
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "env_var.hpp"
#include "faceverify/app.hpp"
#include "faceverify/embedding_file.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace faceverify::test;

namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

// A stream whose every write fails with EIO, like a full disk.
class FailingBuf final : public std::streambuf {
 protected:
  int_type overflow(int_type) override {
    errno = EIO;
    return traits_type::eof();
  }
  std::streamsize xsputn(const char*, std::streamsize) override {
    errno = EIO;
    return 0;
  }
};

Result run_app(std::vector<std::string> args, std::ostream* out_override = nullptr) {
  args.insert(args.begin(), "faceverify");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Result r;
  r.status = faceverify::run(static_cast<int>(argv.size()), argv.data(), out_override ? *out_override : out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

EmbeddingRecord record(const std::string& input, std::vector<std::vector<double>> faces) {
  EmbeddingRecord r;
  r.input = input;
  r.sha256 = std::string(64, input.empty() ? '0' : static_cast<char>('a' + input.size() % 6));
  r.provenance = Provenance{BackendKind::api4ai, "demo", "https://demo.api4ai.cloud/face-analyzer/v1/results", {}, {}};
  r.tool_version = "test";
  r.analysis.width = 640;
  r.analysis.height = 480;
  for (auto& e : faces) {
    Face f;
    f.box = {0.1, 0.1, 0.5, 0.5};
    f.confidence = 0.99;
    f.embedding = std::move(e);
    r.analysis.faces.push_back(std::move(f));
  }
  return r;
}

// Isolates the run from the user's config file and threshold.
struct Sandbox {
  TempDir dir;
  EnvVar xdg{"XDG_CONFIG_HOME"};
  EnvVar threshold{"FACEVERIFY_THRESHOLD"};
  EnvVar backend{"FACEVERIFY_BACKEND"};
  Sandbox() {
    xdg.set(dir.path().string());
    threshold.unset();
    backend.unset();
  }
  std::string file(const std::string& name, const std::vector<EmbeddingRecord>& records) const {
    std::string text;
    for (const auto& r : records) text += render_embedding_record(r);
    write_file(dir / name, text);
    return (dir / name).string();
  }
};

}  // namespace

TEST_CASE("app: --version, --help and usage errors", "[app]") {
  auto v = run_app({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.starts_with("faceverify 1."));
  CHECK(v.err.empty());
  auto h = run_app({"pairs", "--help"});
  CHECK(h.status == 0);
  CHECK(h.out.find("faceverify pairs") != std::string::npos);
  auto u = run_app({"--threshold", "2", "a.jpg", "b.jpg"});
  CHECK(u.status == 2);
  CHECK(u.out.empty());
  CHECK(u.err.starts_with("faceverify: --threshold: '2': thresholds are in [0, 1]; did you mean 0.02?"));
  CHECK(u.err.find('\n') == u.err.size() - 1);
}

TEST_CASE("app: verify on embedding files: the verdict in text, JSON and the exit status", "[app]") {
  Sandbox box;
  const auto a = box.file("a.jsonl", {record("a.jpg", {{1, 0, 0, 0}})});
  const auto same = box.file("same.jsonl", {record("same.jpg", {{1, 0, 0, 0}})});
  const auto other = box.file("other.jsonl", {record("other.jpg", {{0, 1, 0, 0}})});
  auto s = run_app({a, same});
  CHECK(s.status == 0);
  CHECK(s.out == "Similarity is 100.0%.\nIt's the same person.\n");
  CHECK(s.err.empty());
  auto d = run_app({a, other});
  CHECK(d.status == 1);
  CHECK(d.out.find("There are different people on the images.\n") != std::string::npos);

  SECTION("a similarity exactly at the threshold is the same person, and verified agrees with decision") {
    const auto near = box.file("near.jsonl", {record("near.jpg", {{0.6, 0.8, 0, 0}})});
    auto first = run_app({"--json", a, near});
    const auto j = nlohmann::json::parse(first.out);
    const double similarity = j["similarity"].get<double>();
    CHECK(j["verified"] == (j["decision"] == "same"));
    char threshold[64];
    std::snprintf(threshold, sizeof threshold, "%.17g", similarity);
    auto at = run_app({"--json", "--threshold", threshold, a, near});
    CHECK(at.status == 0);
    const auto k = nlohmann::json::parse(at.out);
    CHECK(k["similarity"].get<double>() == similarity);
    CHECK(k["verified"] == true);
    CHECK(k["decision"] == "same");
    CHECK(k["threshold_source"] == "option");
    std::snprintf(threshold, sizeof threshold, "%.17g", std::nextafter(similarity, 2.0));
    auto above = run_app({"--json", "--threshold", threshold, a, near});
    CHECK(above.status == 1);
    const auto m = nlohmann::json::parse(above.out);
    CHECK(m["verified"] == false);
    CHECK(m["decision"] == "different");
  }
}

TEST_CASE("app: exit statuses follow one order, lost output included", "[app]") {
  Sandbox box;
  const auto people = box.file(
      "people.jsonl", {record("a.jpg", {{1, 0, 0, 0}}), record("b.jpg", {{0, 1, 0, 0}}), record("dog.jpg", {})});
  FailingBuf buf;
  std::ostream broken(&buf);
  SECTION("no face (3) outranks lost output (2)") {
    auto r = run_app({"matrix", "-q", people}, &broken);
    CHECK(r.status == 3);
    CHECK(r.err.find("dog.jpg: no face found in the image") != std::string::npos);
    CHECK(r.err.find("cannot write to standard output") != std::string::npos);
  }
  SECTION("lost output (2) outranks success") {
    const auto two = box.file("two.jsonl", {record("a.jpg", {{1, 0, 0, 0}}), record("b.jpg", {{0, 1, 0, 0}})});
    auto r = run_app({"matrix", "-q", two}, &broken);
    CHECK(r.status == 2);
    auto v = run_app({box.file("x.jsonl", {record("x.jpg", {{1, 0, 0, 0}})}),
                      box.file("y.jsonl", {record("y.jpg", {{1, 0, 0, 0}})})},
                     &broken);
    CHECK(v.status == 2);  // a verdict that could not be written is not a verdict
    CHECK(v.err.find("cannot write to standard output") != std::string::npos);
  }
  SECTION("with the output written, no face is 3") {
    auto r = run_app({"matrix", "-q", people});
    CHECK(r.status == 3);
    CHECK_FALSE(r.out.empty());
  }
}

TEST_CASE("app: an error outranks what would otherwise end the run early", "[app]") {
  Sandbox box;
  EmbeddingRecord failed = record("fail.jpg", {});
  failed.error = Error{ErrorKind::http, "fail.jpg: HTTP 500 from the service", 500, false, {}};
  const auto fail_file = box.file("fail.jsonl", {failed});
  SECTION("search: a reference without a face (3) does not hide a candidate's service error (4)") {
    const auto faceless = box.file("ref.jsonl", {record("ref.jpg", {})});
    const auto good = box.file("good.jsonl", {record("good.jpg", {{1, 0, 0, 0}})});
    auto r = run_app({"search", "-q", faceless, fail_file, good});
    CHECK(r.status == 4);
    CHECK(r.err.find("ref.jpg: no face found in the image") != std::string::npos);
    CHECK(r.err.find("fail.jpg: HTTP 500") != std::string::npos);
    CHECK(r.out.empty());
    auto only_no_face = run_app({"search", "-q", faceless, good});
    CHECK(only_no_face.status == 3);
  }
  SECTION("calibrate: an unreachable --target-far (2) does not hide a failed image (4)") {
    const auto a = box.file("a.jsonl", {record("a.jpg", {{1, 0, 0, 0}})});
    const auto twin = box.file("twin.jsonl", {record("twin.jpg", {{1, 0, 0, 0}})});
    const auto b = box.file("b.jsonl", {record("b.jpg", {{0.9, 0.1, 0, 0}})});
    // twin is an impostor with similarity 1: no threshold rejects it.
    write_file(box.dir / "pairs.csv",
               a + "," + b + ",same\n" + a + "," + twin + ",different\n" + a + "," + fail_file + ",same\n");
    auto r = run_app({"calibrate", "-q", "--target-far", "0.01", (box.dir / "pairs.csv").string()});
    CHECK(r.err.find("fail.jpg: HTTP 500") != std::string::npos);
    CHECK(r.err.find("no threshold keeps the false accept rate at or below 1%") != std::string::npos);
    CHECK(r.status == 4);
  }
}

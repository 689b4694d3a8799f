// SPDX-License-Identifier: MIT
// Gallery files end to end (issue 14): index build/add/info/export, every
// command reading a gallery like an embedding file, search's scan giving the
// JSON Lines path's answer, mixing backends refused, damage refused in one
// line, and outputs that never replace another kind of file.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e_support.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;
namespace fs = std::filesystem;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::RunOptions;

const json k_people = {{"images",
                        {{"alice1.jpg", {{"person", "alice"}}},
                         {"alice2.jpg", {{"person", "alice"}}},
                         {"alice3.jpg", {{"person", "alice"}}},
                         {"bob.jpg", {{"person", "bob"}}},
                         {"nobody.jpg", {{"faces", json::array()}}},
                         {"broken.jpg", {{"status", 503}, {"body", "{\"message\":\"overloaded\"}"}}}}}};

struct Gallery {
  test::FakeServer server{k_people};
  Photos photo;
  test::TempDir home;
  std::string a1 = photo("alice1.jpg"), a2 = photo("alice2.jpg"), a3 = photo("alice3.jpg"), bob = photo("bob.jpg"),
              nobody = photo("nobody.jpg"), broken = photo("broken.jpg");
  std::string dir(const std::string& name) const { return (photo.dir / name).string(); }
  RunOptions env() const {
    RunOptions o;
    o.env_overrides["XDG_CACHE_HOME"] = (home.path() / "cache").string();
    o.env_overrides["NO_COLOR"] = std::nullopt;
    return o;
  }
  test::ProcessResult run(std::vector<std::string> args) const {
    std::vector<std::string> full;
    for (auto& a : args) full.push_back(a);
    full.insert(full.end(), {"--api-url", server.base_url(), "--retries", "0"});
    return run_faceverify(full, env());
  }
  // Offline: a dead endpoint, so nothing below may need the network.
  test::ProcessResult offline(std::vector<std::string> args) const {
    args.insert(args.end(), {"--api-url", "http://127.0.0.1:1"});
    return run_faceverify(args, env());
  }
};

std::vector<json> lines(const std::string& text) {
  std::vector<json> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    out.push_back(json::parse(text.substr(at, end - at)));
    at = end + 1;
  }
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// `faceverify search` with `head` options, then `extra`, then the reference and one candidate file.
std::vector<std::string> search_args(std::vector<std::string> head, const std::vector<std::string>& extra,
                                     const std::string& ref, const std::string& file) {
  head.insert(head.end(), extra.begin(), extra.end());
  head.insert(head.end(), {ref, file});
  return head;
}

}  // namespace

TEST_CASE("gallery e2e: index build from images, info, and export round trip", "[e2e][gallery]") {
  Gallery g;
  const std::string out = g.dir("people.fvg");
  auto b = g.run({"index", "build", "--out", out, g.a1, g.a2, g.bob, g.nobody, g.broken});
  CHECK(b.exit_code == 4);  // as embed: a failed image outranks the one without a face
  CHECK(contains(b.err, "nobody.jpg: no face found in the image"));
  CHECK(contains(b.err, "broken.jpg: HTTP 503"));
  CHECK(contains(b.err, "people.fvg: written: 5 records"));
  CHECK(b.out.empty());
  REQUIRE(fs::exists(out));

  auto info = run_faceverify({"index", "info", "--json", "--verify", out});
  REQUIRE(info.exit_code == 0);
  CHECK(info.err.empty());
  const json j = json::parse(info.out);
  CHECK(j["type"] == "gallery_info");
  CHECK(j["records"] == 5);
  CHECK(j["faces"] == 3);
  CHECK(j["no_face"] == 1);
  CHECK(j["errors"] == 1);
  CHECK(j["dimension"] == 512);
  CHECK(j["backend"] == "api4ai");
  CHECK(j["endpoint"] == g.server.base_url() + "/face-analyzer/v1/results");
  CHECK(j["service_version"] == "v1.16.2");
  CHECK(j["matrix_checksum"] == "ok");
  auto text = run_faceverify({"index", "info", out});
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "Records: 5 (3 with faces, 1 without a face, 1 failed)"));
  CHECK(contains(text.out, "Faces: 3 x 512 float32"));

  // export gives embed's records back, vectors rounded to float32.
  auto e = g.run({"embed", "--ordered", g.a1, g.a2, g.bob, g.nobody, g.broken});
  auto x = run_faceverify({"index", "export", out});
  REQUIRE(x.exit_code == 0);
  CHECK(x.err.empty());
  const auto embedded = lines(e.out), exported = lines(x.out);
  REQUIRE(exported.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    json a = embedded[i], c = exported[i];
    if (a.contains("faces")) {
      for (std::size_t k = 0; k < a["faces"].size(); ++k) {
        const auto va = a["faces"][k]["embedding"].get<std::vector<double>>();
        const auto vc = c["faces"][k]["embedding"].get<std::vector<double>>();
        REQUIRE(va.size() == vc.size());
        for (std::size_t d = 0; d < va.size(); ++d) CHECK(std::fabs(va[d] - vc[d]) < 1e-6);
        a["faces"][k].erase("embedding");
        c["faces"][k].erase("embedding");
      }
    }
    CHECK(a == c);
  }
}

TEST_CASE("gallery e2e: search scans a gallery and gives the JSON Lines answer", "[e2e][gallery]") {
  Gallery g;
  auto e = g.run({"embed", "--ordered", g.a1, g.a2, g.a3, g.bob, g.nobody});
  REQUIRE(e.exit_code == 3);
  const std::string jsonl = g.dir("people.jsonl"), fvg = g.dir("people.fvg");
  test::write_file(jsonl, e.out);
  auto b = g.offline({"index", "build", "-q", "--out", fvg, jsonl});
  REQUIRE(b.exit_code == 0);
  CHECK(b.err.empty());
  const std::string ref = g.dir("ref.jsonl");
  test::write_file(ref, e.out.substr(0, e.out.find('\n') + 1));  // alice1: in both, so never ranked
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, {"--top", "1"}, {"--top", "2", "--face", "best"}, {"--uncertain-band", "0.5"}}) {
    auto a = g.offline(search_args({"search", "--json"}, extra, ref, jsonl));
    auto c = g.offline(search_args({"search", "--json"}, extra, ref, fvg));
    CHECK(a.exit_code == c.exit_code);
    CHECK(a.err == c.err);
    json ja = json::parse(a.out), jc = json::parse(c.out);
    REQUIRE(ja["results"].size() == jc["results"].size());
    for (std::size_t i = 0; i < ja["results"].size(); ++i) {
      auto& ra = ja["results"][i];
      auto& rc = jc["results"][i];
      CHECK(ra["input"] == rc["input"]);
      CHECK(ra["decision"] == rc["decision"]);
      if (ra["similarity"].is_number()) {
        CHECK(std::fabs(ra["similarity"].get<double>() - rc["similarity"].get<double>()) < 1e-5);
        CHECK(std::fabs(ra["distance"].get<double>() - rc["distance"].get<double>()) < 1e-5);
      }
      for (const char* k : {"similarity", "distance", "cosine"}) {
        ra.erase(k);
        rc.erase(k);
      }
    }
    CHECK(ja == jc);
  }
  SECTION("an image reference searched against the gallery needs only the reference's request") {
    const std::size_t before = g.server.requests().size();
    auto s = g.run({"search", "--format", "csv", "--no-cache", g.a2, fvg});
    CHECK(s.exit_code == 0);
    CHECK(contains(s.out, "alice1.jpg"));
    CHECK(contains(s.out, "bob.jpg"));
    CHECK_FALSE(contains(s.out, "alice2.jpg,"));  // the reference's own record is not ranked
    CHECK(g.server.requests().size() == before + 1);
  }
  SECTION("matrix, pairs and verify read the gallery's records") {
    auto m = g.offline({"matrix", "--format", "csv", fvg});
    auto mj = g.offline({"matrix", "--format", "csv", jsonl});
    CHECK(m.exit_code == mj.exit_code);
    CHECK(std::count(m.out.begin(), m.out.end(), '\n') == 6);
    const std::string one = g.dir("one.fvg");
    REQUIRE(g.offline({"index", "build", "-q", "--out", one, ref}).exit_code == 0);
    auto v = g.offline({"--json", one, g.dir("ref.jsonl")});
    CHECK(v.exit_code == 0);
    CHECK(json::parse(v.out)["similarity"].get<double>() > 0.999);
  }
}

TEST_CASE("gallery e2e: index add appends, and mixing backends is refused", "[e2e][gallery]") {
  Gallery g;
  const std::string fvg = g.dir("people.fvg");
  REQUIRE(g.run({"index", "build", "-q", "--out", fvg, g.a1, g.a2}).exit_code == 0);
  auto a = g.run({"index", "add", fvg, g.bob});
  CHECK(a.exit_code == 0);
  CHECK(contains(a.err, "people.fvg: now holds 3 records"));
  auto x = run_faceverify({"index", "export", fvg});
  const auto recs = lines(x.out);
  REQUIRE(recs.size() == 3);
  CHECK(recs[0]["input"] == g.a1);
  CHECK(recs[2]["input"] == g.bob);
  // Through a symbolic link: the gallery it names is replaced, keeping its mode; the link stays.
  fs::permissions(fvg, fs::perms::owner_read | fs::perms::owner_write);
  const std::string link = g.dir("link.fvg");
  fs::create_symlink(fvg, link);
  auto via = g.run({"index", "add", link, g.a3});
  CHECK(via.exit_code == 0);
  CHECK(contains(via.err, "link.fvg: now holds 4 records"));
  CHECK(fs::is_symlink(link));
  CHECK((fs::status(fvg).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(lines(run_faceverify({"index", "export", fvg}).out).size() == 4);

  // A local-backend record cannot join an api4ai gallery; the gallery is untouched.
  json local = recs[0];
  for (const char* k : {"api", "endpoint", "service_version", "md5"}) local.erase(k);
  local["backend"] = "local";
  local["models"] = {{"detector", {{"sha256", std::string(64, 'a')}}},
                     {"landmarks", {{"sha256", std::string(64, 'b')}}},
                     {"embedder", {{"sha256", std::string(64, 'c')}}}};
  local["input"] = "local.jpg";
  const std::string local_file = g.dir("local.jsonl");
  test::write_file(local_file, local.dump() + "\n");
  const std::string before = test::read_file(fvg);
  auto refused = g.offline({"index", "add", fvg, local_file});
  INFO(refused.err);
  CHECK(refused.exit_code == 2);
  CHECK(one_line(refused.err));
  CHECK(contains(refused.err, "local.jpg"));
  CHECK(contains(refused.err, "people.fvg"));
  CHECK(contains(refused.err, "cannot be compared"));
  CHECK(test::read_file(fvg) == before);
  auto s = g.offline({"search", local_file, fvg});
  CHECK(s.exit_code == 2);
  CHECK(one_line(s.err));
  CHECK(contains(s.err, "people.fvg"));
  CHECK(s.out.empty());
  auto m = g.offline({"matrix", local_file, fvg});
  CHECK(m.exit_code == 2);
  CHECK(contains(m.err, "cannot be compared"));
}

TEST_CASE("gallery e2e: damage is refused in one line, and outputs never replace another kind of file",
          "[e2e][gallery]") {
  Gallery g;
  const std::string fvg = g.dir("people.fvg");
  REQUIRE(g.run({"index", "build", "-q", "--out", fvg, g.a1, g.a2, g.bob}).exit_code == 0);
  const std::string good = test::read_file(fvg);
  const std::string ref = g.dir("ref.jsonl");
  test::write_file(ref, g.run({"embed", g.a3}).out);
  SECTION("a flipped byte in the tables, a truncated copy") {
    std::string bad = good;
    bad[good.size() - 400] ^= 0x10;  // metadata or the record table
    test::write_file(g.dir("bad.fvg"), bad);
    auto s = g.offline({"search", ref, g.dir("bad.fvg")});
    CHECK(s.exit_code == 2);
    CHECK(one_line(s.err));
    CHECK(contains(s.err, "bad.fvg: "));
    CHECK(contains(s.err, "checksum"));
    test::write_file(g.dir("short.fvg"), good.substr(0, good.size() / 2));
    for (const std::string cmd : {"search", "matrix"}) {
      auto t = cmd == "search" ? g.offline({cmd, ref, g.dir("short.fvg")}) : g.offline({cmd, g.dir("short.fvg")});
      CHECK(t.exit_code == 2);
      CHECK(one_line(t.err));
      CHECK(contains(t.err, "short.fvg: truncated: "));
    }
    auto i = run_faceverify({"index", "info", g.dir("short.fvg")});
    CHECK(i.exit_code == 2);
    CHECK(contains(i.err, "truncated"));
  }
  SECTION("--out refuses an input of the run and a file of another kind") {
    auto same = g.offline({"index", "build", "--out", ref, ref});
    CHECK(same.exit_code == 2);
    CHECK(contains(same.err, "--out would overwrite an input"));
    const std::string notes = g.dir("notes.txt");
    test::write_file(notes, "my notes\n");
    auto other = g.offline({"index", "build", "--out", notes, ref});
    CHECK(other.exit_code == 2);
    CHECK(contains(other.err, "notes.txt"));
    CHECK(test::read_file(notes) == "my notes\n");
    auto again = g.offline({"index", "build", "-q", "--out", fvg, ref});  // a gallery may be replaced
    CHECK(again.exit_code == 0);
    auto add_to_text = g.offline({"index", "add", notes, ref});
    CHECK(add_to_text.exit_code == 2);
    CHECK(contains(add_to_text.err, "notes.txt: not a faceverify gallery file"));
    CHECK(test::read_file(notes) == "my notes\n");
    auto missing = g.offline({"index", "add", g.dir("missing.fvg"), ref});
    CHECK(missing.exit_code == 2);
    CHECK(contains(missing.err, "missing.fvg: no such gallery file (create it with faceverify index build --out"));
    CHECK_FALSE(fs::exists(g.dir("missing.fvg")));
  }
}

TEST_CASE("gallery e2e: totals count the records --top leaves out, and a gallery without faces lists them",
          "[e2e][gallery]") {
  Gallery g;
  std::vector<std::string> args{"embed", "--ordered"};
  for (int i = 0; i < 45; ++i) args.push_back(g.photo("p" + std::to_string(i) + ".jpg"));
  args.push_back(g.nobody);
  auto e = g.run(args);
  REQUIRE(e.exit_code == 3);
  const std::string jsonl = g.dir("many.jsonl"), fvg = g.dir("many.fvg");
  test::write_file(jsonl, e.out);
  REQUIRE(g.offline({"index", "build", "-q", "--out", fvg, jsonl}).exit_code == 0);
  const std::string ref = g.dir("ref.jsonl");
  test::write_file(ref, g.run({"embed", g.a1}).out);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--threshold", "0.01"}, {"--threshold", "0.5", "--uncertain-band", "0.49"}, {}}) {
    auto ra = g.offline(search_args({"search", "--json", "--top", "1"}, extra, ref, jsonl));
    auto rc = g.offline(search_args({"search", "--json", "--top", "1"}, extra, ref, fvg));
    CHECK(ra.exit_code == rc.exit_code);
    const json ja = json::parse(ra.out), jc = json::parse(rc.out);
    CHECK(ja["candidates"] == 46);
    CHECK(jc["candidates"] == ja["candidates"]);
    CHECK(jc["matches"] == ja["matches"]);
    CHECK(jc.value("uncertain", -1) == ja.value("uncertain", -1));
  }
  // Only photos without a face: listed, exit 1, as from the embedding file.
  const std::string none = g.dir("none.fvg"), none_jsonl = g.dir("none.jsonl");
  test::write_file(none_jsonl, g.run({"embed", g.nobody}).out);
  REQUIRE(g.offline({"index", "build", "-q", "--out", none, none_jsonl}).exit_code == 0);
  auto s = g.offline({"search", "--format", "csv", ref, none});
  auto sj = g.offline({"search", "--format", "csv", ref, none_jsonl});
  CHECK(s.exit_code == 1);
  CHECK(s.exit_code == sj.exit_code);
  CHECK(s.out == sj.out);
  CHECK(s.err == sj.err);
  // index add FILE FILE would double every record: refused.
  auto twice = g.offline({"index", "add", fvg, fvg});
  CHECK(twice.exit_code == 2);
  CHECK(contains(twice.err, "is the gallery being appended to"));
}

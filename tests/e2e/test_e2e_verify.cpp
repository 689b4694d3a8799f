// SPDX-License-Identifier: MIT
// Runs the real faceverify binary against the fake API4AI server and checks
// exit code, stdout and stderr together.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "e2e_support.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;

namespace {

using namespace faceverify::test::e2e;

const json k_people = {{"images",
                        {{"alice1.jpg", {{"person", "alice"}}},
                         {"alice2.jpg", {{"person", "alice"}}},
                         {"bob.jpg", {{"person", "bob"}}},
                         {"https://example.com/alice.jpg", {{"person", "alice"}}}}}};

const std::regex k_same(R"(Similarity is \d{1,3}\.\d%\.\nIt's the same person\.\n)");
const std::regex k_different(R"(Similarity is \d{1,2}\.\d%\.\nThere are different people on the images\.\n)");

}  // namespace

TEST_CASE("verify: same person, different people", "[e2e]") {
  test::FakeServer server(k_people);
  Photos photo;
  SECTION("same person: exit 0, the reference script's two lines, nothing on stderr") {
    auto r = run_faceverify(with_server(server, {photo("alice1.jpg"), photo("alice2.jpg")}));
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
    CHECK(r.err.empty());
    auto log = server.requests();
    CHECK(log.size() == 2);
    for (const auto& req : log) {
      CHECK(req["path"] == "/face-analyzer/v1/results");
      CHECK(req["query"] == "embeddings=true");
      CHECK(req["field"] == "image");
      CHECK_FALSE(req["headers"].contains("x-api-key"));  // demo needs no key
    }
  }
  SECTION("different people: exit 1") {
    auto r = run_faceverify(with_server(server, {photo("alice1.jpg"), photo("bob.jpg")}));
    CHECK(r.exit_code == 1);
    CHECK(std::regex_match(r.out, k_different));
    CHECK(r.err.empty());
  }
  SECTION("--threshold moves the verdict") {
    auto r = run_faceverify(with_server(server, {"--threshold", "0", photo("alice1.jpg"), photo("bob.jpg")}));
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
  }
  SECTION("--quiet prints nothing; the exit code answers") {
    auto same = run_faceverify(with_server(server, {"-q", photo("alice1.jpg"), photo("alice2.jpg")}));
    CHECK(same.exit_code == 0);
    CHECK(same.out.empty());
    CHECK(same.err.empty());
    auto diff = run_faceverify(with_server(server, {"--quiet", photo("alice1.jpg"), photo("bob.jpg")}));
    CHECK(diff.exit_code == 1);
    CHECK(diff.out.empty());
  }
}

TEST_CASE("verify: URL and stdin inputs", "[e2e]") {
  test::FakeServer server(k_people);
  Photos photo;
  SECTION("a URL is sent as the url field for the service to download") {
    auto r = run_faceverify(with_server(server, {"https://example.com/alice.jpg", photo("alice2.jpg")}));
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
    CHECK(r.err.empty());
    auto log = server.requests();
    REQUIRE(requests_for(log, "https://example.com/alice.jpg") == 1);
    for (const auto& q : log) {
      if (q["key"] == "https://example.com/alice.jpg") CHECK(q["field"] == "url");
    }
  }
  SECTION("- reads standard input") {
    test::RunOptions o;
    o.stdin_data = k_jpeg_magic + " piped bytes";
    auto r = run_faceverify(with_server(server, {"-", photo("bob.jpg")}), o);
    CHECK(r.exit_code == 1);  // stdin is its own person
    CHECK(std::regex_match(r.out, k_different));
    CHECK(r.err.empty());
    CHECK(requests_for(server.requests(), "stdin.jpg") == 1);
  }
  SECTION("stdin that is not an image is refused before any request") {
    test::RunOptions o;
    o.stdin_data = "just text";
    auto r = run_faceverify(with_server(server, {"-", photo("bob.jpg")}), o);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: stdin: not an image (expected JPEG, PNG, WebP, BMP, GIF or TIFF)\n");
    CHECK(server.requests().empty());
  }
  SECTION("stdin only once") {
    auto r = run_faceverify(with_server(server, {"-", "-"}));
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(server.requests().empty());
  }
}

TEST_CASE("verify: --json", "[e2e]") {
  test::FakeServer server(json{{"images",
                                {{"alice1.jpg", {{"person", "alice"}}},
                                 {"group.jpg",
                                  {{"faces",
                                    {{{"person", "bob"}, {"box", {0.1, 0.1, 0.1, 0.1}}},
                                     {{"person", "alice"}, {"box", {0.5, 0.2, 0.3, 0.4}}}}}}}}}});
  Photos photo;
  auto r = run_faceverify(with_server(server, {"--json", photo("alice1.jpg"), photo("group.jpg")}));
  CHECK(r.exit_code == 0);
  REQUIRE(one_line(r.out));
  auto j = json::parse(r.out);
  CHECK(j["schema_version"] == 1);
  CHECK(j["verified"] == true);
  CHECK(j["decision"] == "same");
  CHECK(verdict_agrees(j));
  CHECK(j["similarity"].get<double>() > 0.8);
  CHECK(j["similarity"].get<double>() <= 1.0);
  CHECK(j["distance"].get<double>() < 1.0);
  CHECK(j["cosine"].is_number());
  CHECK(j["threshold"] == 0.8);
  CHECK(j["threshold_source"] == "default");
  CHECK(j["backend"] == "api4ai");
  REQUIRE(j["images"].size() == 2);
  CHECK(j["images"][0]["input"] == photo.dir.path().string() + "/alice1.jpg");
  CHECK(j["images"][0]["faces"] == 1);
  CHECK(j["images"][0]["sha256"].get<std::string>().size() == 64);
  CHECK(j["images"][1]["faces"] == 2);
  CHECK(j["images"][1]["face_index"] == 1);  // the larger box
  CHECK(j["images"][1]["box"][0].get<double>() == Approx(0.5));
  CHECK(j["images"][1]["confidence"].is_number());
  // Several faces: one line on stderr naming the image; stdout stays pure JSON.
  CHECK(r.err == "faceverify: " + photo.dir.path().string() +
                     "/group.jpg: 2 faces found; comparing the largest (face 2; --face best compares the most "
                     "similar pair)\n");
}

TEST_CASE("verify: --face policies with several faces", "[e2e]") {
  test::FakeServer server(json{{"images",
                                {{"alice1.jpg", {{"person", "alice"}}},
                                 {"group.jpg",
                                  {{"faces",
                                    {{{"person", "alice"}, {"box", {0.1, 0.1, 0.1, 0.1}}},
                                     {{"person", "bob"}, {"box", {0.5, 0.2, 0.3, 0.4}}}}}}}}}});
  Photos photo;
  auto largest = run_faceverify(with_server(server, {photo("alice1.jpg"), photo("group.jpg")}));
  CHECK(largest.exit_code == 1);  // the large face is bob
  CHECK(largest.err.find("group.jpg: 2 faces found; comparing the largest") != std::string::npos);
  auto first = run_faceverify(with_server(server, {"--face", "first", photo("alice1.jpg"), photo("group.jpg")}));
  CHECK(first.exit_code == 0);
  CHECK(first.err.find("comparing the first (face 1;") != std::string::npos);
  auto best = run_faceverify(with_server(server, {"--face", "best", photo("alice1.jpg"), photo("group.jpg")}));
  CHECK(best.exit_code == 0);
  CHECK(best.err.empty());
}

TEST_CASE("verify: --face largest of two faces of the same size compares the first", "[e2e]") {
  // Same width and height, so exactly the same area; only the order differs.
  // Binary fractions: the client's clipping ((x + w) - x) keeps them exact.
  test::FakeServer server(json{{"images",
                                {{"alice1.jpg", {{"person", "alice"}}},
                                 {"alice-then-bob.jpg",
                                  {{"faces",
                                    {{{"person", "alice"}, {"box", {0.125, 0.25, 0.25, 0.375}}},
                                     {{"person", "bob"}, {"box", {0.5, 0.5, 0.25, 0.375}}}}}}},
                                 {"bob-then-alice.jpg",
                                  {{"faces",
                                    {{{"person", "bob"}, {"box", {0.125, 0.25, 0.25, 0.375}}},
                                     {{"person", "alice"}, {"box", {0.5, 0.5, 0.25, 0.375}}}}}}}}}});
  Photos photo;
  const std::string alice = photo("alice1.jpg");
  SECTION("alice first: the same person, face 1") {
    const std::string group = photo("alice-then-bob.jpg");
    auto r = run_faceverify(with_server(server, {"--json", alice, group}));
    CHECK(r.exit_code == 0);
    REQUIRE(one_line(r.out));
    auto j = json::parse(r.out);
    CHECK(j["images"][1]["faces"] == 2);
    CHECK(j["images"][1]["face_index"] == 0);
    CHECK(j["images"][1]["box"][0] == 0.125);
    CHECK(j["decision"] == "same");
    CHECK(verdict_agrees(j));
    CHECK(r.err == "faceverify: " + group +
                       ": 2 faces found; comparing the largest (face 1; --face best compares the most similar "
                       "pair)\n");
  }
  SECTION("bob first: different people, face 1") {
    const std::string group = photo("bob-then-alice.jpg");
    auto r = run_faceverify(with_server(server, {alice, group}));
    CHECK(r.exit_code == 1);
    CHECK(std::regex_match(r.out, k_different));
    CHECK(r.err == "faceverify: " + group +
                       ": 2 faces found; comparing the largest (face 1; --face best compares the most similar "
                       "pair)\n");
  }
}

TEST_CASE("verify: a similarity exactly at --threshold is the same person", "[e2e]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("bob.jpg");
  auto first = run_faceverify(with_server(server, {"--json", a, b}));
  REQUIRE(first.exit_code == 1);
  REQUIRE(one_line(first.out));
  const auto measured = json::parse(first.out);
  CHECK(measured["decision"] == "different");
  CHECK(measured["verified"] == false);
  CHECK(verdict_agrees(measured));
  const double s = measured["similarity"].get<double>();
  REQUIRE(s > 0.0);
  REQUIRE(s < 0.8);
  // JSON numbers are printed to round trip: this text is the similarity exactly.
  const std::string exact = measured["similarity"].dump();
  REQUIRE(std::stod(exact) == s);
  CHECK(first.err.empty());

  SECTION("--json: exit 0, verified and decision same") {
    auto r = run_faceverify(with_server(server, {"--json", "--threshold", exact, a, b}));
    CHECK(r.exit_code == 0);
    REQUIRE(one_line(r.out));
    auto j = json::parse(r.out);
    CHECK(j["similarity"].get<double>() == s);
    CHECK(j["threshold"].get<double>() == s);
    CHECK(j["verified"] == true);
    CHECK(j["decision"] == "same");
    CHECK(verdict_agrees(j));
    CHECK(r.err.empty());
  }
  SECTION("text: exit 0, the same person") {
    auto r = run_faceverify(with_server(server, {"--threshold", exact, a, b}));
    CHECK(r.exit_code == 0);
    // At a threshold of 16 digits the number gets the decimals that keep it from reading below it.
    std::smatch m;
    REQUIRE(std::regex_match(r.out, m, std::regex(R"(Similarity is (\d{1,3}\.\d{1,6})%\.\nIt's the same person\.\n)")));
    CHECK(std::llround(std::stod(m[1].str()) * 1e6) >= std::llround(s * 1e8));
    CHECK(r.err.empty());
  }
  SECTION("the next number above the similarity: exit 1, different") {
    std::ostringstream above;
    above.precision(17);
    above << std::nextafter(s, 1.0);
    REQUIRE(std::stod(above.str()) > s);
    auto r = run_faceverify(with_server(server, {"--json", "--threshold", above.str(), a, b}));
    CHECK(r.exit_code == 1);
    REQUIRE(one_line(r.out));
    auto j = json::parse(r.out);
    CHECK(j["verified"] == false);
    CHECK(j["decision"] == "different");
    CHECK(verdict_agrees(j));
    CHECK(r.err.empty());
  }
}

TEST_CASE("verify: --json reports each image's own width and height", "[e2e]") {
  test::FakeServer server(json{{"images", {{"wide.jpg", {{"person", "erin"}}}, {"tall.jpg", {{"person", "erin"}}}}}});
  Photos photo;
  const std::string wide = (photo.dir / "wide.jpg").string(), tall = (photo.dir / "tall.jpg").string();
  test::write_file(wide, jpeg_of_size(640, 360, "wide"));
  test::write_file(tall, jpeg_of_size(270, 480, "tall"));
  auto r = run_faceverify(with_server(server, {"--json", wide, tall}));
  CHECK(r.exit_code == 0);
  REQUIRE(one_line(r.out));
  auto j = json::parse(r.out);
  REQUIRE(j["images"].size() == 2);
  CHECK(j["images"][0]["input"] == wide);
  CHECK(j["images"][0]["width"] == 640);
  CHECK(j["images"][0]["height"] == 360);
  CHECK(j["images"][1]["input"] == tall);
  CHECK(j["images"][1]["width"] == 270);
  CHECK(j["images"][1]["height"] == 480);
  CHECK(verdict_agrees(j));
  CHECK(r.err.empty());
}

TEST_CASE("verify: input and usage errors stop before any request", "[e2e]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string ok = photo("alice1.jpg");
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string err;
  };
  const std::string dir = photo.dir.path().string();
  test::write_file(dir + "/notes.pdf", "%PDF-1.4 not a photo");
  test::write_file(dir + "/empty.jpg", "");
  std::string big = k_jpeg_magic;
  big.resize(16 * 1024 * 1024 + 1, 'x');
  test::write_file(dir + "/big.jpg", big);
  for (const auto& c : std::vector<Case>{
           {"missing", {ok, dir + "/missing.jpg"}, "faceverify: " + dir + "/missing.jpg: no such file\n"},
           {"directory", {dir, ok}, "faceverify: " + dir + ": is a directory (expected an image file)\n"},
           {"empty", {ok, dir + "/empty.jpg"}, "faceverify: " + dir + "/empty.jpg: empty file (expected an image)\n"},
           {"not an image",
            {dir + "/notes.pdf", ok},
            "faceverify: " + dir + "/notes.pdf: not an image (expected JPEG, PNG, WebP, BMP, GIF or TIFF)\n"},
           {"too big",
            {ok, dir + "/big.jpg"},
            "faceverify: " + dir +
                "/big.jpg: file is 16.0 MiB, larger than the 16 MiB upload limit; shrink or "
                "recompress it\n"},
           {"bad scheme",
            {ok, "ftp://example.com/a.jpg"},
            "faceverify: ftp://example.com/a.jpg: unsupported URL scheme 'ftp' (only http:// and https:// URLs can be "
            "sent to the service)\n"},
           {"one image", {ok}, "faceverify: expected two images, got 1 (usage: faceverify [OPTIONS] IMAGE1 IMAGE2)\n"},
           {"bad threshold",
            {"--threshold", "1.2", ok, ok},
            "faceverify: --threshold: '1.2' is not a number from 0 to 1 (see faceverify --help)\n"},
       }) {
    INFO(c.name);
    auto r = run_faceverify(with_server(server, c.args));
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == c.err);
  }
  CHECK(server.requests().empty());
}

TEST_CASE("verify: awkward input paths", "[e2e]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string ok = photo("alice1.jpg");
  const std::string dir = photo.dir.path().string();
  SECTION("a symlink loop") {
    ::symlink((dir + "/loop").c_str(), (dir + "/loop").c_str());
    auto r = run_faceverify(with_server(server, {ok, dir + "/loop"}));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + dir + "/loop: too many levels of symbolic links\n");
  }
  SECTION("a path longer than the system allows") {
    const std::string path = dir + "/" + std::string(5000, 'x') + ".jpg";
    auto r = run_faceverify(with_server(server, {ok, path}));
    CHECK(r.exit_code == 2);
    CHECK(r.err.ends_with(": path too long\n"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  SECTION("a file name that is not UTF-8 and has a newline is shown on one line") {
    auto r = run_faceverify(with_server(server, {ok, dir + "/bad\xff\nname.jpg"}));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + dir + "/bad??name.jpg: no such file\n");
  }
  SECTION("a file that grows while it is read: bounded, never a crash or a hang") {
    const std::string growing = dir + "/growing.jpg";
    test::write_file(growing, k_jpeg_magic);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      std::ofstream out(growing, std::ios::binary | std::ios::app);
      const std::string chunk(1 << 20, 'g');
      for (int i = 0; i < 40 && !stop; ++i) {  // up to 40 MiB, 1 MiB every 5 ms
        out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        out.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    auto r = run_faceverify(with_server(server, {ok, growing}));
    stop = true;
    writer.join();
    // Depending on how far the writer got: read whole (a verdict) or over the 16 MiB limit (exit 2).
    CHECK((r.exit_code == 1 || r.exit_code == 2));
    if (r.exit_code == 2) CHECK(r.err.find("larger than the 16 MiB upload limit") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 1);
  }
  SECTION("a pipe from process substitution is read like a file") {
    auto r = test::run_process({"bash", "-c", "\"$0\" --api-url \"$1\" <(cat \"$2\") \"$3\"", FACEVERIFY_BINARY_PATH,
                                server.base_url(), photo("alice2.jpg"), ok},
                               clean_env());
    CHECK(r.exit_code == 1);  // the pipe's upload is named after /dev/fd/N, so it is its own person here
    CHECK(std::regex_match(r.out, k_different));
    CHECK(r.err.empty());
  }
  CHECK(server.requests().size() <= 2);
}

TEST_CASE("verify: keys and modes", "[e2e]") {
  test::FakeServer server(
      json{{"images", {{"echo.jpg", {{"status", 401}, {"body", R"({"message":"bad key K-9f8e7d6c5b"})"}}}}}});
  Photos photo;
  const std::string key = "K-9f8e7d6c5b";
  SECTION("api4ai mode sends X-API-KEY from API4AI_KEY") {
    test::RunOptions o;
    o.env_overrides["API4AI_KEY"] = key;
    auto r = run_faceverify(with_server(server, {"--api", "api4ai", photo("a.jpg"), photo("b.jpg")}), o);
    CHECK(r.exit_code == 1);
    auto log = server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0]["headers"]["x-api-key"] == key);
    CHECK(log[0]["path"] == "/face-analyzer/v1/results");
  }
  SECTION("rapidapi mode sends its key and host to /v1/results, key from a 0600 file") {
    const std::string key_file = (photo.dir / "key").string();
    test::write_file(key_file, key + "\n");
    ::chmod(key_file.c_str(), 0600);
    auto r = run_faceverify(
        with_server(server, {"--api", "rapidapi", "--api-key-file", key_file, photo("a.jpg"), photo("b.jpg")}));
    CHECK(r.exit_code == 1);
    auto log = server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0]["path"] == "/v1/results");
    CHECK(log[0]["headers"]["x-rapidapi-key"] == key);
    CHECK(log[0]["headers"]["x-rapidapi-host"] == "face-detection14.p.rapidapi.com");
  }
  SECTION("--api-key works but warns that others can see it; the key is never echoed") {
    auto r = run_faceverify(with_server(server, {"--api", "api4ai", "--api-key", key, photo("a.jpg"), photo("b.jpg")}));
    CHECK(r.exit_code == 1);
    CHECK(r.err ==
          "faceverify: warning: a key given with --api-key is visible to other users of this machine (ps, shell "
          "history); use API4AI_KEY or --api-key-file instead\n");
    CHECK(r.err.find(key) == std::string::npos);
    auto log = server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0]["headers"]["x-api-key"] == key);
  }
  SECTION("a missing key is a usage error") {
    auto r = run_faceverify(with_server(server, {"--api", "api4ai", photo("a.jpg"), photo("b.jpg")}));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: --api api4ai needs an API key: set API4AI_KEY or pass --api-key-file FILE\n");
    CHECK(server.requests().empty());
  }
  SECTION("a key file others can read is refused") {
    const std::string key_file = (photo.dir / "open-key").string();
    test::write_file(key_file, key);
    ::chmod(key_file.c_str(), 0644);
    auto r = run_faceverify(
        with_server(server, {"--api", "api4ai", "--api-key-file", key_file, photo("a.jpg"), photo("b.jpg")}));
    CHECK(r.exit_code == 2);
    CHECK(r.err ==
          "faceverify: --api-key-file " + key_file + ": readable by other users; run: chmod 600 " + key_file + "\n");
  }
  SECTION("the key never appears, even when the server echoes it and --verbose is on") {
    test::RunOptions o;
    o.env_overrides["API4AI_KEY"] = key;
    auto r = run_faceverify(with_server(server, {"--api", "api4ai", "-v", photo("echo.jpg"), photo("b.jpg")}), o);
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err.find(key) == std::string::npos);
    CHECK(r.err.find("HTTP 401: bad key [redacted]") != std::string::npos);
  }
}

TEST_CASE("verify: a key given where it is not expected is never echoed, not even in part", "[e2e]") {
  // cache takes no --api-key: the message names the unknown option, and no
  // part of its value (CLI11's own "not expected" message, which quotes the
  // arguments, is redacted too, as a second line of defence).
  const std::string key = "SECRETKEY123";
  auto no_part_of_the_key = [&](const std::string& err) {
    for (std::size_t len = 3; len <= key.size(); ++len) {
      for (std::size_t at = 0; at + len <= key.size(); ++at) {
        INFO("fragment " << key.substr(at, len));
        CHECK(err.find(key.substr(at, len)) == std::string::npos);
      }
    }
    // Nothing of the key right next to the placeholder either.
    CHECK(err.find(key.substr(0, 1) + "[redacted]") == std::string::npos);
    CHECK(err.find("[redacted]" + key.substr(key.size() - 1)) == std::string::npos);
  };
  SECTION("--api-key=KEY") {
    auto r = run_faceverify({"cache", "stats", "--api-key=" + key});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    // The unknown option is named; its value is never quoted.
    CHECK(r.err == "faceverify: unknown option --api-key (see faceverify cache --help)\n");
    CHECK(r.err.find(key.substr(0, 4)) == std::string::npos);
    CHECK(r.err.find(key.substr(1)) == std::string::npos);
    no_part_of_the_key(r.err);
  }
  SECTION("--api-key KEY") {
    auto r = run_faceverify({"cache", "stats", "--api-key", key});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    CHECK(r.err == "faceverify: unknown option --api-key (see faceverify cache --help)\n");
    CHECK(r.err.find(key.substr(0, 4)) == std::string::npos);
    CHECK(r.err.find(key.substr(1)) == std::string::npos);
    no_part_of_the_key(r.err);
  }
  SECTION("both spellings at once, and the key repeated") {
    auto r = run_faceverify({"cache", "clear", "--api-key=" + key, "--api-key", key, key});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    CHECK(r.err == "faceverify: unknown option --api-key (see faceverify cache --help)\n");
    no_part_of_the_key(r.err);
  }
}

TEST_CASE("verify: service errors exit 4 with one clear line", "[e2e]") {
  test::FakeServer server(
      json{{"images",
            {{"noface.jpg", {{"faces", json::array()}}},
             {"failure.jpg", {{"failure", "Can not load image."}}},
             {"401.jpg", {{"status", 401}}},
             {"403.jpg", {{"status", 403}}},
             {"413.jpg", {{"status", 413}}},
             {"422.jpg", {{"status", 422}}},
             {"501.jpg", {{"status", 501}, {"body", R"({"message":"Not Implemented"})"}}},
             {"daily.jpg",
              {{"status", 429},
               {"body", R"({"message":"You have exceeded the DAILY quota for Requests on your current )"
                        R"(plan, BASIC. Upgrade your plan at https://rapidapi.com/api4ai-api4ai-default/)"
                        R"(api/face-detection14"})"}}},
             {"garbage.jpg", {{"body", "this is not json"}}},
             {"huge.jpg", {{"oversize_bytes", 9 * 1024 * 1024}}},
             {"short.jpg", {{"embedding_length", 128}}},
             {"inf.jpg", {{"raw_vector", "[\"NaN\", 0.5]"}}},
             {"person.jpg", {{"person", "carol"}}}}}});
  Photos photo;
  const std::string ok = photo("person.jpg");
  struct Case {
    std::string file;
    int code;
    std::string err;  // the exact stderr, after the image path
  };
  for (const auto& c : std::vector<Case>{
           {"noface.jpg", 3, ": no face found in the image"},
           {"failure.jpg", 4, ": the service could not analyse it: Can not load image."},
           {"401.jpg", 4,
            ": HTTP 401: Invalid API key. Go to https://docs.rapidapi.com/docs/keys for more info. (the demo endpoint "
            "needs no key; check --api-url, or use --api api4ai)"},
           {"403.jpg", 4,
            ": HTTP 403: You are not subscribed to this API. (the demo endpoint needs no key; check --api-url, or use "
            "--api api4ai)"},
           {"413.jpg", 4,
            ": HTTP 413: 413 Request Entity Too Large (the service refused the upload as too large; send a smaller "
            "image)"},
           {"422.jpg", 4, ": HTTP 422: value could not be parsed to a boolean (query.embeddings)"},
           {"501.jpg", 4, ": HTTP 501: Not Implemented"},
           {"daily.jpg", 4,
            ": HTTP 429: You have exceeded the DAILY quota for Requests on your current plan, BASIC. Upgrade your "
            "plan at https://rapidapi.com/api4ai-api4ai-default/api/face-detection14 (the plan's daily quota is used "
            "up and retrying will not help before it resets tomorrow: use another key or plan (--api-key-file), or "
            "analyse offline with --backend local)"},
           {"garbage.jpg", 4, ": malformed response: not valid JSON (error at byte 2): \"this is not json\""},
           {"huge.jpg", 4,
            ": the answer from 127.0.0.1:" + std::to_string(server.port()) + " is larger than 8 MiB; refusing it"},
           {"inf.jpg", 4,
            ": malformed response: results[0].entities[0].objects[0].entities[2].vector[0] is not a number"},
       }) {
    INFO(c.file);
    server.reset();
    const std::string path = photo(c.file);
    auto r = run_faceverify(with_server(server, {ok, path}));
    CHECK(r.exit_code == c.code);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + path + c.err + "\n");
    CHECK(requests_for(server.requests(), c.file) == 1);  // permanent: never retried
  }
  SECTION("embeddings of different lengths") {
    auto r = run_faceverify(with_server(server, {ok, photo("short.jpg")}));
    CHECK(r.exit_code == 4);  // both analysed by the service: its fault, not the input's
    CHECK(r.err.find("short.jpg: its embedding has 128 values, ") != std::string::npos);
    CHECK(r.err.find("'s has 512; they cannot be compared") != std::string::npos);
    CHECK(one_line(r.err));
  }
  SECTION("both images failing are both reported; 4 outranks 3") {
    auto r = run_faceverify(with_server(server, {photo("noface.jpg"), photo("403.jpg")}));
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("403.jpg: HTTP 403") != std::string::npos);
  }
  SECTION("no server at all") {
    auto r = run_faceverify({"--api-url", "http://127.0.0.1:1", "--retries", "1", ok, ok});
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err.find("gave up after 2 attempts: cannot connect to 127.0.0.1:1") != std::string::npos);
  }
}

TEST_CASE("verify: retries", "[e2e]") {
  test::FakeServer server(
      json{{"images",
            {{"flaky.jpg", {{"sequence", {{{"status", 503}}, {{"status", 502}}, json::object()}}}},
             {"cut.jpg", {{"sequence", {{{"close_mid_body", true}}, json::object()}}}},
             {"busy.jpg", {{"sequence", {{{"status", 429}, {"headers", {{"Retry-After", "1"}}}}, json::object()}}}},
             {"limited.jpg", {{"sequence", {{{"status", 429}}, json::object()}}}},
             {"processing.jpg", {{"sequence", {{{"failure", "Processing failed"}}, json::object()}}}},
             {"down.jpg", {{"status", 503}}},
             {"broken.jpg", {{"status", 500}}},
             {"ok.jpg", json::object()}}}});
  Photos photo;
  const std::string ok = photo("ok.jpg");
  SECTION("503 and 502, then success; --verbose logs every attempt") {
    auto r = run_faceverify(with_server(server, {"-v", ok, photo("flaky.jpg")}));
    CHECK(r.exit_code == 1);
    CHECK(std::regex_match(r.out, k_different));
    CHECK(requests_for(server.requests(), "flaky.jpg") == 3);
    CHECK(r.err.find("flaky.jpg: attempt 1/5: HTTP 503") != std::string::npos);
    CHECK(r.err.find("retrying in") != std::string::npos);
    CHECK(r.err.find("flaky.jpg: attempt 3/5: HTTP 200") != std::string::npos);
    CHECK(r.err.find("ok.jpg: attempt 1/5: HTTP 200") != std::string::npos);
  }
  SECTION("a body cut short is retried") {
    auto r = run_faceverify(with_server(server, {ok, photo("cut.jpg")}));
    CHECK(r.exit_code == 1);
    CHECK(r.err.empty());
    CHECK(requests_for(server.requests(), "cut.jpg") == 2);
  }
  SECTION("429 waits for Retry-After") {
    auto r = run_faceverify(with_server(server, {ok, photo("busy.jpg")}));
    CHECK(r.exit_code == 1);
    auto log = server.requests();
    std::vector<json> busy;
    for (const auto& q : log) {
      if (q["key"] == "busy.jpg") busy.push_back(q);
    }
    REQUIRE(busy.size() == 2);
    CHECK(busy[1]["start_ms"].get<double>() - busy[0]["end_ms"].get<double>() >= 990.0);
  }
  SECTION("429 without Retry-After backs off and retries") {
    auto r = run_faceverify(with_server(server, {"-v", ok, photo("limited.jpg")}));
    CHECK(r.exit_code == 1);
    CHECK(requests_for(server.requests(), "limited.jpg") == 2);
    CHECK(r.err.find("limited.jpg: attempt 1/5: HTTP 429: Too many requests (rate limited;") != std::string::npos);
  }
  SECTION("'Processing failed' is retried") {
    auto r = run_faceverify(with_server(server, {ok, photo("processing.jpg")}));
    CHECK(r.exit_code == 1);
    CHECK(requests_for(server.requests(), "processing.jpg") == 2);
  }
  SECTION("--retries bounds the attempts; the error names the last status") {
    const std::string path = photo("broken.jpg");
    auto r = run_faceverify(with_server(server, {"--retries", "2", ok, path}));
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: " + path + ": gave up after 3 attempts: HTTP 500: Internal Server Error\n");
    CHECK(requests_for(server.requests(), "broken.jpg") == 3);
  }
  SECTION("--timeout bounds the whole run, backoff included") {
    const std::string path = photo("down.jpg");
    auto r = run_faceverify(with_server(server, {"--retries", "100", "--timeout", "2", ok, path}));
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    CHECK(r.err.find("gave up after") != std::string::npos);
    CHECK(r.err.find("(--timeout reached): HTTP 503") != std::string::npos);
    CHECK(one_line(r.err));
    // Generous bound: the point is "about 2 s", not "100 retries" (shared CI machines are noisy).
    CHECK(r.wall_ms < 5000.0);
  }
}

TEST_CASE("verify: TLS certificates are verified", "[e2e]") {
  test::TempDir dir;
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  auto made =
      test::run_process({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  REQUIRE(made.exit_code == 0);
  test::FakeServer server(k_people, cert, key);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  SECTION("a self-signed certificate is refused, naming the host and the cause, without retrying") {
    auto r = run_faceverify({"--api-url", server.base_url(), a, b});
    CHECK(r.exit_code == 4);
    CHECK(r.out.empty());
    const std::string why = ": TLS connection to 127.0.0.1:" + std::to_string(server.port()) +
                            " failed: its certificate is not trusted (use --cacert FILE for a private CA)\n";
    CHECK(r.err.find("faceverify: " + a + why) != std::string::npos);
    CHECK(r.err.find("faceverify: " + b + why) != std::string::npos);
    CHECK(r.err.find("gave up") == std::string::npos);
  }
  SECTION("accepted with --cacert") {
    auto r = run_faceverify({"--api-url", server.base_url(), "--cacert", cert, a, b});
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
    CHECK(r.err.empty());
  }
}

TEST_CASE("verify: redirects are not followed", "[e2e]") {
  test::FakeServer elsewhere;
  test::FakeServer server(
      json{{"images",
            {{"moved.jpg",
              {{"status", 307}, {"headers", {{"Location", elsewhere.base_url() + "/face-analyzer/v1/results"}}}}}}}});
  Photos photo;
  const std::string moved = photo("moved.jpg");
  test::RunOptions o;
  o.env_overrides["API4AI_KEY"] = "KEY-never-forwarded";
  auto r = run_faceverify(with_server(server, {"--api", "api4ai", photo("ok.jpg"), moved}), o);
  CHECK(r.exit_code == 4);
  CHECK(r.out.empty());
  CHECK(r.err == "faceverify: " + moved + ": HTTP 307: the service redirected to " + elsewhere.base_url() +
                     "/face-analyzer/v1/results; redirects are not followed (point --api-url at the final address)\n");
  CHECK(requests_for(server.requests(), "moved.jpg") == 1);
  CHECK(elsewhere.requests().empty());  // neither the photo nor the key went to the other host
}

TEST_CASE("verify: --timeout shorter than the server's answer", "[e2e]") {
  test::FakeServer server(json{{"default", {{"delay_ms", 5000}}}});
  Photos photo;
  const std::string a = photo("a.jpg");
  auto r = run_faceverify(with_server(server, {"--timeout", "1", a, photo("b.jpg")}));
  CHECK(r.exit_code == 4);
  CHECK(r.out.empty());
  CHECK(r.err.find("faceverify: " + a + ": ") != std::string::npos);
  CHECK(r.err.find("timed out") != std::string::npos);
  CHECK(r.wall_ms < 4000.0);  // bounded by --timeout (1 s), not by the server's 5 s
}

TEST_CASE("verify: the two analyses overlap in time", "[e2e]") {
  test::FakeServer server(json{{"default", {{"delay_ms", 700}}}});
  Photos photo;
  auto r = run_faceverify(with_server(server, {photo("a.jpg"), photo("b.jpg")}));
  CHECK(r.exit_code == 1);
  auto log = server.requests();
  REQUIRE(log.size() == 2);
  // Each request is held 700 ms by the server; sequential requests could not overlap.
  const double start_later = std::max(log[0]["start_ms"].get<double>(), log[1]["start_ms"].get<double>());
  const double end_earlier = std::min(log[0]["end_ms"].get<double>(), log[1]["end_ms"].get<double>());
  CHECK(start_later < end_earlier);
}

TEST_CASE("verify: signals and a closed stdout", "[e2e]") {
  test::FakeServer server(json{{"default", {{"delay_ms", 5000}}}});
  Photos photo;
  const std::string a = photo("a.jpg"), b = photo("b.jpg");
  for (const auto& [sig, status] : std::vector<std::pair<int, int>>{{SIGINT, 130}, {SIGTERM, 143}}) {
    INFO("signal " << sig);
    // env(1) execs faceverify in the same process, without proxy variables.
    const auto child = test::spawn_with_stdout_pipe({"env", "-u", "http_proxy", "-u", "https_proxy", "-u", "HTTP_PROXY",
                                                     "-u", "HTTPS_PROXY", "-u", "ALL_PROXY", "-u", "all_proxy",
                                                     FACEVERIFY_BINARY_PATH, "--api-url", server.base_url(), a, b});
    // Wait until both requests are in flight (the server holds them 5 s).
    for (int i = 0; i < 100 && server.requests().size() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto sent = std::chrono::steady_clock::now();
    ::kill(child.pid, sig);
    int wstatus = 0;
    ::waitpid(child.pid, &wstatus, 0);
    const auto took = std::chrono::steady_clock::now() - sent;
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(child.stdout_fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(child.stdout_fd);
    const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    CHECK(code == status);
    CHECK(out.empty());  // no partial record
    CHECK(took < std::chrono::seconds(1));
    server.reset();
  }
  SECTION("| head: a reader that goes away ends the run quietly, the exit code still tells") {
    test::FakeServer quick(k_people);
    const std::string x = photo("alice1.jpg"), y = photo("alice2.jpg");
    auto r = test::run_process({"bash", "-c", "\"$0\" \"$@\" | head -c 0; echo \"status ${PIPESTATUS[0]}\" >&2",
                                FACEVERIFY_BINARY_PATH, "--api-url", quick.base_url(), x, y},
                               clean_env());
    CHECK(r.err == "status 0\n");  // same person, and not a word about the closed pipe
  }
}

TEST_CASE("verify: golden fixture image end to end", "[e2e]") {
  test::FakeServer server;
  const std::string face = std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/api4ai/face.jpeg";
  auto r = run_faceverify(with_server(server, {"--json", face, face}));
  CHECK(r.exit_code == 0);
  auto j = json::parse(r.out);
  CHECK(j["similarity"] == 1.0);
  CHECK(verdict_agrees(j));
  CHECK(j["images"][0]["md5"] == "533c3e2300f8ddc5eb261a9f2d8d87d3");
  CHECK(j["images"][0]["confidence"].get<double>() == Approx(0.9920044541358948));
  CHECK(j["images"][0]["landmarks"]["nose-tip"][0].get<double>() == Approx(0.6892597675323486));
  CHECK(r.err.empty());
}

TEST_CASE("verify: --help and --version", "[e2e]") {
  auto help = run_faceverify({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.err.empty());
  for (const char* needle : {"Usage:", "--api-url", "Exit codes", "API4AI_KEY", "Examples"}) {
    CHECK(help.out.find(needle) != std::string::npos);
  }
  auto version = run_faceverify({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(std::regex_match(version.out, std::regex(R"(faceverify \d+\.\d+\.\d+\n)")));
}

// SPDX-License-Identifier: MIT
// Self-test of the test support code: fake_api4ai (via FakeServer) and run_process.
#include "fake_server.hpp"
#include "process.hpp"

#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace faceverify::test {
namespace {

using nlohmann::json;

const std::string k_fixture_dir = std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/api4ai";
constexpr const char* k_results = "/face-analyzer/v1/results";

httplib::Result post_image(httplib::Client& client, const std::string& bytes, const std::string& filename,
                           const std::string& query = "") {
  httplib::MultipartFormDataItems items = {{"image", bytes, filename, "application/octet-stream"}};
  return client.Post(std::string(k_results) + query, items);
}

// The face objects of results[0].
const json& faces_of(const json& envelope) {
  return envelope.at("results").at(0).at("entities").at(0).at("objects");
}

const json* find_entity(const json& face, const std::string& kind) {
  for (const auto& e : face.at("entities")) {
    if (e.at("kind") == kind) return &e;
  }
  return nullptr;
}

std::vector<double> vector_of(const json& face) {
  const json* v = find_entity(face, "vector");
  REQUIRE(v != nullptr);
  return v->at("vector").get<std::vector<double>>();
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

double norm(const std::vector<double>& a) {
  return distance(a, std::vector<double>(a.size(), 0.0));
}

}  // namespace

TEST_CASE("fake_api4ai default behaviour", "[fake_server]") {
  FakeServer server;
  httplib::Client client("127.0.0.1", server.port());
  const std::string bytes = "hello world\n";

  SECTION("one face, 512-D unit vector with embeddings=true") {
    auto res = post_image(client, bytes, "notes.txt", "?embeddings=true");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type").starts_with("application/json"));
    const auto body = json::parse(res->body);
    const auto& result = body.at("results").at(0);
    CHECK(result.at("status") == json{{"code", "ok"}, {"message", "Success"}});
    CHECK(result.at("name") == "notes.txt");
    CHECK(result.at("md5") == "6f5902ac237024bdd0c176cb93063dc4");
    CHECK_FALSE(result.contains("width"));
    CHECK(result.at("entities").at(0).at("name") == "face-detector");
    REQUIRE(faces_of(body).size() == 1);
    const auto& face = faces_of(body)[0];
    CHECK(face.at("box").size() == 4);
    CHECK(face.at("entities").at(0).at("classes").contains("face"));
    CHECK(face.at("entities").at(1).at("namedpoints").size() == 5);
    CHECK(face.at("entities").at(2).at("name") == "face-embeddings");
    const auto v = vector_of(face);
    CHECK(v.size() == 512);
    CHECK(norm(v) == Approx(1.0).epsilon(1e-9));
  }
  SECTION("True and 1 also enable embeddings; none without") {
    for (const std::string q : {"?embeddings=True", "?embeddings=1"}) {
      auto res = post_image(client, bytes, "a.jpg", q);
      REQUIRE(res);
      CHECK(find_entity(faces_of(json::parse(res->body))[0], "vector") != nullptr);
    }
    for (const std::string q : {"", "?embeddings=false", "?detection=true&embeddings=False"}) {
      auto res = post_image(client, bytes, "a.jpg", q);
      REQUIRE(res);
      const auto body = json::parse(res->body);
      const auto& face = faces_of(body)[0];
      CHECK(face.at("entities").size() == 2);
      CHECK(find_entity(face, "vector") == nullptr);
    }
  }
  SECTION("md5 matches md5sum; no filename gives name 'image'") {
    const std::string blob(100000, 'z');
    TempDir dir;
    write_file(dir / "blob", blob);
    const auto sum = run_process({"md5sum", (dir / "blob").string()});
    REQUIRE(sum.exit_code == 0);
    auto res = post_image(client, blob, "");
    REQUIRE(res);
    const auto result = json::parse(res->body).at("results").at(0);
    CHECK(result.at("md5") == sum.out.substr(0, 32));
    CHECK(result.at("name") == "image");
  }
  SECTION("PNG header gives width/height") {
    std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x01\x40\0\0\0\xf0\x08\x02\0\0\0", 29);
    auto res = post_image(client, png, "x.png");
    REQUIRE(res);
    const auto result = json::parse(res->body).at("results").at(0);
    CHECK(result.at("width") == 320);
    CHECK(result.at("height") == 240);
  }
  SECTION("same person is near, different people are far") {
    auto a = post_image(client, "image one", "1.jpg", "?embeddings=true");
    auto b = post_image(client, "image two", "2.jpg", "?embeddings=true");
    auto a2 = post_image(client, "image one", "1-again.jpg", "?embeddings=true");
    REQUIRE((a && b && a2));
    const auto va = vector_of(faces_of(json::parse(a->body))[0]);
    const auto vb = vector_of(faces_of(json::parse(b->body))[0]);
    const auto va2 = vector_of(faces_of(json::parse(a2->body))[0]);
    CHECK(distance(va, va2) == 0.0);  // deterministic
    CHECK(distance(va, vb) == Approx(std::sqrt(2.0)).margin(0.1));
  }
  SECTION("url input, multipart and urlencoded; 422 when missing") {
    httplib::MultipartFormDataItems items = {{"url", "https://example.com/a.jpg", "", ""}};
    auto r1 = client.Post("/v1/results", items);
    REQUIRE(r1);
    CHECK(r1->status == 200);
    auto r2 = client.Post("/v1/results?embeddings=true", "url=https%3A%2F%2Fexample.com%2Fa.jpg",
                          "application/x-www-form-urlencoded");
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(json::parse(r2->body).at("results").at(0).at("name") == "https://example.com/a.jpg");
    httplib::MultipartFormDataItems other = {{"file", "x", "x.jpg", ""}};
    auto r3 = client.Post(k_results, other);
    REQUIRE(r3);
    CHECK(r3->status == 422);
    CHECK(json::parse(r3->body).at("detail").at(0).at("type") == "value_error.missing");

    const auto log = server.requests();
    REQUIRE(log.size() == 3);
    CHECK(log[0].at("field") == "url");
    CHECK(log[0].at("key") == "https://example.com/a.jpg");
    CHECK(log[0].at("path") == "/v1/results");
    CHECK(log[1].at("query") == "embeddings=true");
    CHECK(log[1].at("key") == "https://example.com/a.jpg");
    CHECK(log[1].at("headers").at("content-type") == "application/x-www-form-urlencoded");
    CHECK(log[2].at("status") == 422);
    CHECK(log[2].at("field").is_null());
    CHECK(log[0].at("end_ms").get<double>() >= log[0].at("start_ms").get<double>());
    server.reset();
    CHECK(server.requests().empty());
  }
  SECTION("version endpoint") {
    for (const char* path : {"/face-analyzer/v1/version", "/v1/version"}) {
      auto res = client.Get(path);
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK(res->body == "\"v1.16.2\"");
    }
  }
  SECTION("request headers are logged lowercased") {
    httplib::MultipartFormDataItems items = {{"image", "abc", "h.jpg", ""}};
    auto res = client.Post(k_results, httplib::Headers{{"X-API-KEY", "secret"}}, items);
    REQUIRE(res);
    const auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0].at("headers").at("x-api-key") == "secret");
    CHECK(log[0].at("md5") == "900150983cd24fb0d6963f7d28e17f72");  // md5("abc")
    CHECK_FALSE(log[0].at("headers").contains("remote_addr"));
  }
}

TEST_CASE("fake_api4ai golden fixture replay", "[fake_server]") {
  FakeServer server;
  httplib::Client client("127.0.0.1", server.port());
  const auto bytes = read_file(k_fixture_dir + "/face.jpeg");
  const auto golden = json::parse(read_file(k_fixture_dir + "/face.response.json"));

  auto plain = post_image(client, bytes, "face.jpeg");
  REQUIRE(plain);
  CHECK(json::parse(plain->body) == golden);

  auto with_vec = post_image(client, bytes, "face.jpeg", "?embeddings=true");
  REQUIRE(with_vec);
  auto got = json::parse(with_vec->body);
  auto& entities = got["results"][0]["entities"][0]["objects"][0]["entities"];
  REQUIRE(entities.size() == 3);
  CHECK(entities[2].at("kind") == "vector");
  CHECK(entities[2].at("name") == "face-embeddings");
  CHECK(entities[2].at("vector").size() == 512);
  entities.erase(2);
  CHECK(got == golden);

  SECTION("JPEG size read from SOF when not replaying") {
    FakeServer scripted(json{{"images", {{"face.jpeg", {{"faces", json::array({json::object()})}}}}}});
    httplib::Client c2("127.0.0.1", scripted.port());
    auto res = post_image(c2, bytes, "face.jpeg");
    REQUIRE(res);
    const auto result = json::parse(res->body).at("results").at(0);
    CHECK(result.at("width") == 225);
    CHECK(result.at("height") == 225);
  }
}

TEST_CASE("fake_api4ai scenarios", "[fake_server]") {
  const json scenario = {
      {"default", {{"person", "someone"}}},
      {"images",
       {
           {"flaky.jpg",
            {{"sequence",
              json::array(
                  {{{"status", 503}, {"headers", {{"Retry-After", "1"}}}}, {{"status", 503}}, json::object()})}}},
           {"empty.jpg", {{"faces", json::array()}}},
           {"bad.txt", {{"failure", "Can not load image."}}},
           {"auth.jpg", {{"status", 401}}},
           {"slow.jpg", {{"delay_ms", 400}}},
           {"slow2.jpg", {{"delay_ms", 500}}},
           {"cut.jpg", {{"close_mid_body", true}}},
           {"two.jpg", {{"faces", json::array({{{"person", "alice"}}, {{"person", "bob"}, {"confidence", 0.5}}})}}},
           {"alice1.jpg", {{"person", "alice"}}},
           {"alice2.jpg", {{"person", "alice"}}},
           {"raw.jpg", {{"raw_vector", "[1e999, 0]"}}},
           {"short.jpg", {{"embedding_length", 3}, {"scale", 2.0}, {"noise", 0}}},
           {"explicit.jpg", {{"embedding", {1, 2, 3}}}},
           {"notjson.jpg", {{"body", "this is not json"}}},
           {"big.jpg", {{"oversize_bytes", 100000}}},
           {"teapot.jpg", {{"status", 418}, {"body", "{\"x\":1}"}}},
           {"https://example.com/x.jpg", {{"status", 403}}},
       }},
  };
  FakeServer server(scenario);
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(std::chrono::seconds(10));

  SECTION("sequence 503, 503, then 200 (counted per key, last element repeats)") {
    auto r1 = post_image(client, "f", "flaky.jpg");
    auto r2 = post_image(client, "f", "flaky.jpg");
    auto r3 = post_image(client, "f", "flaky.jpg");
    auto r4 = post_image(client, "f", "flaky.jpg");
    REQUIRE((r1 && r2 && r3 && r4));
    CHECK(r1->status == 503);
    CHECK(r1->get_header_value("Retry-After") == "1");
    CHECK(r1->body.find("<title>503 Service Unavailable</title>") != std::string::npos);
    CHECK(r2->status == 503);
    CHECK_FALSE(r2->has_header("Retry-After"));
    CHECK(r3->status == 200);
    CHECK(r4->status == 200);
    const auto log = server.requests();
    REQUIRE(log.size() == 4);
    CHECK(log[0].at("status") == 503);
    CHECK(log[2].at("status") == 200);
    server.reset();  // counters restart
    auto r5 = post_image(client, "f", "flaky.jpg");
    REQUIRE(r5);
    CHECK(r5->status == 503);
  }
  SECTION("no face") {
    auto res = post_image(client, "e", "empty.jpg");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(faces_of(json::parse(res->body)).empty());
  }
  SECTION("failure with HTTP 200") {
    auto res = post_image(client, "hello world\n", "bad.txt");
    REQUIRE(res);
    CHECK(res->status == 200);
    const auto result = json::parse(res->body).at("results").at(0);
    CHECK(result.at("status") == json{{"code", "failure"}, {"message", "Can not load image."}});
    CHECK(result.at("entities") == json::array());
  }
  SECTION("401 default body; 403 for a url key; custom status with body") {
    auto res = post_image(client, "a", "auth.jpg");
    REQUIRE(res);
    CHECK(res->status == 401);
    CHECK(json::parse(res->body).at("message") ==
          "Invalid API key. Go to https://docs.rapidapi.com/docs/keys for more info.");
    auto r403 = client.Post(k_results, "url=https%3A%2F%2Fexample.com%2Fx.jpg", "application/x-www-form-urlencoded");
    REQUIRE(r403);
    CHECK(r403->status == 403);
    CHECK(r403->body == R"({"message":"You are not subscribed to this API."})");
    auto tea = post_image(client, "t", "teapot.jpg");
    REQUIRE(tea);
    CHECK(tea->status == 418);
    CHECK(tea->body == "{\"x\":1}");
    CHECK(tea->get_header_value("Content-Type") == "application/json");
  }
  SECTION("delay_ms delays the answer") {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = post_image(client, "s", "slow.jpg");
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(elapsed >= std::chrono::milliseconds(390));
  }
  SECTION("concurrent requests overlap") {
    int status_a = 0;
    int status_b = 0;
    std::thread ta([&] {
      httplib::Client c("127.0.0.1", server.port());
      auto r = post_image(c, "s1", "slow2.jpg");
      status_a = r ? r->status : -1;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::thread tb([&] {
      httplib::Client c("127.0.0.1", server.port());
      auto r = post_image(c, "s2", "slow2.jpg");
      status_b = r ? r->status : -1;
    });
    ta.join();
    tb.join();
    CHECK(status_a == 200);
    CHECK(status_b == 200);
    const auto log = server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[1].at("start_ms").get<double>() < log[0].at("end_ms").get<double>());
    CHECK(log[0].at("end_ms").get<double>() - log[0].at("start_ms").get<double>() >= 490.0);
  }
  SECTION("close_mid_body is a client-side error") {
    auto res = post_image(client, "c", "cut.jpg");
    CHECK_FALSE(res);
    const auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0].at("status") == 200);
  }
  SECTION("several faces in order with persons; same person near") {
    auto res = post_image(client, "two", "two.jpg", "?embeddings=true");
    auto a1 = post_image(client, "a1", "alice1.jpg", "?embeddings=true");
    auto a2 = post_image(client, "a2", "alice2.jpg", "?embeddings=true");
    REQUIRE((res && a1 && a2));
    const auto body = json::parse(res->body);
    const auto& faces = faces_of(body);
    REQUIRE(faces.size() == 2);
    CHECK(faces[1].at("entities").at(0).at("classes").at("face") == 0.5);
    const double area0 = faces[0]["box"][2].get<double>() * faces[0]["box"][3].get<double>();
    const double area1 = faces[1]["box"][2].get<double>() * faces[1]["box"][3].get<double>();
    CHECK(area0 > area1);
    const auto v_alice_in_two = vector_of(faces[0]);
    const auto v_bob = vector_of(faces[1]);
    const auto v_a1 = vector_of(faces_of(json::parse(a1->body))[0]);
    const auto v_a2 = vector_of(faces_of(json::parse(a2->body))[0]);
    CHECK(distance(v_a1, v_a2) < 0.6);
    CHECK(distance(v_a1, v_alice_in_two) < 0.6);
    CHECK(distance(v_a1, v_bob) > 1.2);
  }
  SECTION("default scenario entry applies to unknown keys") {
    auto x = post_image(client, "x", "x.jpg", "?embeddings=true");
    auto y = post_image(client, "y", "y.jpg", "?embeddings=true");
    REQUIRE((x && y));
    CHECK(distance(vector_of(faces_of(json::parse(x->body))[0]), vector_of(faces_of(json::parse(y->body))[0])) < 0.6);
  }
  SECTION("raw_vector, embedding_length, scale, explicit embedding") {
    auto raw = post_image(client, "r", "raw.jpg", "?embeddings=true");
    REQUIRE(raw);
    CHECK(raw->body.find("\"vector\":[1e999, 0]") != std::string::npos);
    auto no_vec = post_image(client, "r", "raw.jpg");
    REQUIRE(no_vec);
    CHECK(no_vec->body.find("1e999") == std::string::npos);
    auto s = post_image(client, "s", "short.jpg", "?embeddings=true");
    REQUIRE(s);
    const auto vs = vector_of(faces_of(json::parse(s->body))[0]);
    CHECK(vs.size() == 3);
    CHECK(norm(vs) == Approx(2.0));
    auto e = post_image(client, "e", "explicit.jpg", "?embeddings=true");
    REQUIRE(e);
    CHECK(vector_of(faces_of(json::parse(e->body))[0]) == std::vector<double>{1, 2, 3});
  }
  SECTION("verbatim body and oversize body") {
    auto nj = post_image(client, "n", "notjson.jpg");
    REQUIRE(nj);
    CHECK(nj->status == 200);
    CHECK(nj->body == "this is not json");
    CHECK(nj->get_header_value("Content-Type") == "text/plain");
    auto big = post_image(client, "b", "big.jpg");
    REQUIRE(big);
    CHECK(big->body.size() == 100000);
    CHECK(json::parse(big->body).at("results").at(0).at("status").at("code") == "ok");
  }
}

TEST_CASE("fake_api4ai shuts down on POST /__shutdown", "[fake_server]") {
  FakeServer server;
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Post("/__shutdown");
  REQUIRE(res);
  CHECK(res->status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  httplib::Client again("127.0.0.1", server.port());
  CHECK_FALSE(again.Get("/v1/version"));
}

TEST_CASE("FakeServer leaves no zombie or fd behind", "[fake_server]") {
  auto fd_count = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  const auto before = fd_count();
  pid_t pid = -1;
  {
    FakeServer server;
    pid = server.pid();
    CHECK(server.requests().empty());
    CHECK(server.base_url() == "http://127.0.0.1:" + std::to_string(server.port()));
  }
  CHECK(fd_count() == before);
  CHECK(::kill(pid, 0) == -1);  // reaped: the pid no longer exists
  (void)run_process({"true"});
  CHECK(fd_count() == before);
}

TEST_CASE("run_process", "[process]") {
  SECTION("exit code, stdout and stderr") {
    const auto r = run_process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(r.exit_code == 3);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    CHECK_FALSE(r.timed_out);
  }
  SECTION("stdin passthrough, large enough to need concurrent I/O") {
    std::string data;
    for (int i = 0; i < 200000; ++i) data += "line " + std::to_string(i) + "\n";
    RunOptions opts;
    opts.stdin_data = data;
    const auto r = run_process({"cat"}, opts);
    CHECK(r.exit_code == 0);
    CHECK(r.out == data);
  }
  SECTION("timeout kills with SIGKILL") {
    RunOptions opts;
    opts.timeout = std::chrono::milliseconds(300);
    const auto r = run_process({"/bin/sh", "-c", "echo started; sleep 30"}, opts);
    CHECK(r.exit_code == 128 + 9);
    CHECK(r.timed_out);
    CHECK(r.out == "started\n");
    CHECK(r.wall_ms < 5000);
  }
  SECTION("stdin left open is seen as open until timeout") {
    RunOptions opts;
    opts.close_stdin = false;
    opts.timeout = std::chrono::milliseconds(300);
    const auto r = run_process({"cat"}, opts);
    CHECK(r.timed_out);
  }
  SECTION("environment overrides and cwd") {
    RunOptions opts;
    opts.env_overrides["FV_TEST_VAR"] = "hello";
    opts.env_overrides["HOME"] = std::nullopt;
    opts.cwd = "/tmp";
    const auto r = run_process({"/bin/sh", "-c", "echo \"$FV_TEST_VAR|${HOME-unset}|$(pwd)\""}, opts);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "hello|unset|/tmp\n");
  }
  SECTION("signal exit code and missing program") {
    CHECK(run_process({"/bin/sh", "-c", "kill -TERM $$"}).exit_code == 128 + 15);
    const auto r = run_process({"/nonexistent/program"});
    CHECK(r.exit_code == 127);
  }
  SECTION("TempDir is removed") {
    std::filesystem::path p;
    {
      TempDir dir;
      p = dir.path();
      std::filesystem::create_directories(dir / "a/b");
      write_file(dir / "a/b/c.txt", "x");
      CHECK(read_file(dir / "a/b/c.txt") == "x");
    }
    CHECK_FALSE(std::filesystem::exists(p));
  }
}

}  // namespace faceverify::test

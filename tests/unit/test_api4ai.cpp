// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "faceverify/api4ai.hpp"
#include "http_fakes.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace faceverify::api4ai;
using nlohmann::json;

namespace {

json golden() {
  return json::parse(test::read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/api4ai/face.response.json"));
}

json vector_entity(std::size_t n, double value = 0.01) {
  return {{"kind", "vector"}, {"name", "face-embeddings"}, {"vector", std::vector<double>(n, value)}};
}

// The golden reply with a 512-value vector added to its face, as the service
// sends when embeddings=true is asked for.
json golden_with_vector() {
  json j = golden();
  j["results"][0]["entities"][0]["objects"][0]["entities"].push_back(vector_entity(512));
  return j;
}

json& first_face(json& j) {
  return j["results"][0]["entities"][0]["objects"][0];
}

std::string parse_error(const json& j) {
  auto r = parse_response(j.dump());
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::api_response);
  return r.error().message;
}

}  // namespace

TEST_CASE("api4ai::parse_response keeps the landmarks in the reply's order", "[api4ai]") {
  // The fixture in its own (the service's) order, with a vector added.
  auto reply = nlohmann::ordered_json::parse(
      test::read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/api4ai/face.response.json"));
  reply["results"][0]["entities"][0]["objects"][0]["entities"].push_back(
      {{"kind", "vector"}, {"name", "face-embeddings"}, {"vector", std::vector<double>(512, 0.01)}});
  auto r = parse_response(reply.dump());
  REQUIRE(r);
  REQUIRE(r->faces.size() == 1);
  std::vector<std::string> names;
  for (const auto& [name, p] : r->faces[0].landmarks) names.push_back(name);
  CHECK(names ==
        std::vector<std::string>{"left-eye", "right-eye", "nose-tip", "mouth-left-corner", "mouth-right-corner"});
}

TEST_CASE("api4ai::parse_response golden fixture", "[api4ai]") {
  auto r = parse_response(golden_with_vector().dump());
  REQUIRE(r);
  CHECK(r->name == "face.jpeg");
  CHECK(r->md5 == "533c3e2300f8ddc5eb261a9f2d8d87d3");
  CHECK_FALSE(r->width.has_value());
  REQUIRE(r->faces.size() == 1);
  const Face& f = r->faces[0];
  CHECK(f.box[0] == Approx(0.2931367974543039));
  CHECK(f.box[1] == Approx(0.1336476319097939));
  CHECK(f.box[2] == Approx(0.6403101791812056));
  CHECK(f.confidence == Approx(0.9920044541358948));
  REQUIRE(f.landmarks.size() == 5);
  CHECK(f.landmarks[0].first == "left-eye");
  CHECK(f.landmarks[0].second.x == Approx(0.5686073875427247));
  CHECK(f.embedding.size() == 512);
}

TEST_CASE("api4ai::parse_response finds entities by kind and name, not position", "[api4ai]") {
  json j = golden_with_vector();
  auto& ents = first_face(j)["entities"];
  std::reverse(ents.begin(), ents.end());
  // An unrelated entity first at the top level must not confuse the parser.
  j["results"][0]["entities"].insert(j["results"][0]["entities"].begin(),
                                     json{{"kind", "classes"}, {"name", "other"}, {"classes", json::object()}});
  auto r = parse_response(j.dump());
  REQUIRE(r);
  REQUIRE(r->faces.size() == 1);
  CHECK(r->faces[0].confidence == Approx(0.9920044541358948));
  CHECK(r->faces[0].embedding.size() == 512);
}

TEST_CASE("api4ai::parse_response collects several faces, no face, whole-image vector", "[api4ai]") {
  SECTION("two faces") {
    json j = golden_with_vector();
    json second = first_face(j);
    second["box"] = {0.7, 0.2, 0.1, 0.2};
    j["results"][0]["entities"][0]["objects"].push_back(second);
    auto r = parse_response(j.dump());
    REQUIRE(r);
    CHECK(r->faces.size() == 2);
    CHECK(r->faces[1].box[0] == Approx(0.7));
  }
  SECTION("no face: objects empty, or no entities at all") {
    json j = golden();
    j["results"][0]["entities"][0]["objects"] = json::array();
    CHECK(parse_response(j.dump())->faces.empty());
    j["results"][0]["entities"] = json::array();
    CHECK(parse_response(j.dump())->faces.empty());
  }
  SECTION("a vector entity at the top level is one face covering the image") {
    json j = golden();
    j["results"][0]["entities"] = json::array({vector_entity(4)});
    auto r = parse_response(j.dump());
    REQUIRE(r);
    REQUIRE(r->faces.size() == 1);
    CHECK(r->faces[0].box == std::array<double, 4>{0, 0, 1, 1});
  }
  SECTION("width and height are read when present") {
    json j = golden_with_vector();
    j["results"][0]["width"] = 225;
    j["results"][0]["height"] = 200;
    auto r = parse_response(j.dump());
    CHECK(r->width == 225);
    CHECK(r->height == 200);
  }
  SECTION("boxes reaching past the image are clipped") {
    json j = golden_with_vector();
    first_face(j)["box"] = {-0.1, 0.5, 0.5, 0.7};
    auto r = parse_response(j.dump());
    REQUIRE(r);
    CHECK(r->faces[0].box[0] == 0.0);
    CHECK(r->faces[0].box[2] == Approx(0.4));
    CHECK(r->faces[0].box[3] == Approx(0.5));
  }
}

TEST_CASE("api4ai::parse_response rejections", "[api4ai]") {
  SECTION("failure status in a 200 shows the service's message") {
    json j = golden();
    j["results"][0]["status"] = {{"code", "failure"}, {"message", "Can not load image."}};
    auto r = parse_response(j.dump());
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "the service could not analyse it: Can not load image.");
    CHECK_FALSE(r.error().retryable);
  }
  SECTION("'Processing failed' is the one retryable failure") {
    json j = golden();
    j["results"][0]["status"] = {{"code", "failure"}, {"message", "Processing failed"}};
    auto r = parse_response(j.dump());
    REQUIRE_FALSE(r);
    CHECK(r.error().retryable);
  }
  SECTION("not JSON") {
    CHECK(parse_error(json("x")) == "malformed response: top level is not a JSON object");
    auto r = parse_response("<html>oops</html>");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "malformed response: not valid JSON (error at byte 1): \"oops\"");
    CHECK(parse_response("").error().message == "malformed response: empty body");
  }
  SECTION("missing, wrong-typed or empty results") {
    CHECK(parse_error(json::object()) == "malformed response: no \"results\"");
    CHECK(parse_error(json{{"results", 5}}) == "malformed response: \"results\" is not an array");
    CHECK(parse_error(json{{"results", json::array()}}) == "malformed response: \"results\" is empty");
    CHECK(parse_error(json::array()) == "malformed response: top level is not a JSON object");
  }
  SECTION("missing status or entities") {
    json j = golden();
    j["results"][0].erase("status");
    CHECK(parse_error(j) == "malformed response: results[0] has no status");
    j = golden();
    j["results"][0].erase("entities");
    CHECK(parse_error(j) == "malformed response: results[0] has no \"entities\"");
    j = golden();
    j["results"][0]["entities"] = "none";
    CHECK(parse_error(j) == "malformed response: results[0].entities is not an array");
  }
  SECTION("a face without an embedding") {
    CHECK(parse_error(golden()).find("objects[0] has no face-embeddings vector") != std::string::npos);
  }
  SECTION("an empty embedding") {
    json j = golden();
    first_face(j)["entities"].push_back(vector_entity(0));
    CHECK(parse_error(j).find("empty embedding") != std::string::npos);
  }
  SECTION("non-numeric or non-finite values") {
    json j = golden();
    json v = vector_entity(3);
    v["vector"][1] = "0.5";
    first_face(j)["entities"].push_back(v);
    CHECK(parse_error(j).find(".vector[1] is not a number") != std::string::npos);
    std::string body = golden_with_vector().dump();
    const auto at = body.find("0.01");
    body.replace(at, 4, "1e999");
    auto r = parse_response(body);
    REQUIRE_FALSE(r);
    // JSON cannot carry inf or NaN; an overflowing number is refused by the parser.
    CHECK(r.error().message.find("not valid JSON") != std::string::npos);
  }
  SECTION("wrong box types and sizes") {
    json j = golden_with_vector();
    first_face(j)["box"] = {0.1, 0.2, 0.3};
    CHECK(parse_error(j).find(".box is not [x, y, width, height]") != std::string::npos);
    first_face(j)["box"] = {0.1, 0.2, -0.3, 0.3};
    CHECK(parse_error(j).find("not positive") != std::string::npos);
    first_face(j)["box"] = {1.5, 0.2, 0.3, 0.3};
    CHECK(parse_error(j).find("outside the image") != std::string::npos);
  }
  SECTION("wrong landmark and confidence types") {
    json j = golden_with_vector();
    first_face(j)["entities"][1]["namedpoints"]["nose-tip"] = "here";
    CHECK(parse_error(j).find("namedpoints.nose-tip is not [x, y]") != std::string::npos);
    j = golden_with_vector();
    first_face(j)["entities"][0]["classes"]["face"] = nullptr;
    CHECK(parse_error(j).find("classes.face is not a number") != std::string::npos);
  }
  SECTION("an HTML page in a 200 shows its title, never markup") {
    auto r = parse_response("<!DOCTYPE html><html><head><title>Login required</title></head><body>x</body></html>");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "malformed response: not valid JSON (error at byte 1): \"Login required\"");
  }
  SECTION("deep nesting is refused without recursion") {
    std::string bomb = std::string(100000, '[') + std::string(100000, ']');
    auto r = parse_response(bomb);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("nested deeper") != std::string::npos);
  }
}

TEST_CASE("api4ai::faceverify_model_set", "[api4ai][serve]") {
  auto model_set = [](std::vector<Header> headers) {
    HttpResponse r;
    r.status = 200;
    r.headers = std::move(headers);
    return faceverify_model_set(r);
  };
  CHECK(model_set({}) == std::string());  // any other service
  const std::string id(64, 'a');
  CHECK(model_set({{"x-faceverify-models", id}}) == id);
  CHECK(model_set({{"x-faceverify-models", " " + std::string(64, 'A') + "\r"}}) == id);  // lowercased, trimmed
  for (const std::string& bad : {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'g'), std::string()}) {
    INFO(bad);
    auto r = model_set({{"x-faceverify-models", bad}});
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::api_response);
    CHECK(r.error().message.find("X-Faceverify-Models header is not a SHA-256") != std::string::npos);
  }
}

TEST_CASE("api4ai::error_from_response", "[api4ai]") {
  const auto now = std::chrono::system_clock::now();
  auto status = [&](int code, std::string body = {}, std::vector<Header> headers = {}) {
    HttpResponse r;
    r.status = code;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return error_from_response(r, now);
  };
  for (int code : {429, 500, 502, 503, 504}) CHECK(status(code).retryable);
  for (int code : {400, 401, 403, 404, 413, 422}) CHECK_FALSE(status(code).retryable);
  CHECK(status(503).kind == ErrorKind::http);
  CHECK(status(503).http_status == 503);
  CHECK(status(401, R"({"message":"Unauthorized"})").message == "HTTP 401: Unauthorized");
  CHECK(status(429, "", {{"retry-after", "7"}}).retry_after == Millis(7000));
  const Error redirect = status(302, "", {{"location", "http://elsewhere.example/x"}});
  CHECK_FALSE(redirect.retryable);
  CHECK(redirect.message ==
        "HTTP 302: the service redirected to http://elsewhere.example/x; redirects are not followed (point --api-url "
        "at the final address)");
  const Error no_content = status(204);
  CHECK(no_content.kind == ErrorKind::api_response);
  CHECK(no_content.message == "HTTP 204: unexpected status (the service answers 200)");
  CHECK_FALSE(
      status(429, R"({"message":"You have exceeded the MONTHLY quota for Requests on your current plan, BASIC."})")
          .retryable);
}

TEST_CASE("api4ai::error_from_response: which statuses are worth retrying", "[api4ai]") {
  const auto now = std::chrono::system_clock::now();
  auto status = [&](int code, std::string body = {}) {
    HttpResponse r;
    r.status = code;
    r.body = std::move(body);
    return error_from_response(r, now);
  };
  SECTION("5xx: only 500, 502, 503 and 504 are transient; 501 and the rest are permanent") {
    for (int code : {500, 502, 503, 504}) {
      INFO("HTTP " << code);
      CHECK(status(code).retryable);
    }
    for (int code : {501, 505, 506, 507, 508, 510, 511, 599}) {
      INFO("HTTP " << code);
      const Error e = status(code, R"({"message":"Not Implemented"})");
      CHECK_FALSE(e.retryable);
      CHECK(e.kind == ErrorKind::http);
      CHECK(e.http_status == code);
    }
    CHECK(status(501, R"({"message":"Not Implemented"})").message.starts_with("HTTP 501: Not Implemented"));
  }
  SECTION("RapidAPI's quota messages, DAILY as well as MONTHLY, are not retried; its rate limit is") {
    for (const char* plan : {"BASIC", "PRO", "ULTRA", "MEGA"}) {
      INFO(plan);
      CHECK_FALSE(status(429, std::string(R"({"message":"You have exceeded the DAILY quota for Requests on your )"
                                          "current plan, ") +
                                  plan +
                                  R"(. Upgrade your plan at https://rapidapi.com/api4ai-api4ai-default/api/)"
                                  R"(face-detection14"})")
                      .retryable);
      CHECK_FALSE(status(429, std::string(R"({"message":"You have exceeded the MONTHLY quota for Requests on your )"
                                          "current plan, ") +
                                  plan +
                                  R"(. Upgrade your plan at https://rapidapi.com/api4ai-api4ai-default/api/)"
                                  R"(face-detection14"})")
                      .retryable);
    }
    CHECK(status(429, R"({"message":"You have exceeded the rate limit per second for your plan, BASIC, by the API )"
                      R"(provider"})")
              .retryable);
    CHECK(status(429, R"({"message":"Too many requests"})").retryable);
  }
}

TEST_CASE("api4ai::make_endpoint", "[api4ai]") {
  CHECK(make_endpoint(Mode::demo, {}, {})->results_url == "https://demo.api4ai.cloud/face-analyzer/v1/results");
  CHECK(make_endpoint(Mode::api4ai, {}, "k")->results_url == "https://api4ai.cloud/face-analyzer/v1/results");
  CHECK(make_endpoint(Mode::rapidapi, {}, "k")->results_url == "https://face-detection14.p.rapidapi.com/v1/results");
  CHECK(make_endpoint(Mode::demo, "http://127.0.0.1:8080", {})->results_url ==
        "http://127.0.0.1:8080/face-analyzer/v1/results");
  CHECK(make_endpoint(Mode::demo, "http://127.0.0.1:8080/", {})->results_url ==
        "http://127.0.0.1:8080/face-analyzer/v1/results");
  CHECK(make_endpoint(Mode::rapidapi, "https://proxy.example/rapid", "k")->results_url ==
        "https://proxy.example/rapid/v1/results");
  SECTION("bad base URLs are usage errors") {
    for (const char* bad : {"127.0.0.1:8080", "ftp://host", "http://", "http://u:p@host", "http://h/?q=1"}) {
      auto e = make_endpoint(Mode::demo, std::string(bad), {});
      REQUIRE_FALSE(e);
      CHECK(e.error().kind == ErrorKind::usage);
    }
  }
  SECTION("keyed modes need a key; the demo ignores one") {
    auto e = make_endpoint(Mode::api4ai, {}, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().message == "--api api4ai needs an API key: set API4AI_KEY or pass --api-key-file FILE");
    CHECK(make_endpoint(Mode::rapidapi, {}, std::string()).error().message.find("RAPIDAPI_KEY") != std::string::npos);
    CHECK_FALSE(make_endpoint(Mode::demo, {}, std::string("k"))->api_key.has_value());
    CHECK_FALSE(make_endpoint(Mode::api4ai, {}, std::string("a\nb")));
  }
}

TEST_CASE("api4ai::build_request", "[api4ai]") {
  Image file;
  file.source = {SourceKind::file, "dir/me.png"};
  file.upload_name = "me.png";
  file.bytes = "\x89PNG";
  file.format = ImageFormat::png;
  auto header = [](const HttpRequest& r, std::string_view name) -> std::optional<std::string> {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return std::nullopt;
  };
  SECTION("demo: multipart image part, embeddings=true, no key header") {
    auto r = build_request(*make_endpoint(Mode::demo, {}, {}), file);
    CHECK(r.url == "https://demo.api4ai.cloud/face-analyzer/v1/results?embeddings=true");
    REQUIRE(r.form.size() == 1);
    CHECK(r.form[0].name == "image");
    CHECK(r.form[0].filename == "me.png");
    CHECK(r.form[0].content_type == "image/png");
    CHECK(r.form[0].value == "\x89PNG");
    CHECK_FALSE(header(r, "X-API-KEY"));
  }
  SECTION("api4ai: X-API-KEY; the key is never in the URL") {
    auto r = build_request(*make_endpoint(Mode::api4ai, {}, "sekrit"), file);
    CHECK(header(r, "X-API-KEY") == "sekrit");
    CHECK(r.url.find("sekrit") == std::string::npos);
  }
  SECTION("rapidapi: key and host headers") {
    auto r = build_request(*make_endpoint(Mode::rapidapi, {}, "sekrit"), file);
    CHECK(header(r, "X-RapidAPI-Key") == "sekrit");
    CHECK(header(r, "X-RapidAPI-Host") == "face-detection14.p.rapidapi.com");
  }
  SECTION("a URL input is sent as the url field") {
    Image url;
    url.source = {SourceKind::url, "https://example.com/a.jpg"};
    auto r = build_request(*make_endpoint(Mode::demo, {}, {}), url);
    REQUIRE(r.form.size() == 1);
    CHECK(r.form[0].name == "url");
    CHECK(r.form[0].value == "https://example.com/a.jpg");
    CHECK_FALSE(r.form[0].filename.has_value());
  }
}

TEST_CASE("api4ai::redact", "[api4ai]") {
  CHECK(redact("key=abc123 and abc123", "abc123") == "key=[redacted] and [redacted]");
  CHECK(redact("nothing here", "abc123") == "nothing here");
  CHECK(redact("text", "") == "text");
}

TEST_CASE("api4ai::redact removes pieces of a key too", "[api4ai][secrets]") {
  const std::string key = "SECRETKEY123456X";
  // Cut at an excerpt's end, or split across two strings.
  CHECK(redact("echo: SECRETKEY1234...", key) == "echo: [redacted]...");
  CHECK(redact("a=SECRETK b=EY123456X", key) == "a=[redacted] b=[redacted]");
  CHECK(redact("SECRETKEY123456XSECRETKEY123456X", key) == "[redacted][redacted]");
  // Fewer than 6 characters of it are ordinary text.
  CHECK(redact("a SECRE b", key) == "a SECRE b");
  CHECK(redact("short ab1 key", "ab1") == "short [redacted] key");
}

namespace {

class ScriptedClient final : public HttpClient {
 public:
  std::vector<Expected<HttpResponse>> replies;
  std::vector<HttpRequest> requests;
  Expected<HttpResponse> send(const HttpRequest& r) override {
    requests.push_back(r);
    return replies.at(std::min(requests.size() - 1, replies.size() - 1));
  }
};

class InstantClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return m_now; }
  void sleep_for(Millis d) override {
    slept += d;
    m_now += d;
  }
  Millis slept{0};

 private:
  std::chrono::steady_clock::time_point m_now{};
};

using faceverify::test::reply;

}  // namespace

TEST_CASE("api4ai::Analyzer retries, reports and redacts", "[api4ai]") {
  ScriptedClient client;
  InstantClock clock;
  Image img;
  img.source = {SourceKind::file, "a.jpg"};
  img.label = "a.jpg";
  img.upload_name = "a.jpg";
  img.bytes = "\xFF\xD8\xFF";
  img.format = ImageFormat::jpeg;
  const auto deadline = clock.now() + std::chrono::seconds(60);
  std::vector<AttemptReport> reports;
  auto observe = [&](const Image&, const AttemptReport& r) { reports.push_back(r); };

  SECTION("503, a reset, then the answer") {
    client.replies = {reply(503, "<title>503 Service Unavailable</title>"),
                      std::unexpected(Error{ErrorKind::network, "connection to h was reset", {}, true, {}}),
                      reply(200, golden_with_vector().dump())};
    Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, RetryPolicy{}, deadline, clock, observe);
    auto r = analyzer.analyze(img);
    REQUIRE(r);
    CHECK(r->faces.size() == 1);
    CHECK(client.requests.size() == 3);
    CHECK(reports.size() == 3);
    CHECK(clock.slept > Millis(0));
  }
  SECTION("the service's 200 failure is not retried unless it is 'Processing failed'") {
    json failure = golden();
    failure["results"][0]["status"] = {{"code", "failure"}, {"message", "Can not load image."}};
    client.replies = {reply(200, failure.dump())};
    Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, RetryPolicy{}, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(client.requests.size() == 1);
    CHECK(r.error().message == "a.jpg: the service could not analyse it: Can not load image.");
  }
  SECTION("retries exhausted name the last status") {
    client.replies = {reply(502, "Bad Gateway")};
    RetryPolicy p;
    p.retries = 2;
    Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, p, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(client.requests.size() == 3);
    CHECK(r.error().message == "a.jpg: gave up after 3 attempts: HTTP 502: Bad Gateway");
  }
  SECTION("a key echoed where the excerpt is cut is redacted before the cut") {
    const std::string key = "ABCDEFGHIJKLMNOP";
    client.replies = {reply(401, std::string(190, 'x') + " key " + key)};
    Analyzer analyzer(*make_endpoint(Mode::api4ai, {}, key), client, RetryPolicy{}, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("ABCDE") == std::string::npos);
  }
  SECTION("RapidAPI's DAILY quota 429 is reported after one request, not retried") {
    client.replies = {reply(429, R"({"message":"You have exceeded the DAILY quota for Requests on your current plan, )"
                                 R"(BASIC. Upgrade your plan at https://rapidapi.com/api4ai-api4ai-default/api/)"
                                 R"(face-detection14"})")};
    Analyzer analyzer(*make_endpoint(Mode::rapidapi, {}, "rapid-key"), client, RetryPolicy{}, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(client.requests.size() == 1);
    CHECK(clock.slept == Millis(0));
    CHECK(r.error().http_status == 429);
    CHECK(r.error().message.find("DAILY quota") != std::string::npos);
    CHECK(r.error().message.find("gave up") == std::string::npos);
  }
  SECTION("HTTP 501 is reported after one request, not retried") {
    client.replies = {reply(501, "Not Implemented")};
    Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, RetryPolicy{}, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(client.requests.size() == 1);
    CHECK(r.error().message == "a.jpg: HTTP 501: Not Implemented");
  }
  SECTION("a 2xx other than 200 is an error with its status") {
    client.replies = {reply(204, "")};
    Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, RetryPolicy{}, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "a.jpg: HTTP 204: unexpected status (the service answers 200)");
  }
  SECTION("a key echoed by the server never reaches a message or the observer") {
    client.replies = {reply(401, R"({"message":"Invalid API key s3cr3t-KEY-value"})")};
    Analyzer analyzer(*make_endpoint(Mode::api4ai, {}, "s3cr3t-KEY-value"), client, RetryPolicy{}, deadline, clock,
                      [&](const Image&, const AttemptReport& r) {
                        REQUIRE(r.error);
                        CHECK(r.error->message.find("s3cr3t") == std::string::npos);
                      });
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("s3cr3t") == std::string::npos);
    CHECK(r.error().message.find("[redacted]") != std::string::npos);
    CHECK(r.error().message.find("API4AI_KEY") != std::string::npos);  // the hint says what to check
    CHECK(client.requests.size() == 1);
  }
}

TEST_CASE("api4ai::parse_response: pages and faces without an embedding", "[api4ai][replies]") {
  SECTION("several results: the first is used with one warning naming the count") {
    json j = golden_with_vector();
    json page = j["results"][0];
    first_face(j)["box"] = {0.1, 0.1, 0.5, 0.5};
    j["results"].push_back(page);
    j["results"].push_back(page);
    auto r = parse_response(j.dump());
    REQUIRE(r);
    CHECK(r->faces.size() == 1);
    CHECK(r->faces[0].box[0] == Approx(0.1));
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] == "the service answered with 3 results (pages); only the first is used");
  }
  SECTION("one result: no warning") {
    auto r = parse_response(golden_with_vector().dump());
    REQUIRE(r);
    CHECK(r->warnings.empty());
  }
  SECTION("a face without an embedding beside one with is skipped with a warning") {
    json j = golden_with_vector();
    json bare = golden()["results"][0]["entities"][0]["objects"][0];
    j["results"][0]["entities"][0]["objects"].insert(j["results"][0]["entities"][0]["objects"].begin(), bare);
    auto r = parse_response(j.dump());
    REQUIRE(r);
    REQUIRE(r->faces.size() == 1);
    CHECK(r->faces[0].embedding.size() == 512);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] == "1 face has no embedding in the reply and is skipped");
  }
  SECTION("no face with an embedding is still an error") {
    json j = golden();
    json bare = first_face(j);
    j["results"][0]["entities"][0]["objects"].push_back(bare);
    CHECK(parse_error(j) ==
          "malformed response: no face (results[0].entities[0].objects[0] and 1 more) has a face-embeddings vector "
          "(the request must ask for embeddings=true)");
  }
}

TEST_CASE("api4ai::parse_response: degenerate embeddings and the shared face limits", "[api4ai][replies]") {
  SECTION("an all-zero embedding is refused") {
    json j = golden();
    first_face(j)["entities"].push_back(vector_entity(512, 0.0));
    CHECK(parse_error(j).find("embedding is all zeros") != std::string::npos);
  }
  SECTION("huge values that would overflow a norm are refused") {
    json j = golden();
    first_face(j)["entities"].push_back(vector_entity(512, 1e200));
    CHECK(parse_error(j).find("out of range") != std::string::npos);
  }
  SECTION("more faces than an embedding file can hold are refused") {
    json j = golden_with_vector();
    auto& objects = j["results"][0]["entities"][0]["objects"];
    const json one = objects[0];
    while (objects.size() <= limits::k_max_faces) objects.push_back(one);
    CHECK(parse_error(j).find("1001 faces (more than the 1000 faceverify handles per image") != std::string::npos);
  }
  SECTION("a confidence outside [0, 1] is refused") {
    json j = golden_with_vector();
    first_face(j)["entities"][0]["classes"]["face"] = 7.0;
    CHECK(parse_error(j).find("confidence is not a number in [0, 1]") != std::string::npos);
  }
}

TEST_CASE("api4ai: a key echoed JSON-escaped is redacted once decoded", "[api4ai][secrets]") {
  const std::string key = "SECRETKEY123456X";
  const auto leaks = [&](const std::string& text) {
    for (std::size_t i = 0; i + 6 <= key.size(); ++i) {
      if (text.find(key.substr(i, 6)) != std::string::npos) return true;
    }
    return false;
  };
  SECTION("in md5, name, a landmark name and the status message of a good reply") {
    json j = golden_with_vector();
    j["results"][0]["md5"] = "@@";
    j["results"][0]["name"] = "@@";
    first_face(j)["entities"][1]["namedpoints"]["@@"] = {0.5, 0.5};
    std::string body = j.dump();
    for (auto at = body.find("@@"); at != std::string::npos; at = body.find("@@")) {
      body.replace(at, 2, "\\u0053ECRETKEY123456X");
    }
    REQUIRE(body.find(key) == std::string::npos);  // only the escaped form is on the wire
    auto r = parse_response(body, key);
    REQUIRE(r);
    CHECK_FALSE(leaks(r->md5));
    CHECK_FALSE(leaks(r->name));
    for (const auto& [name, p] : r->faces[0].landmarks) CHECK_FALSE(leaks(name));
    CHECK(r->md5 == "[redacted]");
  }
  SECTION("in an error message, at every offset around the excerpt's cut") {
    for (std::size_t offset = 180; offset <= 205; ++offset) {
      INFO(offset);
      const std::string body = "{\"message\":\"" + std::string(offset, 'x') + "\\u0053ECRETKEY123456X rest\"}";
      HttpResponse response;
      response.status = 401;
      response.body = body;
      const Error e = error_from_response(response, std::chrono::system_clock::now(), key);
      CHECK_FALSE(leaks(e.message));
      auto failure = parse_response("{\"results\":[{\"status\":{\"code\":\"failure\",\"message\":\"" +
                                        std::string(offset, 'x') + "\\u0053ECRETKEY123456X\"}}]}",
                                    key);
      REQUIRE_FALSE(failure);
      CHECK_FALSE(leaks(failure.error().message));
    }
  }
}

TEST_CASE("api4ai: RapidAPI's quota 429 says the quota is used up", "[api4ai][replies]") {
  ScriptedClient client;
  InstantClock clock;
  Image img;
  img.source = {SourceKind::file, "a.jpg"};
  img.label = "a.jpg";
  const auto deadline = clock.now() + std::chrono::seconds(60);
  SECTION("DAILY") {
    client.replies = {reply(429, R"({"message":"You have exceeded the DAILY quota for Requests on your current plan, )"
                                 R"(BASIC. Upgrade your plan at https://rapidapi.com/api4ai-api4ai-default/api/)"
                                 R"(face-detection14"})")};
    Analyzer analyzer(*make_endpoint(Mode::rapidapi, {}, "rapid-key"), client, RetryPolicy{}, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("rate limited") == std::string::npos);
    CHECK(r.error().message.find("daily quota is used up") != std::string::npos);
    CHECK(r.error().message.find("tomorrow") != std::string::npos);
    CHECK(r.error().message.find("--backend local") != std::string::npos);
  }
  SECTION("a plain rate limit keeps its hint") {
    client.replies = {reply(429, R"({"message":"Too many requests"})")};
    RetryPolicy policy;
    policy.retries = 0;
    Analyzer analyzer(*make_endpoint(Mode::rapidapi, {}, "rapid-key"), client, policy, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("rate limited; wait and retry") != std::string::npos);
  }
}

TEST_CASE("api4ai::Analyzer: a vanished demo endpoint gets a hint and other endpoints do not", "[api4ai]") {
  Image img;
  img.source = {SourceKind::file, "a.jpg"};
  img.label = "a.jpg";
  img.upload_name = "a.jpg";
  img.bytes = "\xFF\xD8\xFF";
  img.format = ImageFormat::jpeg;
  InstantClock clock;
  const auto deadline = clock.now() + std::chrono::seconds(60);
  const std::string hint = "the demo endpoint may be unavailable; use --api api4ai with a key, or --backend local";
  const Error unresolved{
      ErrorKind::network, "cannot resolve host demo.api4ai.cloud (no network, or a wrong --api-url?)", {}, true, {}};
  RetryPolicy once;
  once.retries = 0;
  SECTION("404 and 410 from the demo itself") {
    for (int status : {404, 410}) {
      ScriptedClient client;
      client.replies = {reply(status, "Not Found")};
      Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, once, deadline, clock);
      auto r = analyzer.analyze(img);
      REQUIRE_FALSE(r);
      CHECK(r.error().message == "a.jpg: HTTP " + std::to_string(status) + ": Not Found (" + hint + ")");
    }
  }
  SECTION("its host does not resolve") {
    ScriptedClient client;
    client.replies = {std::unexpected(unresolved)};
    Analyzer analyzer(*make_endpoint(Mode::demo, {}, {}), client, once, deadline, clock);
    auto r = analyzer.analyze(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "a.jpg: cannot resolve host demo.api4ai.cloud (no network, or " + hint + ")");
  }
  SECTION("not for --api-url, nor for the paid endpoints") {
    for (auto endpoint : {*make_endpoint(Mode::demo, std::string("http://127.0.0.1:1"), {}),
                          *make_endpoint(Mode::api4ai, {}, std::string("KEY"))}) {
      ScriptedClient client;
      client.replies = {reply(404, "Not Found"), std::unexpected(unresolved)};
      Analyzer analyzer(endpoint, client, once, deadline, clock);
      auto r = analyzer.analyze(img);
      REQUIRE_FALSE(r);
      CHECK(r.error().message == "a.jpg: HTTP 404: Not Found");
      auto again = analyzer.analyze(img);
      REQUIRE_FALSE(again);
      CHECK(again.error().message.find("demo endpoint may be") == std::string::npos);
    }
  }
}

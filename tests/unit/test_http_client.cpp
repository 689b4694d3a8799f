// SPDX-License-Identifier: MIT
// The libcurl client against the fake server on a free loopback port: one
// behaviour per scripted route.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "faceverify/http_client.hpp"
#include "fake_server.hpp"

using namespace faceverify;
using nlohmann::json;

namespace {
HttpRequest upload(const test::FakeServer& server, const std::string& filename) {
  HttpRequest r;
  r.url = server.base_url() + "/face-analyzer/v1/results?embeddings=true";
  r.headers = {{"X-API-KEY", "k-123"}};
  r.form = {FormPart{"image", std::string("\xFF\xD8\xFF\xE0 fake jpeg ") + filename, filename, "image/jpeg"}};
  r.timeout = std::chrono::seconds(20);
  return r;
}
}  // namespace

TEST_CASE("http_client::curl", "[http_client]") {
  test::FakeServer server(json{{"images",
                                {{"slow.jpg", {{"delay_ms", 3000}}},
                                 {"cut.jpg", {{"close_mid_body", true}}},
                                 {"huge.jpg", {{"oversize_bytes", 9 * 1024 * 1024}}},
                                 {"busy.jpg", {{"status", 503}, {"headers", {{"Retry-After", "2"}}}}}}}});
  auto client = make_curl_client({});

  SECTION("multipart upload with headers; status, lowercased headers and body come back") {
    auto r = client->send(upload(server, "me.jpg"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-type").value_or("").find("application/json") != std::string::npos);
    auto body = json::parse(r->body);
    CHECK(body["results"][0]["name"] == "me.jpg");
    auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0]["field"] == "image");
    CHECK(log[0]["query"] == "embeddings=true");
    CHECK(log[0]["headers"]["x-api-key"] == "k-123");
    CHECK(log[0]["headers"].contains("content-length"));  // RapidAPI wants no chunked upload
  }
  SECTION("HTTP errors are responses, with Retry-After readable") {
    auto r = client->send(upload(server, "busy.jpg"));
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->header("retry-after") == "2");
  }
  SECTION("a body cut short is a retryable network error") {
    auto r = client->send(upload(server, "cut.jpg"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::network);
    CHECK(r.error().retryable);
  }
  SECTION("a body over the cap is refused") {
    auto r = client->send(upload(server, "huge.jpg"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::api_response);
    CHECK(r.error().message.find("larger than 8 MiB") != std::string::npos);
    CHECK_FALSE(r.error().retryable);
  }
  SECTION("a request slower than its timeout is a retryable timeout") {
    auto req = upload(server, "slow.jpg");
    req.timeout = std::chrono::milliseconds(300);
    auto r = client->send(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::timeout);
    CHECK(r.error().retryable);
  }
  SECTION("a refused connection is a retryable network error naming the host") {
    HttpRequest req = upload(server, "me.jpg");
    req.url = "http://127.0.0.1:1/face-analyzer/v1/results";
    auto r = client->send(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::network);
    CHECK(r.error().retryable);
    CHECK(r.error().message.find("127.0.0.1:1") != std::string::npos);
  }
  SECTION("only http and https") {
    HttpRequest req = upload(server, "me.jpg");
    req.url = "file:///etc/passwd";
    auto r = client->send(req);
    REQUIRE_FALSE(r);
    CHECK_FALSE(r.error().retryable);
  }
}

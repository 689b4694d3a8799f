// SPDX-License-Identifier: MIT
// faceverify serve's HTTP layer in-process, over a deterministic fake
// analyzer (so it runs under TSan, which has no local backend): the
// protocol's answers, keys, CORS, limits, the queue, hostile clients and the
// shutdown. Clients: the project's own libcurl client (as the CLI talks to
// the service) and raw sockets for what no polite client does.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "faceverify/api4ai.hpp"
#include "faceverify/http_client.hpp"
#include "faceverify/sha256.hpp"
#include "serve/server.hpp"

using namespace faceverify;
using namespace std::chrono_literals;

namespace {

// A tiny valid PNG header of the given size: enough for sniffing and the
// header check; the fake analyzer never decodes.
std::string png_of_size(std::uint32_t w, std::uint32_t h) {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  s += std::string("\0\0\0\x0dIHDR", 8);
  for (std::uint32_t v : {w, h}) {
    s.push_back(static_cast<char>(v >> 24));
    s.push_back(static_cast<char>(v >> 16));
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v));
  }
  s += std::string("\x08\x02\0\0\0", 5);
  s += std::string("\0\0\0\0", 4);  // CRC (not checked by the sniffer)
  s += std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  return s;
}

/// One face whose embedding depends on the bytes; "BROKEN" bytes fail to
/// decode; a latch can hold every analysis until released.
class FakeAnalyzer final : public FaceAnalyzer {
 public:
  Expected<Analysis> analyze(const Image& image) override {
    {
      std::unique_lock lock(m_mutex);
      ++m_started;
      m_changed.notify_all();
      m_changed.wait(lock, [this] { return !m_hold; });
    }
    if (image.bytes.find("BROKEN") != std::string::npos) {
      return fail(ErrorKind::input, image.label + ": cannot decode");
    }
    Analysis a;
    a.name = image.upload_name;
    a.width = 640;
    a.height = 480;
    Face f;
    f.box = {0.25, 0.125, 0.5, 0.625};
    f.confidence = 0.99;
    const char* names[] = {"left-eye", "right-eye", "nose-tip", "mouth-left-corner", "mouth-right-corner"};
    for (int i = 0; i < 5; ++i) f.landmarks.emplace_back(names[i], Point{0.3 + 0.05 * i, 0.4});
    const std::string digest = sha256_hex(image.bytes);
    for (int i = 0; i < 512; ++i) f.embedding.push_back((static_cast<unsigned char>(digest[i % 64]) - 80) / 100.0);
    a.faces.push_back(f);
    return a;
  }
  void hold(bool on) {
    std::lock_guard lock(m_mutex);
    m_hold = on;
    m_changed.notify_all();
  }
  void wait_started(int n) {
    std::unique_lock lock(m_mutex);
    m_changed.wait_for(lock, 10s, [&] { return m_started >= n; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_hold = false;
  int m_started = 0;
};

struct Fixture {
  FakeAnalyzer analyzer;
  std::mutex log_mutex;
  std::vector<std::string> log;
  std::unique_ptr<serve::Server> server;
  std::unique_ptr<HttpClient> client = make_curl_client({});

  explicit Fixture(serve::ServerSettings s = {}) {
    s.host = "127.0.0.1";
    s.port = 0;
    if (s.version.empty()) s.version = "9.8.7";
    s.models_id = "abc123";
    s.access_log = [this](std::string_view line) {
      std::lock_guard lock(log_mutex);
      log.emplace_back(line);
    };
    auto started = serve::Server::start(analyzer, std::move(s));
    REQUIRE(started);
    server = std::move(*started);
  }
  ~Fixture() {
    analyzer.hold(false);
    server->stop(2s);
  }
  std::string url(const std::string& path) const { return server->url() + path; }

  HttpResponse post_image(const std::string& path, const std::string& bytes, std::vector<Header> headers = {},
                          const std::string& filename = "face.jpg") {
    HttpRequest req;
    req.url = url(path);
    req.headers = std::move(headers);
    req.form.push_back({"image", bytes, filename, std::nullopt});
    auto r = client->send(req);
    REQUIRE(r);
    return *r;
  }
  HttpResponse get(const std::string& path, std::vector<Header> headers = {}) {
    HttpRequest req;
    req.url = url(path);
    req.headers = std::move(headers);
    auto r = client->send(req);
    REQUIRE(r);
    return *r;
  }
  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mutex);
    return log;
  }
  /// Whether an access line containing `needle` appears within 4 s.
  bool wait_for_log(std::string_view needle) {
    for (int i = 0; i < 200; ++i) {
      for (const auto& line : log_lines()) {
        if (line.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

/// A raw TCP connection to the server.
class RawClient {
 public:
  explicit RawClient(int port) {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m_connected = ::connect(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() {
    if (m_fd >= 0) ::close(m_fd);
  }
  bool connected() const { return m_connected; }
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(m_fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Whatever arrives within `wait` (until the peer closes).
  std::string read_for(std::chrono::milliseconds wait) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{m_fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
      if (n <= 0) {
        m_closed = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && m_stop_at_headers) break;
    }
    return out;
  }
  bool closed() const { return m_closed; }
  void stop_at_headers() { m_stop_at_headers = true; }
  int fd() const { return m_fd; }

 private:
  int m_fd = -1;
  bool m_connected = false;
  bool m_closed = false;
  bool m_stop_at_headers = false;
};

nlohmann::json body_json(const HttpResponse& r) {
  return nlohmann::json::parse(r.body);
}

}  // namespace

TEST_CASE("serve: an image gets the service's envelope, read back by the project's own client", "[serve]") {
  Fixture f;
  const std::string bytes = png_of_size(640, 480) + "some bytes";
  for (const char* path : {"/face-analyzer/v1/results?embeddings=true", "/v1/results?embeddings=True"}) {
    const HttpResponse r = f.post_image(std::string(path), bytes);
    CHECK(r.status == 200);
    CHECK(r.header("x-faceverify-models") == "abc123");
    CHECK(r.header("server") == "faceverify/9.8.7");
    const auto j = body_json(r);
    const auto& result = j["results"][0];
    CHECK(result["status"]["code"] == "ok");
    CHECK(result["name"] == "face.jpg");
    CHECK(result["md5"] == md5_hex(bytes));
    const auto& face = result["entities"][0]["objects"][0];
    CHECK(face["entities"][2]["vector"].size() == 512);  // where API4AI's tutorial reads it
    auto parsed = api4ai::parse_response(r.body);
    REQUIRE(parsed);
    REQUIRE(parsed->faces.size() == 1);
    CHECK(parsed->faces[0].embedding.size() == 512);
  }
  SECTION("without embeddings=true there is no vector, like the service") {
    const auto j = body_json(f.post_image("/v1/results", bytes));
    CHECK(j["results"][0]["entities"][0]["objects"][0]["entities"].size() == 2);
  }
}

TEST_CASE("serve: the service's error answers", "[serve]") {
  serve::ServerSettings s;
  s.max_body_bytes = 64 * 1024;
  Fixture f(s);
  SECTION("bytes that are not an image, or that fail to decode: 200 with status failure") {
    for (const std::string& bytes : {std::string("hello world\n"), png_of_size(10, 10) + "BROKEN"}) {
      const HttpResponse r = f.post_image("/v1/results", bytes, {}, "notes.txt");
      CHECK(r.status == 200);
      const auto j = body_json(r);
      CHECK(j["results"][0]["status"]["code"] == "failure");
      CHECK(j["results"][0]["status"]["message"] == "Can not load image.");
      CHECK(j["results"][0]["md5"] == md5_hex(bytes));
    }
  }
  SECTION("a decompression bomb is refused from its header, never decoded") {
    const auto j = body_json(f.post_image("/v1/results", png_of_size(100000, 100000)));
    CHECK(j["results"][0]["status"]["code"] == "failure");
    CHECK(j["results"][0]["status"]["message"].get<std::string>().find("Resolution is too big") == 0);
  }
  SECTION("no image and no url: 422 with FastAPI's detail list") {
    HttpRequest req;
    req.url = f.url("/v1/results");
    req.form.push_back({"other", "x", std::nullopt, std::nullopt});
    auto r = f.client->send(req);
    REQUIRE(r);
    CHECK(r->status == 422);
    CHECK(body_json(*r)["detail"][0]["loc"] == nlohmann::json({"body", "image"}));
  }
  SECTION("an unparsable boolean: 422 naming the query parameter") {
    const HttpResponse r = f.post_image("/v1/results?embeddings=maybe", png_of_size(8, 8));
    CHECK(r.status == 422);
    CHECK(body_json(r)["detail"][0]["loc"] == nlohmann::json({"query", "embeddings"}));
  }
  SECTION("url inputs are off by default, and the answer says how to turn them on") {
    HttpRequest req;
    req.url = f.url("/v1/results");
    req.form.push_back({"url", "http://169.254.169.254/latest/meta-data", std::nullopt, std::nullopt});
    auto r = f.client->send(req);
    REQUIRE(r);
    CHECK(r->status == 200);
    const auto j = body_json(*r);
    CHECK(j["results"][0]["status"]["code"] == "failure");
    CHECK(j["results"][0]["status"]["message"].get<std::string>().find("--allow-url-fetch") != std::string::npos);
  }
  SECTION("unknown path 404, wrong method 405 with Allow") {
    CHECK(f.get("/nope").status == 404);
    const HttpResponse r = f.get("/v1/results");
    CHECK(r.status == 405);
    CHECK(r.header("allow") == "POST");
  }
  SECTION("a body over the limit: 413 at once when the client waits for 100-continue") {
    const HttpResponse r = f.post_image("/v1/results", std::string(2 * 1024 * 1024, 'x'));  // curl sends Expect
    CHECK(r.status == 413);
    CHECK(r.body.find("too large") != std::string::npos);
  }
  SECTION("a body over the limit without Expect: the 413 arrives while the client is still sending") {
    RawClient c(f.server->port());
    REQUIRE(c.connected());
    REQUIRE(
        c.send_all("POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                   "Content-Length: 10000000\r\n\r\n"));
    REQUIRE(c.send_all(std::string(200 * 1024, 'x')));  // well under the drain bound
    c.stop_at_headers();
    const std::string head = c.read_for(5s);
    CHECK(head.rfind("HTTP/1.1 413", 0) == 0);
  }
  SECTION("a chunked body is bounded like a sized one") {
    RawClient c(f.server->port());
    REQUIRE(c.connected());
    REQUIRE(
        c.send_all("POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = std::string("4000\r\n") + std::string(0x4000, 'x') + "\r\n";
    for (int i = 0; i < 8; ++i) c.send_all(chunk);  // 128 KiB > 64 KiB
    c.send_all("0\r\n\r\n");
    const std::string reply = c.read_for(5s);
    CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
  }
}

TEST_CASE("serve: keys", "[serve]") {
  serve::ServerSettings s;
  auto keys = serve::ApiKeys::from_text("# rotation\nold-key-123\n\n  new-key-456  \n", "test: ");
  REQUIRE(keys);
  s.keys = std::move(*keys);
  Fixture f(s);
  const std::string bytes = png_of_size(4, 4);
  CHECK(f.post_image("/v1/results", bytes).status == 401);
  CHECK(f.post_image("/v1/results", bytes, {{"X-API-KEY", "wrong"}}).status == 401);
  CHECK(f.post_image("/v1/results", bytes, {{"X-API-KEY", "old-key-123"}}).status == 200);
  CHECK(f.post_image("/v1/results", bytes, {{"x-rapidapi-key", "new-key-456"}}).status == 200);
  CHECK(f.get("/v1/version").status == 401);
  CHECK(f.get("/metrics").status == 401);
  CHECK(f.get("/nope").status == 401);  // nothing about the server's paths without a key
  for (const char* open : {"/healthz", "/readyz"}) CHECK(f.get(std::string(open)).status == 200);
  const HttpResponse unauthorised = f.post_image("/v1/results", bytes);
  CHECK(body_json(unauthorised).contains("message"));
  for (const auto& line : f.log_lines()) {
    CHECK(line.find("old-key") == std::string::npos);
    CHECK(line.find("new-key") == std::string::npos);
  }
  SECTION("an empty key file is refused") {
    CHECK(!serve::ApiKeys::from_text("# nothing\n\n", "x: "));
  }
}

TEST_CASE("serve: version, health, readiness, metrics and the access log", "[serve]") {
  Fixture f;
  const HttpResponse v = f.get("/face-analyzer/v1/version");
  CHECK(v.status == 200);
  CHECK(body_json(v) == "v9.8.7");
  CHECK(f.get("/v1/version").status == 200);
  CHECK(f.get("/healthz").status == 200);
  CHECK(f.get("/readyz").status == 200);
  f.post_image("/v1/results?api_key=secret-in-query", png_of_size(4, 4));
  const HttpResponse m = f.get("/metrics");
  CHECK(m.status == 200);
  CHECK(m.body.find("faceverify_requests_total{route=\"results\",status=\"200\"} 1") != std::string::npos);
  CHECK(m.body.find("faceverify_faces_total 1") != std::string::npos);
  CHECK(m.body.find("faceverify_request_duration_seconds_bucket") != std::string::npos);
  const auto lines = f.log_lines();
  REQUIRE(lines.size() >= 5);
  bool found = false;
  for (const auto& line : lines) {
    CHECK(line.find("secret-in-query") == std::string::npos);  // never the query string
    if (line.find("POST /v1/results 200") != std::string::npos) {
      found = true;
      CHECK(line.find("faces=1") != std::string::npos);
    }
  }
  CHECK(found);
}

TEST_CASE("serve: CORS only when asked for", "[serve]") {
  SECTION("without --cors-origin: no CORS headers, OPTIONS is 405") {
    Fixture f;
    CHECK(!f.get("/v1/version").header("access-control-allow-origin"));
    RawClient c(f.server->port());
    c.send_all("OPTIONS /v1/results HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n\r\n");
    c.stop_at_headers();
    CHECK(c.read_for(3s).rfind("HTTP/1.1 405", 0) == 0);
  }
  SECTION("with it: the preflight allows X-API-KEY, answers carry the origin") {
    serve::ServerSettings s;
    s.cors_origin = "https://app.example";
    s.keys = *serve::ApiKeys::from_text("k-1\n", "");
    Fixture f(s);
    RawClient c(f.server->port());
    c.send_all(
        "OPTIONS /v1/results HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
        "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-api-key\r\n\r\n");
    c.stop_at_headers();
    const std::string head = c.read_for(3s);
    CHECK(head.rfind("HTTP/1.1 204", 0) == 0);  // no key needed for a preflight
    CHECK(head.find("Access-Control-Allow-Origin: https://app.example") != std::string::npos);
    CHECK(head.find("X-API-KEY") != std::string::npos);
    CHECK(
        f.post_image("/v1/results", png_of_size(4, 4), {{"X-API-KEY", "k-1"}}).header("access-control-allow-origin") ==
        "https://app.example");
  }
}

TEST_CASE("serve: a full queue answers 429 with Retry-After", "[serve]") {
  serve::ServerSettings s;
  s.workers = 1;
  s.queue = 1;
  Fixture f(s);
  f.analyzer.hold(true);
  const std::string bytes = png_of_size(4, 4);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&] {
      auto client = make_curl_client({});
      HttpRequest req;
      req.url = f.url("/v1/results");
      req.form.push_back({"image", bytes, "a.png", std::nullopt});
      auto r = client->send(req);
      if (r && r->status == 200) ++ok;
    });
    if (i == 0) f.analyzer.wait_started(1);  // the worker holds the first; the second waits in the queue
  }
  // Give the second request time to reach the queue.
  for (int i = 0; i < 100; ++i) {
    const HttpResponse m = f.get("/metrics");
    if (m.body.find("faceverify_queue_depth 1") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  const HttpResponse third = f.post_image("/v1/results", bytes);
  CHECK(third.status == 429);
  CHECK(third.header("retry-after") == "1");
  f.analyzer.hold(false);
  for (auto& t : clients) t.join();
  CHECK(ok == 2);
}

TEST_CASE("serve: slow and vanishing clients cost nothing", "[serve]") {
  serve::ServerSettings s;
  s.request_timeout = 2s;
  Fixture f(s);
  SECTION("200 connections trickling headers do not hold up a normal request") {
    std::vector<std::unique_ptr<RawClient>> slow;
    for (int i = 0; i < 200; ++i) {
      slow.push_back(std::make_unique<RawClient>(f.server->port()));
      slow.back()->send_all("POST /v1/results HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    }
    const auto start = std::chrono::steady_clock::now();
    const HttpResponse r = f.post_image("/v1/results", png_of_size(4, 4));
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(r.status == 200);
    CHECK(took < 1500ms);  // bench/serve.sh measures the ratio; this only catches a server that waits for them
    SECTION("and each is closed once its request has taken longer than the request timeout") {
      RawClient& one = *slow.front();
      for (int i = 0; i < 3; ++i) {  // still trickling: activity does not extend the bound
        one.send_all("a");
        std::this_thread::sleep_for(400ms);
      }
      one.read_for(3s);
      CHECK(one.closed());
    }
  }
  SECTION("a client that disconnects mid-upload is logged, and the server goes on") {
    {
      RawClient c(f.server->port());
      c.send_all(
          "POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
          "Content-Length: 50000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n");
      std::this_thread::sleep_for(100ms);
    }
    // Noticed at once, or at the latest when its request time runs out.
    CHECK(f.wait_for_log("POST /v1/results - "));
    CHECK(f.post_image("/v1/results", png_of_size(4, 4)).status == 200);
  }
}

TEST_CASE("serve: stopping finishes the requests already accepted", "[serve]") {
  Fixture f;
  f.analyzer.hold(true);
  std::atomic<int> status{0};
  std::thread client([&] {
    auto c = make_curl_client({});
    HttpRequest req;
    req.url = f.url("/v1/results");
    req.form.push_back({"image", png_of_size(4, 4), "a.png", std::nullopt});
    auto r = c->send(req);
    status = r ? r->status : -1;
  });
  f.analyzer.wait_started(1);
  std::thread stopper([&] { f.server->stop(5s); });
  std::this_thread::sleep_for(200ms);
  // No new connections once stopping.
  RawClient late(f.server->port());
  CHECK((!late.connected() || late.read_for(500ms).empty()));
  f.analyzer.hold(false);
  client.join();
  stopper.join();
  CHECK(status == 200);
}

TEST_CASE("serve: --listen parsing and loopback detection", "[serve]") {
  CHECK(serve::parse_listen("127.0.0.1:8080") == std::pair<std::string, int>{"127.0.0.1", 8080});
  CHECK(serve::parse_listen("[::1]:0") == std::pair<std::string, int>{"::1", 0});
  CHECK(serve::parse_listen(":9000") == std::pair<std::string, int>{"0.0.0.0", 9000});
  CHECK(!serve::parse_listen("127.0.0.1"));
  CHECK(!serve::parse_listen("127.0.0.1:99999"));
  CHECK(!serve::parse_listen("::1:80"));
  CHECK(serve::is_loopback_host("127.0.0.5"));
  CHECK(serve::is_loopback_host("localhost"));
  CHECK(!serve::is_loopback_host("0.0.0.0"));
  CHECK(!serve::is_loopback_host("192.168.1.2"));
}

TEST_CASE("serve: headers, connections and answers are bounded", "[serve]") {
  serve::ServerSettings s;
  s.max_connections = 4;
  s.max_connections_per_ip = 0;  // no limit per address: the total is what is tested here
  Fixture f(s);
  SECTION("a request whose headers exceed the bound is refused, and the server goes on") {
    RawClient c(f.server->port());
    std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 2000; ++i) request += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'x') + "\r\n";
    c.send_all(request + "\r\n");
    const std::string reply = c.read_for(3s);
    CHECK((reply.rfind("HTTP/1.1 431", 0) == 0 || reply.rfind("HTTP/1.1 413", 0) == 0 || reply.empty()));
    CHECK(reply.rfind("HTTP/1.1 200", 0) != 0);
    CHECK(f.get("/healthz").status == 200);
  }
  SECTION("connections over --max-connections are closed at once") {
    std::vector<std::unique_ptr<RawClient>> held;
    for (int i = 0; i < 4; ++i) {
      held.push_back(std::make_unique<RawClient>(f.server->port()));
      held.back()->send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // unfinished: held open
    }
    std::this_thread::sleep_for(200ms);
    RawClient extra(f.server->port());
    extra.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string reply = extra.read_for(2s);
    CHECK(reply.rfind("HTTP/1.1 200", 0) != 0);
    held.clear();
    std::this_thread::sleep_for(200ms);
    CHECK(f.get("/healthz").status == 200);
  }
  SECTION("a client that leaves while its image is analysed costs nothing and is logged") {
    f.analyzer.hold(true);
    {
      const std::string bytes = png_of_size(4, 4);
      const std::string body =
          "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n" + bytes + "\r\n--b--\r\n";
      RawClient c(f.server->port());
      c.send_all(
          "POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
      f.analyzer.wait_started(1);
    }
    f.analyzer.hold(false);
    CHECK(f.wait_for_log("POST /v1/results"));
    CHECK(f.post_image("/v1/results", png_of_size(4, 4)).status == 200);
  }
}

TEST_CASE("serve: framing that proxies could read differently is refused", "[serve]") {
  Fixture f;
  const auto ask = [&](const std::string& request) {
    RawClient c(f.server->port());
    c.send_all(request);
    c.stop_at_headers();
    return c.read_for(3s);
  };
  CHECK(ask("POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef")
            .rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask("POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .rfind("HTTP/1.1 400", 0) == 0);
  CHECK(ask("POST /v1/results HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
            .rfind("HTTP/1.1 501", 0) == 0);
}

TEST_CASE("serve: answers without a body keep the connection alive", "[serve]") {
  Fixture f;
  RawClient c(f.server->port());
  c.send_all(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string replies;
  for (int i = 0; i < 30 && replies.find("v9.8.7") == std::string::npos; ++i) replies += c.read_for(100ms);
  CHECK(replies.find("HTTP/1.1 200") == 0);
  CHECK(replies.find("HTTP/1.1 404") != std::string::npos);
  CHECK(replies.find("\"v9.8.7\"") != std::string::npos);
  CHECK(replies.find("Connection: close") == std::string::npos);
}

TEST_CASE("serve: one address cannot take every connection", "[serve]") {
  serve::ServerSettings s;
  s.max_connections = 100;
  s.max_connections_per_ip = 3;
  Fixture f(s);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(f.server->port()));
    held.back()->send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  }
  std::this_thread::sleep_for(200ms);
  RawClient fourth(f.server->port());
  fourth.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(fourth.read_for(2s).rfind("HTTP/1.1 200", 0) != 0);
  // Another address (127.0.0.2 is loopback too) still gets in.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7F000002);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(f.server->port()));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  char buf[64] = {};
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 3000) == 1);
  CHECK(std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(0, ::recv(fd, buf, sizeof buf, 0))))
            .rfind("HTTP/1.1 200", 0) == 0);
  ::close(fd);
}

TEST_CASE("serve: --queue 0 lets no image wait", "[serve]") {
  serve::ServerSettings s;
  s.workers = 1;
  s.queue = 0;
  Fixture f(s);
  f.analyzer.hold(true);
  std::thread first([&] {
    auto c = make_curl_client({});
    HttpRequest req;
    req.url = f.url("/v1/results");
    req.form.push_back({"image", png_of_size(4, 4), "a.png", std::nullopt});
    (void)c->send(req);
  });
  f.analyzer.wait_started(1);
  CHECK(f.post_image("/v1/results", png_of_size(4, 4)).status == 429);
  f.analyzer.hold(false);
  first.join();
}

namespace {
class BlockingFetcher final : public serve::UrlFetcher {
 public:
  Expected<std::string> fetch(std::string_view) override {
    std::unique_lock lock(m_mutex);
    ++m_started;
    m_changed.notify_all();
    m_changed.wait(lock, [this] { return m_released; });
    return png_of_size(8, 8);
  }
  void wait_started() {
    std::unique_lock lock(m_mutex);
    m_changed.wait_for(lock, 10s, [this] { return m_started > 0; });
  }
  void release() {
    std::lock_guard lock(m_mutex);
    m_released = true;
    m_changed.notify_all();
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_started = 0;
  bool m_released = false;
};
}  // namespace

TEST_CASE("serve: a slow URL download never holds a worker", "[serve]") {
  BlockingFetcher fetcher;
  serve::ServerSettings s;
  s.workers = 1;
  s.url_fetcher = &fetcher;
  s.fetchers = 1;
  Fixture f(s);
  std::atomic<int> url_status{0};
  std::thread slow([&] {
    auto c = make_curl_client({});
    HttpRequest req;
    req.url = f.url("/v1/results");
    req.form.push_back({"url", "http://slow.example/photo.png", std::nullopt, std::nullopt});
    auto r = c->send(req);
    url_status = r ? r->status : -1;
  });
  fetcher.wait_started();
  CHECK(f.post_image("/v1/results", png_of_size(4, 4)).status == 200);  // the one worker is free
  fetcher.release();
  slow.join();
  CHECK(url_status == 200);
}

TEST_CASE("serve: a stop finishes an upload that is still arriving", "[serve]") {
  Fixture f;
  const std::string bytes = png_of_size(4, 4);
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n" + bytes + "\r\n--b--\r\n";
  RawClient c(f.server->port());
  c.send_all(
      "POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 10));
  std::this_thread::sleep_for(200ms);
  std::thread stopper([&] { f.server->stop(5s); });
  std::this_thread::sleep_for(300ms);
  c.send_all(body.substr(10));
  c.stop_at_headers();
  CHECK(c.read_for(5s).rfind("HTTP/1.1 200", 0) == 0);
  stopper.join();
}

TEST_CASE("serve: a key file may start with a byte order mark", "[serve]") {
  auto keys = serve::ApiKeys::from_text("\xEF\xBB\xBFkey-one\r\nkey-two\r\n", "");
  REQUIRE(keys);
  CHECK(keys->accepts("key-one"));
  CHECK(keys->accepts("key-two"));
  CHECK(!keys->accepts("\xEF\xBB\xBFkey-one"));
}

TEST_CASE("serve: a query with too many parameters gets 414 at once, not silence", "[serve]") {
  Fixture f;
  std::string query;
  for (int i = 0; i < 1200; ++i) query += "a" + std::to_string(i) + "=b&";
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse r = f.get("/healthz?" + query);
  CHECK(r.status == 414);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(f.get("/healthz?a=1&b=2").status == 200);
}

TEST_CASE("serve: an early refusal of a request with a body lets the client finish sending", "[serve]") {
  serve::ServerSettings s;
  s.keys = *serve::ApiKeys::from_text("k-1\n", "");
  Fixture f(s);
  for (const char* path : {"/v1/results", "/nope"}) {
    RawClient c(f.server->port());
    const std::string body(3 * 1024 * 1024, 'x');  // more than the socket buffers hold
    REQUIRE(c.send_all(std::string("POST ") + path +
                       " HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n"));
    CHECK(c.send_all(body));  // the server reads it (and discards it): no reset
    c.stop_at_headers();
    const std::string reply = c.read_for(5s);
    CHECK(reply.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(reply.find("WWW-Authenticate: X-API-KEY") != std::string::npos);
  }
  CHECK(f.get("/healthz").status == 200);
}

TEST_CASE("serve: Transfer-Encoding sent twice is refused", "[serve]") {
  Fixture f;
  RawClient c(f.server->port());
  c.send_all(
      "POST /v1/results HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n");
  c.stop_at_headers();
  CHECK(c.read_for(3s).rfind("HTTP/1.1 400", 0) == 0);
}

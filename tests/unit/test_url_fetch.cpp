// SPDX-License-Identifier: MIT
// The `url` fetcher of faceverify serve: the address classification as pure
// logic, and the fetcher against in-process HTTP servers on loopback ports.
#include <httplib.h>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "serve/url_fetch.hpp"

using namespace faceverify;
using namespace faceverify::serve;

namespace {

bool public_text(const char* text) {
  sockaddr_in in{};
  if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    return is_public_address(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  }
  sockaddr_in6 in6{};
  if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    return is_public_address(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
  }
  FAIL("not an address: " << text);
  return false;
}

// An HTTP server on `host` and a free port, serving until destroyed; it counts
// the requests it saw.
class LocalServer {
 public:
  explicit LocalServer(const std::string& host) : m_host(host) {
    m_server.Get("/face.jpg", [this](const httplib::Request&, httplib::Response& res) {
      ++m_requests;
      res.set_content(image(), "image/jpeg");
    });
    m_server.Get("/big.jpg", [this](const httplib::Request&, httplib::Response& res) {
      ++m_requests;
      res.set_content(std::string(5000, 'x'), "image/jpeg");
    });
    m_server.Get("/redirect", [this](const httplib::Request& req, httplib::Response& res) {
      ++m_requests;
      res.status = 302;
      res.set_header("Location", req.get_param_value("to"));
    });
    m_server.Get(R"(/chain/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      ++m_requests;
      const int left = std::stoi(req.matches[1]);
      if (left == 0) {
        res.set_content(image(), "image/jpeg");
        return;
      }
      res.status = 307;
      res.set_header("Location", "/chain/" + std::to_string(left - 1));  // relative: made absolute by curl
    });
    m_port = m_server.bind_to_any_port(host);
    if (m_port <= 0) throw std::runtime_error("cannot bind a test server on " + host);
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    // stop() is a no-op until the loop runs: wait for it, or the destructor could hang.
    while (!m_server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalServer() {
    m_server.stop();
    m_thread.join();
  }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  static std::string image() { return std::string("\xFF\xD8\xFF\xE0\0\x10JFIF\0 test bytes \xFF\xD9", 26); }
  std::string url(const std::string& path) const { return "http://" + m_host + ":" + std::to_string(m_port) + path; }
  int port() const { return m_port; }
  int requests() const { return m_requests.load(); }

 private:
  std::string m_host;
  httplib::Server m_server;
  std::atomic<int> m_requests{0};
  int m_port = 0;
  std::thread m_thread;
};

// The test's stand-in for "public": exactly 127.0.0.1.
bool only_127_0_0_1(const sockaddr* addr, socklen_t length) {
  if (addr->sa_family != AF_INET || length < static_cast<socklen_t>(sizeof(sockaddr_in))) return false;
  sockaddr_in in{};
  std::memcpy(&in, addr, sizeof in);
  return ntohl(in.sin_addr.s_addr) == 0x7F000001u;
}

bool mentions(const Error& e, const std::string& text) {
  return e.message.find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("url_fetch::is_public_address", "[url_fetch]") {
  SECTION("non-public IPv4 ranges") {
    for (const char* a :
         {"0.0.0.0", "0.255.255.255", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254", "127.0.0.1",
          "127.1.2.3", "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.168.1.1", "198.18.0.1",
          "198.19.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255"}) {
      INFO(a);
      CHECK_FALSE(public_text(a));
    }
  }
  SECTION("public IPv4, including the neighbours of each range") {
    for (const char* a :
         {"8.8.8.8", "1.1.1.1", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
          "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.0.1.0", "192.167.255.255",
          "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255"}) {
      INFO(a);
      CHECK(public_text(a));
    }
  }
  SECTION("non-public IPv6, and IPv6 forms of non-public IPv4") {
    for (const char* a : {"::",
                          "::1",
                          "fc00::1",
                          "fd12:3456::1",
                          "fe80::1",
                          "febf::1",
                          "fec0::1",
                          "ff02::1",
                          "ff0e::1",
                          "::ffff:127.0.0.1",
                          "::ffff:10.0.0.1",
                          "::ffff:169.254.169.254",
                          "::ffff:0.0.0.0",
                          "::127.0.0.1",
                          "::8.8.8.8",
                          "64:ff9b::7f00:1",
                          "64:ff9b::10.0.0.1",
                          "64:ff9b::192.168.0.1",
                          "64:ff9b:1::8.8.8.8",
                          "2002:7f00:1::1",
                          "2002:c0a8:101::1",
                          "::1:0:0:1",
                          "100::1",
                          "1fff::1",
                          "4000::1",
                          "fbff::1"}) {
      INFO(a);
      CHECK_FALSE(public_text(a));
    }
  }
  SECTION("public IPv6, and IPv6 forms of public IPv4") {
    for (const char* a : {"2001:4860::8888", "2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001::1",
                          "3fff:ffff::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"}) {
      INFO(a);
      CHECK(public_text(a));
    }
  }
  SECTION("other families and short lengths are not public") {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    inet_pton(AF_INET, "8.8.8.8", &in.sin_addr);
    CHECK(is_public_address(reinterpret_cast<const sockaddr*>(&in), sizeof in));
    CHECK_FALSE(is_public_address(reinterpret_cast<const sockaddr*>(&in), sizeof in - 1));
    in.sin_family = AF_UNIX;
    CHECK_FALSE(is_public_address(reinterpret_cast<const sockaddr*>(&in), sizeof in));
    CHECK_FALSE(is_public_address(nullptr, 0));
  }
}

TEST_CASE("url_fetch::fetch", "[url_fetch]") {
  LocalServer server("127.0.0.1");

  SECTION("a loopback URL is refused without a request, and the message says how to allow it") {
    auto fetcher = make_url_fetcher({});
    auto r = fetcher->fetch(server.url("/face.jpg"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(mentions(r.error(), "--allow-private-urls"));
    CHECK(mentions(r.error(), server.url("/face.jpg")));
    CHECK(server.requests() == 0);
  }
  SECTION("a name is judged by the address it resolves to: localhost is refused") {
    auto fetcher = make_url_fetcher({});
    auto r = fetcher->fetch("http://localhost:" + std::to_string(server.port()) + "/face.jpg");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(mentions(r.error(), "--allow-private-urls"));
    CHECK(server.requests() == 0);
  }
  SECTION("with allow_private the exact bytes come back; the scheme is case-insensitive") {
    UrlFetchSettings settings;
    settings.allow_private = true;
    auto fetcher = make_url_fetcher(settings);
    auto r = fetcher->fetch(server.url("/face.jpg"));
    REQUIRE(r);
    CHECK(*r == LocalServer::image());
    auto upper = fetcher->fetch("HTTP://127.0.0.1:" + std::to_string(server.port()) + "/face.jpg");
    REQUIRE(upper);
    CHECK(*upper == LocalServer::image());
  }
  SECTION("a redirect from an allowed address to a refused one is refused before its request") {
    LocalServer other("127.0.0.2");
    UrlFetchSettings settings;
    settings.is_allowed = only_127_0_0_1;
    auto fetcher = make_url_fetcher(settings);
    auto direct = fetcher->fetch(server.url("/face.jpg"));  // the hook lets 127.0.0.1 through
    REQUIRE(direct);
    CHECK(*direct == LocalServer::image());

    auto r = fetcher->fetch(server.url("/redirect?to=") + other.url("/face.jpg"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(mentions(r.error(), other.url("/face.jpg")));
    CHECK(mentions(r.error(), "--allow-private-urls"));
    CHECK(other.requests() == 0);
    CHECK(server.requests() == 2);
  }
  SECTION("a redirect to another scheme is refused") {
    UrlFetchSettings settings;
    settings.allow_private = true;
    auto fetcher = make_url_fetcher(settings);
    auto r = fetcher->fetch(server.url("/redirect?to=file:///etc/passwd"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(mentions(r.error(), "file:///etc/passwd"));
  }
  SECTION("up to max_redirects redirects are followed, one more is refused") {
    UrlFetchSettings settings;
    settings.allow_private = true;
    settings.max_redirects = 3;
    auto fetcher = make_url_fetcher(settings);
    auto r = fetcher->fetch(server.url("/chain/3"));
    REQUIRE(r);
    CHECK(*r == LocalServer::image());
    auto over = fetcher->fetch(server.url("/chain/4"));
    REQUIRE_FALSE(over);
    CHECK(over.error().kind == ErrorKind::network);
    CHECK(mentions(over.error(), "more than 3 redirects"));
  }
  SECTION("a body over max_bytes is an input error") {
    UrlFetchSettings settings;
    settings.allow_private = true;
    settings.max_bytes = 1000;
    auto fetcher = make_url_fetcher(settings);
    auto r = fetcher->fetch(server.url("/big.jpg"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::input);
    CHECK(mentions(r.error(), "larger than 1000 bytes"));
    CHECK(fetcher->fetch(server.url("/face.jpg")));  // under the limit
  }
  SECTION("a non-2xx status is a network error naming the URL, never its credentials") {
    UrlFetchSettings settings;
    settings.allow_private = true;
    auto fetcher = make_url_fetcher(settings);
    auto r = fetcher->fetch("http://user:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/missing.jpg");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::network);
    CHECK(mentions(r.error(), "HTTP 404"));
    CHECK(mentions(r.error(), "/missing.jpg"));
    CHECK_FALSE(mentions(r.error(), "s3cret"));
  }
  SECTION("only http and https") {
    UrlFetchSettings settings;
    settings.allow_private = true;
    auto fetcher = make_url_fetcher(settings);
    for (const char* url :
         {"file:///etc/passwd", "FILE:///etc/passwd", "ftp://127.0.0.1/x.jpg", "gopher://127.0.0.1:70/x",
          "dict://127.0.0.1:11211/stat", "/etc/passwd", "http:///x.jpg", "ftp://user:s3cret@127.0.0.1/x.jpg"}) {
      INFO(url);
      auto r = fetcher->fetch(url);
      REQUIRE_FALSE(r);
      CHECK(r.error().kind == ErrorKind::usage);
      CHECK_FALSE(mentions(r.error(), "s3cret"));
    }
  }
}

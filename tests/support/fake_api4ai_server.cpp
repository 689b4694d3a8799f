// SPDX-License-Identifier: MIT
// fake_api4ai: a local stand-in for the API4AI Face Analyzer used by the end-to-end tests.
//
// Protocol knowledge (envelope layout, error bodies, query spelling) comes from
// /work/shared/docs/api4ai-face-analyzer.md sections 3, 4, 5 and 9. Behaviour per image is scripted
// with a JSON scenario file; see tests/support/README.md for the format.

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifndef FACEVERIFY_FAKE_FIXTURE_DIR
#define FACEVERIFY_FAKE_FIXTURE_DIR "tests/data/api4ai"
#endif

namespace faceverify::test {
namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

constexpr std::string_view k_golden_md5 = "533c3e2300f8ddc5eb261a9f2d8d87d3";
constexpr std::string_view k_version = "v1.16.2";
constexpr std::size_t k_embedding_size = 512;
constexpr double k_default_noise = 0.3;
constexpr double k_default_scale = 1.0;

// Set when the server is asked to stop, so the endless/trickling content providers give up.
std::atomic<bool> g_stopping{false};

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321). Small and self-contained so the fake needs no crypto library.
std::string md5_hex(std::string_view data) {
  static const std::array<std::uint32_t, 64> k_table = [] {
    std::array<std::uint32_t, 64> t{};
    for (std::size_t i = 0; i < t.size(); ++i) {
      t[i] = static_cast<std::uint32_t>(std::floor(std::fabs(std::sin(static_cast<double>(i + 1))) * 4294967296.0));
    }
    return t;
  }();
  static constexpr std::array<unsigned, 64> k_shift = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                                       5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                                       4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                                       6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

  std::string msg(data);
  const std::uint64_t bit_len = static_cast<std::uint64_t>(data.size()) * 8U;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (unsigned i = 0; i < 8; ++i) msg.push_back(static_cast<char>((bit_len >> (8 * i)) & 0xFFU));

  std::uint32_t a0 = 0x67452301U, b0 = 0xefcdab89U, c0 = 0x98badcfeU, d0 = 0x10325476U;
  for (std::size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    std::array<std::uint32_t, 16> m{};
    for (std::size_t w = 0; w < 16; ++w) {
      std::uint32_t v = 0;
      for (std::size_t b = 0; b < 4; ++b) {
        v |= static_cast<std::uint32_t>(static_cast<unsigned char>(msg[chunk + w * 4 + b])) << (8 * b);
      }
      m[w] = v;
    }
    std::uint32_t a = a0, b = b0, c = c0, d = d0;
    for (std::size_t i = 0; i < 64; ++i) {
      std::uint32_t f = 0;
      std::size_t g = 0;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f = f + a + k_table[i] + m[g];
      a = d;
      d = c;
      c = b;
      b = b + ((f << k_shift[i]) | (f >> (32 - k_shift[i])));
    }
    a0 += a;
    b0 += b;
    c0 += c;
    d0 += d;
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::uint32_t word : {a0, b0, c0, d0}) {
    for (unsigned i = 0; i < 4; ++i) {
      const auto byte = static_cast<unsigned>((word >> (8 * i)) & 0xFFU);
      out.push_back(k_hex[byte >> 4]);
      out.push_back(k_hex[byte & 0xFU]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Image size from the header: PNG IHDR, or the JPEG SOF0/SOF1/SOF2 segment.
struct ImageSize {
  unsigned width;
  unsigned height;
};

unsigned be16(std::string_view s, std::size_t at) {
  return (static_cast<unsigned>(static_cast<unsigned char>(s[at])) << 8) |
         static_cast<unsigned>(static_cast<unsigned char>(s[at + 1]));
}

std::optional<ImageSize> image_size(std::string_view bytes) {
  if (bytes.size() >= 24 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8) &&
      bytes.substr(12, 4) == "IHDR") {
    const unsigned w = (be16(bytes, 16) << 16) | be16(bytes, 18);
    const unsigned h = (be16(bytes, 20) << 16) | be16(bytes, 22);
    return ImageSize{w, h};
  }
  if (bytes.size() >= 4 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8) {
    std::size_t pos = 2;
    while (pos + 4 <= bytes.size()) {
      if (static_cast<unsigned char>(bytes[pos]) != 0xFF) return std::nullopt;
      const auto marker = static_cast<unsigned char>(bytes[pos + 1]);
      if (marker == 0xFF) {  // fill byte
        ++pos;
        continue;
      }
      if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
        pos += 2;
        continue;
      }
      if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // EOI / start of scan
      const unsigned len = be16(bytes, pos + 2);
      if (marker == 0xC0 || marker == 0xC1 || marker == 0xC2) {
        if (pos + 9 > bytes.size()) return std::nullopt;
        return ImageSize{be16(bytes, pos + 7), be16(bytes, pos + 5)};
      }
      pos += 2 + len;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Deterministic embeddings: FNV-1a seed -> splitmix64 -> Box-Muller normals.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1], so log() below never sees 0.
  double uniform() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }

 private:
  std::uint64_t m_state;
};

std::vector<double> normal_vector(std::string_view seed, std::size_t n) {
  SplitMix64 rng(fnv1a(seed));
  std::vector<double> v;
  v.reserve(n + 1);
  while (v.size() < n) {
    const double r = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double theta = 2.0 * std::numbers::pi * rng.uniform();
    v.push_back(r * std::cos(theta));
    v.push_back(r * std::sin(theta));
  }
  v.resize(n);
  return v;
}

void normalise(std::vector<double>& v, double target_norm) {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  const double norm = std::sqrt(sum);
  if (norm == 0.0) return;
  for (double& x : v) x = x / norm * target_norm;
}

// unit(person) + noise * unit(random seeded by image), re-normalised, times scale.
std::vector<double> embedding_for(const std::string& person, const std::string& image_seed, double noise, double scale,
                                  std::size_t n) {
  auto v = normal_vector("person:" + person, n);
  normalise(v, 1.0);
  if (noise != 0.0) {
    auto e = normal_vector("noise:" + image_seed, n);
    normalise(e, noise);
    for (std::size_t i = 0; i < n; ++i) v[i] += e[i];
    normalise(v, 1.0);
  }
  for (double& x : v) x *= scale;
  return v;
}

// ---------------------------------------------------------------------------------------------
double now_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string basename_of(const std::string& path) {
  const auto slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool truthy(const std::string& v) {
  return v == "true" || v == "True" || v == "TRUE" || v == "1" || v == "yes" || v == "on";
}

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  bool close_mid_body = false;
};

// ---------------------------------------------------------------------------------------------
// Hostile-network helpers (scenario keys trickle_bytes_per_second, endless_body, no_body,
// reset_before_headers, gzip_bomb_mb, corrupt_gzip, number_array_mb; see README.md).

// A content type httplib never compresses on its own (it only compresses exactly
// "application/json", text/* and a few others), so what we hand it goes out byte for byte.
constexpr const char* k_uncompressed_json = "application/json; charset=utf-8";

// Sleeps up to d, in short steps, returning false as soon as the server is stopping.
bool nap(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (g_stopping) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
  }
  return !g_stopping;
}

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

// The socket of the connection that carried req, or -1. httplib does not expose it, so this
// matches its REMOTE_PORT / LOCAL_PORT pseudo headers against every open socket's endpoints.
int connection_fd(const httplib::Request& req) {
  const int remote = std::atoi(req.get_header_value("REMOTE_PORT").c_str());
  const int local = std::atoi(req.get_header_value("LOCAL_PORT").c_str());
  if (remote <= 0 || local <= 0) return -1;
  rlimit lim{};
  int max_fd = 4096;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    max_fd = static_cast<int>(std::min<rlim_t>(lim.rlim_cur, 65536));
  }
  for (int fd = 0; fd < max_fd; ++fd) {
    sockaddr_storage peer{}, self{};
    socklen_t peer_len = sizeof peer, self_len = sizeof self;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0) continue;
    if (port_of(peer) == remote && port_of(self) == local) return fd;
  }
  return -1;
}

// gzip (RFC 1952) of `mib` MiB of spaces, made once per size with httplib's own zlib compressor
// (cpp-httplib is built with CPPHTTPLIB_ZLIB_SUPPORT): ~1000:1, so 200 MiB is ~200 KB.
std::shared_ptr<const std::string> gzip_bomb(std::size_t mib) {
  static std::mutex mutex;
  static std::map<std::size_t, std::shared_ptr<const std::string>> cache;
  std::lock_guard lock(mutex);
  if (const auto it = cache.find(mib); it != cache.end()) return it->second;
  auto out = std::make_shared<std::string>();
  httplib::detail::gzip_compressor gz;
  const std::string block(std::size_t{1} << 20, ' ');
  for (std::size_t i = 0; i < mib; ++i) {
    gz.compress(block.data(), block.size(), i + 1 == mib, [&out](const char* data, std::size_t n) {
      out->append(data, n);
      return true;
    });
  }
  cache[mib] = out;
  return out;
}

// A gzip member header (magic, deflate, no flags) followed by bytes that are not deflate data.
std::string corrupt_gzip_body() {
  std::string s("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  s += "\xff\xff this is not a deflate stream \xff\xff\xff";
  return s;
}

std::string default_content_type(const std::string& body) {
  return !body.empty() && body.front() == '{' ? "application/json" : "text/plain";
}

std::string gfe_html(int status, const std::string& reason) {
  const std::string code = std::to_string(status);
  return "<!DOCTYPE html>\n<html lang=en>\n<head><meta charset=utf-8><title>" + code + " " + reason +
         "</title></head>\n<body><h1>Error: " + reason +
         "</h1>\n<h2>The server encountered a temporary "
         "error and could not complete your request.</h2>\n<h2>Please try again in 30 seconds.</h2></body>\n"
         "</html>\n";
}

// Default bodies for scripted HTTP errors, following doc section 5.2/5.3.
Reply default_error(int status) {
  Reply r;
  r.status = status;
  switch (status) {
    case 401:
      r.body = R"({"message":"Invalid API key. Go to https://docs.rapidapi.com/docs/keys for more info."})";
      break;
    case 403: r.body = R"({"message":"You are not subscribed to this API."})"; break;
    case 413:
      r.body =
          "<html><head><title>413 Request Entity Too Large</title></head>\n"
          "<body><h1>Error: Request Entity Too Large</h1>\n"
          "<h2>Your client issued a request that was too large.</h2></body></html>\n";
      r.content_type = "text/html; charset=UTF-8";
      return r;
    case 422:
      r.body =
          R"({"detail":[{"loc":["query","embeddings"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]})";
      break;
    case 429: r.body = R"({"message":"Too many requests"})"; break;
    case 500:
      r.body = "Internal Server Error";
      r.content_type = "text/plain; charset=utf-8";
      return r;
    case 502:
      r.body = gfe_html(502, "Bad Gateway");
      r.content_type = "text/html; charset=UTF-8";
      return r;
    case 503:
      r.body = gfe_html(503, "Service Unavailable");
      r.content_type = "text/html; charset=UTF-8";
      return r;
    case 504:
      r.body = gfe_html(504, "Gateway Timeout");
      r.content_type = "text/html; charset=UTF-8";
      return r;
    default:
      r.body = ojson{{"message", status == 400   ? "Bad Request"
                                 : status == 402 ? "Payment Required"
                                 : status == 404 ? "Not Found"
                                                 : "Error"}}
                   .dump();
      break;
  }
  r.content_type = "application/json";
  return r;
}

// `text` as a JSON string's contents with its first character written as a
// \u escape, the way a server that escapes non-alphanumerics might echo it.
std::string escaped_echo(const std::string& text) {
  if (text.empty()) return text;
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(text[0]));
  return buf + text.substr(1);
}

// The echo_key behaviour (README): the key the request carried, JSON-escaped,
// after `offset` filler characters, in every string of a 200 reply (name,
// md5, status message, a landmark name) or in the message of an error reply;
// `split`: the first half in md5 and the status message, the second half in
// the name and a landmark name.
void echo_key(Reply& reply, const json& spec, const std::string& key) {
  if (key.empty()) return;
  const std::size_t offset = spec.value("offset", std::size_t{0});
  const bool split = spec.value("split", false);
  const std::string filler(offset, 'x');
  const std::string whole = filler + escaped_echo(key);
  const std::string first = filler + escaped_echo(key.substr(0, key.size() / 2));
  const std::string second = escaped_echo(key.substr(key.size() / 2));
  if (reply.status != 200) {
    reply.body = "{\"message\":\"" + whole + " is not a valid key\"}";
    reply.content_type = "application/json";
    return;
  }
  ojson body = ojson::parse(reply.body, nullptr, false);
  if (body.is_discarded() || !body.contains("results")) return;
  for (auto& result : body["results"]) {
    result["name"] = "@@ECHO_B@@";
    result["md5"] = "@@ECHO_A@@";
    result["status"]["message"] = "@@ECHO_A@@";
    for (auto& ent : result["entities"]) {
      if (!ent.contains("objects")) continue;
      for (auto& obj : ent["objects"]) {
        for (auto& inner : obj["entities"]) {
          if (inner.value("name", "") == "face-landmarks") inner["namedpoints"]["@@ECHO_B@@"] = {0.5, 0.5};
        }
      }
    }
  }
  std::string text = body.dump();
  for (const auto& [placeholder, value] : {std::pair<std::string, std::string>{"@@ECHO_A@@", split ? first : whole},
                                           {"@@ECHO_B@@", split ? second : whole}}) {
    for (auto at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  reply.body = std::move(text);
}

// What the request carried.
struct Input {
  std::string field;  // "image" or "url"
  std::string key;    // filename (or "image") or the URL
  std::string bytes;  // image bytes; empty for url
  std::string md5;    // of the bytes, or of the URL string for url input
};

struct Options {
  int port = 0;
  std::string scenario_path;
  std::string tls_cert;  // both set: serve HTTPS with this certificate and key
  std::string tls_key;
  std::string fixture_dir = FACEVERIFY_FAKE_FIXTURE_DIR;
};

class FakeService {
 public:
  FakeService(json scenario, std::optional<ojson> golden)
      : m_scenario(std::move(scenario)), m_golden(std::move(golden)), m_t0(std::chrono::steady_clock::now()) {}

  void results(const httplib::Request& req, httplib::Response& res) {
    const double start = now_ms(m_t0);
    const auto input = read_input(req);

    ojson entry;
    entry["path"] = req.path;
    const auto q = req.target.find('?');
    entry["query"] = q == std::string::npos ? std::string() : req.target.substr(q + 1);
    entry["field"] = input ? ojson(input->field) : ojson(nullptr);
    entry["key"] = input ? ojson(input->key) : ojson(nullptr);
    entry["md5"] = input ? ojson(input->md5) : ojson(nullptr);
    ojson headers = ojson::object();
    for (const auto& [name, value] : req.headers) {
      // httplib stores connection details as pseudo headers; they were not sent by the client.
      if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" || name == "LOCAL_PORT") continue;
      const auto lname = lower(name);
      if (headers.contains(lname)) {
        headers[lname] = headers[lname].get<std::string>() + ", " + value;
      } else {
        headers[lname] = value;
      }
    }
    entry["headers"] = std::move(headers);
    entry["start_ms"] = start;
    entry["end_ms"] = nullptr;
    entry["status"] = nullptr;

    std::size_t slot = 0;
    std::uint64_t generation = 0;
    json behaviour = json::object();
    {
      std::lock_guard lock(m_mutex);
      slot = m_log.size();
      generation = m_generation;
      m_log.push_back(entry);
      if (input) behaviour = pick_behaviour(*input);
    }

    Reply reply;
    if (!input) {
      reply.status = 422;
      reply.body = R"({"detail":[{"loc":["body","image"],"msg":"field required","type":"value_error.missing"}]})";
    } else {
      const bool embeddings = req.has_param("embeddings") && truthy(req.get_param_value("embeddings"));
      reply = build_reply(*input, behaviour, embeddings);
      std::string key = req.get_header_value("X-API-KEY");
      if (key.empty()) key = req.get_header_value("X-RapidAPI-Key");
      if (behaviour.contains("echo_key") && behaviour["echo_key"].is_object()) {
        echo_key(reply, behaviour["echo_key"], key);
      }
    }

    if (behaviour.contains("delay_ms") && behaviour["delay_ms"].is_number()) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(behaviour["delay_ms"].get<double>()));
    }

    res.status = reply.status;
    for (const auto& [name, value] : reply.headers) res.set_header(name, value);
    if (input && hostile(req, res, behaviour, reply)) {
      // reply.status stays what the log reports; the wire may carry less (or nothing).
    } else if (reply.close_mid_body) {
      // Announce the full length, send half, then fail the provider so httplib drops the socket.
      auto body = std::make_shared<std::string>(std::move(reply.body));
      res.set_content_provider(body->size(), reply.content_type,
                               [body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                 if (offset == 0) sink.write(body->data(), body->size() / 2);
                                 return false;
                               });
    } else {
      res.set_content(reply.body, reply.content_type);
    }

    const double end = now_ms(m_t0);
    std::lock_guard lock(m_mutex);
    if (generation == m_generation && slot < m_log.size()) {
      m_log[slot]["end_ms"] = end;
      m_log[slot]["status"] = reply.status;
    }
  }

  // The misbehaviours that need control of the wire. Returns false when b asks for none of them.
  static bool hostile(const httplib::Request& req, httplib::Response& res, const json& b, Reply& reply) {
    if (b.value("reset_before_headers", false)) {
      // Close the connection without a byte of response: shut the socket down under httplib's
      // feet (its own response write then fails) and make its final close() send a RST.
      const int fd = connection_fd(req);
      if (fd >= 0) {
        const linger hard{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        shutdown(fd, SHUT_RDWR);
      } else {
        std::fprintf(stderr, "fake_api4ai: reset_before_headers: connection socket not found\n");
      }
      reply.status = 0;
      res.set_content("", "text/plain");
      return true;
    }
    if (b.value("no_body", false)) {
      // Headers announcing the full Content-Length, then the connection closes with no body.
      res.set_content_provider(std::max<std::size_t>(reply.body.size(), 1), reply.content_type,
                               [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
      return true;
    }
    if (b.contains("trickle_bytes_per_second") && b["trickle_bytes_per_second"].is_number() &&
        b["trickle_bytes_per_second"].get<double>() > 0) {
      // The normal body with its true Content-Length, one byte every 1/rate seconds.
      const double rate = b["trickle_bytes_per_second"].get<double>();
      const auto gap = std::chrono::milliseconds(static_cast<long long>(std::max(1.0, 1000.0 / rate)));
      auto body = std::make_shared<std::string>(std::move(reply.body));
      res.set_content_provider(body->size(), k_uncompressed_json,
                               [body, gap](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                 if (!nap(gap) || !sink.is_writable()) return false;
                                 return sink.write(body->data() + offset, 1);
                               });
      return true;
    }
    if (b.value("endless_body", false)) {
      // Chunked transfer of a JSON-looking body that never ends: '{"results":[' then "0," forever.
      res.set_chunked_content_provider(k_uncompressed_json, [](std::size_t offset, httplib::DataSink& sink) {
        static const std::string chunk = [] {
          std::string s;
          while (s.size() < (std::size_t{64} << 10)) s += "0,";
          return s;
        }();
        if (g_stopping || !sink.is_writable()) return false;
        if (offset == 0) return sink.write("{\"results\":[", 12);
        return sink.write(chunk.data(), chunk.size());
      });
      return true;
    }
    if (b.contains("number_array_mb") && b["number_array_mb"].is_number_unsigned()) {
      // '{"results":[0,0,...,0]}' of exactly N MiB with its Content-Length, streamed from a pattern.
      const std::size_t total = std::max<std::size_t>(b["number_array_mb"].get<std::size_t>() << 20, 32);
      res.set_content_provider(total, k_uncompressed_json,
                               [total](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                 static const std::string prefix = "{\"results\":[";
                                 static const std::string suffix = "0]}";
                                 std::string piece;
                                 const std::size_t end = std::min(total, offset + (std::size_t{64} << 10));
                                 for (std::size_t i = offset; i < end; ++i) {
                                   if (i < prefix.size()) {
                                     piece.push_back(prefix[i]);
                                   } else if (i >= total - suffix.size()) {
                                     piece.push_back(suffix[i - (total - suffix.size())]);
                                   } else {
                                     // "0," pairs; an odd filler length ends on a space.
                                     const std::size_t k = i - prefix.size();
                                     const bool last_pair_half = i + 1 == total - suffix.size() && k % 2 == 0;
                                     piece.push_back(last_pair_half ? ' ' : (k % 2 == 0 ? '0' : ','));
                                   }
                                 }
                                 if (g_stopping || !sink.is_writable()) return false;
                                 return sink.write(piece.data(), piece.size());
                               });
      return true;
    }
    if (b.contains("gzip_bomb_mb") && b["gzip_bomb_mb"].is_number_unsigned() &&
        b["gzip_bomb_mb"].get<std::size_t>() > 0) {
      const auto bomb = gzip_bomb(b["gzip_bomb_mb"].get<std::size_t>());
      res.set_header("Content-Encoding", "gzip");
      res.set_content(*bomb, k_uncompressed_json);
      return true;
    }
    if (b.value("corrupt_gzip", false)) {
      res.set_header("Content-Encoding", "gzip");
      res.set_content(corrupt_gzip_body(), k_uncompressed_json);
      return true;
    }
    return false;
  }

  std::string requests_json() {
    std::lock_guard lock(m_mutex);
    ojson arr = ojson::array();
    for (const auto& e : m_log) arr.push_back(e);
    return arr.dump();
  }

  void reset() {
    std::lock_guard lock(m_mutex);
    m_log.clear();
    m_counters.clear();
    ++m_generation;
  }

 private:
  static std::optional<Input> read_input(const httplib::Request& req) {
    Input in;
    if (req.is_multipart_form_data()) {
      if (req.has_file("image")) {
        const auto f = req.get_file_value("image");
        in.field = "image";
        in.key = f.filename.empty() ? std::string("image") : f.filename;
        in.bytes = f.content;
        in.md5 = md5_hex(in.bytes);
        return in;
      }
      if (req.has_file("url")) {
        in.field = "url";
        in.key = req.get_file_value("url").content;
        in.md5 = md5_hex(in.key);
        return in;
      }
      return std::nullopt;
    }
    if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded") && req.has_param("url")) {
      in.field = "url";
      in.key = req.get_param_value("url");
      in.md5 = md5_hex(in.key);
      return in;
    }
    return std::nullopt;
  }

  // Caller holds m_mutex. Resolves the scenario entry and the sequence element for this request.
  json pick_behaviour(const Input& in) {
    json chosen = json::object();
    std::string counter_key;
    const json* images = nullptr;
    if (m_scenario.is_object() && m_scenario.contains("images") && m_scenario["images"].is_object()) {
      images = &m_scenario["images"];
    }
    std::vector<std::string> candidates = {in.md5};
    if (in.field == "image") {
      candidates.push_back(in.key);
      candidates.push_back(basename_of(in.key));
    } else {
      candidates.push_back(in.key);
    }
    if (images != nullptr) {
      for (const auto& c : candidates) {
        if (images->contains(c)) {
          chosen = (*images)[c];
          counter_key = "images:" + c;
          break;
        }
      }
    }
    if (counter_key.empty()) {
      if (m_scenario.is_object() && m_scenario.contains("default")) chosen = m_scenario["default"];
      counter_key = "input:" + in.field + ":" + in.md5;
    }
    if (!chosen.is_object()) chosen = json::object();
    const std::size_t n = m_counters[counter_key]++;
    if (chosen.contains("sequence") && chosen["sequence"].is_array() && !chosen["sequence"].empty()) {
      const auto& seq = chosen["sequence"];
      json element = seq[std::min(n, seq.size() - 1)];
      json merged = chosen;
      merged.erase("sequence");
      if (element.is_object()) {
        for (const auto& [k, v] : element.items()) merged[k] = v;
      }
      chosen = std::move(merged);
    }
    return chosen;
  }

  struct FaceSpec {
    std::string person;
    std::optional<std::array<double, 4>> box;
    double confidence = 0.99;
    json params;  // noise, scale, embedding, embedding_length, raw_vector
  };

  static double num(const json& j, const char* key, double fallback) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
  }

  // Returns the vector entity, or a placeholder string for raw_vector splicing.
  ojson vector_entity(const FaceSpec& face, const Input& in, std::size_t index,
                      std::vector<std::string>& raw_splices) const {
    ojson entity;
    entity["kind"] = "vector";
    entity["name"] = "face-embeddings";
    const json& p = face.params;
    if (p.contains("raw_vector") && p["raw_vector"].is_string()) {
      raw_splices.push_back(p["raw_vector"].get<std::string>());
      entity["vector"] = "@@FAKE_API4AI_RAW_" + std::to_string(raw_splices.size() - 1) + "@@";
      return entity;
    }
    if (p.contains("embedding") && p["embedding"].is_array()) {
      entity["vector"] = p["embedding"];
      return entity;
    }
    std::size_t length = k_embedding_size;
    if (p.contains("embedding_length") && p["embedding_length"].is_number_unsigned()) {
      length = p["embedding_length"].get<std::size_t>();
    }
    const std::string seed = index == 0 ? in.md5 : in.md5 + "/" + std::to_string(index);
    entity["vector"] =
        embedding_for(face.person, seed, num(p, "noise", k_default_noise), num(p, "scale", k_default_scale), length);
    return entity;
  }

  static ojson face_object(const std::array<double, 4>& box, double confidence) {
    const auto [x, y, w, h] = box;
    ojson face;
    face["box"] = {x, y, w, h};
    ojson classes;
    classes["kind"] = "classes";
    classes["name"] = "face";
    classes["classes"] = ojson{{"face", confidence}};
    ojson points;
    points["kind"] = "namedpoints";
    points["name"] = "face-landmarks";
    ojson np;
    np["left-eye"] = {x + 0.3 * w, y + 0.38 * h};
    np["right-eye"] = {x + 0.7 * w, y + 0.38 * h};
    np["nose-tip"] = {x + 0.5 * w, y + 0.55 * h};
    np["mouth-left-corner"] = {x + 0.35 * w, y + 0.75 * h};
    np["mouth-right-corner"] = {x + 0.65 * w, y + 0.75 * h};
    points["namedpoints"] = std::move(np);
    face["entities"] = ojson::array({classes, points});
    return face;
  }

  Reply build_reply(const Input& in, const json& b, bool embeddings) const {
    Reply reply;
    if (b.contains("headers") && b["headers"].is_object()) {
      for (const auto& [k, v] : b["headers"].items()) {
        reply.headers.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    reply.close_mid_body = b.value("close_mid_body", false);
    if (b.contains("redirect") && b["redirect"].is_string()) {
      reply.status = b.contains("status") && b["status"].is_number_integer() ? b["status"].get<int>() : 302;
      reply.headers.emplace_back("Location", b["redirect"].get<std::string>());
      reply.body = "";
      reply.content_type = "text/plain";
      return reply;
    }
    const int status = b.contains("status") && b["status"].is_number_integer() ? b["status"].get<int>() : 200;
    const bool has_body = b.contains("body") && b["body"].is_string();

    if (status != 200 || has_body) {
      if (has_body) {
        reply.status = status;
        reply.body = b["body"].get<std::string>();
        reply.content_type = default_content_type(reply.body);
      } else {
        auto def = default_error(status);
        def.headers = std::move(reply.headers);
        def.close_mid_body = reply.close_mid_body;
        reply = std::move(def);
      }
      if (b.contains("content_type") && b["content_type"].is_string()) {
        reply.content_type = b["content_type"].get<std::string>();
      }
      return reply;
    }

    ojson result;
    const bool golden =
        m_golden.has_value() && in.md5 == k_golden_md5 && !b.contains("faces") && !b.contains("failure");
    std::vector<std::string> raw_splices;
    if (golden) {
      result = (*m_golden)["results"][0];
      result["name"] = in.key;
      if (embeddings) {
        FaceSpec face;
        face.person = b.contains("person") && b["person"].is_string() ? b["person"].get<std::string>() : in.md5;
        face.params = b;
        for (auto& ent : result["entities"]) {
          if (ent.value("name", "") != "face-detector") continue;
          for (auto& obj : ent["objects"]) {
            obj["entities"].push_back(vector_entity(face, in, 0, raw_splices));
          }
        }
      }
    } else {
      result["status"] = {{"code", "ok"}, {"message", "Success"}};
      result["name"] = in.key;
      result["md5"] = in.md5;
      if (const auto size = image_size(in.bytes)) {
        result["width"] = size->width;
        result["height"] = size->height;
      }
      if (b.contains("failure") && b["failure"].is_string()) {
        result["status"] = {{"code", "failure"}, {"message", b["failure"].get<std::string>()}};
        result["entities"] = ojson::array();
      } else {
        std::vector<FaceSpec> faces;
        const std::string base_person =
            b.contains("person") && b["person"].is_string() ? b["person"].get<std::string>() : in.md5;
        if (b.contains("faces") && b["faces"].is_array()) {
          std::size_t i = 0;
          for (const auto& item : b["faces"]) {
            FaceSpec f;
            f.params = b;
            f.params.erase("faces");
            if (item.is_object()) {
              for (const auto& [k, v] : item.items()) f.params[k] = v;
            }
            f.person = item.is_object() && item.contains("person") && item["person"].is_string()
                           ? item["person"].get<std::string>()
                           : (i == 0 ? base_person : in.md5 + "/" + std::to_string(i));
            if (item.is_object() && item.contains("box") && item["box"].is_array() && item["box"].size() == 4) {
              f.box = std::array<double, 4>{item["box"][0].get<double>(), item["box"][1].get<double>(),
                                            item["box"][2].get<double>(), item["box"][3].get<double>()};
            }
            f.confidence = item.is_object() ? num(item, "confidence", 0.99 - 0.01 * static_cast<double>(i))
                                            : 0.99 - 0.01 * static_cast<double>(i);
            faces.push_back(std::move(f));
            ++i;
          }
        } else {
          FaceSpec f;
          f.person = base_person;
          f.params = b;
          f.confidence = num(b, "confidence", 0.99);
          faces.push_back(std::move(f));
        }
        ojson objects = ojson::array();
        for (std::size_t i = 0; i < faces.size(); ++i) {
          const double di = static_cast<double>(i);
          const auto box =
              faces[i].box.value_or(std::array<double, 4>{0.05 + 0.3 * di, 0.1, std::max(0.25 - 0.05 * di, 0.02), 0.3});
          auto face = face_object(box, faces[i].confidence);
          if (embeddings) face["entities"].push_back(vector_entity(faces[i], in, i, raw_splices));
          objects.push_back(std::move(face));
        }
        ojson detector;
        detector["kind"] = "objects";
        detector["name"] = "face-detector";
        detector["objects"] = std::move(objects);
        result["entities"] = ojson::array({detector});
      }
    }

    ojson envelope;
    envelope["results"] = ojson::array({result});
    std::string body = envelope.dump();
    if (b.contains("oversize_bytes") && b["oversize_bytes"].is_number_unsigned()) {
      const auto target = b["oversize_bytes"].get<std::size_t>();
      envelope["padding"] = "";
      const std::size_t base = envelope.dump().size();
      if (target > base) envelope["padding"] = std::string(target - base, 'x');
      body = envelope.dump();
    }
    // Raw members spliced first/last into the envelope object (duplicate-key tests).
    if (b.contains("prepend_members") && b["prepend_members"].is_string()) {
      body.insert(1, b["prepend_members"].get<std::string>() + ",");
    }
    if (b.contains("append_members") && b["append_members"].is_string()) {
      body.insert(body.size() - 1, "," + b["append_members"].get<std::string>());
    }
    for (std::size_t i = 0; i < raw_splices.size(); ++i) {
      const std::string placeholder = "\"@@FAKE_API4AI_RAW_" + std::to_string(i) + "@@\"";
      const auto at = body.find(placeholder);
      if (at != std::string::npos) body.replace(at, placeholder.size(), raw_splices[i]);
    }
    reply.body = std::move(body);
    reply.content_type = "application/json";
    return reply;
  }

  json m_scenario;
  std::optional<ojson> m_golden;
  std::chrono::steady_clock::time_point m_t0;
  std::mutex m_mutex;
  std::vector<ojson> m_log;
  std::map<std::string, std::size_t> m_counters;
  std::uint64_t m_generation = 0;
};

int usage(const char* argv0, int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: %s [--port N] [--scenario FILE.json] [--fixture-dir DIR] [--tls-cert PEM --tls-key PEM]\n",
               argv0);
  return code;
}

int run(int argc, char** argv) {
  Options opts;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") return usage(argv[0], 0);
    std::optional<std::string> v;
    if (arg == "--port" || arg == "--scenario" || arg == "--fixture-dir" || arg == "--tls-cert" || arg == "--tls-key") {
      v = value();
      if (!v) return usage(argv[0], 2);
    }
    if (arg == "--port") {
      try {
        opts.port = std::stoi(*v);
      } catch (const std::exception&) {
        return usage(argv[0], 2);
      }
    } else if (arg == "--scenario") {
      opts.scenario_path = *v;
    } else if (arg == "--fixture-dir") {
      opts.fixture_dir = *v;
    } else if (arg == "--tls-cert") {
      opts.tls_cert = *v;
    } else if (arg == "--tls-key") {
      opts.tls_key = *v;
    } else {
      std::fprintf(stderr, "fake_api4ai: unknown argument '%s'\n", arg.c_str());
      return usage(argv[0], 2);
    }
  }

  json scenario = json::object();
  if (!opts.scenario_path.empty()) {
    const auto text = read_text_file(opts.scenario_path);
    if (!text) {
      std::fprintf(stderr, "fake_api4ai: cannot read scenario '%s'\n", opts.scenario_path.c_str());
      return 2;
    }
    try {
      scenario = json::parse(*text);
    } catch (const json::exception& e) {
      std::fprintf(stderr, "fake_api4ai: bad scenario '%s': %s\n", opts.scenario_path.c_str(), e.what());
      return 2;
    }
  }
  std::optional<ojson> golden;
  if (const auto text = read_text_file(opts.fixture_dir + "/face.response.json")) {
    try {
      golden = ojson::parse(*text);
    } catch (const ojson::exception& e) {
      std::fprintf(stderr, "fake_api4ai: bad golden fixture: %s\n", e.what());
      return 2;
    }
  } else {
    std::fprintf(stderr, "fake_api4ai: warning: no golden fixture in '%s'\n", opts.fixture_dir.c_str());
  }

  // Signals are taken by a dedicated sigwait thread; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  FakeService service(std::move(scenario), std::move(golden));
  std::unique_ptr<httplib::Server> server_ptr;
  if (!opts.tls_cert.empty() && !opts.tls_key.empty()) {
    server_ptr = std::make_unique<httplib::SSLServer>(opts.tls_cert.c_str(), opts.tls_key.c_str());
  } else {
    server_ptr = std::make_unique<httplib::Server>();
  }
  if (!server_ptr->is_valid()) {
    std::fprintf(stderr, "fake_api4ai: cannot set up the server (bad --tls-cert/--tls-key?)\n");
    return 2;
  }
  httplib::Server& server = *server_ptr;
  server.new_task_queue = [] { return new httplib::ThreadPool(32); };

  auto results = [&service](const httplib::Request& req, httplib::Response& res) { service.results(req, res); };
  auto version = [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ojson(k_version).dump(), "application/json");
  };
  server.Post("/face-analyzer/v1/results", results);
  server.Post("/v1/results", results);
  server.Get("/face-analyzer/v1/version", version);
  server.Get("/v1/version", version);
  server.Get("/__requests", [&service](const httplib::Request&, httplib::Response& res) {
    res.set_content(service.requests_json(), "application/json");
  });
  server.Post("/__reset", [&service](const httplib::Request&, httplib::Response& res) {
    service.reset();
    res.set_content("{}", "application/json");
  });
  server.Post("/__shutdown", [&server](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
    // Stop from another thread so this response is written first.
    std::thread([&server] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      g_stopping = true;
      server.stop();
    }).detach();
  });

  int port = 0;
  if (opts.port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else {
    port = server.bind_to_port("127.0.0.1", opts.port) ? opts.port : -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "fake_api4ai: cannot bind 127.0.0.1:%d\n", opts.port);
    return 1;
  }
  std::printf("PORT %d\n", port);
  std::fflush(stdout);

  std::thread([&server, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    g_stopping = true;
    server.stop();
  }).detach();

  server.listen_after_bind();
  return 0;
}

}  // namespace
}  // namespace faceverify::test

int main(int argc, char** argv) {
  const int code = faceverify::test::run(argc, argv);
  std::fflush(stdout);
  // _exit: the detached sigwait thread may still be blocked; skip static destructors racing it.
  std::_Exit(code);
}

// SPDX-License-Identifier: MIT
// API4AI protocol: see docs/api4ai-protocol.md for the envelope and the error
// shapes this code accepts. nlohmann/json exceptions never leave this file.
#include "faceverify/api4ai.hpp"

#include "faceverify/error_body.hpp"
#include "faceverify/text.hpp"
#include "json_depth.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

namespace faceverify::api4ai {
namespace {

// Ordered: landmarks keep the reply's order (face.hpp promises the service's).
using json = nlohmann::ordered_json;

constexpr int k_max_json_depth = 64;  // deeper replies are refused, not parsed
constexpr std::string_view k_rapidapi_host = "face-detection14.p.rapidapi.com";

std::unexpected<Error> malformed(const std::string& what) {
  return fail(ErrorKind::api_response, "malformed response: " + what);
}

const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

bool is_finite_number(const json& j) {
  return j.is_number() && std::isfinite(j.get<double>());
}

std::string kind_of(const json& entity) {
  const json* k = member(entity, "kind");
  return k && k->is_string() ? k->get<std::string>() : std::string();
}

std::string name_of(const json& entity) {
  const json* n = member(entity, "name");
  return n && n->is_string() ? n->get<std::string>() : std::string();
}

// Every string of a decoded reply, object keys (landmark names) included, as
// redact() leaves it: what the service echoes JSON-escaped is caught here.
void redact_strings(json& j, std::string_view secret) {
  if (j.is_string()) {
    j = redact(j.get<std::string>(), secret);
  } else if (j.is_array()) {
    for (json& item : j) redact_strings(item, secret);
  } else if (j.is_object()) {
    json out = json::object();
    for (auto& [key, value] : j.items()) {
      redact_strings(value, secret);
      out[redact(key, secret)] = std::move(value);
    }
    j = std::move(out);
  }
}

Expected<std::vector<double>> read_vector(const json& v, const std::string& path) {
  if (!v.is_array()) return malformed(path + " is not an array of numbers");
  if (v.empty()) return malformed(path + " is an empty embedding");
  if (v.size() > limits::k_max_embedding_values) {
    return malformed(path + " has " + std::to_string(v.size()) + " values (more than " +
                     std::to_string(limits::k_max_embedding_values) + ")");
  }
  std::vector<double> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) return malformed(path + "[" + std::to_string(i) + "] is not a number");
    const double x = v[i].get<double>();
    if (!std::isfinite(x)) return malformed(path + "[" + std::to_string(i) + "] is not a finite number");
    out.push_back(x);
  }
  return out;
}

Expected<std::array<double, 4>> read_box(const json& b, const std::string& path) {
  if (!b.is_array() || b.size() != 4 || !std::all_of(b.begin(), b.end(), is_finite_number)) {
    return malformed(path + " is not [x, y, width, height] (4 finite numbers)");
  }
  // Clipped to the image and checked with the rest of the face (normalize_face).
  return std::array<double, 4>{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(), b[3].get<double>()};
}

// A face, or nullopt for a face the reply gives no embedding (skipped by the
// caller with a warning).
Expected<std::optional<Face>> read_face(const json& obj, const std::string& path) {
  if (!obj.is_object()) return malformed(path + " is not an object");
  Face face;
  if (const json* b = member(obj, "box")) {
    auto box = read_box(*b, path + ".box");
    if (!box) return std::unexpected(box.error());
    face.box = *box;
  } else {
    return malformed(path + " has no box");
  }
  const json* entities = member(obj, "entities");
  if (entities && !entities->is_array()) return malformed(path + ".entities is not an array");
  bool has_embedding = false;
  if (entities) {
    for (std::size_t i = 0; i < entities->size(); ++i) {
      const json& e = (*entities)[i];
      const std::string epath = path + ".entities[" + std::to_string(i) + "]";
      const std::string kind = kind_of(e), name = name_of(e);
      if (kind == "classes" && name == "face") {
        const json* classes = member(e, "classes");
        const json* p = classes ? member(*classes, "face") : nullptr;
        if (!p || !is_finite_number(*p)) return malformed(epath + ".classes.face is not a number");
        face.confidence = p->get<double>();
      } else if (kind == "namedpoints" && name == "face-landmarks") {
        const json* points = member(e, "namedpoints");
        if (!points || !points->is_object()) return malformed(epath + ".namedpoints is not an object");
        for (const auto& [pname, xy] : points->items()) {
          if (!xy.is_array() || xy.size() != 2 || !is_finite_number(xy[0]) || !is_finite_number(xy[1])) {
            return malformed(epath + ".namedpoints." + pname + " is not [x, y]");
          }
          face.landmarks.emplace_back(pname, Point{xy[0].get<double>(), xy[1].get<double>()});
        }
      } else if (kind == "vector" && name == "face-embeddings") {
        const json* v = member(e, "vector");
        if (!v) return malformed(epath + " has no vector");
        auto vec = read_vector(*v, epath + ".vector");
        if (!vec) return std::unexpected(vec.error());
        face.embedding = std::move(*vec);
        has_embedding = true;
      }
    }
  }
  if (!has_embedding) return std::optional<Face>();
  if (auto problem = normalize_face(face)) return malformed(path + ": " + *problem);
  return std::optional<Face>(std::move(face));
}

// RapidAPI's 429 when a plan's quota is used up ("You have exceeded the DAILY
// quota for Requests on your current plan, BASIC. Upgrade your plan at …"):
// "DAILY", "MONTHLY", or empty for any other 429 (a rate limit).
std::string_view quota_period(std::string_view summary) {
  for (std::string_view period : {"DAILY", "MONTHLY"}) {
    if (summary.find(std::string(period) + " quota") != std::string_view::npos) return period;
  }
  return {};
}

// The public demo is a courtesy service: when it is gone (404, 410) or its
// host does not resolve, say what works without it.
constexpr std::string_view k_demo_unavailable =
    "the demo endpoint may be unavailable; use --api api4ai with a key, or --backend local";

std::string hint_for(const Endpoint& endpoint, int status, std::string_view summary) {
  const Mode mode = endpoint.mode;
  switch (status) {
    case 404:
    case 410: return endpoint.default_demo ? std::string(k_demo_unavailable) : std::string();
    case 401:
    case 403:
      if (mode == Mode::demo) return "the demo endpoint needs no key; check --api-url, or use --api api4ai";
      return "check the key in " + std::string(key_variable(mode)) + " or --api-key-file, and the subscription";
    case 413: return "the service refused the upload as too large; send a smaller image";
    case 429:
      if (const auto period = quota_period(summary); !period.empty()) {
        const bool daily = period == "DAILY";
        return std::string("the plan's ") + (daily ? "daily" : "monthly") +
               " quota is used up and retrying will not help before it resets " + (daily ? "tomorrow" : "next month") +
               ": use another key or plan (--api-key-file), or analyse offline with --backend local";
      }
      return "rate limited; wait and retry, or use your own key with --api api4ai or --api rapidapi";
    default: return {};
  }
}

double thread_random() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

std::string_view mode_name(Mode mode) noexcept {
  switch (mode) {
    case Mode::demo: return "demo";
    case Mode::api4ai: return "api4ai";
    case Mode::rapidapi: return "rapidapi";
  }
  return "demo";
}

std::string_view key_variable(Mode mode) noexcept {
  switch (mode) {
    case Mode::demo: return "";
    case Mode::api4ai: return "API4AI_KEY";
    case Mode::rapidapi: return "RAPIDAPI_KEY";
  }
  return "";
}

std::string_view default_results_url(Mode mode) noexcept {
  switch (mode) {
    case Mode::demo: return "https://demo.api4ai.cloud/face-analyzer/v1/results";
    case Mode::api4ai: return "https://api4ai.cloud/face-analyzer/v1/results";
    case Mode::rapidapi: return "https://face-detection14.p.rapidapi.com/v1/results";
  }
  return "";
}

Expected<Endpoint> make_endpoint(Mode mode, const std::optional<std::string>& base_url,
                                 std::optional<std::string> api_key) {
  Endpoint endpoint;
  endpoint.mode = mode;
  endpoint.default_demo = mode == Mode::demo && !base_url;
  const std::string_view def = default_results_url(mode);
  const std::string_view def_path = def.substr(def.find('/', def.find("://") + 3));
  if (!base_url) {
    endpoint.results_url = std::string(def);
  } else {
    const std::string& base = *base_url;
    const std::string bad = "--api-url " + base + ": ";
    const auto sep = base.find("://");
    if (sep == std::string::npos)
      return fail(ErrorKind::usage, bad + "expected http://HOST[:PORT] or https://HOST[:PORT]");
    const std::string scheme = ascii_lowercase(std::string_view(base).substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return fail(ErrorKind::usage, bad + "only http and https are supported");
    }
    const std::string rest = base.substr(sep + 3);
    const auto path_at = rest.find('/');
    const std::string authority = rest.substr(0, path_at);
    std::string path = path_at == std::string::npos ? std::string() : rest.substr(path_at);
    if (authority.empty()) return fail(ErrorKind::usage, bad + "no host");
    if (authority.find('@') != std::string::npos) {
      return fail(ErrorKind::usage,
                  "--api-url must not contain credentials; pass keys with --api-key-file or the environment");
    }
    if (base.find_first_of("?# \t\r\n") != std::string::npos) {
      return fail(ErrorKind::usage, bad + "must not contain a query, fragment or whitespace");
    }
    while (!path.empty() && path.back() == '/') path.pop_back();
    endpoint.results_url = scheme + "://" + authority + path + std::string(def_path);
  }
  if (mode != Mode::demo) {
    if (!api_key || api_key->empty()) {
      return fail(ErrorKind::usage, "--api " + std::string(mode_name(mode)) + " needs an API key: set " +
                                        std::string(key_variable(mode)) + " or pass --api-key-file FILE");
    }
    if (std::any_of(api_key->begin(), api_key->end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; })) {
      return fail(ErrorKind::usage, "the API key contains control characters; check how it was stored");
    }
    endpoint.api_key = std::move(api_key);
  }
  return endpoint;
}

HttpRequest build_request(const Endpoint& endpoint, const Image& image) {
  HttpRequest req;
  req.url = endpoint.results_url + "?embeddings=true";
  req.headers.emplace_back("Accept", "application/json");
  if (endpoint.api_key) {
    if (endpoint.mode == Mode::api4ai) req.headers.emplace_back("X-API-KEY", *endpoint.api_key);
    if (endpoint.mode == Mode::rapidapi) {
      req.headers.emplace_back("X-RapidAPI-Key", *endpoint.api_key);
      req.headers.emplace_back("X-RapidAPI-Host", std::string(k_rapidapi_host));
    }
  }
  if (image.source.kind == SourceKind::url) {
    req.form.push_back(FormPart{"url", image.source.spec, std::nullopt, std::nullopt});
  } else {
    std::optional<std::string> type;
    if (image.format) {
      const std::string_view ext = format_extension(*image.format);
      type = "image/" + ascii_lowercase(ext == "jpg" ? "jpeg" : ext);
    }
    req.form.push_back(FormPart{"image", image.bytes, image.upload_name, type});
  }
  return req;
}

Expected<Analysis> parse_response(std::string_view body, std::string_view secret) {
  if (detail::nested_too_deep(body, k_max_json_depth))
    return malformed("JSON nested deeper than " + std::to_string(k_max_json_depth) + " levels");
  json root;
  try {
    root = json::parse(body.begin(), body.end());
  } catch (const json::parse_error& e) {
    const std::string text = summarize_error_body(body, "", secret);  // an HTML page shows its title, never markup
    if (text.empty()) return malformed("empty body");
    return malformed("not valid JSON (error at byte " + std::to_string(e.byte) + "): \"" + text + "\"");
  } catch (const json::exception&) {
    return malformed("not valid JSON (a number out of range)");
  }
  if (!root.is_object()) return malformed("top level is not a JSON object");
  // Decoded, so an echo of the key written with JSON escapes is found; before
  // any string is read, cut or quoted in a message.
  if (!secret.empty()) redact_strings(root, secret);
  const json* results = member(root, "results");
  if (!results) return malformed("no \"results\"");
  if (!results->is_array()) return malformed("\"results\" is not an array");
  if (results->empty()) return malformed("\"results\" is empty");
  const json& result = (*results)[0];
  if (!result.is_object()) return malformed("results[0] is not an object");

  const json* status = member(result, "status");
  if (!status || !status->is_object()) return malformed("results[0] has no status");
  const json* code = member(*status, "code");
  if (!code || !code->is_string()) return malformed("results[0].status.code is not a string");
  const json* message = member(*status, "message");
  const std::string msg = message && message->is_string() ? message_excerpt(message->get<std::string>()) : "";
  if (code->get<std::string>() == "failure") {
    Error e{ErrorKind::api_response,
            "the service could not analyse it: " + (msg.empty() ? std::string("no reason given") : msg),
            {},
            false,
            {}};
    e.retryable = msg == "Processing failed";  // the one failure documented as transient
    return std::unexpected(e);
  }
  if (code->get<std::string>() != "ok") {
    return malformed("unknown status \"" + message_excerpt(code->get<std::string>()) + "\"" +
                     (msg.empty() ? "" : ": " + msg));
  }

  Analysis analysis;
  if (results->size() > 1) {
    // A document with pages: one image is sent, its first result is the image.
    analysis.warnings.push_back("the service answered with " + std::to_string(results->size()) +
                                " results (pages); only the first is used");
  }
  if (const json* n = member(result, "name"); n && n->is_string()) analysis.name = n->get<std::string>();
  if (const json* m = member(result, "md5"); m && m->is_string()) analysis.md5 = m->get<std::string>();
  for (const char* key : {"width", "height"}) {
    const json* v = member(result, key);
    if (v && v->is_number_integer() && v->get<long long>() > 0 && v->get<long long>() <= limits::k_max_image_side) {
      (std::string_view(key) == "width" ? analysis.width : analysis.height) = static_cast<int>(v->get<long long>());
    }
  }

  const json* entities = member(result, "entities");
  if (!entities) return malformed("results[0] has no \"entities\"");
  if (!entities->is_array()) return malformed("results[0].entities is not an array");
  std::size_t without_embedding = 0;
  std::string first_without;  // the path of the first face without an embedding
  for (std::size_t i = 0; i < entities->size(); ++i) {
    const json& e = (*entities)[i];
    const std::string path = "results[0].entities[" + std::to_string(i) + "]";
    if (!e.is_object()) return malformed(path + " is not an object");
    const std::string kind = kind_of(e), name = name_of(e);
    if (kind == "objects" && name == "face-detector") {
      const json* objects = member(e, "objects");
      if (!objects || !objects->is_array()) return malformed(path + ".objects is not an array");
      if (auto problem = face_count_problem(objects->size())) return malformed(path + ".objects " + *problem);
      for (std::size_t k = 0; k < objects->size(); ++k) {
        auto face = read_face((*objects)[k], path + ".objects[" + std::to_string(k) + "]");
        if (!face) return std::unexpected(face.error());
        if (!*face) {
          if (without_embedding++ == 0) first_without = path + ".objects[" + std::to_string(k) + "]";
          continue;
        }
        analysis.faces.push_back(std::move(**face));
      }
    } else if (kind == "vector" && name == "face-embeddings") {
      // Whole-image embedding (detection off): one face covering the image.
      const json* v = member(e, "vector");
      if (!v) return malformed(path + " has no vector");
      auto vec = read_vector(*v, path + ".vector");
      if (!vec) return std::unexpected(vec.error());
      Face face;
      face.box = {0.0, 0.0, 1.0, 1.0};
      face.embedding = std::move(*vec);
      if (auto problem = normalize_face(face)) return malformed(path + ": " + *problem);
      analysis.faces.push_back(std::move(face));
    }
  }
  if (auto problem = face_count_problem(analysis.faces.size())) return malformed("the reply " + *problem);
  if (without_embedding > 0) {
    // One face without a vector does not spoil the others; no vector at all
    // means the request did not ask for them.
    if (analysis.faces.empty()) {
      const std::string which = without_embedding == 1 ? first_without + " has no"
                                                       : "no face (" + first_without + " and " +
                                                             std::to_string(without_embedding - 1) + " more) has a";
      return malformed(which + " face-embeddings vector (the request must ask for embeddings=true)");
    }
    analysis.warnings.push_back(
        std::to_string(without_embedding) + (without_embedding == 1 ? " face has" : " faces have") +
        " no embedding in the reply and " + (without_embedding == 1 ? "is" : "are") + " skipped");
  }
  return analysis;
}

Error error_from_response(const HttpResponse& response, std::chrono::system_clock::time_point now,
                          std::string_view secret) {
  Error e{ErrorKind::http, {}, response.status, false, {}};
  const std::string summary = summarize_error_body(response.body, response.header("content-type").value_or(""), secret);
  e.message = "HTTP " + std::to_string(response.status) + (summary.empty() ? std::string() : ": " + summary);
  if (response.status >= 300 && response.status < 400) {
    // Redirects are never followed (the key and the photo would go along).
    e.message = "HTTP " + std::to_string(response.status) + ": the service redirected to " +
                message_excerpt(response.header("location").value_or("an unnamed place")) +
                "; redirects are not followed (point --api-url at the final address)";
  } else if (response.status != 200 && response.status >= 200 && response.status < 300) {
    e.kind = ErrorKind::api_response;
    e.message = "HTTP " + std::to_string(response.status) + ": unexpected status (the service answers 200)";
  }
  switch (response.status) {
    case 429:
      // RapidAPI's quota message: retrying cannot help before the period ends.
      e.retryable = quota_period(summary).empty();
      break;
    case 500:
    case 502:
    case 503:
    case 504: e.retryable = true; break;
    default: break;
  }
  if (const auto ra = response.header("retry-after")) e.retry_after = parse_retry_after(*ra, now);
  return e;
}

std::string redact(std::string text, std::string_view secret) {
  return redact_secret(std::move(text), secret);
}

namespace {

// GET …/v1/version, with the key the results requests send.
HttpRequest version_request(const Endpoint& endpoint, Millis timeout) {
  HttpRequest req = build_request(endpoint, Image{});
  req.form.clear();  // a GET
  std::string url = endpoint.results_url;
  if (const auto slash = url.rfind('/'); slash != std::string::npos) url.resize(slash);
  req.url = url + "/version";
  req.timeout = timeout;
  return req;
}

}  // namespace

Expected<std::string> fetch_served_model_set(const Endpoint& endpoint, HttpClient& client, Millis timeout) {
  auto response = client.send(version_request(endpoint, timeout));
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::string();
  return faceverify_model_set(*response);
}

Expected<std::string> fetch_service_version(const Endpoint& endpoint, HttpClient& client, Millis timeout) {
  auto response = client.send(version_request(endpoint, timeout));
  if (!response) return std::unexpected(response.error());
  const std::string_view key = endpoint.api_key ? std::string_view(*endpoint.api_key) : std::string_view();
  response->body = redact_secret_exact(std::move(response->body), key);
  for (auto& header : response->headers) header.second = redact(std::move(header.second), key);
  if (response->status != 200) {
    return std::unexpected(error_from_response(*response, std::chrono::system_clock::now(), key));
  }
  std::string_view text = trim(response->body);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  const bool plausible = !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == '_';
  });
  if (!plausible) return fail(ErrorKind::api_response, "unexpected version reply (expected e.g. v1.16.2)");
  return std::string(text);
}

Expected<std::string> faceverify_model_set(const HttpResponse& response) {
  const auto value = response.header("x-faceverify-models");
  if (!value) return std::string();
  std::string id(trim(*value));
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool hex = id.size() == 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
                     return std::isdigit(c) || (c >= 'a' && c <= 'f');
                   });
  if (!hex) {
    return malformed(
        "the X-Faceverify-Models header is not a SHA-256 (64 hex digits); is the server a faceverify "
        "serve of this release?");
  }
  return id;
}

Analyzer::Analyzer(Endpoint endpoint, HttpClient& client, RetryPolicy policy,
                   std::chrono::steady_clock::time_point deadline, Clock& clock, AttemptObserver observer,
                   BatchSettings batch)
    : m_endpoint(std::move(endpoint)),
      m_client(client),
      m_policy(policy),
      m_deadline(deadline),
      m_clock(clock),
      m_observer(std::move(observer)),
      m_batch(batch) {}

Expected<HttpResponse> Analyzer::send_in_turn(HttpRequest& request) {
  if (m_batch.gate) {
    const auto deadline = m_clock.now() + request.timeout;
    if (!m_batch.gate->wait_turn(deadline, m_batch.cancel)) {
      if (m_batch.cancel && m_batch.cancel->load()) return fail(ErrorKind::network, "interrupted");
      return std::unexpected(
          Error{ErrorKind::timeout, "--timeout reached while waiting for the service's rate limit", {}, false, {}});
    }
    // The wait counts against the budget: the transfer gets what is left.
    request.timeout = std::max(Millis(1), std::chrono::duration_cast<Millis>(deadline - m_clock.now()));
  }
  auto response = m_client.send(request);
  if (m_batch.gate && response && response->status == 429) {
    // Everyone waits, not just this request: the limit is per key, not per image.
    auto wait = m_policy.base_delay * 2;
    if (const auto value = response->header("retry-after")) {
      if (const auto parsed = parse_retry_after(*value, std::chrono::system_clock::now())) wait = *parsed;
    }
    m_batch.gate->pause_for(wait);
  }
  return response;
}

Expected<Analysis> Analyzer::attempt(const Image& image, Millis remaining) {
  HttpRequest req = build_request(m_endpoint, image);
  req.timeout = remaining;
  auto response = send_in_turn(req);
  if (!response) {
    Error e = std::move(response.error());
    if (m_endpoint.default_demo && e.kind == ErrorKind::network && e.message.starts_with("cannot resolve host ")) {
      // The transport's own hint suspects --api-url, which this run did not give.
      e.message =
          e.message.substr(0, e.message.find(" (")) + " (no network, or " + std::string(k_demo_unavailable) + ")";
    }
    return std::unexpected(std::move(e));
  }
  // Redact before anything is summarised or cut: an excerpt could otherwise
  // keep part of a key the server echoed back. The raw body only loses the
  // key as it was sent (its JSON must stay intact); every string is redacted
  // again once decoded (parse_response, summarize_error_body), where an echo
  // written with JSON escapes shows.
  const std::string_view key = m_endpoint.api_key ? std::string_view(*m_endpoint.api_key) : std::string_view();
  response->body = redact_secret_exact(std::move(response->body), key);
  for (auto& header : response->headers) header.second = redact(std::move(header.second), key);
  if (response->status == 200) {
    auto analysis = parse_response(response->body, key);
    if (!analysis) return analysis;
    auto model_set = faceverify_model_set(*response);
    if (!model_set) return std::unexpected(model_set.error());
    analysis->model_set = std::move(*model_set);
    return analysis;
  }
  Error e = error_from_response(*response, std::chrono::system_clock::now(), key);
  if (const std::string hint = hint_for(m_endpoint, response->status, e.message); !hint.empty()) {
    e.message += " (" + hint + ")";
  }
  return std::unexpected(e);
}

Expected<Analysis> Analyzer::analyze(const Image& image) {
  const std::string key = m_endpoint.api_key.value_or("");
  std::function<Expected<Analysis>(Millis)> fn = [&](Millis remaining) { return attempt(image, remaining); };
  std::function<void(const AttemptReport&)> report;
  if (m_observer) {
    report = [&](const AttemptReport& r) {
      if (!r.error) return m_observer(image, r);
      Error redacted = *r.error;
      redacted.message = redact(redacted.message, key);
      AttemptReport copy = r;
      copy.error = &redacted;
      m_observer(image, copy);
    };
  }
  const auto deadline =
      m_batch.per_image_timeout
          ? m_clock.now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(*m_batch.per_image_timeout)
          : m_deadline;
  auto result = run_with_retries<Analysis>(m_policy, deadline, m_clock, thread_random, fn, report);
  if (!result) {
    // The service may echo what it was sent; no key ever reaches a message.
    Error e = std::move(result.error());
    e.message = redact(image.label + ": " + e.message, key);
    return std::unexpected(e);
  }
  return result;
}

}  // namespace faceverify::api4ai

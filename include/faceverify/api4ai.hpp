// SPDX-License-Identifier: MIT
#pragma once
// The API4AI Face Analyzer protocol: endpoints and authentication, the
// request, the reply's envelope and its errors. With error_body (which
// summarises any service's error body) the only module that parses remote
// JSON. Protocol reference: docs/api4ai-protocol.md.
//
//   POST {base}{path}?embeddings=true   multipart: image=<bytes> | url=<text>
//   200 {"results":[{"status":{"code":"ok"|"failure","message":..},"name":..,"md5":..,
//        "entities":[{"kind":"objects","name":"face-detector","objects":[
//          {"box":[x,y,w,h],"entities":[{"kind":"classes","name":"face",...},
//            {"kind":"namedpoints","name":"face-landmarks",...},
//            {"kind":"vector","name":"face-embeddings","vector":[512 numbers]}]}]}]}]}

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/http_client.hpp"
#include "faceverify/image.hpp"
#include "faceverify/rate_gate.hpp"
#include "faceverify/retry.hpp"

namespace faceverify::api4ai {

enum class Mode { demo, api4ai, rapidapi };

/// "demo", "api4ai", "rapidapi"
std::string_view mode_name(Mode mode) noexcept;

/// The environment variable holding the key for `mode` (empty for demo).
std::string_view key_variable(Mode mode) noexcept;

/// Default results URL of each mode, e.g.
/// https://demo.api4ai.cloud/face-analyzer/v1/results.
std::string_view default_results_url(Mode mode) noexcept;

struct Endpoint {
  Mode mode = Mode::demo;
  std::string results_url;             // without query string
  std::optional<std::string> api_key;  // never printed; redacted from messages
  bool default_demo = false;           // the public demo endpoint itself (demo without --api-url)
};

/// Builds the endpoint of `mode`. `base_url` (from --api-url) replaces the
/// scheme://host[:port] and keeps the mode's path (a path in `base_url` is
/// prepended to it). Usage errors: bad URL, non-http(s) scheme, a key
/// required by the mode but missing, a key with control characters.
Expected<Endpoint> make_endpoint(Mode mode, const std::optional<std::string>& base_url,
                                 std::optional<std::string> api_key);

/// The request for one image (multipart `image` or `url` field).
HttpRequest build_request(const Endpoint& endpoint, const Image& image);

/// Parses a 200 body into every face. Errors (ErrorKind::api_response) say
/// precisely what is wrong; a `failure` status carries the service's message
/// and is retryable only for "Processing failed". Every face passes
/// normalize_face (face.hpp); more than limits::k_max_faces is refused. A face
/// without an embedding is skipped with a warning (Analysis::warnings), and
/// so are results past the first; no face with an embedding at all is an
/// error. Every decoded string (object keys too) is redact()ed with `secret`
/// before it is read.
Expected<Analysis> parse_response(std::string_view body, std::string_view secret = {});

/// The Error for a non-200 answer: kind http, the status, the body as
/// summarize_error_body (error_body.hpp) puts it, a hint for
/// 401/403/413/429, retryable for 429/500/502/503/504, and Retry-After when
/// present. The body's text is redact()ed with `secret` before it is cut.
Error error_from_response(const HttpResponse& response, std::chrono::system_clock::time_point now,
                          std::string_view secret = {});

/// The model set a faceverify server names in its reply (X-Faceverify-Models:
/// 64 hex digits, returned lowercased), empty when the header is absent (any
/// other service). A header of another shape is an api_response error.
Expected<std::string> faceverify_model_set(const HttpResponse& response);

/// redact_secret (text.hpp): no whole key and no 6 characters of one survive.
std::string redact(std::string text, std::string_view secret);

/// The service version from GET …/v1/version (e.g. "v1.16.2"; a bare or
/// JSON-quoted string). Errors are like an analysis' (network, http, ...).
Expected<std::string> fetch_service_version(const Endpoint& endpoint, HttpClient& client, Millis timeout);

/// The model set a faceverify server behind `endpoint` announces in the
/// X-Faceverify-Models header of its version reply; "" for any other
/// service (no header, or not 200).
Expected<std::string> fetch_served_model_set(const Endpoint& endpoint, HttpClient& client, Millis timeout);

/// How a batch shares one analyzer among workers.
struct BatchSettings {
  std::optional<Millis> per_image_timeout;  // set: each analyze() gets its own budget instead of the deadline
  RequestGate* gate = nullptr;              // set: every attempt waits its turn; 429 pauses everyone
  const std::atomic<bool>* cancel = nullptr;
};

/// The analyzer: one request per image with retries within a deadline.
class Analyzer final : public FaceAnalyzer {
 public:
  using AttemptObserver = std::function<void(const Image&, const AttemptReport&)>;

  Analyzer(Endpoint endpoint, HttpClient& client, RetryPolicy policy, std::chrono::steady_clock::time_point deadline,
           Clock& clock, AttemptObserver observer = {}, BatchSettings batch = {});

  Expected<Analysis> analyze(const Image& image) override;

 private:
  Expected<Analysis> attempt(const Image& image, Millis remaining);
  Expected<HttpResponse> send_in_turn(HttpRequest& request);

  Endpoint m_endpoint;
  HttpClient& m_client;
  RetryPolicy m_policy;
  std::chrono::steady_clock::time_point m_deadline;
  Clock& m_clock;
  AttemptObserver m_observer;
  BatchSettings m_batch;
};

}  // namespace faceverify::api4ai

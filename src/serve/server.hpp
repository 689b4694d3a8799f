// SPDX-License-Identifier: MIT
#pragma once
// faceverify serve's HTTP layer: the API4AI Face Analyzer protocol over
// libmicrohttpd (the only file that includes it is server.cpp). One polling
// thread does all socket I/O with epoll, so a slow client costs a socket and
// a timer, never a thread; a bounded queue feeds a fixed set of workers that
// run the FaceAnalyzer. Request bodies are parsed by protocol.hpp.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "serve/api_keys.hpp"
#include "serve/page.hpp"
#include "serve/url_fetch.hpp"

namespace faceverify::serve {

struct ServerSettings {
  std::string host = "127.0.0.1";    // a numeric address or a name (resolved once)
  int port = 8080;                   // 0: any free port (port() says which)
  std::size_t workers = 1;           // concurrent analyses
  std::optional<std::size_t> queue;  // images waiting for a worker (0: none); default 4 × workers
  std::size_t max_body_bytes = 16u * 1024u * 1024u;
  ApiKeys keys;                            // none: no key needed
  std::optional<std::string> cors_origin;  // set: answer preflights, add CORS headers
  UrlFetcher* url_fetcher = nullptr;       // null: `url` inputs are refused (--allow-url-fetch)
  std::size_t fetchers = 4;                // downloads at once, beside the workers (never on them)
  std::string version;                     // faceverify's, e.g. "1.0.0"
  std::string models_id;                   // X-Faceverify-Models
  std::string backend_label = "local";     // for the ready line
  PageSettings page;
  // Hostile clients: open connections, a connection's silence, and the time
  // a request may take to arrive (headers and body) before it is closed.
  std::size_t max_connections = 1000;
  std::optional<std::size_t> max_connections_per_ip;  // default max_connections / 4; 0: no limit
  std::chrono::seconds idle_timeout{15};
  std::chrono::seconds request_timeout{60};
  // After a 413 the rest of the body is read and discarded, at most this
  // much and this long, so a client still sending it sees the answer.
  std::size_t drain_bytes = 16u * 1024u * 1024u;
  std::chrono::seconds drain_time{5};
  /// Receives one access-log line (no newline) per finished request.
  std::function<void(std::string_view)> access_log;
};

class Server {
 public:
  /// Binds, starts the polling thread and the workers. `analyzer` must
  /// outlive the server. A bad address or a port in use is ErrorKind::usage.
  static Expected<std::unique_ptr<Server>> start(FaceAnalyzer& analyzer, ServerSettings settings);
  virtual ~Server() = default;

  /// The port bound (the chosen one when settings.port was 0).
  virtual int port() const noexcept = 0;
  /// "http://127.0.0.1:8080" ([host] for IPv6).
  virtual std::string url() const = 0;

  /// Stops accepting, lets the requests already accepted finish (at most
  /// `grace`; later ones are answered 503), then closes every connection.
  virtual void stop(std::chrono::milliseconds grace) = 0;
};

/// "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces) → host and port.
Expected<std::pair<std::string, int>> parse_listen(std::string_view spec);

/// Whether `host` names a loopback address (127.0.0.0/8, ::1, "localhost").
bool is_loopback_host(std::string_view host);

}  // namespace faceverify::serve

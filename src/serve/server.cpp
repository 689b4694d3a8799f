// SPDX-License-Identifier: MIT
// The HTTP layer of faceverify serve over libmicrohttpd. What each request
// gets is decided here in three places: on_headers (route, key, method,
// declared size: answered before any body is read), on_body (bounded
// buffering, or discarding after a 413) and on_complete_body (the form is
// parsed, the image queued for a worker; the connection is suspended until
// the worker resumes it with the reply).
#include "serve/server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "faceverify/image.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/sha256.hpp"
#include "faceverify/text.hpp"
#include "serve/metrics.hpp"
#include "serve/protocol.hpp"
#include "serve/work_queue.hpp"

namespace faceverify::serve {

namespace {

using Clock = std::chrono::steady_clock;

/// Unknown query parameters are ignored, as by the service; this only bounds
/// them (the service has two). More are refused with 414 before
/// libmicrohttpd parses them: its per-connection memory would run out while
/// parsing and leave the request unanswered.
constexpr std::size_t k_max_query_fields = 256;
const FormLimits k_query_limits{.max_fields = k_max_query_fields};

/// The last field named `name`: Starlette's form.get() takes the last one.
const FormField* last_field(const std::vector<FormField>& fields, std::string_view name) {
  const FormField* found = nullptr;
  for (const auto& f : fields) {
    if (f.name == name) found = &f;
  }
  return found;
}

/// The local backend's own limit on decoded pixels (decompression bombs).
constexpr std::uint64_t k_max_pixels = 100'000'000;

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t faces = 0;
};

/// One image for a worker (or a URL for a fetcher first).
struct Job {
  bool embeddings = false;
  std::string name;
  std::string bytes;
  std::optional<std::string> url;
};

Reply json_reply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

enum class Route { results, version, page, healthz, readyz, metrics, unknown };

Route route_of(std::string_view path) {
  if (path == "/face-analyzer/v1/results" || path == "/v1/results") return Route::results;
  if (path == "/face-analyzer/v1/version" || path == "/v1/version") return Route::version;
  if (path == "/" || path == "/index.html") return Route::page;
  if (path == "/healthz") return Route::healthz;
  if (path == "/readyz") return Route::readyz;
  if (path == "/metrics") return Route::metrics;
  return Route::unknown;
}

std::string_view route_label(Route r) {
  switch (r) {
    case Route::results: return "results";
    case Route::version: return "version";
    case Route::page: return "page";
    case Route::healthz: return "healthz";
    case Route::readyz: return "readyz";
    case Route::metrics: return "metrics";
    case Route::unknown: break;
  }
  return "other";
}

/// What one connection is doing, for the request-time bound: the reaper
/// closes a connection whose request has been arriving for too long.
struct ConnInfo {
  int fd = -1;
  Clock::time_point since = Clock::now();  // accepted, or its last request answered
  bool busy = false;                       // a whole request is being answered
  struct Request* current = nullptr;       // the request being read or answered
};

struct Request {
  std::string method;
  std::string raw_uri;
  std::string path;
  std::string query;
  Route route = Route::unknown;
  Clock::time_point start = Clock::now();
  std::string client;
  ConnInfo* conn_info = nullptr;

  std::string content_type;
  std::string body;
  bool expect_continue = false;
  std::uint64_t bytes_in = 0;
  bool too_large = false;  // draining after a 413
  std::uint64_t drained = 0;
  Clock::time_point drain_start;
  bool headers_seen = false;
  bool counted_buffered = false;

  // Set by a worker; read by the polling thread once resumed.
  std::optional<Reply> reply;    // guarded by MhdServer::m_mutex
  std::optional<Reply> pending;  // decided from the headers, sent on the next call
  bool overloaded = false;       // the server's buffer budget ran out: 503
  bool framing_error = false;    // conflicting Content-Length / Transfer-Encoding
  bool logged = false;           // its access line is written (answered before libmicrohttpd read it)
  int status_sent = 0;
  std::size_t faces = 0;
};

std::string percent_path(std::string_view raw) {
  // The path as sent, without the query; never decoded (no route has escapes).
  return std::string(raw.substr(0, raw.find('?')));
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string address_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (!sa) return "-";
  if (sa->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

const char* header_value(MHD_Connection* c, const char* name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

class MhdServer final : public Server {
 public:
  MhdServer(FaceAnalyzer& analyzer, ServerSettings settings)
      : m_analyzer(analyzer),
        m_settings(std::move(settings)),
        m_queue(m_settings.workers, m_settings.queue.value_or(4 * m_settings.workers)),
        m_fetch_queue(m_settings.url_fetcher ? m_settings.fetchers : 0, 4 * m_settings.fetchers) {
    m_queue_capacity = m_settings.queue.value_or(4 * m_settings.workers);
    m_buffer_budget = m_settings.max_body_bytes * (m_settings.workers + m_queue_capacity + 8);
  }

  ~MhdServer() override { stop(std::chrono::milliseconds(0)); }

  Expected<void> open() {
    auto fd = bind_listener();
    if (!fd) return std::unexpected(fd.error());
    m_listen_fd = *fd;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (m_ipv6) flags |= MHD_USE_IPv6;
    m_daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &MhdServer::on_request_cb, this,  //
                                MHD_OPTION_LISTEN_SOCKET, m_listen_fd,                        //
                                MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(m_settings.max_connections),
                                MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                static_cast<unsigned>(m_settings.max_connections_per_ip.value_or(
                                    std::max<std::size_t>(1, m_settings.max_connections / 4))),
                                MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(m_settings.idle_timeout.count()),
                                // Bounds the request line and headers (and their count) per connection.
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024),  //
                                MHD_OPTION_URI_LOG_CALLBACK, &MhdServer::on_uri_cb, this,            //
                                MHD_OPTION_NOTIFY_COMPLETED, &MhdServer::on_completed_cb, this,      //
                                MHD_OPTION_NOTIFY_CONNECTION, &MhdServer::on_connection_cb, this,    //
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, 511u,                                //
                                MHD_OPTION_END);
    if (!m_daemon) {
      ::close(m_listen_fd);
      m_listen_fd = -1;
      return fail(ErrorKind::internal, "could not start the HTTP server on " + url());
    }
    m_reaper = std::thread([this] { reap(); });
    return {};
  }

  int port() const noexcept override { return m_port; }

  std::string url() const override {
    const bool v6 = m_settings.host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + m_settings.host + "]" : m_settings.host) + ":" + std::to_string(m_port);
  }

  void stop(std::chrono::milliseconds grace) override {
    if (m_stopped.exchange(true)) return;
    m_stopping = true;
    if (m_daemon) {
      // No new connections from here on. The socket is shut, not closed:
      // libmicrohttpd's thread may still be taking it out of its epoll set,
      // so it is closed only once that thread has ended (below).
      const MHD_socket fd = MHD_quiesce_daemon(m_daemon);
      if (fd != MHD_INVALID_SOCKET) {
        ::shutdown(fd, SHUT_RDWR);
        m_listen_fd = fd;
      }
      // The requests already accepted finish, within the grace period.
      const auto deadline = Clock::now() + grace;
      {
        std::unique_lock lock(m_mutex);
        m_idle.wait_until(lock, deadline, [this] { return m_active_requests == 0; });
      }
      // Anything still queued is answered 503 without analysis; a running
      // analysis ends on its own.
      m_abandon = true;
      m_fetch_queue.close();
      m_queue.close();
      {
        std::unique_lock lock(m_mutex);
        m_idle.wait_for(lock, std::chrono::seconds(30), [this] { return m_suspended == 0; });
      }
      // Let the replies just resumed be written.
      {
        std::unique_lock lock(m_mutex);
        m_idle.wait_for(lock, std::chrono::seconds(2), [this] { return m_active_requests == 0; });
      }
    }
    m_reaper_stop = true;
    m_reaper_wake.notify_all();
    if (m_reaper.joinable()) m_reaper.join();
    if (m_daemon) {
      MHD_stop_daemon(m_daemon);
      m_daemon = nullptr;
    }
    if (m_listen_fd >= 0) ::close(m_listen_fd);
    m_listen_fd = -1;
  }

 private:
  // ---- binding ----
  Expected<int> bind_listener() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(m_settings.port);
    const std::string where = "--listen " + display_name(m_settings.host) + ":" + port + ": ";
    const int rc =
        ::getaddrinfo(m_settings.host.empty() ? nullptr : m_settings.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) return fail(ErrorKind::usage, where + "cannot resolve the address (" + gai_strerror(rc) + ")");
    std::string last_error = "no usable address";
    int fd = -1;
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
      fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        last_error = std::strerror(errno);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 511) == 0) {
        m_ipv6 = ai->ai_family == AF_INET6;
        break;
      }
      last_error = errno == EADDRINUSE ? "address already in use (another server on that port? choose another "
                                         "port, or :0 for any free one)"
                   : errno == EACCES   ? "permission denied (ports below 1024 need privileges; choose a port "
                                         "above 1024)"
                                       : std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
    ::freeaddrinfo(found);
    if (fd < 0) return fail(ErrorKind::usage, where + last_error);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    m_port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return fd;
  }

  // ---- callbacks (static trampolines) ----
  static void* on_uri_cb(void* cls, const char* uri, MHD_Connection* c) {
    return static_cast<MhdServer*>(cls)->on_uri(uri, c);
  }
  static MHD_Result on_request_cb(void* cls, MHD_Connection* c, const char* /*url*/, const char* method,
                                  const char* /*version*/, const char* upload_data, size_t* upload_size, void** state) {
    return static_cast<MhdServer*>(cls)->on_request(c, method, upload_data, upload_size, static_cast<Request*>(*state));
  }
  static void on_completed_cb(void* cls, MHD_Connection* c, void** state, MHD_RequestTerminationCode toe) {
    static_cast<MhdServer*>(cls)->on_completed(c, static_cast<Request*>(*state), toe);
    *state = nullptr;
  }
  static void on_connection_cb(void* cls, MHD_Connection* c, void** socket_context,
                               MHD_ConnectionNotificationCode code) {
    static_cast<MhdServer*>(cls)->on_connection(c, socket_context, code);
  }

  void on_connection(MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code) {
    std::unique_lock lock(m_conn_mutex);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto info = std::make_unique<ConnInfo>();
      const MHD_ConnectionInfo* ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      if (ci) info->fd = ci->connect_fd;
      *socket_context = info.get();
      m_connections.emplace(info.get(), std::move(info));
      return;
    }
    // Called before MHD closes the socket: the reaper, holding the same lock,
    // never shuts down a descriptor that has been reused.
    auto it = m_connections.find(static_cast<ConnInfo*>(*socket_context));
    *socket_context = nullptr;
    if (it == m_connections.end()) return;
    Request* unfinished = it->second->current;
    m_connections.erase(it);
    if (unfinished) {
      // A request libmicrohttpd never reported complete: the client left
      // before its headers were read to the end.
      unfinished->conn_info = nullptr;
      lock.unlock();
      finish(unfinished, MHD_REQUEST_TERMINATED_CLIENT_ABORT);
    }
  }

  void* on_uri(const char* uri, MHD_Connection* c) {
    auto* r = new Request();
    r->raw_uri = uri ? uri : "";
    r->path = percent_path(r->raw_uri);
    const auto q = r->raw_uri.find('?');
    if (q != std::string::npos) r->query = r->raw_uri.substr(q + 1);
    r->route = route_of(r->path);
    if (static_cast<std::size_t>(std::count(r->query.begin(), r->query.end(), '&')) >= k_max_query_fields) {
      refuse_now(c, *r, json_reply(414, R"x({"detail":"Too many query parameters (at most 256)"})x"));
    }
    const MHD_ConnectionInfo* ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    r->client = address_text(ci ? ci->client_addr : nullptr);
    const MHD_ConnectionInfo* sc = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (sc && sc->socket_context) {
      std::lock_guard lock(m_conn_mutex);
      r->conn_info = static_cast<ConnInfo*>(sc->socket_context);
      r->conn_info->current = r;
    }
    {
      std::lock_guard lock(m_mutex);
      ++m_active_requests;
    }
    return r;
  }

  // ---- the request ----
  MHD_Result on_request(MHD_Connection* c, const char* method, const char* data, size_t* size, Request* r) {
    if (!r) return MHD_NO;  // no URI callback: cannot happen
    if (!r->headers_seen) {
      r->headers_seen = true;
      r->method = method ? method : "";
      if (auto early = on_headers(c, *r)) {
        // Without a body: answered on the next call, as libmicrohttpd
        // expects, so the connection stays alive. With a body not read yet:
        // a client waiting for 100 Continue, or one whose framing cannot be
        // trusted, is answered and the connection closed; any other is
        // still sending, so it is answered now and the body drained first.
        if (!has_body(c)) {
          r->pending = std::move(*early);
        } else if (r->framing_error || header_value(c, "Expect")) {
          return send(c, *r, std::move(*early));
        } else {
          send_early(c, *r, *early);
        }
      }
      return MHD_YES;
    }
    if (r->pending) {
      Reply reply = std::move(*r->pending);
      r->pending.reset();
      return send(c, *r, std::move(reply));
    }
    if (*size > 0) {
      on_body(c, *r, std::string_view(data, *size));
      *size = 0;
      if (r->too_large && drain_over(*r)) return MHD_NO;  // enough: close
      return MHD_YES;
    }
    std::optional<Reply> resumed;
    {
      std::lock_guard lock(m_mutex);
      resumed.swap(r->reply);
    }
    if (resumed) return send(c, *r, std::move(*resumed));  // a worker's answer
    if (r->too_large) return MHD_NO;                       // answered already; the body is drained: close cleanly
    if (r->overloaded) return send(c, *r, unavailable_reply("The server is busy (too many uploads in progress)"));
    return on_complete_body(c, *r);
  }

  Reply too_large_reply() const {
    Reply reply;
    reply.status = 413;
    reply.content_type = "text/html; charset=UTF-8";
    reply.body = too_large_html();
    return reply;
  }

  static bool has_body(MHD_Connection* c) {
    if (header_value(c, MHD_HTTP_HEADER_TRANSFER_ENCODING)) return true;
    const char* cl = header_value(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && std::string_view(cl) != "0";
  }

  /// Framing that proxies and servers may read differently (request
  /// smuggling): refused, and the connection closed.
  static std::optional<Reply> framing_problem(MHD_Connection* c) {
    struct Counts {
      int lengths = 0;
      int codings = 0;
    } counts;
    MHD_get_connection_values(
        c, MHD_HEADER_KIND,
        [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
          auto* n = static_cast<Counts*>(cls);
          if (key && value && iequals(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) ++n->lengths;
          if (key && value && iequals(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) ++n->codings;
          return MHD_YES;
        },
        &counts);
    const char* te = header_value(c, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (counts.lengths > 1 || counts.codings > 1 || (counts.codings && counts.lengths)) {
      return json_reply(400, R"({"detail":"Conflicting Content-Length or Transfer-Encoding headers"})");
    }
    if (te && !iequals(trim(te, " \t"), "chunked")) {
      return json_reply(501, R"({"detail":"Only the chunked transfer coding is supported"})");
    }
    return std::nullopt;
  }

  bool drain_over(const Request& r) const {
    return r.drained > m_settings.drain_bytes || Clock::now() - r.drain_start > m_settings.drain_time;
  }

  std::optional<Reply> on_headers(MHD_Connection* c, Request& r) {
    if (auto problem = framing_problem(c)) {
      r.framing_error = true;
      return problem;
    }
    const bool is_options = r.method == "OPTIONS";
    if (is_options && m_settings.cors_origin && r.route != Route::unknown) return preflight(r);
    const bool open_route = r.route == Route::page || r.route == Route::healthz || r.route == Route::readyz;
    if (m_settings.keys.required() && !open_route && !key_ok(c, r)) {
      Reply reply = json_reply(401, message_json(presented_key(c, r) ? "Invalid API key."
                                                                     : "Missing API key: send it in the X-API-KEY "
                                                                       "header."));
      reply.headers.emplace_back("WWW-Authenticate", "X-API-KEY");
      return reply;
    }
    if (r.route == Route::unknown) return json_reply(404, R"({"detail":"Not Found"})");
    const bool get = r.method == "GET" || r.method == "HEAD";
    if (r.route == Route::results) {
      if (r.method != "POST") return method_not_allowed("POST");
      if (const char* cl = header_value(c, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        std::uint64_t n = 0;
        const auto [p, ec] = std::from_chars(cl, cl + std::strlen(cl), n);
        if (ec == std::errc() && n > m_settings.max_body_bytes) {
          // A client waiting for 100 Continue sends nothing more: answer
          // normally. Others are already sending: answer now, then drain.
          if (header_value(c, "Expect")) return too_large_reply();
          send_early(c, r, too_large_reply());
        }
      }
      if (const char* ct = header_value(c, MHD_HTTP_HEADER_CONTENT_TYPE)) r.content_type = ct;
      return std::nullopt;
    }
    if (!get) return method_not_allowed("GET, HEAD");
    switch (r.route) {
      case Route::version: return json_reply(200, version_json(m_settings.version));
      case Route::healthz: return json_reply(200, R"({"status":"ok"})");
      case Route::readyz:
        return m_stopping ? json_reply(503, R"({"status":"stopping"})") : json_reply(200, R"({"status":"ready"})");
      case Route::metrics: {
        Reply reply;
        reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
        std::size_t connections = 0;
        {
          std::lock_guard lock(m_conn_mutex);
          connections = m_connections.size();
        }
        std::size_t in_flight = 0;
        {
          std::lock_guard lock(m_mutex);
          in_flight = m_active_requests;
        }
        reply.body = m_metrics.render(in_flight, m_queue.depth(), connections);
        return reply;
      }
      case Route::page: {
        Reply reply;
        reply.content_type = "text/html; charset=utf-8";
        reply.body = page_html(m_settings.page);
        reply.headers.emplace_back("Content-Security-Policy",
                                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                   "img-src blob: data:; connect-src 'self'");
        return reply;
      }
      default: break;
    }
    return json_reply(404, R"({"detail":"Not Found"})");
  }

  /// Writes `reply` on the socket at once, while the client is still
  /// sending its body (libmicrohttpd answers only after the body, or closes
  /// without reading it, which resets the connection before a client such
  /// as Python requests reads the answer). The rest of the body is then read
  /// and discarded (bounded: drain_bytes, drain_time) and the connection
  /// closed, so the client reads the answer after its last byte.
  void send_early(MHD_Connection* c, Request& r, const Reply& reply) {
    write_now(c, reply, false);
    r.status_sent = reply.status;
    start_drain(r);
  }

  /// Before libmicrohttpd has read the request: the answer is written on the
  /// socket and the sending side shut, so the client reads it and the
  /// connection ends whatever the library does next.
  void refuse_now(MHD_Connection* c, Request& r, const Reply& reply) {
    write_now(c, reply, true);
    r.status_sent = reply.status;
    // Logged now: libmicrohttpd may never report this request again.
    log_request(r, MHD_REQUEST_TERMINATED_COMPLETED_OK);
    r.logged = true;
  }

  /// The whole answer written on the socket (a few hundred bytes into an
  /// empty send buffer: written whole); `shut_write`: then the sending side
  /// closed.
  void write_now(MHD_Connection* c, const Reply& reply, bool shut_write) const {
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason_phrase(reply.status) + "\r\n";
    for (const auto& [name, value] : common_headers()) head += name + ": " + value + "\r\n";
    for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
    head += "Content-Type: " + reply.content_type + "\r\nContent-Length: " + std::to_string(reply.body.size()) +
            "\r\nConnection: close\r\n\r\n" + reply.body;
    if (const MHD_ConnectionInfo* ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)) {
      [[maybe_unused]] const ssize_t n = ::send(ci->connect_fd, head.data(), head.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (shut_write) ::shutdown(ci->connect_fd, SHUT_WR);
    }
  }

  static std::string reason_phrase(int status) {
    switch (status) {
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 404: return "Not Found";
      case 405: return "Method Not Allowed";
      case 413: return "Request Entity Too Large";
      case 414: return "URI Too Long";
      case 501: return "Not Implemented";
      default: return status < 300 ? "OK" : "Error";
    }
  }

  std::vector<std::pair<std::string, std::string>> common_headers() const {
    std::vector<std::pair<std::string, std::string>> h;
    h.emplace_back("Server", "faceverify/" + m_settings.version);
    h.emplace_back("X-Faceverify-Models", m_settings.models_id);
    if (m_settings.cors_origin) {
      h.emplace_back("Access-Control-Allow-Origin", *m_settings.cors_origin);
      h.emplace_back("Vary", "Origin");
    }
    return h;
  }

  void start_drain(Request& r) {
    r.too_large = true;
    r.drain_start = Clock::now();
    release_buffer(r);
    r.body.clear();
    r.body.shrink_to_fit();
  }

  Reply method_not_allowed(std::string allow) const {
    Reply reply = json_reply(405, R"({"detail":"Method Not Allowed"})");
    if (m_settings.cors_origin) allow += ", OPTIONS";
    reply.headers.emplace_back("Allow", std::move(allow));
    return reply;
  }

  Reply preflight(const Request& r) const {
    Reply reply;
    reply.status = 204;
    reply.content_type.clear();
    reply.headers.emplace_back("Access-Control-Allow-Methods",
                               r.route == Route::results ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
    reply.headers.emplace_back("Access-Control-Allow-Headers", "X-API-KEY, X-RapidAPI-Key, Content-Type");
    reply.headers.emplace_back("Access-Control-Max-Age", "600");
    return reply;
  }

  std::optional<std::string> presented_key(MHD_Connection* c, const Request& r) const {
    if (const char* k = header_value(c, "X-API-KEY")) return std::string(k);
    if (const char* k = header_value(c, "X-RapidAPI-Key")) return std::string(k);
    if (!r.query.empty()) {
      auto fields = parse_query(r.query, k_query_limits);
      if (fields) {
        if (const FormField* f = find_field(*fields, "api_key")) return f->value;
      }
    }
    return std::nullopt;
  }

  bool key_ok(MHD_Connection* c, const Request& r) const {
    const auto key = presented_key(c, r);
    return key && m_settings.keys.accepts(trim(*key, " \t"));
  }

  void on_body(MHD_Connection* c, Request& r, std::string_view data) {
    r.bytes_in += data.size();
    if (r.too_large) {
      r.drained += data.size();
      return;
    }
    if (r.body.size() + data.size() > m_settings.max_body_bytes) {  // a chunked body, or more than declared
      send_early(c, r, too_large_reply());
      r.drained += data.size();
      return;
    }
    if (r.overloaded || !reserve_buffer(r, data.size())) {
      // Every worker's worth of bodies is already buffered: discard this one
      // and answer 503 when it has arrived.
      r.overloaded = true;
      release_buffer(r);
      r.body.clear();
      return;
    }
    r.body.append(data);
  }

  bool reserve_buffer(Request& r, std::size_t n) {
    const std::size_t before = m_buffered.fetch_add(n);
    if (before + n > m_buffer_budget) {
      m_buffered.fetch_sub(n);
      return false;
    }
    r.counted_buffered = true;
    return true;
  }

  void release_buffer(Request& r) {
    if (r.counted_buffered) m_buffered.fetch_sub(r.body.size());
    r.counted_buffered = false;
  }

  MHD_Result on_complete_body(MHD_Connection* c, Request& r) {
    if (r.conn_info) {
      std::lock_guard lock(m_conn_mutex);
      r.conn_info->busy = true;
    }
    auto query = parse_query(r.query, k_query_limits);
    if (!query) {
      return send(c, r, json_reply(422, validation_json({{{"query"}, query.error().message, "value_error"}})));
    }
    bool embeddings = false;
    if (const FormField* f = find_field(*query, "embeddings")) {
      const auto b = parse_bool(f->value);
      if (!b) {
        return send(
            c, r,
            json_reply(422,
                       validation_json(
                           {{{"query", "embeddings"}, "value could not be parsed to a boolean", "type_error.bool"}})));
      }
      embeddings = *b;
    }
    std::optional<bool> detection;
    if (const FormField* f = find_field(*query, "detection")) {
      detection = parse_bool(f->value);
      if (!detection) {
        return send(
            c, r,
            json_reply(422,
                       validation_json(
                           {{{"query", "detection"}, "value could not be parsed to a boolean", "type_error.bool"}})));
      }
    }
    // The form.
    std::vector<FormField> fields;
    const std::string_view type = std::string_view(r.content_type).substr(0, r.content_type.find(';'));
    if (iequals(trim(type, " \t"), "multipart/form-data")) {
      const auto boundary = multipart_boundary(r.content_type);
      if (!boundary) return send(c, r, json_reply(400, R"({"detail":"There was an error parsing the body"})"));
      auto parsed = parse_multipart(r.body, *boundary);
      if (!parsed) return send(c, r, json_reply(400, R"({"detail":"There was an error parsing the body"})"));
      fields = std::move(*parsed);
    } else if (iequals(trim(type, " \t"), "application/x-www-form-urlencoded")) {
      auto parsed = parse_urlencoded(r.body);
      if (!parsed) return send(c, r, json_reply(400, R"({"detail":"There was an error parsing the body"})"));
      fields = std::move(*parsed);
    }
    const FormField* image = last_field(fields, "image");
    const FormField* url = last_field(fields, "url");
    if (!image && !url) {
      return send(c, r,
                  json_reply(422, validation_json({{{"body", "image"}, "field required", "value_error.missing"},
                                                   {{"body", "url"}, "field required", "value_error.missing"}})));
    }
    if (detection && !*detection) {
      return send(c, r,
                  json_reply(200, failure_json(image ? image->filename.value_or("image") : display_name(url->value),
                                               image ? md5_hex(image->value) : "",
                                               "detection=false (one embedding for the whole image) is not "
                                               "supported by faceverify serve; send the photo with detection on")));
    }
    // A job for a worker.
    auto job = std::make_shared<Job>();
    job->embeddings = embeddings;
    if (image) {
      job->name = image->filename ? *image->filename : std::string("image");
      job->bytes = std::move(const_cast<FormField*>(image)->value);
    } else {
      job->url = url->value;
    }
    release_buffer(r);
    r.body.clear();
    r.body.shrink_to_fit();
    // A request accepted before a stop is still answered; only what is
    // left when the grace period ends gets 503.
    if (m_abandon) return send(c, r, unavailable_reply("The server is shutting down"));
    if (job->url && !m_settings.url_fetcher) return send(c, r, url_disabled_reply(*job->url));
    WorkQueue& first = job->url ? m_fetch_queue : m_queue;
    if (first.pending() >= (job->url ? 5 * m_settings.fetchers : m_settings.workers + m_queue_capacity)) {
      return send(c, r, busy_reply());
    }
    {
      std::lock_guard lock(m_mutex);
      ++m_suspended;
    }
    MHD_suspend_connection(c);
    // Only the polling thread submits here, so the check above holds.
    const bool queued = job->url ? m_fetch_queue.try_submit([this, c, &r, job] { fetch_then_analyse(c, r, job); })
                                 : submit_analysis(c, r, job);
    if (!queued) resume(c, r, unavailable_reply("The server is shutting down"));
    return MHD_YES;
  }

  static Reply busy_reply() {
    Reply reply = json_reply(429, message_json("Too many requests: every worker is busy and the queue is full; "
                                               "retry after the time in Retry-After."));
    reply.headers.emplace_back("Retry-After", "1");
    return reply;
  }

  static Reply url_disabled_reply(const std::string& url) {
    return json_reply(200, failure_json(display_name(url), "",
                                        "URL inputs are disabled on this server: send the image bytes in the "
                                        "`image` field, or start the server with --allow-url-fetch"));
  }

  bool submit_analysis(MHD_Connection* c, Request& r, const std::shared_ptr<Job>& job) {
    return m_queue.try_submit([this, c, &r, job] {
      resume(c, r, m_abandon ? unavailable_reply("The server is shutting down") : analyse(*job));
    });
  }

  /// On a fetcher thread: downloads never hold a worker, so slow URLs cannot
  /// stall the analyses of uploads.
  void fetch_then_analyse(MHD_Connection* c, Request& r, const std::shared_ptr<Job>& job) {
    if (m_abandon) return resume(c, r, unavailable_reply("The server is shutting down"));
    const std::string shown = display_name(*job->url);
    auto fetched = m_settings.url_fetcher->fetch(*job->url);
    if (!fetched) {
      const std::string message =
          fetched.error().kind == ErrorKind::usage ? fetched.error().message : "Can not load image.";
      return resume(c, r, json_reply(200, failure_json(shown, "", message)));
    }
    job->name = shown;
    job->bytes = std::move(*fetched);
    job->url.reset();
    if (!submit_analysis(c, r, job)) resume(c, r, busy_reply());
  }

  void resume(MHD_Connection* c, Request& r, Reply reply) {
    {
      std::lock_guard lock(m_mutex);
      r.reply = std::move(reply);
    }
    MHD_resume_connection(c);
    std::lock_guard lock(m_mutex);
    --m_suspended;
    m_idle.notify_all();
  }

  static Reply unavailable_reply(const std::string& why) {
    Reply reply = json_reply(503, message_json(why + "; retry after the time in Retry-After."));
    reply.headers.emplace_back("Retry-After", "1");
    return reply;
  }

  Reply analyse(Job& job) {
    const std::string md5 = md5_hex(job.bytes);
    Image image;
    image.source.kind = SourceKind::file;
    image.source.spec = job.name;
    image.label = display_name(job.name);
    image.upload_name = job.name;
    image.format = sniff_format(job.bytes);
    if (!image.format) return json_reply(200, failure_json(job.name, md5, "Can not load image."));
    const ImageHeader header = inspect_header(job.bytes, *image.format);
    if (header.width && header.height && std::uint64_t{*header.width} * *header.height > k_max_pixels) {
      return json_reply(200,
                        failure_json(job.name, md5,
                                     "Resolution is too big: " + std::to_string(*header.width) + "x" +
                                         std::to_string(*header.height) + ". Max allowed resolution: 100 megapixels."));
    }
    image.bytes = std::move(job.bytes);
    auto analysis = m_analyzer.analyze(image);
    if (!analysis) {
      const bool bad_image = analysis.error().kind == ErrorKind::input;
      return json_reply(200, failure_json(job.name, md5, bad_image ? "Can not load image." : "Processing failed"));
    }
    analysis->name = job.name;
    analysis->md5 = md5;
    Reply reply = json_reply(200, results_json(*analysis, job.embeddings));
    reply.faces = analysis->faces.size();
    return reply;
  }

  MHD_Result send(MHD_Connection* c, Request& r, Reply reply) {
    MHD_Response* response =
        MHD_create_response_from_buffer(reply.body.size(), reply.body.data(), MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    if (!reply.content_type.empty()) MHD_add_response_header(response, "Content-Type", reply.content_type.c_str());
    for (const auto& [name, value] : common_headers()) {
      MHD_add_response_header(response, name.c_str(), value.c_str());
    }
    if (reply.status == 413 || m_stopping) MHD_add_response_header(response, "Connection", "close");
    for (const auto& [name, value] : reply.headers) MHD_add_response_header(response, name.c_str(), value.c_str());
    const MHD_Result rc = MHD_queue_response(c, static_cast<unsigned>(reply.status), response);
    MHD_destroy_response(response);
    r.status_sent = reply.status;
    r.faces = reply.faces;
    return rc;
  }

  void on_completed(MHD_Connection* /*c*/, Request* r, MHD_RequestTerminationCode toe) {
    if (!r) return;
    if (r->conn_info) {
      std::lock_guard lock(m_conn_mutex);
      if (m_connections.count(r->conn_info)) {
        r->conn_info->current = nullptr;
        r->conn_info->busy = false;
        r->conn_info->since = Clock::now();
      }
    }
    finish(r, toe);
  }

  /// Logs, counts and frees a request, whether it completed or not.
  void finish(Request* r, MHD_RequestTerminationCode toe) {
    release_buffer(*r);
    if (!r->logged) log_request(*r, toe);
    delete r;
    std::lock_guard lock(m_mutex);
    --m_active_requests;
    m_idle.notify_all();
  }

  /// The request's metrics and access line.
  void log_request(const Request& req, MHD_RequestTerminationCode toe) {
    const Request* r = &req;
    const double seconds = std::chrono::duration<double>(Clock::now() - r->start).count();
    const std::size_t faces = r->faces;
    const int status = r->status_sent;
    if (status != 0) m_metrics.record(route_label(r->route), status, seconds, r->bytes_in, faces);
    if (m_settings.access_log) {
      // A key sent by mistake in the path is redacted by the log's writer;
      // one written with percent escapes is caught here.
      std::string path = display_name(r->path);
      if (const std::string decoded = percent_decoded(path); redact_secrets(decoded) != decoded) path = "[redacted]";
      if (path.size() > 200) path = path.substr(0, 200) + "...";
      const std::string method = r->method.empty() ? "-" : display_name(r->method);  // left before its headers
      std::string line = utc_now() + " " + r->client + " " + method + " " + path + " ";
      line += status ? std::to_string(status) : std::string("-");
      line += " in=" + std::to_string(r->bytes_in) + " ms=" + std::to_string(static_cast<long long>(seconds * 1000));
      line += " faces=" + std::to_string(faces);
      if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !(status != 0 && r->too_large)) {
        line += toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)"
                : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT || toe == MHD_REQUEST_TERMINATED_READ_ERROR
                    ? " (client went away)"
                    : " (closed)";
      }
      m_settings.access_log(line);
    }
  }

  static std::string percent_decoded(std::string_view text) {
    const auto hex = [](char ch) {
      if (ch >= '0' && ch <= '9') return ch - '0';
      if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
      if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
      return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
        i += 2;
      } else {
        out.push_back(text[i]);
      }
    }
    return out;
  }

  // ---- request-time bound ----
  void reap() {
    std::unique_lock wait_lock(m_reaper_mutex);
    while (!m_reaper_stop) {
      m_reaper_wake.wait_for(wait_lock, std::chrono::seconds(1));
      const auto now = Clock::now();
      std::lock_guard lock(m_conn_mutex);
      for (auto& [key, info] : m_connections) {
        if (!info->busy && info->fd >= 0 && now - info->since > m_settings.request_timeout) {
          ::shutdown(info->fd, SHUT_RDWR);  // MHD sees the end and closes it
          info->since = now;                // once
        }
      }
    }
  }

  FaceAnalyzer& m_analyzer;
  ServerSettings m_settings;
  Metrics m_metrics;
  WorkQueue m_queue;
  WorkQueue m_fetch_queue;
  std::size_t m_queue_capacity = 0;
  std::size_t m_buffer_budget = 0;
  std::atomic<std::size_t> m_buffered{0};
  MHD_Daemon* m_daemon = nullptr;
  int m_listen_fd = -1;
  int m_port = 0;
  bool m_ipv6 = false;
  std::atomic<bool> m_stopping{false};
  std::atomic<bool> m_stopped{false};
  std::atomic<bool> m_abandon{false};

  std::mutex m_mutex;  // counters below
  std::condition_variable m_idle;
  std::size_t m_active_requests = 0;
  std::size_t m_suspended = 0;

  mutable std::mutex m_conn_mutex;
  std::map<ConnInfo*, std::unique_ptr<ConnInfo>> m_connections;

  std::thread m_reaper;
  std::mutex m_reaper_mutex;
  std::condition_variable m_reaper_wake;
  std::atomic<bool> m_reaper_stop{false};
};

}  // namespace

Expected<std::unique_ptr<Server>> Server::start(FaceAnalyzer& analyzer, ServerSettings settings) {
  if (settings.workers == 0) settings.workers = 1;
  auto server = std::make_unique<MhdServer>(analyzer, std::move(settings));
  auto opened = server->open();
  if (!opened) return std::unexpected(opened.error());
  return std::unique_ptr<Server>(std::move(server));
}

Expected<std::pair<std::string, int>> parse_listen(std::string_view spec) {
  const std::string where = "--listen " + display_name(spec) + ": ";
  std::string host;
  std::string_view port_text;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return fail(ErrorKind::usage, where + "expected [ADDRESS]:PORT for an IPv6 address, e.g. [::1]:8080");
    }
    host = std::string(spec.substr(1, close - 1));
    port_text = spec.substr(close + 2);
  } else {
    const auto colon = spec.rfind(':');
    if (colon == std::string_view::npos) {
      return fail(ErrorKind::usage, where + "expected HOST:PORT, e.g. 127.0.0.1:8080 (or :8080 for every address)");
    }
    host = std::string(spec.substr(0, colon));
    if (host.find(':') != std::string::npos) {
      return fail(ErrorKind::usage, where + "write an IPv6 address in brackets, e.g. [::1]:8080");
    }
    port_text = spec.substr(colon + 1);
  }
  int port = -1;
  const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return fail(ErrorKind::usage, where + "the port must be a number from 0 to 65535 (0: any free port)");
  }
  if (host.empty()) host = "0.0.0.0";
  return std::pair{host, port};
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  const std::string h(host);
  if (::inet_pton(AF_INET, h.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

}  // namespace faceverify::serve

// SPDX-License-Identifier: MIT
// The libcurl implementation of HttpClient: the only file that includes
// <curl/curl.h>. One easy handle per request, so calls from several threads
// never share a handle.
#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "faceverify/http_client.hpp"

namespace faceverify {

namespace {

// Abort a transfer that moves fewer than this many bytes per second for
// k_low_speed_seconds: a server trickling bytes cannot hold us forever.
constexpr long k_low_speed_bytes = 64;
constexpr long k_low_speed_seconds = 30;

struct CurlDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
  void operator()(curl_mime* m) const noexcept { curl_mime_free(m); }
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using MimeHandle = std::unique_ptr<curl_mime, CurlDeleter>;
using SlistHandle = std::unique_ptr<curl_slist, CurlDeleter>;

struct Transfer {
  std::string body;
  std::vector<Header> headers;
  std::size_t max_body = 0;
  bool body_too_large = false;
  ErrorKind body_too_large_kind = ErrorKind::api_response;
  const std::function<bool(const sockaddr*, socklen_t)>* allow_address = nullptr;
  std::string refused_address;  // the first address allow_address refused, as text
  bool opened_socket = false;   // some address passed allow_address: a failure is then the network's
};

std::string address_text(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof text);
    return text;
  }
  if (addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, text, sizeof text);
    return text;
  }
  return "an address of family " + std::to_string(addr->sa_family);
}

// Opens the socket curl asks for, unless allow_address refuses the address:
// the check runs on every address curl is about to connect to (each
// resolved address, each redirect hop, each new connection), so a name
// that resolves differently the second time cannot slip past it.
curl_socket_t open_checked_socket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (!(*t->allow_address)(&address->addr, static_cast<socklen_t>(address->addrlen))) {
    if (t->refused_address.empty()) t->refused_address = address_text(&address->addr);
    return CURL_SOCKET_BAD;
  }
  t->opened_socket = true;
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t->body.size() + n > t->max_body) {
    t->body_too_large = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->headers.clear();  // a new response (after a redirect or 100-continue)
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || t->headers.size() > 200) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  t->headers.emplace_back(std::move(name), std::string(value));
  return n;
}

std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const auto end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);  // never show userinfo
  return host;
}

// `ca_file`: the --cacert FILE in use, so the hint does not tell the user to
// pass what they already passed.
Error transport_error(CURLcode code, const Transfer& t, const HttpRequest& req, const char* detail,
                      const std::optional<std::string>& ca_file) {
  const std::string host = host_of(req.url);
  Error e{ErrorKind::network, {}, {}, false, {}};
  if (!t.refused_address.empty() && !t.opened_socket &&
      (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST)) {
    e.kind = ErrorKind::usage;
    e.message = "refused to connect to " + host + ": its address " + t.refused_address + " is not allowed";
    return e;
  }
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      e.message = "cannot resolve host " + host + " (no network, or a wrong --api-url?)";
      e.retryable = true;
      break;
    case CURLE_COULDNT_RESOLVE_PROXY:
      e.message = "cannot resolve the proxy host (check https_proxy / http_proxy)";
      e.retryable = true;
      break;
    case CURLE_COULDNT_CONNECT:
      e.message = "cannot connect to " + host + " (connection refused or unreachable)";
      e.retryable = true;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      e.kind = ErrorKind::timeout;
      e.message = "no complete answer from " + host + " in time (request timed out or stalled)";
      e.retryable = true;
      break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      e.message = "connection to " + host + " was reset";
      e.retryable = true;
      break;
    case CURLE_GOT_NOTHING:
      e.message = host + " closed the connection without answering";
      e.retryable = true;
      break;
    case CURLE_PARTIAL_FILE:
      e.message = "the answer from " + host + " was cut short";
      e.retryable = true;
      break;
    case CURLE_SSL_CONNECT_ERROR:  // includes a reset during the handshake
      e.message = "TLS handshake with " + host + " failed";
      e.retryable = true;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      e.message = "TLS connection to " + host + " failed: " +
                  (code == CURLE_PEER_FAILED_VERIFICATION ? std::string("its certificate is not trusted")
                                                          : std::string(curl_easy_strerror(code))) +
                  (ca_file ? " (check that --cacert " + *ca_file + " holds the CA that signed its certificate)"
                           : std::string(" (use --cacert FILE for a private CA)"));
      break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (t.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
        e.kind = t.body_too_large_kind;
        e.message = "the answer from " + host + " is larger than " +
                    (t.max_body % (1024 * 1024) == 0 ? std::to_string(t.max_body / (1024 * 1024)) + " MiB"
                                                     : std::to_string(t.max_body) + " bytes") +
                    "; refusing it";
      } else {
        e.message = "cannot store the answer from " + host;
      }
      break;
    case CURLE_UNSUPPORTED_PROTOCOL: e.message = "only http:// and https:// URLs are supported"; break;
    case CURLE_BAD_CONTENT_ENCODING:
      e.kind = ErrorKind::api_response;
      e.message = "the answer from " + host + " has a corrupt Content-Encoding";
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      e.message = "request to " + host + " interrupted";
      e.retryable = false;
      break;
    default:
      e.message = "request to " + host + " failed: " + std::string(detail[0] ? detail : curl_easy_strerror(code));
      break;
  }
  return e;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options) : m_options(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Expected<HttpResponse> send(const HttpRequest& req) override {
    CurlHandle curl = acquire();
    if (!curl) return fail(ErrorKind::internal, "cannot initialise libcurl");
    // Back to the pool however this ends, forgetting this call's buffers but
    // keeping its connection for the next request.
    struct Release {
      CurlHttpClient& self;
      CurlHandle& handle;
      ~Release() { self.release(std::move(handle)); }
    } release_on_exit{*this, curl};
    CURL* h = curl.get();
    Transfer t;
    t.max_body = m_options.max_body_bytes;
    t.body_too_large_kind = m_options.body_too_large_kind;
    char detail[CURL_ERROR_SIZE] = {0};

    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // in case redirects are ever enabled
    // Redirects are not followed: curl would resend the key headers and the
    // photo to whatever host a Location names. A 3xx reaches the caller.
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (m_options.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, m_options.ca_file->c_str());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<long long>(1, req.timeout.count())));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<long long>(1, std::min(req.connect_timeout, req.timeout).count())));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, k_low_speed_bytes);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, k_low_speed_seconds);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(m_options.max_body_bytes));
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // decoded bytes still pass through on_body's cap
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    if (!m_options.use_proxy) curl_easy_setopt(h, CURLOPT_PROXY, "");  // "" overrides the proxy variables
    if (m_options.allow_address) {
      t.allow_address = &m_options.allow_address;
      curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
      curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &t);
    }
    if (!m_options.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, m_options.user_agent.c_str());
    if (m_options.cancel) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, m_options.cancel);
    }

    curl_slist* list = curl_slist_append(nullptr, "Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : req.headers) {
      const std::string line = name + ": " + value;
      curl_slist* next = list ? curl_slist_append(list, line.c_str()) : nullptr;
      if (!next) {
        curl_slist_free_all(list);
        return fail(ErrorKind::internal, "out of memory building request headers");
      }
      list = next;
    }
    SlistHandle headers(list);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

    MimeHandle mime;
    if (!req.form.empty()) {
      mime.reset(curl_mime_init(h));
      for (const auto& part : req.form) {
        curl_mimepart* p = curl_mime_addpart(mime.get());
        curl_mime_name(p, part.name.c_str());
        curl_mime_data(p, part.value.data(), part.value.size());
        if (part.filename) curl_mime_filename(p, part.filename->c_str());
        if (part.content_type) curl_mime_type(p, part.content_type->c_str());
      }
      curl_easy_setopt(h, CURLOPT_MIMEPOST, mime.get());
    }

    const auto started = std::chrono::steady_clock::now();
    const CURLcode rc = curl_easy_perform(h);
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (rc != CURLE_OK) return std::unexpected(transport_error(rc, t, req, detail, m_options.ca_file));

    HttpResponse response;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    response.headers = std::move(t.headers);
    response.body = std::move(t.body);
    response.elapsed = elapsed;
    if (char* location = nullptr; curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
      response.redirect_url = location;
    }
    return response;
  }

 private:
  static int on_progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
  }

  CurlHandle acquire() {
    {
      std::lock_guard lock(m_pool_mutex);
      if (!m_idle.empty()) {
        CurlHandle h = std::move(m_idle.back());
        m_idle.pop_back();
        return h;
      }
    }
    return CurlHandle(curl_easy_init());
  }

  void release(CurlHandle handle) {
    if (!handle) return;
    curl_easy_reset(handle.get());  // drops pointers to this call's buffers; live connections stay
    std::lock_guard lock(m_pool_mutex);
    m_idle.push_back(std::move(handle));
  }

  CurlOptions m_options;
  std::mutex m_pool_mutex;
  std::vector<CurlHandle> m_idle;
};

}  // namespace

std::unique_ptr<HttpClient> make_curl_client(CurlOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace faceverify

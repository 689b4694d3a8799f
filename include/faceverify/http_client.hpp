// SPDX-License-Identifier: MIT
#pragma once
// A minimal HTTP client interface, so the protocol code can be tested with a
// scripted fake and the libcurl implementation stays in one file.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include "faceverify/error.hpp"

namespace faceverify {

using Header = std::pair<std::string, std::string>;

struct FormPart {
  std::string name;
  std::string value;                    // text value or file bytes
  std::optional<std::string> filename;  // set: sent as a file part
  std::optional<std::string> content_type;
};

struct HttpRequest {
  std::string url;
  std::vector<Header> headers;
  std::vector<FormPart> form;  // non-empty: POST multipart/form-data; empty: GET
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds connect_timeout{10000};
};

struct HttpResponse {
  int status = 0;
  std::vector<Header> headers;  // names lowercased
  std::string body;
  std::chrono::milliseconds elapsed{0};
  std::string redirect_url;  // a 3xx's Location made absolute (empty otherwise); never followed here

  /// First header with this (lowercase) name.
  std::optional<std::string> header(std::string_view lowercase_name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// Any HTTP status is a success here; only transport failures are errors
  /// (ErrorKind::network or ErrorKind::timeout, retryable set as appropriate).
  virtual Expected<HttpResponse> send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  std::optional<std::string> ca_file;               // --cacert
  std::size_t max_body_bytes = 8u * 1024u * 1024u;  // responses beyond this are refused
  std::string user_agent;
  const std::atomic<bool>* cancel = nullptr;  // when it becomes true, transfers in flight abort ("interrupted")
  bool use_proxy = true;                      // false: ignore proxy variables, connect directly
  /// Set: every address a connection would be opened to is first passed to
  /// it, and one it returns false for is not connected to. When it refused
  /// every address tried, send() fails with ErrorKind::usage (a kind it
  /// returns for nothing else), naming a refused address. Combine with
  /// use_proxy = false, or the address checked is the proxy's.
  std::function<bool(const sockaddr*, socklen_t)> allow_address;
  ErrorKind body_too_large_kind = ErrorKind::api_response;  // the kind of "larger than max_body_bytes"
};

/// The libcurl client: TLS verified, http/https only (redirects too), body
/// capped, proxy variables honoured. Safe to use from several threads; idle
/// handles are pooled, so their connections are kept alive and reused.
std::unique_ptr<HttpClient> make_curl_client(CurlOptions options);

}  // namespace faceverify

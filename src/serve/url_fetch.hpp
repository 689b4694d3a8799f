// SPDX-License-Identifier: MIT
#pragma once
// `url` inputs of faceverify serve (--allow-url-fetch): fetching what a
// client names is a server-side request forgery hole, so only http/https,
// bounded in size, time and redirects, and — unless --allow-private-urls —
// never to a loopback, private, link-local or otherwise non-public address,
// checked on the address actually connected to, on every redirect hop.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <sys/socket.h>

#include "faceverify/error.hpp"

namespace faceverify::serve {

/// Whether `addr` is a public unicast address: false for IPv4 0/8, 10/8,
/// 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16,
/// 198.18/15, 224/4 and above; for IPv6 true only within global unicast
/// 2000::/3 (so never ::, ::1, fc00::/7, fe80::/10, ff00::/8, ::/96) or for
/// the IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
/// forms of a public IPv4 address; false for any other family or a short
/// length.
bool is_public_address(const sockaddr* addr, socklen_t length) noexcept;

struct UrlFetchSettings {
  bool allow_private = false;                   // --allow-private-urls
  std::size_t max_bytes = 16u * 1024u * 1024u;  // the body limit of uploads
  std::chrono::milliseconds timeout{20000};     // whole transfer, redirects included
  int max_redirects = 5;
  /// Tests only: set, it decides which addresses may be connected to
  /// instead of is_public_address (allow_private still allows all).
  std::function<bool(const sockaddr*, socklen_t)> is_allowed;
};

class UrlFetcher {
 public:
  virtual ~UrlFetcher() = default;
  /// The body of `url` (http/https only). Errors: ErrorKind::usage when the
  /// URL or a redirect target is refused (scheme, non-public address: the
  /// message says how to allow it), ErrorKind::network/timeout for transport
  /// failures and non-2xx statuses, ErrorKind::input when over max_bytes.
  /// Thread-safe.
  virtual Expected<std::string> fetch(std::string_view url) = 0;
};

std::unique_ptr<UrlFetcher> make_url_fetcher(UrlFetchSettings settings);

}  // namespace faceverify::serve

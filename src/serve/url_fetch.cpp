// SPDX-License-Identifier: MIT
// Downloads the `url` inputs of faceverify serve. Redirects are followed here,
// hop by hop, rather than by curl, so every Location is checked (scheme) and
// counted by this code; the address check itself runs in the curl client on
// every socket it opens (CurlOptions::allow_address), which is what makes a
// name that resolves to a public address for a check and to 127.0.0.1 for
// the connection (DNS rebinding) harmless: only connected addresses count.
#include "serve/url_fetch.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <utility>

#include "faceverify/http_client.hpp"
#include "faceverify/image.hpp"
#include "faceverify/version.hpp"

namespace faceverify::serve {

namespace {

using Bytes16 = std::array<std::uint8_t, 16>;

bool ipv4_is_public(std::uint32_t a) noexcept {  // host byte order
  const auto in = [a](std::uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return !(in(0x00000000u, 8) ||   // 0/8 "this network"
           in(0x0A000000u, 8) ||   // 10/8
           in(0x64400000u, 10) ||  // 100.64/10 carrier-grade NAT
           in(0x7F000000u, 8) ||   // 127/8 loopback
           in(0xA9FE0000u, 16) ||  // 169.254/16 link-local (cloud metadata)
           in(0xAC100000u, 12) ||  // 172.16/12
           in(0xC0000000u, 24) ||  // 192.0.0/24 protocol assignments
           in(0xC0A80000u, 16) ||  // 192.168/16
           in(0xC6120000u, 15) ||  // 198.18/15 benchmarking
           a >= 0xE0000000u);      // 224/4 multicast, 240/4 reserved, broadcast
}

std::uint32_t ipv4_at(const Bytes16& b, std::size_t at) noexcept {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
         std::uint32_t{b[at + 3]};
}

bool starts_with(const Bytes16& b, std::initializer_list<std::uint8_t> prefix) noexcept {
  return std::equal(prefix.begin(), prefix.end(), b.begin());
}

bool ipv6_is_public(const Bytes16& b) noexcept {
  if (starts_with(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF})) return ipv4_is_public(ipv4_at(b, 12));  // mapped
  if (starts_with(b, {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0})) return ipv4_is_public(ipv4_at(b, 12));
  if (starts_with(b, {0x20, 0x02})) return ipv4_is_public(ipv4_at(b, 2));  // 2002::/16 6to4
  // Everything routable on the internet is global unicast, 2000::/3; outside
  // it lie ::, ::1 and IPv4-compatible ::/96, fc00::/7, fe80::/10, fec0::/10,
  // ff00::/8, 64:ff9b:1::/48 (local NAT64) and the reserved rest.
  return (b[0] & 0xE0) == 0x20;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A usage error unless `url` is http(s) with a host. `what` names it in the
// message (the URL itself, or "redirect to <url> (from <original>)").
std::optional<Error> check_url(std::string_view url, const std::string& what) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Error{ErrorKind::usage, what + ": not an http:// or https:// URL", {}, false, {}};
  }
  const std::string scheme = lowercase(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return Error{ErrorKind::usage,
                 what + ": unsupported URL scheme '" + display_name(url.substr(0, sep)) +
                     "' (only http:// and https:// URLs can be fetched)",
                 {},
                 false,
                 {}};
  }
  const std::string_view rest = url.substr(sep + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == '?' || rest.front() == '#') {
    return Error{ErrorKind::usage, what + ": URL has no host", {}, false, {}};
  }
  return std::nullopt;
}

std::string size_text(std::size_t bytes) {
  constexpr std::size_t mib = 1024 * 1024;
  return bytes % mib == 0 && bytes > 0 ? std::to_string(bytes / mib) + " MiB" : std::to_string(bytes) + " bytes";
}

bool is_redirect(int status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

class CurlUrlFetcher final : public UrlFetcher {
 public:
  explicit CurlUrlFetcher(UrlFetchSettings settings) : m_settings(std::move(settings)) {
    CurlOptions options;
    options.max_body_bytes = m_settings.max_bytes;
    options.body_too_large_kind = ErrorKind::input;
    options.user_agent = std::string("faceverify/") + k_version;
    // Through a proxy the connected address would be the proxy's, and the
    // check below would guard nothing.
    options.use_proxy = false;
    if (!m_settings.allow_private) {
      options.allow_address = m_settings.is_allowed ? m_settings.is_allowed : is_public_address;
    }
    m_client = make_curl_client(std::move(options));
  }

  Expected<std::string> fetch(std::string_view url) override {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + m_settings.timeout;
    const std::string original = display_name(url);
    std::string current(url);
    for (int hop = 0;; ++hop) {
      const std::string what =
          hop == 0 ? original : "redirect to " + display_name(current) + " (from " + original + ")";
      if (auto refused = check_url(current, what)) return std::unexpected(std::move(*refused));
      const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (remaining.count() <= 0) return timed_out(original);

      HttpRequest request;
      request.url = current;
      request.timeout = remaining;
      request.connect_timeout = std::min(request.connect_timeout, remaining);
      auto response = m_client->send(request);
      if (!response) return std::unexpected(explain(std::move(response.error()), what, original));

      if (is_redirect(response->status) && !response->redirect_url.empty()) {
        if (hop >= m_settings.max_redirects) {
          return fail(ErrorKind::network,
                      original + ": more than " + std::to_string(m_settings.max_redirects) + " redirects");
        }
        current = std::move(response->redirect_url);
        continue;
      }
      if (response->status < 200 || response->status > 299) {
        Error e{ErrorKind::network, what + ": HTTP " + std::to_string(response->status), {}, false, {}};
        e.retryable = response->status >= 500 || response->status == 429;
        return std::unexpected(std::move(e));
      }
      return std::move(response->body);
    }
  }

 private:
  static std::unexpected<Error> timed_out(const std::string& original) {
    Error e{ErrorKind::timeout, original + ": no complete download in time", {}, true, {}};
    return std::unexpected(std::move(e));
  }

  // The client's errors, reworded for someone who sent a URL to the server.
  Error explain(Error e, const std::string& what, const std::string& original) const {
    switch (e.kind) {
      case ErrorKind::usage:  // only the address check gives it
        e.message = "refused: " + what +
                    " resolves to a loopback/private address (start the server with --allow-private-urls to "
                    "allow it)";
        e.retryable = false;
        break;
      case ErrorKind::input:
        e.message = original + ": larger than " + size_text(m_settings.max_bytes) + "; refusing it";
        e.retryable = false;
        break;
      case ErrorKind::timeout:
        e.message = original + ": no complete download in " + std::to_string(m_settings.timeout.count()) + " ms";
        break;
      default: {
        static constexpr std::string_view k_cli_hint = " (no network, or a wrong --api-url?)";
        if (e.message.ends_with(k_cli_hint)) e.message.resize(e.message.size() - k_cli_hint.size());
        e.message = what + ": " + e.message;
        break;
      }
    }
    return e;
  }

  UrlFetchSettings m_settings;
  std::unique_ptr<HttpClient> m_client;
};

}  // namespace

bool is_public_address(const sockaddr* addr, socklen_t length) noexcept {
  if (addr == nullptr) return false;
  if (addr->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof in);
    return ipv4_is_public(ntohl(in.sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof in6);
    Bytes16 bytes{};
    std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
    return ipv6_is_public(bytes);
  }
  return false;
}

std::unique_ptr<UrlFetcher> make_url_fetcher(UrlFetchSettings settings) {
  return std::make_unique<CurlUrlFetcher>(std::move(settings));
}

}  // namespace faceverify::serve

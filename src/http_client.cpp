// SPDX-License-Identifier: MIT
// The transport-independent part of the HTTP client interface.
#include "faceverify/http_client.hpp"

namespace faceverify {

std::optional<std::string> HttpResponse::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return std::nullopt;
}

}  // namespace faceverify

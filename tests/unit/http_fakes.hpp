// SPDX-License-Identifier: MIT
#pragma once
// Scripted HTTP replies for the protocol and rate-gate tests.
#include <string>
#include <utility>
#include <vector>

#include "faceverify/http_client.hpp"

namespace faceverify::test {

inline HttpResponse reply(int status, std::string body, std::vector<Header> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

}  // namespace faceverify::test

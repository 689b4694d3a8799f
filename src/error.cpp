// SPDX-License-Identifier: MIT
#include "faceverify/error.hpp"

#include <array>
#include <utility>

namespace faceverify {
namespace {
constexpr std::array<std::pair<ErrorKind, std::string_view>, 8> k_kinds{{
    {ErrorKind::usage, "usage"},
    {ErrorKind::input, "input"},
    {ErrorKind::no_face, "no_face"},
    {ErrorKind::network, "network"},
    {ErrorKind::timeout, "timeout"},
    {ErrorKind::http, "http"},
    {ErrorKind::api_response, "api_response"},
    {ErrorKind::internal, "internal"},
}};
}  // namespace

std::string_view kind_name(ErrorKind kind) noexcept {
  for (const auto& [k, name] : k_kinds) {
    if (k == kind) return name;
  }
  return "internal";
}

std::optional<ErrorKind> kind_from_name(std::string_view name) noexcept {
  for (const auto& [k, n] : k_kinds) {
    if (n == name) return k;
  }
  return std::nullopt;
}

int exit_code(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::usage:
    case ErrorKind::input: return exit_status::usage;
    case ErrorKind::no_face: return exit_status::no_face;
    case ErrorKind::network:
    case ErrorKind::timeout:
    case ErrorKind::http:
    case ErrorKind::api_response:
    case ErrorKind::internal: return exit_status::service;
  }
  return exit_status::service;
}

namespace {

// Higher ranks win. Unknown statuses rank with the service errors: they are
// never expected, and must not pass for a verdict.
int status_rank(int status) noexcept {
  switch (status) {
    case exit_status::same: return 0;
    case exit_status::uncertain: return 1;
    case exit_status::different: return 2;
    case exit_status::usage: return 3;
    case exit_status::no_face: return 4;
    case exit_status::service: return 5;
    case exit_status::sigint:
    case exit_status::sigterm: return 6;
    default: return 5;
  }
}

}  // namespace

int worse_status(int a, int b) noexcept {
  return status_rank(b) > status_rank(a) ? b : a;
}

bool ExitStatus::failed() const noexcept {
  return status_rank(m_status) >= status_rank(exit_status::usage);
}

}  // namespace faceverify

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

}  // namespace faceverify

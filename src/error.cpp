// SPDX-License-Identifier: MIT
#include "faceverify/error.hpp"

namespace faceverify {

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

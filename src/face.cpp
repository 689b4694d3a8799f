// SPDX-License-Identifier: MIT
#include "faceverify/face.hpp"

namespace faceverify {

std::string_view backend_name(BackendKind kind) noexcept {
  switch (kind) {
    case BackendKind::api4ai: return "api4ai";
    case BackendKind::local: return "local";
  }
  return "api4ai";
}

std::optional<BackendKind> backend_from_name(std::string_view name) noexcept {
  if (name == "api4ai") return BackendKind::api4ai;
  if (name == "local") return BackendKind::local;
  return std::nullopt;
}

}  // namespace faceverify

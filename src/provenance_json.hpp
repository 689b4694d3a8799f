// SPDX-License-Identifier: MIT
#pragma once
// How every JSON output names the backend that produced its embeddings:
// "backend", then "models" (local: role -> {"sha256"}, "pipeline" when known, and "server" when a
// faceverify server analysed the images) or "api" and "endpoint" (api4ai). One definition, so the formats cannot drift
// apart.

#include <nlohmann/json.hpp>

#include "faceverify/face.hpp"

namespace faceverify::detail {

inline void add_provenance(nlohmann::ordered_json& j, const Provenance& p) {
  j["backend"] = backend_name(p.backend);
  if (p.backend == BackendKind::local) {
    nlohmann::ordered_json models = nlohmann::ordered_json::object();
    for (const auto& [role, sha] : p.models) models[role] = {{"sha256", sha}};
    j["models"] = std::move(models);
    if (p.pipeline > 0) j["pipeline"] = p.pipeline;
    if (!p.server.empty()) j["server"] = p.server;
  } else {
    j["api"] = p.api;
    j["endpoint"] = p.endpoint;
  }
}

}  // namespace faceverify::detail

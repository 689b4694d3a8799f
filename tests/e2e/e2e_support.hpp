// SPDX-License-Identifier: MIT
#pragma once
// Shared by the end-to-end tests: scratch photos, a clean environment, and
// running the built binary against a fake server.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fake_server.hpp"

namespace faceverify::test::e2e {

inline const std::string k_jpeg_magic("\xFF\xD8\xFF\xE0", 4);

// A scratch folder of tiny "JPEGs": the fake server never decodes them, it
// keys its scripted behaviour on the upload's file name, so each photo is
// named after its scenario.
struct Photos {
  TempDir dir;
  std::string operator()(const std::string& name) {
    const std::string path = (dir / name).string();
    write_file(path, k_jpeg_magic + " bytes of " + name);
    return path;
  }
};

// The process environment minus anything that would change the run: keys,
// proxies (a CI proxy must not intercept loopback traffic), settings.
inline RunOptions clean_env(RunOptions o = {}) {
  for (const char* var :
       {"API4AI_KEY", "RAPIDAPI_KEY", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
        "all_proxy", "no_proxy", "NO_PROXY", "FACEVERIFY_THRESHOLD", "FACEVERIFY_BACKEND"}) {
    if (!o.env_overrides.count(var)) o.env_overrides[var] = std::nullopt;
  }
  // A developer's own config file (faceverify calibrate --write-config) must
  // not change what the tests see.
  if (!o.env_overrides.count("XDG_CONFIG_HOME")) o.env_overrides["XDG_CONFIG_HOME"] = "/nonexistent/faceverify-tests";
  return o;
}

// FACEVERIFY_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99 -q") runs the
// binary under a tool; CI uses it for a memcheck pass over the scenarios.
inline ProcessResult run_faceverify(std::vector<std::string> args, RunOptions opts = {}) {
  args.insert(args.begin(), FACEVERIFY_BINARY_PATH);
  if (const char* wrapper = std::getenv("FACEVERIFY_TEST_WRAPPER"); wrapper && *wrapper) {
    std::vector<std::string> words;
    std::istringstream in(wrapper);
    for (std::string w; in >> w;) words.push_back(w);
    args.insert(args.begin(), words.begin(), words.end());
    opts.timeout = std::chrono::milliseconds(120000);
  }
  return run_process(args, clean_env(std::move(opts)));
}

inline std::vector<std::string> with_server(const FakeServer& s, std::vector<std::string> args) {
  args.insert(args.begin(), {"--api-url", s.base_url()});
  return args;
}

inline std::size_t requests_for(const nlohmann::json& log, const std::string& key) {
  return static_cast<std::size_t>(
      std::count_if(log.begin(), log.end(), [&](const nlohmann::json& r) { return r["key"] == key; }));
}

inline bool one_line(const std::string& s) {
  return !s.empty() && s.back() == '\n' && std::count(s.begin(), s.end(), '\n') == 1;
}

// A verification's JSON: without an uncertain band, "verified" and "decision"
// are the same verdict (true exactly when the decision is "same").
inline bool verdict_agrees(const nlohmann::json& j) {
  if (!j.contains("verified") || !j["verified"].is_boolean() || !j.contains("decision")) return false;
  const bool banded = j.contains("uncertain_band") && !j["uncertain_band"].is_null();
  return banded || j["verified"].get<bool>() == (j["decision"] == "same");
}

// A scratch "JPEG" whose header gives its size: SOI, then a baseline SOF0
// segment of `width` x `height` (the fake server reports these as the
// service's width and height), then `tag` so the bytes differ per photo.
inline std::string jpeg_of_size(unsigned width, unsigned height, const std::string& tag) {
  std::string d("\xFF\xD8\xFF\xC0\x00\x11\x08", 7);
  for (unsigned v : {height, width}) {
    d.push_back(static_cast<char>(v >> 8));
    d.push_back(static_cast<char>(v & 0xFF));
  }
  d += std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
  return d + tag;
}

}  // namespace faceverify::test::e2e

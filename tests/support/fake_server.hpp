// SPDX-License-Identifier: MIT
// RAII handle on a fake_api4ai child process, for tests that need a real HTTP endpoint.
#pragma once

#include "process.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>
#include <string>
#include <vector>

namespace faceverify::test {

// Starts fake_api4ai (FACEVERIFY_FAKE_SERVER_PATH) on 127.0.0.1 with a free port and the given
// scenario (see tests/support/README.md); a null/empty scenario uses the built-in behaviour.
// Throws std::runtime_error if the server does not report its port within 10 s.
// The destructor stops it (SIGTERM, then SIGKILL after 3 s) and reaps it.
class FakeServer {
 public:
  explicit FakeServer(const nlohmann::json& scenario = {});
  // Serves HTTPS with this certificate and key (PEM files); requests() and
  // reset() are not available then.
  FakeServer(const nlohmann::json& scenario, const std::string& tls_cert, const std::string& tls_key);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  int port() const { return m_port; }
  std::string base_url() const { return (m_tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(m_port); }
  pid_t pid() const { return m_pid; }

  // GET /__requests: the log of results requests (array). Throws std::runtime_error on failure.
  nlohmann::json requests() const;
  // POST /__reset: clears the log and the per-key sequence counters.
  void reset();

 private:
  void stop() noexcept;
  void start(std::vector<std::string> argv, const nlohmann::json& scenario);

  bool m_tls = false;

  TempDir m_dir;
  pid_t m_pid = -1;
  int m_port = 0;
};

}  // namespace faceverify::test

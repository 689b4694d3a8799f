// SPDX-License-Identifier: MIT
#include "fake_server.hpp"

#include <httplib.h>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>
#include <vector>

#ifndef FACEVERIFY_FAKE_SERVER_PATH
#error "FACEVERIFY_FAKE_SERVER_PATH must name the fake_api4ai executable"
#endif

namespace faceverify::test {
namespace {

constexpr auto k_startup_timeout = std::chrono::seconds(10);
constexpr auto k_stop_grace = std::chrono::seconds(3);

// Reads stdout until the "PORT <n>" line or the deadline; returns 0 on failure.
int read_port_line(int fd, std::string& seen) {
  const auto deadline = std::chrono::steady_clock::now() + k_startup_timeout;
  char buf[256];
  for (;;) {
    const auto nl = seen.find('\n');
    if (nl != std::string::npos) {
      const std::string line = seen.substr(0, nl);
      if (line.rfind("PORT ", 0) != 0) return 0;
      try {
        return std::stoi(line.substr(5));
      } catch (const std::exception&) {
        return 0;
      }
    }
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(remaining.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return 0;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;  // EOF: the server died
    seen.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

FakeServer::FakeServer(const nlohmann::json& scenario) {
  start({FACEVERIFY_FAKE_SERVER_PATH}, scenario);
}

FakeServer::FakeServer(const nlohmann::json& scenario, const std::string& tls_cert, const std::string& tls_key)
    : m_tls(true) {
  start({FACEVERIFY_FAKE_SERVER_PATH, "--tls-cert", tls_cert, "--tls-key", tls_key}, scenario);
}

void FakeServer::start(std::vector<std::string> argv, const nlohmann::json& scenario) {
  if (!scenario.is_null() && !(scenario.is_object() && scenario.empty())) {
    const auto path = m_dir / "scenario.json";
    write_file(path, scenario.dump(2));
    argv.push_back("--scenario");
    argv.push_back(path.string());
  }
  const auto child = spawn_with_stdout_pipe(argv);
  m_pid = child.pid;
  std::string seen;
  m_port = read_port_line(child.stdout_fd, seen);
  // The server prints nothing else; closing our end early is safe (it ignores SIGPIPE anyway).
  ::close(child.stdout_fd);
  if (m_port <= 0) {
    stop();
    throw std::runtime_error("FakeServer: " + std::string(FACEVERIFY_FAKE_SERVER_PATH) +
                             " did not print 'PORT <n>' within 10 s (stdout so far: '" + seen + "')");
  }
}

FakeServer::~FakeServer() {
  stop();
}

void FakeServer::stop() noexcept {
  if (m_pid <= 0) return;
  ::kill(m_pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + k_stop_grace;
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(m_pid, &status, WNOHANG);
    if (w == m_pid || (w < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(m_pid, SIGKILL);
      while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  m_pid = -1;
}

nlohmann::json FakeServer::requests() const {
  httplib::Client client("127.0.0.1", m_port);
  auto res = client.Get("/__requests");
  if (!res || res->status != 200) {
    throw std::runtime_error("FakeServer: GET /__requests failed: " +
                             (res ? std::to_string(res->status) : httplib::to_string(res.error())));
  }
  return nlohmann::json::parse(res->body);
}

void FakeServer::reset() {
  httplib::Client client("127.0.0.1", m_port);
  auto res = client.Post("/__reset");
  if (!res || res->status != 200) {
    throw std::runtime_error("FakeServer: POST /__reset failed: " +
                             (res ? std::to_string(res->status) : httplib::to_string(res.error())));
  }
}

}  // namespace faceverify::test

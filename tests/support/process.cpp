// SPDX-License-Identifier: MIT
#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace faceverify::test {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      m_fd = other.release();
    }
    return *this;
  }
  int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }
  void reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
  }
  explicit operator bool() const { return m_fd >= 0; }

 private:
  int m_fd = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// NAME=value strings for the child: our environment with the overrides applied.
std::vector<std::string> build_env(const std::map<std::string, std::optional<std::string>>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [name, value] : overrides) {
    if (value) {
      env[name] = *value;
    } else {
      env.erase(name);
    }
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

class SpawnAttrs {
 public:
  SpawnAttrs() {
    posix_spawnattr_init(&m_attr);
    posix_spawn_file_actions_init(&m_actions);
    // Children start with default dispositions and an empty mask, whatever the test runner set.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2}) {
      sigaddset(&defaults, sig);
    }
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&m_attr, &defaults);
    posix_spawnattr_setsigmask(&m_attr, &empty);
    // Own process group, so a timeout can kill grandchildren too.
    posix_spawnattr_setpgroup(&m_attr, 0);
    posix_spawnattr_setflags(
        &m_attr, static_cast<short>(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP));
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&m_actions);
    posix_spawnattr_destroy(&m_attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;

  posix_spawnattr_t* attr() { return &m_attr; }
  posix_spawn_file_actions_t* actions() { return &m_actions; }

 private:
  posix_spawnattr_t m_attr{};
  posix_spawn_file_actions_t m_actions{};
};

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
}

// Writing to a pipe whose reader has gone raises SIGPIPE in this thread; block it while we run
// and swallow any that became pending, so the test runner is never killed by it.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &m_old);
  }
  ~SigpipeGuard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t m_old{};
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const RunOptions& opts) {
  if (argv.empty()) throw std::invalid_argument("run_process: empty argv");
  SigpipeGuard sigpipe_guard;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + opts.timeout;

  Pipe in = make_pipe();
  Pipe out = make_pipe();
  Pipe err = make_pipe();

  SpawnAttrs spawn;
  posix_spawn_file_actions_adddup2(spawn.actions(), in.read.get(), 0);
  posix_spawn_file_actions_adddup2(spawn.actions(), out.write.get(), 1);
  posix_spawn_file_actions_adddup2(spawn.actions(), err.write.get(), 2);
  if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(spawn.actions(), opts.cwd.c_str());

  std::vector<std::string> args = argv;
  std::vector<std::string> env = build_env(opts.env_overrides);
  auto c_args = c_strings(args);
  auto c_env = c_strings(env);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, c_args[0], spawn.actions(), spawn.attr(), c_args.data(), c_env.data());
  in.read.reset();
  out.write.reset();
  err.write.reset();

  ProcessResult result;
  if (rc != 0) {
    result.exit_code = 127;
    result.err = "run_process: cannot spawn '" + argv[0] + "': " + std::strerror(rc);
    return result;
  }

  ::fcntl(in.write.get(), F_SETFL, ::fcntl(in.write.get(), F_GETFL) | O_NONBLOCK);
  std::size_t stdin_written = 0;
  if (opts.stdin_data.empty() && opts.close_stdin) in.write.reset();

  char buf[65536];
  while (out.read || err.read) {
    std::vector<pollfd> fds;
    if (out.read) fds.push_back({out.read.get(), POLLIN, 0});
    if (err.read) fds.push_back({err.read.get(), POLLIN, 0});
    const bool want_write = in.write && stdin_written < opts.stdin_data.size();
    if (want_write) fds.push_back({in.write.get(), POLLOUT, 0});

    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      result.timed_out = true;
      kill_group(pid);
      break;
    }
    const int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()),
                             static_cast<int>(std::min<long long>(remaining.count(), 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      kill_group(pid);
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in.write.get()) {
        if ((p.revents & (POLLERR | POLLHUP)) != 0) {
          in.write.reset();  // child closed its stdin
          continue;
        }
        const ssize_t n =
            ::write(in.write.get(), opts.stdin_data.data() + stdin_written, opts.stdin_data.size() - stdin_written);
        if (n > 0) {
          stdin_written += static_cast<std::size_t>(n);
          if (stdin_written == opts.stdin_data.size() && opts.close_stdin) in.write.reset();
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          in.write.reset();
        }
        continue;
      }
      Fd& src = p.fd == out.read.get() ? out.read : err.read;
      std::string& dst = p.fd == out.read.get() ? result.out : result.err;
      const ssize_t n = ::read(src.get(), buf, sizeof buf);
      if (n > 0) {
        dst.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        src.reset();
      }
    }
  }

  // Output is closed (or we gave up); wait for the exit, still honouring the deadline.
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      status = 0;
      break;
    }
    if (w == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        result.timed_out = true;
        kill_group(pid);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  result.exit_code = result.timed_out ? 128 + SIGKILL : decode_status(status);
  result.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

SpawnedChild spawn_with_stdout_pipe(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("spawn_with_stdout_pipe: empty argv");
  Pipe out = make_pipe();
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull) throw std::system_error(errno, std::generic_category(), "open /dev/null");

  SpawnAttrs spawn;
  posix_spawn_file_actions_adddup2(spawn.actions(), devnull.get(), 0);
  posix_spawn_file_actions_adddup2(spawn.actions(), out.write.get(), 1);

  std::vector<std::string> args = argv;
  auto c_args = c_strings(args);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, c_args[0], spawn.actions(), spawn.attr(), c_args.data(), environ);
  if (rc != 0) {
    throw std::system_error(rc, std::generic_category(), "cannot spawn '" + argv[0] + "'");
  }
  return SpawnedChild{pid, out.read.release()};
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("read_file: cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream outf(path, std::ios::binary | std::ios::trunc);
  if (!outf) throw std::runtime_error("write_file: cannot open " + path.string());
  outf.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!outf) throw std::runtime_error("write_file: cannot write " + path.string());
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/faceverify-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
  }
  m_path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

}  // namespace faceverify::test

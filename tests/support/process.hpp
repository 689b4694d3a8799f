// SPDX-License-Identifier: MIT
// Test helpers: run a child process with captured output, small file helpers, a temporary directory.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace faceverify::test {

struct ProcessResult {
  int exit_code = -1;  // exit status; 128+signal if killed (128+9 after a timeout); 127 if spawn failed
  std::string out;
  std::string err;
  double wall_ms = 0.0;
  bool timed_out = false;
};

struct RunOptions {
  std::string stdin_data;
  bool close_stdin = true;  // false: keep the child's stdin open (after stdin_data) until it exits
  std::map<std::string, std::optional<std::string>> env_overrides;  // nullopt = unset the variable
  std::chrono::milliseconds timeout{30000};
  std::string cwd;  // empty = inherit
};

// Runs argv (argv[0] is looked up in PATH) and waits for it. Reads stdout/stderr while writing
// stdin, so no size deadlocks. On timeout the child's process group is SIGKILLed.
ProcessResult run_process(const std::vector<std::string>& argv, const RunOptions& opts = {});

// Whole file as bytes; throws std::runtime_error if it cannot be read.
std::string read_file(const std::filesystem::path& path);
// Creates/truncates the file with these bytes; throws std::runtime_error on failure.
void write_file(const std::filesystem::path& path, const std::string& bytes);

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

 private:
  std::filesystem::path m_path;
};

// Low-level: a spawned child whose stdout is a pipe (stdin from /dev/null, stderr inherited).
// Used by FakeServer; returns the pid and the read end of the stdout pipe (O_CLOEXEC).
struct SpawnedChild {
  pid_t pid = -1;
  int stdout_fd = -1;
};
SpawnedChild spawn_with_stdout_pipe(const std::vector<std::string>& argv);

}  // namespace faceverify::test

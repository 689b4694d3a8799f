// SPDX-License-Identifier: MIT
#pragma once
// POSIX file descriptors and bounded reads: an owning descriptor, and reads
// that never hold more than their limit (plus one byte) in memory, retry
// EINTR (except once SIGINT/SIGTERM asked the run to stop: then the call
// fails with EINTR) and refuse directories. Errors carry the errno, not a message: each
// caller words its own ("cannot open the pairs file: ...").

#include <cstddef>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

namespace faceverify {

/// Owns a file descriptor and closes it when destroyed. Move-only; -1 is
/// "none".
class FileDescriptor {
 public:
  FileDescriptor() noexcept = default;
  explicit FileDescriptor(int fd) noexcept : m_fd(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept;
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const noexcept { return m_fd; }
  bool valid() const noexcept { return m_fd >= 0; }

  /// Closes now; 0, or the errno of close(2) (where a write's failure may
  /// first show). Closing "none" returns 0.
  int close() noexcept;

 private:
  int m_fd = -1;
};

/// Why a read failed.
struct ReadError {
  enum class Step {
    open,       // open(2) failed
    stat,       // fstat(2) failed
    directory,  // the path is a directory
    read,       // read(2) failed (EISDIR when a descriptor is a directory)
    too_large,  // more than the limit
  };
  Step step = Step::read;
  int err = 0;  // errno of the failed call; 0 for directory and too_large
};

template <typename T>
using ReadResult = std::expected<T, ReadError>;

/// Opens `path` read-only, close-on-exec, never as a controlling terminal,
/// plus `extra_flags` (e.g. O_NOFOLLOW). Error: Step::open.
ReadResult<FileDescriptor> open_for_reading(const std::filesystem::path& path, int extra_flags = 0);

/// Up to `limit` bytes from `fd`'s position, fewer only at end of file; no
/// error when more follow. Error: Step::read.
ReadResult<std::string> read_up_to(int fd, std::size_t limit);

/// The rest of `fd` when it is at most `max_bytes`; Step::too_large when
/// more follow (found by reading one byte past the limit, never further).
/// Error: Step::read.
ReadResult<std::string> read_at_most(int fd, std::size_t max_bytes);

/// The whole file at `path` when it is at most `max_bytes`, opened as by
/// open_for_reading. A directory is refused (Step::directory), and so is a
/// regular file larger than the limit before any of it is read
/// (Step::too_large). Errors: every Step.
ReadResult<std::string> read_file_at_most(const std::filesystem::path& path, std::size_t max_bytes);

/// Replaces `path` with `bytes` whole or not at all: written to a temporary
/// file beside it (mode 0644 before the umask), then renamed over it, so a
/// reader never sees half a file. On failure the temporary file is removed
/// and the errno returned.
std::expected<void, int> write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace faceverify

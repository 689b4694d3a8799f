// SPDX-License-Identifier: MIT
#include "faceverify/file_io.hpp"

#include "faceverify/interrupt.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace faceverify {
namespace {

std::unexpected<ReadError> failed(ReadError::Step step, int err = 0) {
  return std::unexpected(ReadError{step, err});
}

}  // namespace

FileDescriptor::FileDescriptor(FileDescriptor&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    close();
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  close();
}

int FileDescriptor::close() noexcept {
  const int fd = std::exchange(m_fd, -1);
  if (fd < 0) return 0;
  // Not retried on EINTR: Linux has released the descriptor by then.
  return ::close(fd) == 0 ? 0 : errno;
}

ReadResult<FileDescriptor> open_for_reading(const std::filesystem::path& path, int extra_flags) {
  for (;;) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | extra_flags));
    if (fd.valid()) return fd;
    // A FIFO's open waits for a writer; the first SIGINT/SIGTERM ends the wait.
    if (errno == EINTR && !interrupted()) continue;
    return failed(ReadError::Step::open, errno);
  }
}

ReadResult<std::string> read_up_to(int fd, std::size_t limit) {
  std::string data;
  // A regular file's size is known: one allocation instead of a string that
  // grows (and is copied) through every power of two of a 250 MB embedding file.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    const off_t at = ::lseek(fd, 0, SEEK_CUR);
    if (at >= 0 && st.st_size > at) {
      data.reserve(std::min<std::size_t>(limit, static_cast<std::size_t>(st.st_size - at) + 1));
    }
  }
  char buf[65536];
  while (data.size() < limit) {
    const std::size_t want = std::min(sizeof buf, limit - data.size());
    const ssize_t n = ::read(fd, buf, want);
    if (n < 0) {
      // The handlers do not restart calls (interrupt.cpp): a read blocked on
      // a pipe or FIFO ends at the first signal, and the run stops.
      if (errno == EINTR && !interrupted()) continue;
      return failed(ReadError::Step::read, errno);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

ReadResult<std::string> read_at_most(int fd, std::size_t max_bytes) {
  // One byte past the limit tells "exactly the limit" from "more".
  const std::size_t limit = max_bytes == SIZE_MAX ? max_bytes : max_bytes + 1;
  auto data = read_up_to(fd, limit);
  if (data && data->size() > max_bytes) return failed(ReadError::Step::too_large);
  return data;
}

ReadResult<std::string> read_file_at_most(const std::filesystem::path& path, std::size_t max_bytes) {
  auto fd = open_for_reading(path);
  if (!fd) return std::unexpected(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return failed(ReadError::Step::stat, errno);
  if (S_ISDIR(st.st_mode)) return failed(ReadError::Step::directory);
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return failed(ReadError::Step::too_large);
  }
  return read_at_most(fd->get(), max_bytes);
}

std::expected<void, int> write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  auto failed = [&](int err) -> std::expected<void, int> {
    ::unlink(tmp.c_str());
    return std::unexpected(err);
  };
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return std::unexpected(errno);  // nothing was created
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(errno);
    done += static_cast<std::size_t>(n);
  }
  if (const int err = fd.close(); err != 0) return failed(err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed(errno);
  return {};
}

}  // namespace faceverify

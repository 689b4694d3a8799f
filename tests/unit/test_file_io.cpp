// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>

#include "faceverify/file_io.hpp"
#include "faceverify/interrupt.hpp"
#include "process.hpp"

using namespace faceverify;
using Step = ReadError::Step;

namespace {

// Both ends of a pipe, owned.
struct Pipe {
  FileDescriptor read_end, write_end;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end = FileDescriptor(fds[0]);
    write_end = FileDescriptor(fds[1]);
  }
  void write(const std::string& bytes) const {
    REQUIRE(::write(write_end.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
};

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

std::atomic<int> g_signals{0};
void count_signal(int) {
  ++g_signals;
}

}  // namespace

TEST_CASE("file_io::FileDescriptor owns one descriptor", "[file_io]") {
  SECTION("closed when destroyed") {
    int raw = -1;
    {
      Pipe p;
      raw = p.read_end.get();
      CHECK(is_open(raw));
    }
    CHECK_FALSE(is_open(raw));
  }
  SECTION("close() reports and is idempotent") {
    Pipe p;
    const int raw = p.read_end.get();
    CHECK(p.read_end.close() == 0);
    CHECK_FALSE(p.read_end.valid());
    CHECK(p.read_end.get() == -1);
    CHECK_FALSE(is_open(raw));
    CHECK(p.read_end.close() == 0);
  }
  SECTION("moves hand it over; assignment closes the old one") {
    Pipe p, q;
    const int raw_p = p.read_end.get(), raw_q = q.read_end.get();
    FileDescriptor moved(std::move(p.read_end));
    CHECK_FALSE(p.read_end.valid());
    CHECK(moved.get() == raw_p);
    moved = std::move(q.read_end);
    CHECK(moved.get() == raw_q);
    CHECK_FALSE(is_open(raw_p));
    CHECK(is_open(raw_q));
  }
  SECTION("none") {
    FileDescriptor none;
    CHECK_FALSE(none.valid());
    CHECK(none.close() == 0);
  }
}

TEST_CASE("file_io::open_for_reading", "[file_io]") {
  test::TempDir tmp;
  test::write_file(tmp / "a.txt", "abc");
  auto fd = open_for_reading(tmp / "a.txt");
  REQUIRE(fd);
  CHECK((::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(fd->get(), F_GETFL) & O_ACCMODE) == O_RDONLY);

  const auto missing = open_for_reading(tmp / "missing.txt");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().step == Step::open);
  CHECK(missing.error().err == ENOENT);

  std::filesystem::create_symlink(tmp / "a.txt", tmp / "link.txt");
  CHECK(open_for_reading(tmp / "link.txt"));
  const auto nofollow = open_for_reading(tmp / "link.txt", O_NOFOLLOW);
  REQUIRE_FALSE(nofollow);
  CHECK(nofollow.error().err == ELOOP);
}

TEST_CASE("file_io::read_up_to and read_at_most", "[file_io]") {
  SECTION("up to a limit, whatever follows") {
    Pipe p;
    p.write("0123456789");
    p.write_end.close();
    CHECK(read_up_to(p.read_end.get(), 4).value() == "0123");
    CHECK(read_up_to(p.read_end.get(), 0).value() == "");
    CHECK(read_up_to(p.read_end.get(), 100).value() == "456789");
    CHECK(read_up_to(p.read_end.get(), 100).value() == "");  // end of file
  }
  SECTION("at most: the limit exactly is fine, one byte more is too large") {
    Pipe exact;
    exact.write("12345");
    exact.write_end.close();
    CHECK(read_at_most(exact.read_end.get(), 5).value() == "12345");

    Pipe over;
    over.write("123456");
    over.write_end.close();
    const auto r = read_at_most(over.read_end.get(), 5);
    REQUIRE_FALSE(r);
    CHECK(r.error().step == Step::too_large);
    CHECK(r.error().err == 0);

    Pipe empty;
    empty.write_end.close();
    CHECK(read_at_most(empty.read_end.get(), 0).value() == "");
  }
  SECTION("more than one buffer's worth") {
    test::TempDir tmp;
    const std::string big(200000, 'x');
    test::write_file(tmp / "big", big);
    auto fd = open_for_reading(tmp / "big");
    REQUIRE(fd);
    CHECK(read_at_most(fd->get(), big.size()).value() == big);
  }
  SECTION("a read error carries its errno") {
    test::TempDir tmp;
    auto dir = open_for_reading(tmp.path());
    REQUIRE(dir);
    const auto r = read_at_most(dir->get(), 10);
    REQUIRE_FALSE(r);
    CHECK(r.error().step == Step::read);
    CHECK(r.error().err == EISDIR);
    CHECK(read_up_to(-1, 10).error().err == EBADF);
  }
  SECTION("a read interrupted by a signal is retried") {
    struct sigaction action {
    }, old{};
    action.sa_handler = count_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: read(2) fails with EINTR
    REQUIRE(::sigaction(SIGUSR1, &action, &old) == 0);
    g_signals = 0;
    Pipe p;
    const pthread_t reader = ::pthread_self();
    std::thread writer([&] {
      // Timing only decides whether the signal lands during the read; the
      // result is checked either way, and the EINTR path when it did.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::pthread_kill(reader, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      p.write("late");
      p.write_end.close();
    });
    const auto r = read_at_most(p.read_end.get(), 100);
    writer.join();
    ::sigaction(SIGUSR1, &old, nullptr);
    CHECK(g_signals == 1);
    CHECK(r.value() == "late");
  }
}

TEST_CASE("file_io: SIGTERM ends a read blocked on a pipe", "[file_io]") {
  // The program's own handlers: no SA_RESTART, so the blocked read returns
  // EINTR, and read_up_to does not retry it once a stop is requested. (With
  // SA_RESTART the read would wait for the writer's data and return it.)
  install_interrupt_handlers();
  Pipe p;
  const pthread_t reader = ::pthread_self();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::pthread_kill(reader, SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    p.write("late");
    p.write_end.close();
  });
  const auto started = std::chrono::steady_clock::now();
  const auto r = read_at_most(p.read_end.get(), 100);
  const auto waited = std::chrono::steady_clock::now() - started;
  writer.join();
  CHECK(interrupted());
  CHECK(interrupt_signal() == SIGTERM);
  CHECK(interrupted_exit_code() == 143);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().err == EINTR);
  CHECK(waited < std::chrono::milliseconds(1500));
  ::signal(SIGTERM, SIG_DFL);
}

TEST_CASE("file_io::read_file_at_most", "[file_io]") {
  test::TempDir tmp;
  test::write_file(tmp / "ten", "0123456789");
  CHECK(read_file_at_most(tmp / "ten", 10).value() == "0123456789");
  CHECK(read_file_at_most(tmp / "ten", 1000).value() == "0123456789");
  test::write_file(tmp / "empty", "");
  CHECK(read_file_at_most(tmp / "empty", 0).value() == "");

  const auto big = read_file_at_most(tmp / "ten", 9);
  REQUIRE_FALSE(big);
  CHECK(big.error().step == Step::too_large);

  const auto dir = read_file_at_most(tmp.path(), 10);
  REQUIRE_FALSE(dir);
  CHECK(dir.error().step == Step::directory);
  CHECK(dir.error().err == 0);

  const auto missing = read_file_at_most(tmp / "missing", 10);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().step == Step::open);
  CHECK(missing.error().err == ENOENT);

  SECTION("a FIFO has no size: it is read up to the limit") {
    const auto fifo = tmp / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::thread writer([&] {
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return;
      const std::string data(20, 'f');
      [[maybe_unused]] const auto n = ::write(fd, data.data(), data.size());
      ::close(fd);
    });
    const auto r = read_file_at_most(fifo, 10);
    writer.join();
    REQUIRE_FALSE(r);
    CHECK(r.error().step == Step::too_large);
  }
}

TEST_CASE("file_io: write_file_atomically replaces a file whole or leaves it alone", "[file_io]") {
  faceverify::test::TempDir dir;
  const auto path = dir / "report.xml";
  REQUIRE(faceverify::write_file_atomically(path, "first"));
  CHECK(faceverify::test::read_file(path) == "first");
  const std::string big(1 << 20, 'x');
  REQUIRE(faceverify::write_file_atomically(path, big));
  CHECK(faceverify::test::read_file(path) == big);
  // A directory that does not exist: the errno, and the old file untouched.
  auto failed = faceverify::write_file_atomically(dir / "missing" / "r.xml", "x");
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == ENOENT);
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
}

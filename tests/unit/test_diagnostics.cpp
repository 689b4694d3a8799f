// SPDX-License-Identifier: MIT
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "faceverify/diagnostics.hpp"

using namespace faceverify;
using namespace std::chrono_literals;

TEST_CASE("diagnostics: progress_text", "[diagnostics]") {
  // Nothing done yet: no rate, no ETA (whatever the time).
  CHECK(progress_text(0, 10, 0, 0ms) == "0/10 done");
  CHECK(progress_text(0, 10, 0, 5000ms) == "0/10 done");
  // Some done: rate with one decimal, ETA in whole seconds.
  CHECK(progress_text(4, 10, 0, 2000ms) == "4/10 done, 2.0/s, ETA 3 s");
  CHECK(progress_text(12, 40, 1, 3750ms) == "12/40 done, 1 error, 3.2/s, ETA 9 s");
  CHECK(progress_text(12, 40, 2, 3750ms) == "12/40 done, 2 errors, 3.2/s, ETA 9 s");
  CHECK(progress_text(1, 3, 0, 10000ms) == "1/3 done, 0.1/s, ETA 20 s");
  // The ETA is never below 1 s while work remains.
  CHECK(progress_text(99, 100, 0, 1000ms) == "99/100 done, 99.0/s, ETA 1 s");
  // All done: no ETA.
  CHECK(progress_text(10, 10, 0, 4000ms) == "10/10 done, 2.5/s");
  CHECK(progress_text(10, 10, 3, 4000ms) == "10/10 done, 3 errors, 2.5/s");
  // Done but no time measured yet: no rate (no division by zero).
  CHECK(progress_text(3, 10, 0, 0ms) == "3/10 done");
  CHECK(progress_text(0, 0, 0, 0ms) == "0/0 done");
}

TEST_CASE("diagnostics: lines and the progress line", "[diagnostics]") {
  std::ostringstream err;
  Diagnostics diag(err);

  SECTION("progress disabled: progress() writes nothing") {
    CHECK_FALSE(diag.progress_enabled());
    diag.progress("1/2 done");
    CHECK(err.str().empty());
    diag.line("photo.jpg: no face found");
    diag.clear_progress();
    CHECK(err.str() == "faceverify: photo.jpg: no face found\n");
  }

  SECTION("progress enabled: rewritten in place, erased before a line") {
    diag.enable_progress();
    CHECK(diag.progress_enabled());
    diag.progress("1/3 done");
    CHECK(err.str() == "\r\033[K1/3 done");
    diag.progress("2/3 done");
    CHECK(err.str() == "\r\033[K1/3 done\r\033[K2/3 done");
    err.str("");
    diag.line("b.jpg: HTTP 503");
    CHECK(err.str() == "\r\033[Kfaceverify: b.jpg: HTTP 503\n");
    // Nothing shown any more: the next line is not preceded by an erase.
    err.str("");
    diag.line("again");
    CHECK(err.str() == "faceverify: again\n");
    // clear_progress erases once, and only what is shown.
    err.str("");
    diag.clear_progress();
    CHECK(err.str().empty());
    diag.progress("3/3 done");
    diag.clear_progress();
    diag.clear_progress();
    CHECK(err.str() == "\r\033[K3/3 done\r\033[K");
  }

  SECTION("lines from several threads are written whole") {
    {
      std::vector<std::jthread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&diag, t] {
          for (int i = 0; i < 50; ++i) diag.line("thread " + std::to_string(t) + " line " + std::to_string(i));
        });
      }
    }
    std::istringstream in(err.str());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      CHECK(line.rfind("faceverify: thread ", 0) == 0);
      CHECK(line.find("faceverify:", 1) == std::string::npos);
    }
    CHECK(n == 200);
  }
}

TEST_CASE("diagnostics: progress_wanted", "[diagnostics]") {
  CHECK_FALSE(progress_wanted(true));  // --quiet
  if (!::isatty(STDERR_FILENO)) CHECK_FALSE(progress_wanted(false));
}

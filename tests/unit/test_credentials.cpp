// SPDX-License-Identifier: MIT
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <cstdlib>

#include "faceverify/credentials.hpp"
#include "process.hpp"

using namespace faceverify;

TEST_CASE("credentials::read_key_file and resolve_key", "[credentials]") {
  test::TempDir dir;
  const std::string path = dir.path().string() + "/key";
  SECTION("first line, trimmed") {
    test::write_file(path, "  abc-123 \nsecond line\n");
    ::chmod(path.c_str(), 0600);
    CHECK(read_key_file(path) == "abc-123");
  }
  SECTION("group- or world-readable files are refused with the fix") {
    test::write_file(path, "abc\n");
    ::chmod(path.c_str(), 0644);
    auto k = read_key_file(path);
    REQUIRE_FALSE(k);
    CHECK(k.error().kind == ErrorKind::usage);
    CHECK(k.error().message == "--api-key-file " + path + ": readable by other users; run: chmod 600 " + path);
  }
  SECTION("empty and missing files") {
    test::write_file(path, "\n");
    ::chmod(path.c_str(), 0600);
    CHECK_FALSE(read_key_file(path));
    CHECK_FALSE(read_key_file(dir.path().string() + "/none"));
  }
  SECTION("the file wins over the environment; empty variables count as unset") {
    test::write_file(path, "from-file");
    ::chmod(path.c_str(), 0600);
    ::setenv("FACEVERIFY_TEST_KEY", "from-env", 1);
    CHECK(resolve_key(path, "FACEVERIFY_TEST_KEY").value() == "from-file");
    CHECK(resolve_key(std::nullopt, "FACEVERIFY_TEST_KEY").value() == "from-env");
    ::setenv("FACEVERIFY_TEST_KEY", "", 1);
    CHECK_FALSE(resolve_key(std::nullopt, "FACEVERIFY_TEST_KEY").value().has_value());
    ::unsetenv("FACEVERIFY_TEST_KEY");
    CHECK_FALSE(resolve_key(std::nullopt, "FACEVERIFY_TEST_KEY").value().has_value());
  }
}

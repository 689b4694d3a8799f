// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "faceverify/output_guard.hpp"
#include "process.hpp"

using namespace faceverify;
namespace test = faceverify::test;
namespace fs = std::filesystem;

TEST_CASE("output_guard::looks_like", "[output_guard]") {
  SECTION("a JUnit report: <testsuites> or <testsuite> as the root, by any tool") {
    CHECK(looks_like(OutputKind::junit, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"x\">"));
    CHECK(looks_like(OutputKind::junit, "\xEF\xBB\xBF<!-- by pytest -->\n<testsuite tests=\"1\">"));
    CHECK(looks_like(OutputKind::junit, "<testsuites/>"));
    CHECK(looks_like(OutputKind::junit, "<!DOCTYPE x>\n<testsuite>"));
    CHECK_FALSE(looks_like(OutputKind::junit, "a.jpg,b.jpg,same\n"));
    CHECK_FALSE(looks_like(OutputKind::junit, "<?xml version=\"1.0\"?>\n<project>"));
    CHECK_FALSE(looks_like(OutputKind::junit, "<testsuitesx>"));
    CHECK_FALSE(looks_like(OutputKind::junit, "<?xml version=\"1.0\""));
  }
  SECTION("a faceverify HTML report carries its generator tag") {
    CHECK(looks_like(OutputKind::html_report,
                     "<!DOCTYPE html>\n<head>\n<meta name=\"generator\" content=\"faceverify 1.0.0\"/>"));
    CHECK_FALSE(looks_like(OutputKind::html_report, "<!DOCTYPE html><title>faceverify</title>"));
  }
  SECTION("a config: keys faceverify writes, or comments only") {
    CHECK(looks_like(OutputKind::config, "# written by faceverify\nbackend = \"local\"\nthreshold = 0.7\n"));
    CHECK(looks_like(OutputKind::config, "# nothing yet\n\n"));
    CHECK_FALSE(looks_like(OutputKind::config, "API4AI_KEY=abc\n"));
    CHECK_FALSE(looks_like(OutputKind::config, "a.jpg,b.jpg,same\n"));
    CHECK_FALSE(looks_like(OutputKind::config, "[section]\nthreshold = 0.7\n"));
  }
}

TEST_CASE("output_guard::check_outputs", "[output_guard]") {
  test::TempDir dir;
  const fs::path input = dir / "in.csv";
  test::write_file(input, "a,b\n");
  auto check = [&](const fs::path& out, OutputKind kind = OutputKind::junit) {
    return check_outputs({PlannedOutput{"--junit", out, kind}}, {input.string(), "https://example.com/x.jpg"});
  };
  SECTION("a new file in an existing folder, or an empty file, may be written") {
    CHECK(check(dir / "new.xml"));
    test::write_file(dir / "empty.txt", "");
    CHECK(check(dir / "empty.txt"));
  }
  SECTION("an input by any name: the same path, ./, a symlink, a hard link") {
    fs::create_symlink(input, dir / "sym.csv");
    fs::create_hard_link(input, dir / "hard.csv");
    for (const fs::path& p : {input, dir / "." / "in.csv", dir / "sym.csv", dir / "hard.csv"}) {
      auto r = check(p);
      REQUIRE_FALSE(r);
      CHECK(r.error().kind == ErrorKind::usage);
      CHECK(r.error().message.find("--junit would overwrite an input of this run") != std::string::npos);
    }
  }
  SECTION("standard input redirected from the file") {
    const int fd = ::open(input.c_str(), O_RDONLY);
    auto r = check_outputs({PlannedOutput{"--junit", input, OutputKind::junit}}, {}, fd);
    ::close(fd);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("standard input") != std::string::npos);
  }
  SECTION("a folder that is missing or not a folder; a directory; a FIFO") {
    CHECK_FALSE(check(dir / "missing" / "r.xml"));
    CHECK_FALSE(check(input / "r.xml"));
    auto d = check(dir.path());
    REQUIRE_FALSE(d);
    CHECK(d.error().message.find("names a directory") != std::string::npos);
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    CHECK_FALSE(check(dir / "fifo"));
  }
  SECTION("the config file's folder may be created; its nearest existing one must be a folder") {
    CHECK(check(dir / "a" / "b" / "config.toml", OutputKind::config));
    CHECK_FALSE(check(input / "b" / "config.toml", OutputKind::config));
  }
  SECTION("two outputs of one file") {
    auto r = check_outputs({PlannedOutput{"--report", dir / "x", OutputKind::html_report},
                            PlannedOutput{"--write-config", dir / "." / "x", OutputKind::config}},
                           {});
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("is also the file of another option") != std::string::npos);
  }
}

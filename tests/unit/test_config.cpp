// SPDX-License-Identifier: MIT
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "env_var.hpp"
#include "faceverify/config.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace faceverify::test;

TEST_CASE("config: parse_config reads the keys and ignores unknown ones", "[config]") {
  auto c = parse_config(
      "# written by faceverify calibrate\n\n  backend = \"local\"  # the offline models\n"
      "threshold = 0.7513\nhalf_distance=1.23\nfuture_key = 3\n",
      "config.toml");
  REQUIRE(c);
  CHECK(c->backend == BackendKind::local);
  CHECK(c->threshold == 0.7513);
  CHECK(c->half_distance == 1.23);
  auto empty = parse_config("", "config.toml");
  REQUIRE(empty);
  CHECK_FALSE(empty->backend);
  CHECK_FALSE(empty->threshold);
}

TEST_CASE("config: errors name the file and the line", "[config]") {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const auto& [text, message] : {
           Case{"[section]\n", "c.toml: line 1: tables are not supported (write key = value)"},
           Case{"\nthreshold\n", "c.toml: line 2: expected key = value"},
           Case{"backend = \"cloud\"\n", "c.toml: line 1: backend must be \"api4ai\" or \"local\""},
           Case{"backend = local\n",
                "c.toml: line 1: backend must be a string: \"api4ai\" or \"local\", with the quotes"},
           Case{"threshold = \"0.8\"\n",
                "c.toml: line 1: threshold must be a number from 0 to 1, not a string (write it without quotes)"},
           Case{"half_distance = true\n", "c.toml: line 1: half_distance must be a number greater than 0"},
           Case{"threshold = 80\n", "c.toml: line 1: threshold 80: thresholds are in [0, 1]; did you mean 0.8?"},
           Case{"threshold = 1.5\n", "c.toml: line 1: threshold must be a number from 0 to 1"},
           Case{"threshold = nan\n", "c.toml: line 1: threshold must be a number from 0 to 1"},
           Case{"half_distance = 0\n", "c.toml: line 1: half_distance must be a number greater than 0"},
       }) {
    INFO(text);
    auto c = parse_config(text, "c.toml");
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == ErrorKind::usage);
    CHECK(c.error().message == message);
  }
}

TEST_CASE("config: render_config and parse_config round-trip", "[config]") {
  Config c;
  c.backend = BackendKind::api4ai;
  c.threshold = 0.123456789;
  c.half_distance = 1.1;
  const std::string text = render_config(c, "a comment");
  CHECK(text.starts_with("# a comment\n"));
  auto back = parse_config(text, "x");
  REQUIRE(back);
  CHECK(back->backend == c.backend);
  CHECK(back->threshold == c.threshold);  // exact: shortest round-trip digits
  CHECK(back->half_distance == c.half_distance);
}

TEST_CASE("config: default_config_path follows XDG_CONFIG_HOME, then HOME", "[config]") {
  EnvVar xdg("XDG_CONFIG_HOME");
  EnvVar home("HOME");
  xdg.set("/x/conf");
  home.set("/home/u");
  CHECK(default_config_path() == std::filesystem::path("/x/conf/faceverify/config.toml"));
  xdg.set("relative/dir");  // not absolute: ignored, as the XDG spec says
  CHECK(default_config_path() == std::filesystem::path("/home/u/.config/faceverify/config.toml"));
  xdg.unset();
  home.unset();
  CHECK_FALSE(default_config_path());
}

TEST_CASE("config: read_config and write_config", "[config]") {
  TempDir dir;
  const auto path = dir / "sub" / "config.toml";
  SECTION("a missing file is empty unless it must exist") {
    auto c = read_config(path, false);
    REQUIRE(c);
    CHECK_FALSE(c->threshold);
    auto must = read_config(path, true);
    REQUIRE_FALSE(must);
    CHECK(must.error().kind == ErrorKind::usage);
    CHECK(must.error().message.find("config.toml: cannot read the config file") != std::string::npos);
  }
  SECTION("write creates the directory (0700) and keeps keys it does not set") {
    Config first;
    first.backend = BackendKind::local;
    first.threshold = 0.7;
    first.half_distance = 1.2;
    REQUIRE(write_config(path, first, "first"));
    struct stat st {};
    REQUIRE(::stat((dir / "sub").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    Config second;
    second.threshold = 0.75;
    REQUIRE(write_config(path, second, "second"));
    auto back = read_config(path, true);
    REQUIRE(back);
    CHECK(back->backend == BackendKind::local);
    CHECK(back->threshold == 0.75);
    CHECK(back->half_distance == 1.2);
    CHECK(read_file(path).starts_with("# second\n"));
  }
}

TEST_CASE("config: an unknown key is a warning naming the file and line and the nearest key", "[config]") {
  auto c = parse_config("threshold = 0.7\ntreshold = 0.9\nhalf-distance = 1.1\nfuture_key = 3\n", "c.toml");
  REQUIRE(c);
  CHECK(c->threshold == 0.7);
  CHECK_FALSE(c->half_distance);
  REQUIRE(c->warnings.size() == 3);
  CHECK(c->warnings[0] == "c.toml: line 2: unknown key 'treshold' (did you mean threshold?); ignored");
  CHECK(c->warnings[1] == "c.toml: line 3: unknown key 'half-distance' (did you mean half_distance?); ignored");
  CHECK(c->warnings[2] == "c.toml: line 4: unknown key 'future_key'; ignored");
  CHECK(parse_config("backend = \"local\"\n", "c.toml")->warnings.empty());
}

TEST_CASE("config: percent_threshold_hint", "[config]") {
  CHECK(percent_threshold_hint(80) == "thresholds are in [0, 1]; did you mean 0.8?");
  CHECK(percent_threshold_hint(99.5) == "thresholds are in [0, 1]; did you mean 0.995?");
  CHECK(percent_threshold_hint(100) == "thresholds are in [0, 1]; did you mean 1?");
  CHECK_FALSE(percent_threshold_hint(0.8));
  CHECK_FALSE(percent_threshold_hint(1));
  CHECK_FALSE(percent_threshold_hint(1.5));  // a slip, more likely than 1.5 %
  CHECK(percent_threshold_hint(2) == "thresholds are in [0, 1]; did you mean 0.02?");
  CHECK_FALSE(percent_threshold_hint(150));
  CHECK_FALSE(percent_threshold_hint(-5));
}

TEST_CASE("config: read_config refuses what is not a regular file without blocking", "[config]") {
  TempDir dir;
  SECTION("a directory, also where the default file would be") {
    std::filesystem::create_directories(dir / "config.toml");
    for (bool must : {true, false}) {
      auto c = read_config(dir / "config.toml", must);
      REQUIRE_FALSE(c);
      CHECK(c.error().kind == ErrorKind::usage);
      CHECK(c.error().message == (dir / "config.toml").string() +
                                     ": cannot read the config file: it is a directory (expected a file such as "
                                     "config.toml)");
    }
  }
  SECTION("a FIFO with no writer: refused at once") {
    const auto fifo = dir / "fifo.toml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (bool must : {true, false}) {
      auto c = read_config(fifo, must);
      REQUIRE_FALSE(c);
      CHECK(c.error().message == fifo.string() + ": cannot read the config file: not a regular file");
    }
  }
  SECTION("/dev/zero: refused, nothing read") {
    auto c = read_config("/dev/zero", true);
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "/dev/zero: cannot read the config file: not a regular file");
  }
  SECTION("more than 1 MiB") {
    write_file(dir / "big.toml", std::string(1024 * 1024 + 1, '#'));
    auto c = read_config(dir / "big.toml", true);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.ends_with(": cannot read the config file: larger than 1 MiB"));
  }
}

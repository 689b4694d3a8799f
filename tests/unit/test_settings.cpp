// SPDX-License-Identifier: MIT
// resolve_settings: option > environment > config file > default, for the
// backend and the score, and the config file's threshold only for the
// backend it names.
#include <catch2/catch.hpp>
#include <string>

#include "commands/commands.hpp"
#include "env_var.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace faceverify::test;
using namespace faceverify::commands;

namespace {

struct Env {
  EnvVar xdg{"XDG_CONFIG_HOME"};
  EnvVar threshold{"FACEVERIFY_THRESHOLD"};
  TempDir dir;
  Env() {
    xdg.set(dir.path().string());
    threshold.unset();
  }
  void config(const std::string& text) const {
    std::filesystem::create_directories(dir / "faceverify");
    write_file(dir / "faceverify" / "config.toml", text);
  }
};

}  // namespace

TEST_CASE("settings: defaults without environment or config file", "[settings]") {
  Env env;
  ServiceOptions service;
  ScoringOptions scoring;
  REQUIRE(resolve_settings(service, &scoring));
  CHECK(service.kind == BackendKind::api4ai);
  CHECK(scoring.score.threshold == k_default_threshold);
  CHECK(scoring.score.half_distance == k_default_half_distance);
  CHECK(scoring.threshold_source == "default");
}

TEST_CASE("settings: option > environment > config file > default", "[settings]") {
  Env env;
  env.config("backend = \"api4ai\"\nthreshold = 0.7\nhalf_distance = 1.1\n");
  SECTION("config file") {
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(scoring.score.threshold == 0.7);
    CHECK(scoring.score.half_distance == 1.1);
    CHECK(scoring.threshold_source == "config");
  }
  SECTION("environment beats the config file") {
    env.threshold.set("0.65");
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(scoring.score.threshold == 0.65);
    CHECK(scoring.threshold_source == "env");
    CHECK(scoring.score.half_distance == 1.1);  // no environment variable for it
  }
  SECTION("the option beats both") {
    env.threshold.set("0.65");
    ServiceOptions service;
    ScoringOptions scoring;
    scoring.threshold = 0.9;
    scoring.half_distance = 1.3;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(scoring.score.threshold == 0.9);
    CHECK(scoring.threshold_source == "option");
    CHECK(scoring.score.half_distance == 1.3);
  }
  SECTION("a bad FACEVERIFY_THRESHOLD is a usage error naming it") {
    for (const char* bad : {"1.5", "abc", "0.5x", "-0.1"}) {
      env.threshold.set(bad);
      ServiceOptions service;
      ScoringOptions scoring;
      auto r = resolve_settings(service, &scoring);
      REQUIRE_FALSE(r);
      CHECK(r.error().kind == ErrorKind::usage);
      CHECK(r.error().message.starts_with("FACEVERIFY_THRESHOLD: '"));
    }
  }
}

TEST_CASE("settings: the config file's backend, and its threshold only for that backend", "[settings]") {
  Env env;
  env.config("backend = \"local\"\nthreshold = 0.6\nhalf_distance = 1.4\n");
  SECTION("the config file chooses the backend when nothing else does") {
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(service.kind == BackendKind::local);
    CHECK(scoring.score.threshold == 0.6);
    CHECK(scoring.threshold_source == "config");
  }
  SECTION("--backend (or FACEVERIFY_BACKEND) beats it, and then its scores do not apply") {
    ServiceOptions service;
    service.backend = BackendKind::api4ai;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(service.kind == BackendKind::api4ai);
    CHECK(scoring.score.threshold == k_default_threshold);
    CHECK(scoring.score.half_distance == k_default_half_distance);
    CHECK(scoring.threshold_source == "default");
  }
  SECTION("embed settles only the backend") {
    ServiceOptions service;
    REQUIRE(resolve_settings(service, nullptr));
    CHECK(service.kind == BackendKind::local);
  }
}

TEST_CASE("settings: settle_score follows the backend that made the embeddings", "[settings]") {
  Env env;
  SECTION("an api4ai config's threshold does not apply to local embeddings") {
    env.config("backend = \"api4ai\"\nthreshold = 0.999\nhalf_distance = 1.4\n");
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(scoring.threshold_source == "config");  // for images this run analyses with api4ai
    settle_score(scoring, BackendKind::local);
    CHECK(scoring.score.threshold == k_default_threshold);
    CHECK(scoring.score.half_distance == k_default_half_distance);
    CHECK(scoring.threshold_source == "default");
    settle_score(scoring, BackendKind::api4ai);  // settling again is idempotent per backend
    CHECK(scoring.score.threshold == 0.999);
    CHECK(scoring.score.half_distance == 1.4);
    CHECK(scoring.threshold_source == "config");
  }
  SECTION("a local config applies to local embeddings whatever --backend says") {
    env.config("backend = \"local\"\nthreshold = 0.6\n");
    ServiceOptions service;
    service.backend = BackendKind::api4ai;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(scoring.threshold_source == "default");
    settle_score(scoring, BackendKind::local);
    CHECK(scoring.score.threshold == 0.6);
    CHECK(scoring.threshold_source == "config");
  }
  SECTION("the option and the environment apply to every backend") {
    env.config("backend = \"api4ai\"\nthreshold = 0.999\n");
    env.threshold.set("0.65");
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    settle_score(scoring, BackendKind::local);
    CHECK(scoring.score.threshold == 0.65);
    CHECK(scoring.threshold_source == "env");
    scoring.threshold = 0.7;
    settle_score(scoring, BackendKind::local);
    CHECK(scoring.score.threshold == 0.7);
    CHECK(scoring.threshold_source == "option");
  }
  SECTION("a config that names no backend applies to both") {
    env.config("threshold = 0.75\n");
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    settle_score(scoring, BackendKind::local);
    CHECK(scoring.score.threshold == 0.75);
    CHECK(scoring.threshold_source == "config");
  }
}

TEST_CASE("settings: --config FILE", "[settings]") {
  Env env;
  env.config("threshold = 0.7\n");
  SECTION("replaces the default file") {
    write_file(env.dir / "other.toml", "threshold = 0.55\n");
    ServiceOptions service;
    service.config_file = (env.dir / "other.toml").string();
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring));
    CHECK(scoring.score.threshold == 0.55);
  }
  SECTION("must exist, unless this run writes it") {
    ServiceOptions service;
    service.config_file = (env.dir / "missing.toml").string();
    ScoringOptions scoring;
    auto r = resolve_settings(service, &scoring);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(r.error().message.find("missing.toml") != std::string::npos);
    CHECK(resolve_settings(service, &scoring, /*writes_config=*/true));
    CHECK(scoring.threshold_source == "default");
  }
  SECTION("a malformed file is a usage error naming file and line") {
    write_file(env.dir / "bad.toml", "# ok\nthreshold = lots\n");
    ServiceOptions service;
    service.config_file = (env.dir / "bad.toml").string();
    ScoringOptions scoring;
    auto r = resolve_settings(service, &scoring);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("bad.toml: line 2: threshold must be a number from 0 to 1") != std::string::npos);
  }
}

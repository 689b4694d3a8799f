// SPDX-License-Identifier: MIT
// resolve_settings: option > environment > config file > default, for the
// backend and the score, and the config file's threshold only for the
// backend it names.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "commands/commands.hpp"
#include "env_var.hpp"
#include "process.hpp"

#include <sys/stat.h>

using namespace faceverify;
using namespace faceverify::test;
using namespace faceverify::commands;

namespace {

struct Env {
  EnvVar xdg{"XDG_CONFIG_HOME"};
  EnvVar threshold{"FACEVERIFY_THRESHOLD"};
  EnvVar backend{"FACEVERIFY_BACKEND"};
  TempDir dir;
  std::ostringstream err;
  Diagnostics diag{err};
  Env() {
    xdg.set(dir.path().string());
    threshold.unset();
    backend.unset();
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
  REQUIRE(resolve_settings(service, &scoring, env.diag));
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
    CHECK(scoring.score.threshold == 0.7);
    CHECK(scoring.score.half_distance == 1.1);
    CHECK(scoring.threshold_source == "config");
  }
  SECTION("environment beats the config file") {
    env.threshold.set("0.65");
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring, env.diag));
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
    CHECK(scoring.score.threshold == 0.9);
    CHECK(scoring.threshold_source == "option");
    CHECK(scoring.score.half_distance == 1.3);
  }
  SECTION("a bad FACEVERIFY_THRESHOLD is a usage error naming it") {
    for (const char* bad : {"1.5", "abc", "0.5x", "-0.1"}) {
      env.threshold.set(bad);
      ServiceOptions service;
      ScoringOptions scoring;
      auto r = resolve_settings(service, &scoring, env.diag);
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
    CHECK(service.kind == BackendKind::local);
    CHECK(scoring.score.threshold == 0.6);
    CHECK(scoring.threshold_source == "config");
  }
  SECTION("--backend (or FACEVERIFY_BACKEND) beats it, and then its scores do not apply") {
    ServiceOptions service;
    service.backend = BackendKind::api4ai;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring, env.diag));
    CHECK(service.kind == BackendKind::api4ai);
    CHECK(scoring.score.threshold == k_default_threshold);
    CHECK(scoring.score.half_distance == k_default_half_distance);
    CHECK(scoring.threshold_source == "default");
  }
  SECTION("embed settles only the backend") {
    ServiceOptions service;
    REQUIRE(resolve_settings(service, nullptr, env.diag));
    CHECK(service.kind == BackendKind::local);
  }
}

TEST_CASE("settings: settle_score follows the backend that made the embeddings", "[settings]") {
  Env env;
  SECTION("an api4ai config's threshold does not apply to local embeddings") {
    env.config("backend = \"api4ai\"\nthreshold = 0.999\nhalf_distance = 1.4\n");
    ServiceOptions service;
    ScoringOptions scoring;
    REQUIRE(resolve_settings(service, &scoring, env.diag));
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
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
    REQUIRE(resolve_settings(service, &scoring, env.diag));
    CHECK(scoring.score.threshold == 0.55);
  }
  SECTION("must exist, unless this run writes it") {
    ServiceOptions service;
    service.config_file = (env.dir / "missing.toml").string();
    ScoringOptions scoring;
    auto r = resolve_settings(service, &scoring, env.diag);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(r.error().message.find("missing.toml") != std::string::npos);
    CHECK(resolve_settings(service, &scoring, env.diag, /*writes_config=*/true));
    CHECK(scoring.threshold_source == "default");
  }
  SECTION("a malformed file is a usage error naming file and line") {
    write_file(env.dir / "bad.toml", "# ok\nthreshold = lots\n");
    ServiceOptions service;
    service.config_file = (env.dir / "bad.toml").string();
    ScoringOptions scoring;
    auto r = resolve_settings(service, &scoring, env.diag);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("bad.toml: line 2: threshold must be a number from 0 to 1") != std::string::npos);
  }
}

TEST_CASE("settings: the backend from --backend then API options then FACEVERIFY_BACKEND then the config file",
          "[settings]") {
  Env env;
  env.config("backend = \"local\"\nthreshold = 0.6\n");
  const auto kind_of = [&](ServiceOptions service) {
    ScoringOptions scoring;
    auto r = resolve_settings(service, &scoring, env.diag);
    REQUIRE(r);
    return service.kind;
  };
  SECTION("an explicit API option beats the config file's backend, and its threshold then does not apply") {
    for (const auto& set : std::vector<void (*)(ServiceOptions&)>{
             [](ServiceOptions& s) { s.api_url = "http://127.0.0.1:1"; },
             [](ServiceOptions& s) { s.api = api4ai::Mode::api4ai; },
             [](ServiceOptions& s) { s.api_key = "k"; },
             [](ServiceOptions& s) { s.api_key_file = "k.txt"; },
         }) {
      ServiceOptions service;
      set(service);
      ScoringOptions scoring;
      REQUIRE(resolve_settings(service, &scoring, env.diag));
      CHECK(service.kind == BackendKind::api4ai);
      CHECK(scoring.threshold_source == "default");
    }
  }
  SECTION("an API option beats FACEVERIFY_BACKEND too") {
    env.backend.set("local");
    ServiceOptions service;
    service.api_url = "http://127.0.0.1:1";
    CHECK(kind_of(service) == BackendKind::api4ai);
  }
  SECTION("an exported key selects nothing") {
    EnvVar key("API4AI_KEY");
    key.set("ambient");
    CHECK(kind_of(ServiceOptions{}) == BackendKind::local);
  }
  SECTION("FACEVERIFY_BACKEND beats the config file; --backend beats both") {
    env.backend.set("api4ai");
    CHECK(kind_of(ServiceOptions{}) == BackendKind::api4ai);
    env.config("backend = \"api4ai\"\n");
    env.backend.set("local");
    CHECK(kind_of(ServiceOptions{}) == BackendKind::local);
    ServiceOptions service;
    service.backend = BackendKind::api4ai;
    CHECK(kind_of(service) == BackendKind::api4ai);
  }
  SECTION("--backend api4ai with API options is fine") {
    ServiceOptions service;
    service.backend = BackendKind::api4ai;
    service.api_url = "http://127.0.0.1:1";
    CHECK(kind_of(service) == BackendKind::api4ai);
  }
  SECTION("--backend local with an API option is a usage error naming both") {
    struct Case {
      void (*set)(ServiceOptions&);
      const char* option;
    };
    for (const auto& [set, option] : std::vector<Case>{
             {[](ServiceOptions& s) { s.api_url = "http://127.0.0.1:1"; }, "--api-url"},
             {[](ServiceOptions& s) { s.api = api4ai::Mode::demo; }, "--api"},
             {[](ServiceOptions& s) { s.api_key = "SECRETKEY"; }, "--api-key"},
             {[](ServiceOptions& s) { s.api_key_file = "k.txt"; }, "--api-key-file"},
         }) {
      INFO(option);
      ServiceOptions service;
      service.backend = BackendKind::local;
      set(service);
      ScoringOptions scoring;
      auto r = resolve_settings(service, &scoring, env.diag);
      REQUIRE_FALSE(r);
      CHECK(r.error().kind == ErrorKind::usage);
      CHECK(r.error().message == "--backend local contradicts " + std::string(option) +
                                     " (the local backend uses no service); give one of them");
    }
  }
  SECTION("a bad FACEVERIFY_BACKEND names the variable") {
    env.backend.set("cloud");
    ServiceOptions service;
    ScoringOptions scoring;
    auto r = resolve_settings(service, &scoring, env.diag);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(r.error().message == "FACEVERIFY_BACKEND: 'cloud' is not one of api4ai, local; fix or unset it");
  }
}

TEST_CASE("settings: a key for the demo which sends none is warned about", "[settings]") {
  Env env;
  for (const bool explicit_demo : {false, true}) {
    ServiceOptions service;
    if (explicit_demo) service.api = api4ai::Mode::demo;
    service.api_key = "SECRETKEY";
    REQUIRE(resolve_settings(service, nullptr, env.diag));
  }
  ServiceOptions file;
  file.api_key_file = "k.txt";
  REQUIRE(resolve_settings(file, nullptr, env.diag));
  CHECK(env.err.str() ==
        "faceverify: warning: the key of --api-key is not used: the demo endpoint takes no key (add --api api4ai or "
        "--api rapidapi to send it)\n"
        "faceverify: warning: the key of --api-key is not used: the demo endpoint takes no key (add --api api4ai or "
        "--api rapidapi to send it)\n"
        "faceverify: warning: the key of --api-key-file is not used: the demo endpoint takes no key (add --api api4ai "
        "or --api rapidapi to send it)\n");
  std::ostringstream quiet;
  Diagnostics diag(quiet);
  ServiceOptions api;
  api.api = api4ai::Mode::api4ai;
  api.api_key = "SECRETKEY";
  REQUIRE(resolve_settings(api, nullptr, diag));
  CHECK(quiet.str().empty());
}

TEST_CASE("settings: --cacert must be a readable file", "[settings]") {
  Env env;
  write_file(env.dir / "ca.pem", "-----BEGIN CERTIFICATE-----\n");
  REQUIRE(::mkfifo((env.dir / "fifo.pem").c_str(), 0600) == 0);
  struct Case {
    std::string path;
    std::string why;
  };
  for (const auto& [path, why] : std::vector<Case>{
           {(env.dir / "missing.pem").string(), "cannot read it: No such file or directory"},
           {env.dir.path().string(), "is a directory; expected a PEM file of CA certificates"},
           {(env.dir / "fifo.pem").string(), "is not a regular file; expected a PEM file of CA certificates"},
       }) {
    ServiceOptions service;
    service.cacert = path;
    auto r = resolve_settings(service, nullptr, env.diag);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::usage);
    CHECK(r.error().message == "--cacert " + path + ": " + why);
  }
  ServiceOptions good;
  good.cacert = (env.dir / "ca.pem").string();
  CHECK(resolve_settings(good, nullptr, env.diag));
  ServiceOptions local;  // an API option: --backend local contradicts it
  local.backend = BackendKind::local;
  local.cacert = (env.dir / "missing.pem").string();
  auto contradiction = resolve_settings(local, nullptr, env.diag);
  REQUIRE_FALSE(contradiction);
  CHECK(contradiction.error().kind == ErrorKind::usage);
}

TEST_CASE("settings: a config file's unknown key is warned about and a percentage threshold explained", "[settings]") {
  Env env;
  env.config("treshold = 0.9\n");
  ServiceOptions service;
  ScoringOptions scoring;
  REQUIRE(resolve_settings(service, &scoring, env.diag));
  CHECK(scoring.threshold_source == "default");
  CHECK(env.err.str() == "faceverify: warning: " + (env.dir / "faceverify" / "config.toml").string() +
                             ": line 1: unknown key 'treshold' (did you mean threshold?); ignored\n");
  env.threshold.set("80");
  auto r = resolve_settings(service, &scoring, env.diag);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "FACEVERIFY_THRESHOLD: '80': thresholds are in [0, 1]; did you mean 0.8?");
}

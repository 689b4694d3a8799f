// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "faceverify/cli.hpp"

using namespace faceverify;

namespace {
Expected<Command> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "faceverify");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("cli::parse_command_line", "[cli]") {
  SECTION("defaults") {
    auto c = parse({"a.jpg", "b.jpg"});
    REQUIRE(c);
    const auto& o = c->verify;
    CHECK(o.images == std::vector<std::string>{"a.jpg", "b.jpg"});
    CHECK(o.api == api4ai::Mode::demo);
    CHECK(o.threshold == 0.8);
    CHECK_FALSE(o.threshold_given);
    CHECK(o.half_distance == 1.23);
    CHECK(o.face == FacePolicy::largest);
    CHECK(o.retries == 4);
    CHECK_FALSE(o.json);
  }
  SECTION("every option") {
    auto c = parse({"--api",
                    "rapidapi",
                    "--api-url",
                    "http://127.0.0.1:1",
                    "--api-key-file",
                    "k",
                    "--cacert",
                    "ca.pem",
                    "-t",
                    "0.9",
                    "--half-distance",
                    "1.1",
                    "--face",
                    "best",
                    "--retries",
                    "0",
                    "--timeout",
                    "2.5",
                    "--json",
                    "-v",
                    "-",
                    "https://x/y.jpg"});
    REQUIRE(c);
    const auto& o = c->verify;
    CHECK(o.api == api4ai::Mode::rapidapi);
    CHECK(o.api_url == "http://127.0.0.1:1");
    CHECK(o.api_key_file == "k");
    CHECK(o.cacert == "ca.pem");
    CHECK(o.threshold == 0.9);
    CHECK(o.threshold_given);
    CHECK(o.half_distance == 1.1);
    CHECK(o.face == FacePolicy::best);
    CHECK(o.retries == 0);
    CHECK(o.timeout_seconds == 2.5);
    CHECK(o.json);
    CHECK(o.verbose);
    CHECK(o.images == std::vector<std::string>{"-", "https://x/y.jpg"});
  }
  SECTION("help and version") {
    auto h = parse({"--help"});
    REQUIRE(h);
    CHECK(h->action == Command::Action::print_help);
    for (const char* needle : {"--threshold", "--api-url", "Exit codes", "API4AI_KEY", "RAPIDAPI_KEY", "Examples",
                               "3  no face found", "4  service error"}) {
      CHECK(h->text.find(needle) != std::string::npos);
    }
    auto v = parse({"--version"});
    REQUIRE(v);
    CHECK(v->action == Command::Action::print_version);
    CHECK(v->text.starts_with("faceverify 1."));
  }
  SECTION("usage errors are one line naming the problem") {
    struct Case {
      std::vector<std::string> args;
      std::string needle;
    };
    for (const auto& [args, needle] :
         std::vector<Case>{{{"a.jpg"}, "expected two images, got 1"},
                           {{"a", "b", "c"}, "expected two images, got 3"},
                           {{}, "IMAGE"},
                           {{"-t", "1.5", "a", "b"}, "--threshold: '1.5' is not a number from 0 to 1"},
                           {{"-t", "-0.1", "a", "b"}, "--threshold"},
                           {{"-t", "nan", "a", "b"}, "--threshold"},
                           {{"--half-distance", "0", "a", "b"}, "--half-distance: '0' is not a number greater than 0"},
                           {{"--api", "cloud", "a", "b"}, "--api: 'cloud' is not one of api4ai, demo, rapidapi"},
                           {{"--face", "biggest", "a", "b"}, "--face"},
                           {{"--retries", "-1", "a", "b"}, "--retries"},
                           {{"--timeout", "0", "a", "b"}, "--timeout"},
                           {{"--nope", "a", "b"}, "--nope"},
                           {{"-q", "-v", "a", "b"}, "contradict"},
             {{"--api-key", "k", "--api-key-file", "f", "a", "b"}, "not both"}}) {
      auto c = parse(args);
      INFO(needle);
      REQUIRE_FALSE(c);
      CHECK(c.error().kind == ErrorKind::usage);
      CHECK(c.error().message.find(needle) != std::string::npos);
      CHECK(c.error().message.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("cli: parser errors never echo an API key", "[cli]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"cache", "stats", "--api-key", "SECRET123"},
        std::vector<std::string>{"cache", "stats", "--api-key=SECRET123"},
        std::vector<std::string>{"--api-key", "SECRET123", "only-one.jpg", "--bogus"}}) {
    auto c = parse(args);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.find("SECRET123") == std::string::npos);
  }
}

TEST_CASE("cli: batch commands and their options", "[cli]") {
  auto m = parse({"matrix", "--jobs", "8", "--max-rps", "2.5", "--format", "csv", "--no-cache", "a.jpg", "b.jpg"});
  REQUIRE(m);
  CHECK(m->action == Command::Action::matrix);
  CHECK(m->verify.jobs == 8);
  CHECK(m->verify.max_rps == 2.5);
  CHECK(m->verify.format == OutputFormat::csv);
  CHECK(m->verify.no_cache);
  CHECK(m->verify.inputs == std::vector<std::string>{"a.jpg", "b.jpg"});
  auto s = parse({"search", "--top", "3", "--gallery", "dir", "ref.jpg"});
  REQUIRE(s);
  CHECK(s->action == Command::Action::search);
  CHECK(s->verify.reference == "ref.jpg");
  CHECK(s->verify.top == std::size_t{3});
  auto p = parse({"pairs", "--junit", "r.xml", "--ordered", "--uncertain-band", "0.05", "-"});
  REQUIRE(p);
  CHECK(p->action == Command::Action::pairs);
  CHECK(p->verify.format == OutputFormat::jsonl);
  CHECK(p->verify.junit == "r.xml");
  CHECK(p->verify.uncertain_band == 0.05);
  auto c = parse({"calibrate", "--target-far", "0.001", "--write-config", "--report", "r.html", "faces/"});
  REQUIRE(c);
  CHECK(c->action == Command::Action::calibrate);
  CHECK(c->verify.target_far == 0.001);
  CHECK(c->verify.write_config);
  CHECK(parse({"cache", "clear"})->action == Command::Action::cache_clear);
  CHECK_FALSE(parse({"search", "ref.jpg"}));            // no candidates
  CHECK_FALSE(parse({"matrix", "--jobs", "0", "a"}));   // out of range
  CHECK_FALSE(parse({"calibrate", "--target-far", "0", "x"}));
  CHECK_FALSE(parse({"embed", "--format", "csv", "a"}));  // embed has one format
}

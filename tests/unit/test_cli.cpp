// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "commands/commands.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace faceverify::commands;

namespace {
Expected<Invocation> parse(std::vector<std::string> args) {
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
    const auto& o = std::get<VerifyOptions>(c->options);
    CHECK(o.images == std::vector<std::string>{"a.jpg", "b.jpg"});
    CHECK_FALSE(o.service.api);  // demo, but not given: it selects no backend
    CHECK_FALSE(o.service.backend);
    CHECK_FALSE(o.scoring.threshold);
    CHECK_FALSE(o.scoring.half_distance);
    CHECK(o.scoring.face == FacePolicy::largest);
    CHECK(o.service.retries == 4);
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
    const auto& o = std::get<VerifyOptions>(c->options);
    CHECK(o.service.api == api4ai::Mode::rapidapi);
    CHECK(o.service.api_url == "http://127.0.0.1:1");
    CHECK(o.service.api_key_file == "k");
    CHECK(o.service.cacert == "ca.pem");
    CHECK(o.scoring.threshold == 0.9);
    CHECK(o.scoring.half_distance == 1.1);
    CHECK(o.scoring.face == FacePolicy::best);
    CHECK(o.service.retries == 0);
    CHECK(o.timeout_seconds == 2.5);
    CHECK(o.json);
    CHECK(o.verbose);
    CHECK(o.images == std::vector<std::string>{"-", "https://x/y.jpg"});
  }
  SECTION("help and version") {
    auto h = parse({"--help"});
    REQUIRE(h);
    REQUIRE(h->text);
    for (const char* needle : {"--threshold", "--api-url", "Exit codes", "API4AI_KEY", "RAPIDAPI_KEY", "Examples",
                               "3  no face found", "4  service error"}) {
      CHECK(h->text->find(needle) != std::string::npos);
    }
    auto v = parse({"--version"});
    REQUIRE(v);
    REQUIRE(v->text);
    CHECK(v->text->starts_with("faceverify 1."));
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

TEST_CASE("cli: no part of a key with a line break in it is echoed", "[cli]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"cache", "stats", "--api-key", "SECRETONE\nTWOTWO"},
        std::vector<std::string>{"cache", "stats", "--api-key=SECRETONE\nTWOTWO"},
        std::vector<std::string>{"cache", "stats", "--api-key=SECRETONE\r\nTWOTWO"}}) {
    auto c = parse(args);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.find("SECRET") == std::string::npos);
    CHECK(c.error().message.find("TWOTWO") == std::string::npos);
    // cache has no --api-key: the option is named, its value never.
    CHECK(c.error().message == "unknown option --api-key (see faceverify cache --help)");
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
  const auto& mo = std::get<MatrixOptions>(m->options);
  CHECK(mo.batch.jobs == 8);
  CHECK(mo.batch.max_rps == 2.5);
  CHECK(mo.format == OutputFormat::csv);
  CHECK(mo.batch.no_cache);
  CHECK(mo.inputs == std::vector<std::string>{"a.jpg", "b.jpg"});
  auto mj = parse({"matrix", "--json", "--format", "csv", "a.jpg"});  // --json wins, wherever it stands
  REQUIRE(mj);
  CHECK(std::get<MatrixOptions>(mj->options).format == OutputFormat::json);
  auto s = parse({"search", "--top", "3", "--gallery", "dir", "ref.jpg"});
  REQUIRE(s);
  const auto& so = std::get<SearchOptions>(s->options);
  CHECK(so.reference == "ref.jpg");
  CHECK(so.top == std::size_t{3});
  CHECK(so.gallery == "dir");
  CHECK(so.format == OutputFormat::text);
  auto p = parse({"pairs", "--junit", "r.xml", "--ordered", "--uncertain-band", "0.05", "-"});
  REQUIRE(p);
  const auto& po = std::get<PairsOptions>(p->options);
  CHECK(po.format == OutputFormat::jsonl);
  CHECK(po.junit == "r.xml");
  CHECK(po.batch.ordered);
  CHECK(po.scoring.uncertain_band == 0.05);
  CHECK(std::get<PairsOptions>(parse({"pairs", "--format", "csv", "f"})->options).format == OutputFormat::csv);
  CHECK(std::get<PairsOptions>(parse({"pairs", "--format", "json", "f"})->options).format == OutputFormat::jsonl);
  auto c = parse({"calibrate", "--target-far", "0.001", "--write-config", "--report", "r.html", "faces/"});
  REQUIRE(c);
  const auto& co = std::get<CalibrateOptions>(c->options);
  CHECK(co.target_far == 0.001);
  CHECK(co.write_config);
  CHECK(co.report == "r.html");
  CHECK(std::get<CacheOptions>(parse({"cache", "clear"})->options).clear);
  CHECK_FALSE(std::get<CacheOptions>(parse({"cache", "stats", "--json"})->options).clear);
  auto e = parse({"embed", "--backend", "local", "-j", "2", "a.jpg"});
  REQUIRE(e);
  CHECK(std::get<EmbedOptions>(e->options).service.backend == BackendKind::local);
  CHECK_FALSE(parse({"search", "ref.jpg"}));           // no candidates
  CHECK_FALSE(parse({"matrix", "--jobs", "0", "a"}));  // out of range
  CHECK_FALSE(parse({"calibrate", "--target-far", "0", "x"}));
  CHECK_FALSE(parse({"embed", "--format", "csv", "a"}));           // embed has one format
  CHECK_FALSE(parse({"embed", "--threshold", "0.5", "a"}));        // embed does not score
  CHECK_FALSE(parse({"matrix", "--uncertain-band", "0.1", "a"}));  // no per-pair decision
}

TEST_CASE("cli: every command of the table parses, has help, and is listed in the main help", "[cli]") {
  auto main_help = parse({"--help"});
  REQUIRE(main_help);
  REQUIRE(main_help->text);
  for (const auto& spec : command_table()) {
    if (spec.name.empty()) continue;
    INFO(spec.name);
    CHECK(main_help->text->find("  " + std::string(spec.synopsis)) != std::string::npos);
    auto help = parse({std::string(spec.name), "--help"});
    REQUIRE(help);
    REQUIRE(help->text);
    CHECK(help->text->find("faceverify " + std::string(spec.name)) != std::string::npos);
    // The options it parses into are the command's own.
    CHECK(help->options.index() == spec.make().index());
  }
}

namespace {
std::string usage_error(std::vector<std::string> args) {
  auto c = parse(std::move(args));
  REQUIRE_FALSE(c);
  CHECK(c.error().kind == ErrorKind::usage);
  CHECK(c.error().message.find('\n') == std::string::npos);
  return c.error().message;
}
}  // namespace

TEST_CASE("cli: an unknown option is named with the nearest of the command's own options", "[cli]") {
  CHECK(usage_error({"--treshold", "0.9", "a.jpg", "b.jpg"}) ==
        "unknown option --treshold; did you mean --threshold? (see faceverify --help)");
  CHECK(usage_error({"--treshold=0.9", "a.jpg", "b.jpg"}) ==
        "unknown option --treshold; did you mean --threshold? (see faceverify --help)");
  CHECK(usage_error({"a.jpg", "b.jpg", "--jsn"}) ==
        "unknown option --jsn; did you mean --json? (see faceverify --help)");
  CHECK(usage_error({"matrix", "--formt", "csv", "a.jpg"}) ==
        "unknown option --formt; did you mean --format? (see faceverify matrix --help)");
  CHECK(usage_error({"pairs", "--ordred", "p.csv"}) ==
        "unknown option --ordred; did you mean --ordered? (see faceverify pairs --help)");
  // An option of another command, with nothing near among embed's own.
  CHECK(usage_error({"embed", "--threshold", "0.5", "a.jpg"}) ==
        "unknown option --threshold (see faceverify embed --help)");
  CHECK(usage_error({"cache", "stats", "--jsn"}) ==
        "unknown option --jsn; did you mean --json? (see faceverify cache --help)");
  CHECK(usage_error({"-x", "a.jpg", "b.jpg"}) == "unknown option -x (see faceverify --help)");
}

TEST_CASE("cli: an unknown command is named with the nearest command", "[cli]") {
  CHECK(usage_error({"embd", "a.jpg"}) == "unknown command 'embd' (did you mean embed?)");
  CHECK(usage_error({"serach", "ref.jpg", "c.jpg"}) == "unknown command 'serach' (did you mean search?)");
  CHECK(usage_error({"calibarte", "dir/"}) == "unknown command 'calibarte' (did you mean calibrate?)");
  // Anything that may be an image stays the default command's argument.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"embd.jpg", "b.jpg"}, std::vector<std::string>{"dir/embd", "b.jpg"},
        std::vector<std::string>{"photo", "b.jpg"}}) {
    auto c = parse(args);
    REQUIRE(c);
    CHECK(std::holds_alternative<VerifyOptions>(c->options));
  }
  test::TempDir dir;  // an existing file of that name is an image
  test::write_file(dir / "embd", "x");
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto c = parse({"embd", "b.jpg"});
  std::filesystem::current_path(cwd);
  REQUIRE(c);
  CHECK(std::holds_alternative<VerifyOptions>(c->options));
}

TEST_CASE("cli: help and help COMMAND print the text of --help", "[cli]") {
  auto main_help = parse({"--help"});
  auto help = parse({"help"});
  REQUIRE(main_help);
  REQUIRE(help);
  REQUIRE(help->text);
  CHECK(*help->text == *main_help->text);
  for (const auto& spec : command_table()) {
    if (spec.name.empty()) continue;
    INFO(spec.name);
    auto own = parse({std::string(spec.name), "--help"});
    auto via = parse({"help", std::string(spec.name)});
    REQUIRE(own);
    REQUIRE(via);
    REQUIRE(via->text);
    CHECK(*via->text == *own->text);
  }
  CHECK(usage_error({"help", "embd"}) == "help: unknown command 'embd' (did you mean embed?)");
  CHECK(usage_error({"help", "nosuch"}) ==
        "help: unknown command 'nosuch' (the commands are embed, matrix, search, pairs, calibrate, index, cache and "
        "serve)");
}

TEST_CASE("cli: a missing or unknown cache subcommand names the valid ones", "[cli]") {
  CHECK(usage_error({"cache", "list"}) ==
        "cache: unknown subcommand 'list' (the subcommands are stats and clear) (see faceverify cache "
        "--help)");
  CHECK(usage_error({"cache", "stat"}) ==
        "cache: unknown subcommand 'stat' (did you mean stats?) (see faceverify cache --help)");
  CHECK(usage_error({"cache"}) == "cache needs a subcommand: stats or clear (see faceverify cache --help)");
}

TEST_CASE("cli: a threshold given as a percentage gets the fraction it meant", "[cli]") {
  CHECK(usage_error({"-t", "80", "a", "b"}) ==
        "--threshold: '80': thresholds are in [0, 1]; did you mean 0.8? (see faceverify --help)");
  CHECK(usage_error({"pairs", "--threshold", "95", "p.csv"}) ==
        "--threshold: '95': thresholds are in [0, 1]; did you mean 0.95? (see faceverify pairs --help)");
  CHECK(usage_error({"-t", "150", "a", "b"}).starts_with("--threshold: '150' is not a number from 0 to 1"));
}

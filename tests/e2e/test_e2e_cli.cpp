// SPDX-License-Identifier: MIT
// The command line as a new user meets it (issue 11): which backend a run
// uses, typos in options and commands, help, --cacert and config files that
// are not what they should be. The binary against the fake server; exit
// code, stdout and stderr together.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>

#include "e2e_support.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;

namespace {

using namespace faceverify::test::e2e;

const json k_people = {{"images", {{"alice1.jpg", {{"person", "alice"}}}, {"alice2.jpg", {{"person", "alice"}}}}}};

const std::regex k_same(R"(Similarity is \d{1,3}\.\d%\.\nIt's the same person\.\n)");

// A config directory whose config.toml says `text`, as XDG_CONFIG_HOME.
struct ConfigHome {
  test::TempDir dir;
  explicit ConfigHome(const std::string& text) {
    std::filesystem::create_directories(dir / "faceverify");
    test::write_file(dir / "faceverify" / "config.toml", text);
  }
  test::RunOptions env() const {
    test::RunOptions o;
    o.env_overrides["XDG_CONFIG_HOME"] = dir.path().string();
    return o;
  }
};

}  // namespace

TEST_CASE("cli: an API option on the command line means the API backend whatever the config file says", "[e2e][cli]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  // What calibrate --backend local --write-config leaves behind.
  ConfigHome home("# written by faceverify calibrate\nbackend = \"local\"\nthreshold = 0.999\nhalf_distance = 1.1\n");
  SECTION("--api-url beats the config file's backend: the service is called, the local threshold not used") {
    auto r = run_faceverify(with_server(server, {"--json", a, b}), home.env());
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    const auto j = json::parse(r.out);
    CHECK(j["backend"] == "api4ai");
    CHECK(j["threshold_source"] == "default");
    CHECK(server.requests().size() == 2);
  }
  SECTION("--api-url beats FACEVERIFY_BACKEND") {
    auto env = home.env();
    env.env_overrides["FACEVERIFY_BACKEND"] = "local";
    auto r = run_faceverify(with_server(server, {a, b}), env);
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
    CHECK(r.err.empty());
    CHECK(server.requests().size() == 2);
  }
  SECTION("an exported API4AI_KEY alone selects nothing: the config file's local backend refuses the URL input") {
    auto env = home.env();
    env.env_overrides["API4AI_KEY"] = "AMBIENTKEY";
    auto r = run_faceverify({"https://example.com/alice.jpg", b}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    CHECK(r.err.find("https://example.com/alice.jpg") != std::string::npos);
  }
  SECTION("--backend local with an API option is a usage error naming both, before any request") {
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--api-url", server.base_url()}, std::vector<std::string>{"--api", "demo"},
          std::vector<std::string>{"--api-key", "SECRETKEY"}}) {
      std::vector<std::string> args{"--backend", "local"};
      args.insert(args.end(), extra.begin(), extra.end());
      args.insert(args.end(), {a, b});
      auto r = run_faceverify(args, home.env());
      INFO(extra[0]);
      CHECK(r.exit_code == 2);
      CHECK(r.out.empty());
      CHECK(r.err == "faceverify: --backend local contradicts " + extra[0] +
                         " (the local backend uses no service); give one of them\n");
    }
    CHECK(server.requests().empty());
  }
  SECTION("embed and the batch commands follow the same rule") {
    auto r = run_faceverify({"embed", "--api-url", server.base_url(), "--no-cache", a}, home.env());
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(json::parse(r.out)["backend"] == "api4ai");
    CHECK(server.requests().size() == 1);
  }
}

TEST_CASE("cli: a key for the demo which never sends one is warned about", "[e2e][cli]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--api-key", "SECRETKEY"},
                                               std::vector<std::string>{"--api", "demo", "--api-key", "SECRETKEY"}}) {
    server.reset();
    std::vector<std::string> all = args;
    all.insert(all.end(), {a, b});
    auto r = run_faceverify(with_server(server, all));
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
    CHECK(r.err ==
          "faceverify: warning: the key of --api-key is not used: the demo endpoint takes no key (add --api api4ai or "
          "--api rapidapi to send it)\n");
    for (const auto& q : server.requests()) CHECK_FALSE(q["headers"].contains("x-api-key"));
  }
}

TEST_CASE("cli: typos get the nearest name and help is --help", "[e2e][cli]") {
  SECTION("an unknown option") {
    auto r = run_faceverify({"--treshold", "0.9", "a.jpg", "b.jpg"});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: unknown option --treshold; did you mean --threshold? (see faceverify --help)\n");
  }
  SECTION("an unknown command, not a missing file") {
    auto r = run_faceverify({"embd", "a.jpg"});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: unknown command 'embd' (did you mean embed?)\n");
  }
  SECTION("help and help COMMAND") {
    auto help = run_faceverify({"help"});
    auto dash = run_faceverify({"--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out == dash.out);
    CHECK(help.err.empty());
    auto pairs = run_faceverify({"help", "pairs"});
    CHECK(pairs.exit_code == 0);
    CHECK(pairs.out == run_faceverify({"pairs", "--help"}).out);
    auto bad = run_faceverify({"help", "nosuch"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.out.empty());
    CHECK(
        bad.err ==
        "faceverify: help: unknown command 'nosuch' (the commands are embed, matrix, search, pairs, calibrate, index, "
        "cache and serve)\n");
  }
  SECTION("help COMMAND beside a file named help") {
    test::TempDir dir;
    test::write_file(dir.path() / "help", "not an image");
    test::RunOptions in_dir;
    in_dir.cwd = dir.path().string();
    auto r = run_faceverify({"help", "pairs"}, in_dir);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(r.out == run_faceverify({"pairs", "--help"}).out);
    // Two files: verify, as always.
    test::write_file(dir.path() / "pairs", "not an image either");
    auto files = run_faceverify({"help", "pairs"}, in_dir);
    CHECK(files.exit_code == 2);
    CHECK(files.out.empty());
    CHECK(files.err.find("help: not an image") != std::string::npos);
  }
  SECTION("cache list") {
    auto r = run_faceverify({"cache", "list"});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "faceverify: cache: unknown subcommand 'list' (the subcommands are stats and clear) (see "
          "faceverify cache --help)\n");
  }
  SECTION("-t 80") {
    auto r = run_faceverify({"-t", "80", "a.jpg", "b.jpg"});
    CHECK(r.exit_code == 2);
    CHECK(r.err ==
          "faceverify: --threshold: '80': thresholds are in [0, 1]; did you mean 0.8? (see faceverify --help)\n");
  }
  SECTION("a bad FACEVERIFY_BACKEND names the variable") {
    test::RunOptions o;
    o.env_overrides["FACEVERIFY_BACKEND"] = "cloud";
    Photos photo;
    auto r = run_faceverify({photo("alice1.jpg"), photo("alice2.jpg")}, o);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: FACEVERIFY_BACKEND: 'cloud' is not one of api4ai, local; fix or unset it\n");
  }
}

TEST_CASE("cli: --cacert is checked before any request", "[e2e][cli]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  for (const std::string& bad : {(photo.dir / "missing.pem").string(), photo.dir.path().string()}) {
    auto r = run_faceverify(with_server(server, {"--cacert", bad, a, b}));
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    CHECK(r.err.starts_with("faceverify: --cacert " + bad + ": "));
  }
  CHECK(server.requests().empty());
}

TEST_CASE("cli: a TLS failure with --cacert does not ask for --cacert", "[e2e][cli]") {
  test::TempDir dir;
  const auto make_cert = [&](const std::string& name) {
    const std::string cert = (dir / (name + ".pem")).string(), key = (dir / (name + ".key")).string();
    auto made =
        test::run_process({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                           "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
    REQUIRE(made.exit_code == 0);
    return std::pair{cert, key};
  };
  const auto [cert, key] = make_cert("server");
  const auto other = make_cert("other").first;
  test::FakeServer server(k_people, cert, key);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  auto r = run_faceverify({"--api-url", server.base_url(), "--cacert", other, a, b});
  CHECK(r.exit_code == 4);
  CHECK(r.out.empty());
  const std::string why = ": TLS connection to 127.0.0.1:" + std::to_string(server.port()) +
                          " failed: its certificate is not trusted (check that --cacert " + other +
                          " holds the CA that signed its certificate)\n";
  CHECK(r.err.find("faceverify: " + a + why) != std::string::npos);
  CHECK(r.err.find("use --cacert") == std::string::npos);
}

TEST_CASE("cli: config files that are misspelt or not files", "[e2e][cli]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  SECTION("an unknown key is a warning naming the file, the line and the nearest key; the run goes on") {
    ConfigHome home("backend = \"api4ai\"\ntreshold = 0.99\n");
    auto r = run_faceverify(with_server(server, {a, b}), home.env());
    CHECK(r.exit_code == 0);
    CHECK(std::regex_match(r.out, k_same));
    CHECK(r.err == "faceverify: warning: " + (home.dir / "faceverify" / "config.toml").string() +
                       ": line 2: unknown key 'treshold' (did you mean threshold?); ignored\n");
  }
  SECTION("a value of the wrong type is an error") {
    ConfigHome home("threshold = \"0.9\"\n");
    auto r = run_faceverify(with_server(server, {a, b}), home.env());
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + (home.dir / "faceverify" / "config.toml").string() +
                       ": line 1: threshold must be a number from 0 to 1, not a string (write it without quotes)\n");
    CHECK(server.requests().empty());
  }
  SECTION("--config FIFO, /dev/zero or a directory: an error at once, not a hang or an empty config") {
    const std::string fifo = (photo.dir / "fifo.toml").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const std::string& path : {fifo, std::string("/dev/zero"), photo.dir.path().string()}) {
      INFO(path);
      test::RunOptions o;
      o.timeout = std::chrono::milliseconds(10000);
      auto r = run_faceverify(with_server(server, {"--config", path, a, b}), o);
      CHECK_FALSE(r.timed_out);
      CHECK(r.exit_code == 2);
      CHECK(r.out.empty());
      CHECK(one_line(r.err));
      CHECK(r.err.starts_with("faceverify: " + path + ": cannot read the config file: "));
    }
    CHECK(server.requests().empty());
  }
  SECTION("the default location as a FIFO or a directory is an error too") {
    test::TempDir xdg;
    std::filesystem::create_directories(xdg / "faceverify");
    const auto where = xdg / "faceverify" / "config.toml";
    test::RunOptions o;
    o.env_overrides["XDG_CONFIG_HOME"] = xdg.path().string();
    o.timeout = std::chrono::milliseconds(10000);
    REQUIRE(::mkfifo(where.c_str(), 0600) == 0);
    auto r = run_faceverify(with_server(server, {a, b}), o);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + where.string() + ": cannot read the config file: not a regular file\n");
    std::filesystem::remove(where);
    std::filesystem::create_directories(where);
    r = run_faceverify(with_server(server, {a, b}), o);
    CHECK(r.exit_code == 2);
    CHECK(r.err == "faceverify: " + where.string() +
                       ": cannot read the config file: it is a directory (expected a file such as config.toml)\n");
    CHECK(server.requests().empty());
  }
}

namespace {

// Whether any 6 characters of `key` in a row appear in `text`.
bool shows_part_of(const std::string& text, const std::string& key) {
  for (std::size_t i = 0; i + 6 <= key.size(); ++i) {
    if (text.find(key.substr(i, 6)) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("cli: keys from the environment or a key file are redacted from faceverify's own messages", "[e2e][cli]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  const std::string env_key = "SECRETKEY0123456789", file_key = "FILEKEYabcdefghijk";
  const std::string key_file = (photo.dir / "key.txt").string();
  test::write_file(key_file, file_key + "\n");
  REQUIRE(::chmod(key_file.c_str(), 0600) == 0);
  test::RunOptions env;
  env.env_overrides["API4AI_KEY"] = env_key;
  env.env_overrides["RAPIDAPI_KEY"] = "RAPIDKEY9876543210";
  const auto check_clean = [&](const test::ProcessResult& r) {
    for (const std::string& key : {env_key, file_key, std::string("RAPIDKEY9876543210")}) {
      CHECK_FALSE(shows_part_of(r.out, key));
      CHECK_FALSE(shows_part_of(r.err, key));
    }
  };
  SECTION("the environment key as the --api-key-file path") {
    auto r = run_faceverify({"--api", "api4ai", "--api-key-file", env_key, a, b}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    CHECK(r.err.starts_with("faceverify: --api-key-file [redacted]: "));
    check_clean(r);
  }
  SECTION("a key as an image name, a --face value or an option") {
    for (const std::vector<std::string>& args : {
             std::vector<std::string>{"--api", "api4ai", env_key, b},
             std::vector<std::string>{"--api", "api4ai", "RAPIDKEY9876543210", b},
             std::vector<std::string>{"--api", "api4ai", "--face", env_key, a, b},
             std::vector<std::string>{"--api", "api4ai", "--" + env_key, a, b},
             std::vector<std::string>{"--api", "api4ai", "--face=x" + env_key, a, b},
         }) {
      server.reset();
      auto r = run_faceverify(with_server(server, args), env);
      INFO(args[2]);
      CHECK(r.exit_code == 2);
      CHECK(r.out.empty());
      CHECK(one_line(r.err));
      CHECK(r.err.find("[redacted]") != std::string::npos);
      check_clean(r);
    }
  }
  SECTION("a pairs file that holds a key: stdout, stderr and the JUnit report") {
    const std::string pairs = (photo.dir / "pairs.csv").string();
    test::write_file(pairs, a + "," + b + "\n" + env_key + "," + b + "\n" + file_key + "," + a + "\n");
    const std::string junit = (photo.dir / "report.xml").string();
    auto pairs_args =
        with_server(server, {"--api", "api4ai", "--api-key-file", key_file, "--retries", "0", "--junit", junit, pairs});
    pairs_args.insert(pairs_args.begin(), "pairs");
    auto r = run_faceverify(pairs_args, env);
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("[redacted]") != std::string::npos);
    CHECK(r.out.find("\"decision\":\"same\"") != std::string::npos);
    check_clean(r);
    const std::string xml = test::read_file(junit);
    CHECK(xml.find("[redacted]") != std::string::npos);
    for (const std::string& key : {env_key, file_key}) CHECK_FALSE(shows_part_of(xml, key));
  }
}

TEST_CASE("cli: options the chosen backend does not use and a bad FACEVERIFY_BACKEND", "[e2e][cli]") {
  test::FakeServer server(k_people);
  Photos photo;
  const std::string a = photo("alice1.jpg"), b = photo("alice2.jpg");
  SECTION("--backend local with --cacert is a usage error") {
    auto r = run_faceverify({"--backend", "local", "--cacert", "/nonexistent", a, b});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "faceverify: --backend local contradicts --cacert (the local backend uses no service); give one of them\n");
  }
  SECTION("--cacert alone selects no backend: FACEVERIFY_BACKEND=local still applies") {
    test::RunOptions env;
    env.env_overrides["FACEVERIFY_BACKEND"] = "local";
    auto r = run_faceverify({"--cacert", "/nonexistent", "https://example.com/a.jpg", b}, env);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(one_line(r.err));
    CHECK(r.err.find("--cacert") == std::string::npos);
    CHECK(r.err.find("https://example.com/a.jpg") != std::string::npos);
  }
  SECTION("a bad FACEVERIFY_BACKEND is an error even when an API option chooses the backend") {
    test::RunOptions env;
    env.env_overrides["FACEVERIFY_BACKEND"] = "bogus";
    auto r = run_faceverify(with_server(server, {a, b}), env);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "faceverify: FACEVERIFY_BACKEND: 'bogus' is not one of api4ai, local; fix or unset it\n");
    CHECK(server.requests().empty());
  }
}

// SPDX-License-Identifier: MIT
#include "faceverify/cli.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <map>
#include <string>

#include "faceverify/version.hpp"

namespace faceverify {
namespace {

constexpr const char* k_description =
    "faceverify: are these two photos the same person?\n"
    "Sends each image to the API4AI Face Analyzer (or, with --backend local, analyses it on\n"
    "this machine), compares the two face embeddings and says whether they show the same\n"
    "person. IMAGE is a local file (JPEG, PNG, WebP, BMP, GIF or TIFF, at most 16 MiB), an\n"
    "http:// or https:// URL (the service downloads it), or - for standard input (at most\n"
    "one). With the api4ai backend, photos are uploaded to the chosen service.";

constexpr const char* k_footer = R"(Output:
  Text:  "Similarity is 99.2%." then "It's the same person." or
         "There are different people on the images."
  --json prints one JSON object (verified, similarity, distance, cosine, threshold, images...).
  Similarity = exp(d^7 * ln 0.5 / a^7) for the L2 distance d of the two embeddings;
  it is 50% at d = a (--half-distance). Same person when similarity >= --threshold.

Exit codes:
  0  same person
  1  different people
  2  usage or input error (bad option, unreadable or non-image file, unsafe key file)
  3  no face found in an image
  4  service error: network, TLS, HTTP status, malformed or failed response (after retries)

Environment:
  API4AI_KEY          key for --api api4ai (sent as X-API-KEY)
  RAPIDAPI_KEY        key for --api rapidapi (sent as X-RapidAPI-Key)
  FACEVERIFY_BACKEND  api4ai or local, when --backend is not given
  FACEVERIFY_MODELS   the local backend's model directory, when --models is not given
  https_proxy, http_proxy, no_proxy   proxies, as for curl
  XDG_DATA_HOME       models are looked for in $XDG_DATA_HOME/faceverify/models
  Keys are never printed, not even with --verbose.

Examples:
  faceverify alice1.jpg alice2.jpg
  faceverify --json id-photo.png https://example.com/selfie.jpg | jq .similarity
  curl -s https://example.com/a.jpg | faceverify - b.jpg && echo same
  API4AI_KEY=... faceverify --api api4ai --threshold 0.9 a.jpg b.jpg
  faceverify --api-url http://127.0.0.1:8080 a.jpg b.jpg   # a compatible server
  faceverify --backend local a.jpg b.jpg                   # offline: nothing is uploaded
)";

template <typename T>
CLI::Validator one_of(const std::map<std::string, T>& choices) {
  std::string names;
  for (const auto& [name, value] : choices) names += (names.empty() ? "" : ", ") + name;
  return CLI::Validator(
      [&choices, names](std::string& value) -> std::string {
        if (choices.count(value)) return {};
        return "'" + value + "' is not one of " + names;
      },
      "");
}

// Range check with a message that says what is expected; `inclusive_low`
// false means the value must be strictly greater than `low`.
CLI::Validator number_in(std::string what, double low, double high, bool inclusive_low, bool whole = false) {
  return CLI::Validator(
      [=](std::string& value) -> std::string {
        double x = 0.0;
        std::size_t used = 0;
        try {
          x = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == value.size() && used > 0 && std::isfinite(x) && x <= high &&
                        (inclusive_low ? x >= low : x > low) && (!whole || x == std::floor(x));
        return ok ? std::string() : "'" + value + "' is not " + what;
      },
      "");
}

}  // namespace

Expected<Command> parse_command_line(int argc, const char* const* argv) {
  Command cmd;
  VerifyOptions& o = cmd.verify;
  CLI::App app{k_description, "faceverify"};
  app.footer(k_footer);
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", std::string("faceverify ") + k_version, "Print the version and exit");

  static const std::map<std::string, api4ai::Mode> k_modes = {
      {"demo", api4ai::Mode::demo}, {"api4ai", api4ai::Mode::api4ai}, {"rapidapi", api4ai::Mode::rapidapi}};
  static const std::map<std::string, FacePolicy> k_policies = {
      {"largest", FacePolicy::largest}, {"first", FacePolicy::first}, {"best", FacePolicy::best}};

  app.add_option("IMAGE", o.images, "The two images: paths, http(s) URLs, or - for stdin (one of them)")
      ->required()
      ->type_name("");
  static const std::map<std::string, Backend> k_backends = {{"api4ai", Backend::api4ai}, {"local", Backend::local}};
  std::string backend_name = "api4ai";
  app.add_option("--backend", backend_name,
                 "Where faces are analysed: api4ai (default; photos are uploaded) or local (on this machine, "
                 "no network; env FACEVERIFY_BACKEND)")
      ->envname("FACEVERIFY_BACKEND")
      ->check(one_of(k_backends))
      ->type_name("NAME");
  app.add_option("--models", o.models,
                 "Directory of the local backend's models (env FACEVERIFY_MODELS; default: where "
                 "scripts/install-models.sh puts them)")
      ->type_name("DIR");
  std::string api_name = "demo";
  std::string face_name = "largest";
  app.add_option("--api", api_name,
                 "Which service: demo (default; free, rate limited, no key), api4ai (API4AI_KEY), "
                 "rapidapi (RAPIDAPI_KEY)")
      ->check(one_of(k_modes))
      ->type_name("MODE");
  app.add_option("--api-url", o.api_url,
                 "Replace scheme://host[:port] of the service, keeping its path "
                 "(e.g. http://127.0.0.1:8080 posts to http://127.0.0.1:8080/face-analyzer/v1/results)")
      ->type_name("BASE");
  app.add_option("--api-key", o.api_key,
                 "The API key itself (discouraged: other users can see it in ps; prefer the environment or "
                 "--api-key-file)")
      ->type_name("KEY");
  app.add_option("--api-key-file", o.api_key_file,
                 "Read the API key from the first line of FILE (mode 600) instead of the environment")
      ->type_name("FILE");
  app.add_option("--cacert", o.cacert, "Trust the CA certificates in FILE (PEM) for https")->type_name("FILE");
  auto* threshold = app.add_option("-t,--threshold", o.threshold,
                                   "Similarity at or above which the faces are the same person, in [0, 1] "
                                   "(default 0.8)")
                        ->check(number_in("a number from 0 to 1", 0.0, 1.0, true))
                        ->type_name("S");
  app.add_option("--half-distance", o.half_distance,
                 "The embedding distance a that scores 50% similarity, > 0 (default 1.23)")
      ->check(number_in("a number greater than 0", 0.0, 1e9, false))
      ->type_name("A");
  app.add_option("--face", face_name,
                 "Which face when an image has several: largest (default), first, or best "
                 "(the most similar pair)")
      ->check(one_of(k_policies))
      ->type_name("POLICY");
  app.add_option("--retries", o.retries, "Attempts after the first on network errors and HTTP 429/5xx (default 4)")
      ->check(number_in("a whole number from 0 to 100", 0.0, 100.0, true, true))
      ->type_name("N");
  app.add_option("--timeout", o.timeout_seconds,
                 "Give up after SECONDS in all, retries and waits included (default 60)")
      ->check(number_in("a number of seconds greater than 0", 0.0, 1e6, false))
      ->type_name("SECONDS");
  app.add_flag("--json", o.json, "Print one JSON object instead of text");
  app.add_flag("-q,--quiet", o.quiet, "Print nothing on success; the exit code tells the verdict");
  app.add_flag("-v,--verbose", o.verbose, "Log each HTTP attempt (status, duration, retry) on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    cmd.action = Command::Action::print_help;
    cmd.text = app.help();
    return cmd;
  } catch (const CLI::CallForAllHelp&) {
    cmd.action = Command::Action::print_help;
    cmd.text = app.help();
    return cmd;
  } catch (const CLI::CallForVersion&) {
    cmd.action = Command::Action::print_version;
    cmd.text = std::string("faceverify ") + k_version + "\n";
    return cmd;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return fail(ErrorKind::usage, what + " (see faceverify --help)");
  }
  if (o.images.size() != 2) {
    return fail(ErrorKind::usage, "expected two images, got " + std::to_string(o.images.size()) +
                                      " (usage: faceverify [OPTIONS] IMAGE1 IMAGE2)");
  }
  o.threshold_given = threshold->count() > 0;
  o.api = k_modes.at(api_name);
  o.backend = k_backends.at(backend_name);
  o.face = k_policies.at(face_name);
  if (o.quiet && o.verbose) return fail(ErrorKind::usage, "--quiet and --verbose contradict each other");
  if (o.api_key && o.api_key_file) return fail(ErrorKind::usage, "give --api-key or --api-key-file, not both");
  return cmd;
}

}  // namespace faceverify

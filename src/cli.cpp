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
  5  uncertain: with --uncertain-band W, the similarity is within W of the threshold
  130/143  interrupted by SIGINT/SIGTERM

Environment:
  API4AI_KEY          key for --api api4ai (sent as X-API-KEY)
  RAPIDAPI_KEY        key for --api rapidapi (sent as X-RapidAPI-Key)
  FACEVERIFY_BACKEND  api4ai or local, when --backend is not given
  FACEVERIFY_MODELS   the local backend's model directory, when --models is not given
  FACEVERIFY_THRESHOLD  the threshold, when -t is not given (before the config file)
  XDG_CONFIG_HOME     the config file is $XDG_CONFIG_HOME/faceverify/config.toml
                      (faceverify calibrate --write-config); option > environment > config
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
  faceverify me.jsonl b.jpg            # an embedding file (faceverify embed) stands for its image

Commands (faceverify COMMAND --help for each):
  embed IMAGE...                   analyse once; print an embedding file (JSON Lines) to reuse
  matrix IMAGE...                  the N x N similarity table (text, csv, json)
  search REFERENCE CANDIDATE...    rank candidates by similarity (or --gallery DIR)
  pairs FILE|-                     verify a CSV/TSV list of pairs; JSON Lines or CSV, --junit
  calibrate LABELLED               measure AUC, EER, TAR at FAR; choose and save a threshold
  cache stats|clear                the analysis cache of the batch commands
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

// Names chosen on the command line, mapped to enums after parsing.
struct Choices {
  std::string backend = "api4ai";
  std::string api = "demo";
  std::string face = "largest";
  std::string format;
  CLI::Option* threshold = nullptr;
  CLI::Option* half_distance_option = nullptr;
  CLI::Option* backend_option = nullptr;
};

const std::map<std::string, api4ai::Mode>& modes() {
  static const std::map<std::string, api4ai::Mode> m = {
      {"demo", api4ai::Mode::demo}, {"api4ai", api4ai::Mode::api4ai}, {"rapidapi", api4ai::Mode::rapidapi}};
  return m;
}
const std::map<std::string, FacePolicy>& policies() {
  static const std::map<std::string, FacePolicy> m = {
      {"largest", FacePolicy::largest}, {"first", FacePolicy::first}, {"best", FacePolicy::best}};
  return m;
}
const std::map<std::string, BackendKind>& backends() {
  static const std::map<std::string, BackendKind> m = {{"api4ai", BackendKind::api4ai},
                                                       {"local", BackendKind::local}};
  return m;
}
const std::map<std::string, OutputFormat>& table_formats() {
  static const std::map<std::string, OutputFormat> m = {
      {"text", OutputFormat::text}, {"csv", OutputFormat::csv}, {"json", OutputFormat::json}};
  return m;
}
const std::map<std::string, OutputFormat>& stream_formats() {
  static const std::map<std::string, OutputFormat> m = {
      {"jsonl", OutputFormat::jsonl}, {"json", OutputFormat::jsonl}, {"csv", OutputFormat::csv}};
  return m;
}

// Where faces are analysed and how the service is reached: every command
// that analyses images has these.
void add_backend_options(CLI::App& app, VerifyOptions& o, Choices& c) {
  c.backend_option = app.add_option("--backend", c.backend,
                 "Where faces are analysed: api4ai (default; photos are uploaded) or local (on this machine, "
                 "no network; env FACEVERIFY_BACKEND)")
      ->envname("FACEVERIFY_BACKEND")
      ->check(one_of(backends()))
      ->type_name("NAME");
  app.add_option("--models", o.models,
                 "Directory of the local backend's models (env FACEVERIFY_MODELS; default: where "
                 "scripts/install-models.sh puts them)")
      ->type_name("DIR");
  app.add_option("--api", c.api,
                 "Which service: demo (default; free, rate limited, no key), api4ai (API4AI_KEY), "
                 "rapidapi (RAPIDAPI_KEY)")
      ->check(one_of(modes()))
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
  app.add_option("--config", o.config_file,
                 "Read settings from FILE (default $XDG_CONFIG_HOME/faceverify/config.toml, written by "
                 "faceverify calibrate --write-config)")
      ->type_name("FILE");
  app.add_option("--retries", o.retries, "Attempts after the first on network errors and HTTP 429/5xx (default 4)")
      ->check(number_in("a whole number from 0 to 100", 0.0, 100.0, true, true))
      ->type_name("N");
}

// Similarity scoring: every command that compares faces has these.
void add_score_options(CLI::App& app, VerifyOptions& o, Choices& c) {
  c.threshold = app.add_option("-t,--threshold", o.threshold,
                               "Similarity at or above which the faces are the same person, in [0, 1] "
                               "(default 0.8)")
                    ->check(number_in("a number from 0 to 1", 0.0, 1.0, true))
                    ->type_name("S");
  c.half_distance_option = app.add_option("--half-distance", o.half_distance,
                                   "The embedding distance a that scores 50% similarity, > 0 (default 1.23)")
                        ->check(number_in("a number greater than 0", 0.0, 1e9, false))
                        ->type_name("A");
  app.add_option("--face", c.face,
                 "Which face when an image has several: largest (default), first, or best "
                 "(the most similar pair)")
      ->check(one_of(policies()))
      ->type_name("POLICY");
}

// An honest verdict near the threshold: commands with a per-pair decision.
void add_band_option(CLI::App& app, VerifyOptions& o) {
  app.add_option("--uncertain-band", o.uncertain_band,
                 "Call a result uncertain (exit 5, decision \"uncertain\") when its similarity is within W of "
                 "the threshold (off by default)")
      ->check(number_in("a number from 0 to 1", 0.0, 1.0, true))
      ->type_name("W");
}

void add_cache_dir_option(CLI::App& app, VerifyOptions& o) {
  app.add_option("--cache-dir", o.cache_dir,
                 "The analysis cache (default $XDG_CACHE_HOME/faceverify, else ~/.cache/faceverify)")
      ->type_name("DIR");
}

// The batch engine: concurrency, rate, cache, ordering, output stream.
void add_batch_options(CLI::App& app, VerifyOptions& o, bool streaming) {
  app.add_option("-j,--jobs", o.jobs, "Analyses in flight at once (default 4)")
      ->check(number_in("a whole number from 1 to 64", 1.0, 64.0, true, true))
      ->type_name("N");
  app.add_option("--max-rps", o.max_rps,
                 "Start at most R requests per second (your plan's limit); HTTP 429 slows every job down")
      ->check(number_in("a number of requests per second greater than 0", 0.0, 1e6, false))
      ->type_name("R");
  add_cache_dir_option(app, o);
  app.add_flag("--no-cache", o.no_cache, "Neither read nor write the analysis cache");
  app.add_option("--timeout", o.timeout_seconds,
                 "Give up on an image after SECONDS, retries and waits included (default 60)")
      ->check(number_in("a number of seconds greater than 0", 0.0, 1e6, false))
      ->type_name("SECONDS");
  if (streaming) {
    app.add_flag("--ordered", o.ordered, "Print results in input order (default: as they complete)");
  }
  app.add_flag("-q,--quiet", o.quiet, "No progress line and no summary on stderr (errors still show)");
  app.add_flag("-v,--verbose", o.verbose, "Log each HTTP attempt (status, duration, retry) on stderr");
}

constexpr const char* k_input_note =
    "IMAGE is a file, an http(s) URL or - (stdin), or an embedding file written by faceverify embed\n"
    "(all its images; reading it needs no network). Each distinct image is analysed once per run\n"
    "and cached (by SHA-256 of its bytes and the endpoint), so a rerun costs no request.";

constexpr const char* k_embed_footer = R"(Output: one JSON line per image (type "embedding": input, sha256, faces with box,
confidence, landmarks and embedding, backend, endpoint, service_version), or type "error"
for an image that failed. Format: docs/embedding-file.md.

Exit codes: 0 every image analysed; 3 an image has no face (its line has "faces": []);
  4 an image failed (service error; 4 wins over 3); 2 usage or input error (before any request);
  130/143 interrupted (every printed line is complete; the cache keeps what finished).

Examples:
  faceverify embed *.jpg > people.jsonl
  faceverify search new.jpg people.jsonl          # no upload for the people already embedded
  faceverify matrix people.jsonl                  # offline: the file holds every embedding
)";

constexpr const char* k_matrix_footer = R"(Output: text (an aligned table of similarities in %, short labels), csv (a header row of
inputs, one row per input, similarities in [0, 1]) or json (inputs, similarity and distance
matrices; see docs/batch-output.md). A cell of an image that failed is "-" (null in JSON).

Exit codes: 0 table complete; 3 an image has no face; 4 an image failed (4 wins over 3);
  2 usage or input error; 130/143 interrupted.

Examples:
  faceverify matrix a.jpg b.jpg c.jpg
  faceverify matrix --format csv photos/*.jpg > similarity.csv
)";

constexpr const char* k_search_footer = R"(Output: candidates ranked by similarity to the reference, each marked "match" when it
reaches the threshold: text, csv, or json (see docs/batch-output.md). Candidates without a
face are listed after the ranked ones as "no face"; failed ones as errors.

Exit codes: 0 at least one match; 1 no match; 5 (with --uncertain-band) no match but an uncertain
  candidate; 3 no face in the reference;
  4 an image failed at the service, 2 a candidate could not be read (errors outrank a verdict);
  2 usage or input error; 130/143 interrupted.

Examples:
  faceverify search suspect.jpg lineup/*.jpg --top 3
  faceverify search --gallery photos/ me.jpg
  faceverify embed photos/*.jpg > gallery.jsonl && faceverify search me.jpg gallery.jsonl
)";

constexpr const char* k_pairs_footer = R"(Input: one pair per line, image1,image2[,expected] (comma or tab separated, optional header,
# comments; expected is same or different). Relative paths are relative to the current
directory. Format: docs/pairs-file.md.

Output: one record per pair (verdict, similarity, distance, error) as JSON Lines (type "pair")
or CSV; a failing pair is reported and the run goes on. A summary goes to stderr.
--junit FILE also writes a JUnit XML report (a failure per contradicted pair, an error per
pair that could not be scored).

Exit codes: 0 every pair scored and as expected; 1 a verdict contradicted its expected label;
  5 (with --uncertain-band) a pair was uncertain; when a pair errored, the worst error's code
  wins over all of those: 4 service error, 3 no face, 2 bad row or unreadable image;
  2 also for a usage error or an unreadable pairs file (before any work); 130/143 interrupted.

Examples:
  faceverify pairs pairs.csv > results.jsonl
  faceverify pairs --junit faces.xml --format csv tests/pairs.tsv
  printf 'a.jpg,b.jpg,same\n' | faceverify pairs -
)";

constexpr const char* k_calibrate_footer = R"(Output: text, or --json (one object; its "threshold" is the chosen similarity threshold:
the --target-far one when given, else the best-accuracy cut; with "auc" and "eer"). Pairs whose
images have no face are left out and counted. FAR figures resting on too few impostor pairs are
flagged (at least 10 / FAR impostor pairs are needed for a meaningful figure).

Exit codes: 0 calibrated; 4 an image failed (service error; the figures use the rest);
  2 usage or input error (unreadable labels, no labelled pairs); 130/143 interrupted.

Examples:
  faceverify calibrate --backend local photos/              # photos/labels.csv: file,identity
  faceverify calibrate --target-far 0.001 --write-config pairs.csv
  faceverify calibrate --json --report calibration.html pairs.csv | jq .threshold
)";

constexpr const char* k_cache_footer = R"(The cache holds analysis results only (faces, boxes, embeddings), never keys or image
bytes: one file per image and endpoint (mode 600, directories 700). The batch commands
(embed, matrix, search, pairs) read and fill it; faceverify IMAGE1 IMAGE2 does not.

Examples:
  faceverify cache stats
  faceverify cache clear --cache-dir /tmp/fv-cache
)";

Command help_command(CLI::App& app) {
  Command cmd;
  cmd.action = Command::Action::print_help;
  cmd.text = app.help();
  return cmd;
}

// Runs CLI11 on argv, turning its exceptions into a Command or an Error;
// nullopt when parsing succeeded and the caller goes on.
std::optional<Expected<Command>> run_parser(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return help_command(app);
  } catch (const CLI::CallForAllHelp&) {
    return help_command(app);
  } catch (const CLI::CallForVersion&) {
    Command cmd;
    cmd.action = Command::Action::print_version;
    cmd.text = std::string("faceverify ") + k_version + "\n";
    return cmd;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    const std::string name = app.get_name();
    return Expected<Command>(fail(ErrorKind::usage, what + " (see " + name + " --help)"));
  }
  return std::nullopt;
}

Expected<void> finish_common(VerifyOptions& o, const Choices& c) {
  o.api = modes().at(c.api);
  o.backend = backends().at(c.backend);
  o.face = policies().at(c.face);
  o.threshold_given = c.threshold && c.threshold->count() > 0;
  o.half_distance_given = c.half_distance_option && c.half_distance_option->count() > 0;
  o.backend_given = c.backend_option && c.backend_option->count() > 0;
  if (o.quiet && o.verbose) return fail(ErrorKind::usage, "--quiet and --verbose contradict each other");
  if (o.api_key && o.api_key_file) return fail(ErrorKind::usage, "give --api-key or --api-key-file, not both");
  if (o.no_cache && o.cache_dir) return fail(ErrorKind::usage, "give --cache-dir or --no-cache, not both");
  return {};
}

Expected<Command> parse_verify(int argc, const char* const* argv) {
  Command cmd;
  VerifyOptions& o = cmd.verify;
  Choices c;
  CLI::App app{k_description, "faceverify"};
  app.footer(k_footer);
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", std::string("faceverify ") + k_version, "Print the version and exit");
  app.add_option("IMAGE", o.images,
                 "The two images: paths, http(s) URLs, - for stdin (one of them), or embedding files of one image")
      ->required()
      ->type_name("");
  add_backend_options(app, o, c);
  add_score_options(app, o, c);
  add_band_option(app, o);
  app.add_option("--timeout", o.timeout_seconds,
                 "Give up after SECONDS in all, retries and waits included (default 60)")
      ->check(number_in("a number of seconds greater than 0", 0.0, 1e6, false))
      ->type_name("SECONDS");
  app.add_flag("--json", o.json, "Print one JSON object instead of text");
  app.add_flag("-q,--quiet", o.quiet, "Print nothing on success; the exit code tells the verdict");
  app.add_flag("-v,--verbose", o.verbose, "Log each HTTP attempt (status, duration, retry) on stderr");
  if (auto early = run_parser(app, argc, argv)) return *early;
  if (o.images.size() != 2) {
    return fail(ErrorKind::usage, "expected two images, got " + std::to_string(o.images.size()) +
                                      " (usage: faceverify [OPTIONS] IMAGE1 IMAGE2)");
  }
  if (auto ok = finish_common(o, c); !ok) return std::unexpected(ok.error());
  return cmd;
}

Expected<Command> parse_cache(int argc, const char* const* argv) {
  Command cmd;
  VerifyOptions& o = cmd.verify;
  CLI::App app{"faceverify cache: inspect or empty the analysis cache of the batch commands.", "faceverify cache"};
  app.footer(k_cache_footer);
  app.get_formatter()->column_width(34);
  app.require_subcommand(1, 1);
  auto* stats = app.add_subcommand("stats", "Print the cache directory, its entries and their size");
  auto* clear = app.add_subcommand("clear", "Remove every cached analysis");
  for (auto* sub : {stats, clear}) add_cache_dir_option(*sub, o);
  stats->add_flag("--json", o.json, "Print one JSON object instead of text");
  if (auto early = run_parser(app, argc, argv)) return *early;
  cmd.action = stats->parsed() ? Command::Action::cache_stats : Command::Action::cache_clear;
  return cmd;
}

Expected<Command> parse_batch(const std::string& name, int argc, const char* const* argv) {
  Command cmd;
  VerifyOptions& o = cmd.verify;
  Choices c;
  CLI::App app{"", "faceverify " + name};
  app.get_formatter()->column_width(34);
  const bool streaming = name == "embed" || name == "pairs";
  const bool table = name == "matrix" || name == "search";
  if (name == "embed") {
    cmd.action = Command::Action::embed;
    app.description(
        "faceverify embed: analyse each image once and print its faces and embeddings as JSON Lines\n"
        "(an embedding file), to compare later with no network and no new upload.\n" +
        std::string(k_input_note));
    app.footer(k_embed_footer);
    app.add_option("IMAGE", o.inputs, "Images (files, URLs, -) or embedding files")->required()->type_name("");
    c.format = "jsonl";
  } else if (name == "matrix") {
    cmd.action = Command::Action::matrix;
    app.description(
        "faceverify matrix: the N x N similarity table of the faces in N images (N analyses, not N^2).\n" +
        std::string(k_input_note));
    app.footer(k_matrix_footer);
    app.add_option("IMAGE", o.inputs, "Images (files, URLs, -) or embedding files")->required()->type_name("");
  } else if (name == "search") {
    cmd.action = Command::Action::search;
    app.description("faceverify search: rank candidate images by similarity to a reference face.\n" +
                    std::string(k_input_note));
    app.footer(k_search_footer);
    app.add_option("REFERENCE", o.reference, "The face to look for (an image or an embedding file of one image)")
        ->required()
        ->type_name("");
    app.add_option("CANDIDATE", o.inputs, "Images or embedding files to rank")->type_name("");
    app.add_option("--gallery", o.gallery,
                   "Also rank every image under DIR (recursive; files that are not images are skipped)")
        ->type_name("DIR");
    app.add_option("--top", o.top, "Show only the K most similar candidates")
        ->check(number_in("a whole number of at least 1", 1.0, 1e9, true, true))
        ->type_name("K");
    add_band_option(app, o);
  } else if (name == "calibrate") {
    cmd.action = Command::Action::calibrate;
    app.description(
        "faceverify calibrate: measure your own operating point. Scores every labelled pair with the chosen\n"
        "backend and prints the genuine and impostor score distributions, AUC and EER, TAR at FAR 1%, 0.1%\n"
        "and 0.01%, and the best-accuracy cut, each with its threshold as a similarity and as a distance.");
    app.footer(k_calibrate_footer);
    app.add_option("LABELLED", o.labelled,
                   "A pairs file with same/different labels (see faceverify pairs --help), or a folder with a "
                   "labels.csv of file,identity rows (every pair of its photos is scored)")
        ->required()
        ->type_name("");
    app.add_option("--target-far", o.target_far,
                   "Choose the threshold that keeps the false accept rate at or below F (e.g. 0.001); "
                   "default: the best-accuracy cut")
        ->check(number_in("a rate greater than 0 and at most 1", 0.0, 1.0, false))
        ->type_name("F");
    app.add_option("--report", o.report, "Also write a self-contained HTML report (charts, worst pairs) to FILE")
        ->type_name("FILE");
    app.add_flag("--write-config", o.write_config,
                 "Save the chosen threshold, --half-distance and the backend to the config file (or --config "
                 "FILE), which later runs read");
    app.add_flag("--json", o.json, "Print one JSON object instead of text");
  } else {
    cmd.action = Command::Action::pairs;
    app.description(
        "faceverify pairs: verify every pair of a CSV/TSV list, for evaluation and CI.\n"
        "Each image of the list may be a file, an http(s) URL or an embedding file (faceverify embed;\n"
        "one of several images stands for all of them). Each distinct image is analysed once per run\n"
        "and cached, so a rerun costs no request.");
    app.footer(k_pairs_footer);
    app.add_option("FILE", o.pairs_file, "The pairs file, or - for standard input")->required()->type_name("");
    app.add_option("--junit", o.junit, "Also write a JUnit XML report to FILE")->type_name("FILE");
    add_band_option(app, o);
    c.format = "jsonl";
  }
  if (table) {
    c.format = "text";
    app.add_option("--format", c.format, "Output: text (default), csv or json")
        ->check(one_of(table_formats()))
        ->type_name("FORMAT");
  } else if (name == "pairs") {
    app.add_option("--format", c.format, "Output: jsonl (default; JSON Lines) or csv")
        ->check(one_of(stream_formats()))
        ->type_name("FORMAT");
  }
  if (name != "embed" && name != "calibrate") {
    app.add_flag("--json", o.json, name == "pairs" ? "Same as --format jsonl" : "Same as --format json");
  }
  add_backend_options(app, o, c);
  if (name != "embed") add_score_options(app, o, c);
  add_batch_options(app, o, streaming);
  if (auto early = run_parser(app, argc, argv)) return *early;
  if (auto ok = finish_common(o, c); !ok) return std::unexpected(ok.error());
  if (name == "calibrate") return cmd;
  o.format = table ? table_formats().at(c.format) : stream_formats().at(c.format);
  if (o.json) o.format = table ? OutputFormat::json : OutputFormat::jsonl;
  if (name == "search" && o.inputs.empty() && !o.gallery) {
    return fail(ErrorKind::usage,
                "search needs candidates: give CANDIDATE images or --gallery DIR (see faceverify search --help)");
  }
  return cmd;
}

}  // namespace

namespace {

// Values given to --api-key, so no parser message can echo them (e.g. "The
// following arguments were not expected: <key>" for a command without it).
std::vector<std::string> secrets_in(int argc, const char* const* argv) {
  std::vector<std::string> secrets;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--api-key" && i + 1 < argc) secrets.emplace_back(argv[i + 1]);
    if (arg.starts_with("--api-key=")) secrets.emplace_back(arg.substr(10));
  }
  return secrets;
}

Expected<Command> parse_any(int argc, const char* const* argv) {
  if (argc >= 2) {
    const std::string first = argv[1];
    // The command's name becomes its parser's program name.
    if (first == "embed" || first == "matrix" || first == "search" || first == "pairs" || first == "calibrate") {
      return parse_batch(first, argc - 1, argv + 1);
    }
    if (first == "cache") return parse_cache(argc - 1, argv + 1);
  }
  return parse_verify(argc, argv);
}

}  // namespace

Expected<Command> parse_command_line(int argc, const char* const* argv) {
  auto cmd = parse_any(argc, argv);
  if (!cmd) {
    for (const auto& secret : secrets_in(argc, argv)) {
      if (!secret.empty()) cmd.error().message = api4ai::redact(cmd.error().message, secret);
    }
  }
  return cmd;
}

}  // namespace faceverify

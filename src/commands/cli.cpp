// SPDX-License-Identifier: MIT
// The command line: the option groups the commands share, and the parser
// that picks a command from the table and lets it bind its options.
#include "commands/cli.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "commands/commands.hpp"
#include "faceverify/config.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/text.hpp"
#include "faceverify/version.hpp"

namespace faceverify::commands {
namespace {

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
  static const std::map<std::string, BackendKind> m = {{"api4ai", BackendKind::api4ai}, {"local", BackendKind::local}};
  return m;
}
const std::map<std::string, local::DecodeMode>& decode_modes() {
  static const std::map<std::string, local::DecodeMode> m = {{"scaled", local::DecodeMode::scaled},
                                                             {"full", local::DecodeMode::full}};
  return m;
}
const std::map<std::string, OutputFormat>& table_formats() {
  static const std::map<std::string, OutputFormat> m = {
      {"text", OutputFormat::text}, {"csv", OutputFormat::csv}, {"json", OutputFormat::json}};
  return m;
}

}  // namespace

const char* const k_input_note =
    "IMAGE is a file, an http(s) URL or - (stdin), or an embedding file written by faceverify embed\n"
    "(all its images; reading it needs no network). Each distinct image is analysed once per run\n"
    "and cached (by SHA-256 of its bytes and the endpoint), so a rerun costs no request.";

std::vector<std::string> option_choices(CLI::Option& opt) {
  for (int i = 0;; ++i) {
    const CLI::Validator* v = nullptr;
    try {
      v = opt.get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      return {};  // past the last validator
    }
    std::string_view name = v->get_name();
    if (!name.starts_with(k_one_of_prefix)) continue;
    name.remove_prefix(k_one_of_prefix.size());
    std::vector<std::string> choices;
    while (!name.empty()) {
      const std::size_t space = std::min(name.find(' '), name.size());
      choices.emplace_back(name.substr(0, space));
      name.remove_prefix(std::min(space + 1, name.size()));
    }
    return choices;
  }
}

CLI::Validator number_in(std::string what, double low, double high, bool inclusive_low, bool whole) {
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

namespace {

// A threshold in [0, 1]; a percentage (-t 80) gets the fraction it meant.
CLI::Validator threshold_value() {
  const CLI::Validator in_range = number_in("a number from 0 to 1", 0.0, 1.0, true);
  return CLI::Validator(
      [in_range](std::string& value) -> std::string {
        std::string message = in_range(value);
        if (message.empty()) return message;
        char* end = nullptr;
        const double x = std::strtod(value.c_str(), &end);
        if (!value.empty() && end == value.c_str() + value.size()) {
          if (const auto hint = percent_threshold_hint(x)) return "'" + value + "': " + *hint;
        }
        return message;
      },
      "");
}

}  // namespace

void add_service_options(CLI::App& app, ServiceOptions& o) {
  // FACEVERIFY_BACKEND is read by resolve_settings, after the API options:
  // the one place of the backend's precedence.
  app.add_option("--backend", o.backend,
                 "Where faces are analysed: api4ai (photos are uploaded) or local (on this machine, no "
                 "network). Default: api4ai when --api, --api-url, --api-key or --api-key-file is given, else "
                 "FACEVERIFY_BACKEND, else the config file's backend, else api4ai")
      ->transform(one_of(backends()))
      ->type_name("NAME");
  app.add_option("--models", o.models,
                 "Directory of the local backend's models (env FACEVERIFY_MODELS; default: where "
                 "faceverify-install-models puts them, yours or /var/lib/faceverify/models)")
      ->type_name("DIR");
  add_decode_option(app, o.decode);
  app.add_option("--api", o.api,
                 "Which service: demo (default; free, rate limited, no key), api4ai (API4AI_KEY), "
                 "rapidapi (RAPIDAPI_KEY)")
      ->transform(one_of(modes()))
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

void add_scoring_options(CLI::App& app, ScoringOptions& o) {
  app.add_option("-t,--threshold", o.threshold,
                 "Similarity at or above which the faces are the same person, in [0, 1] (default 0.8)")
      ->check(threshold_value())
      ->type_name("S");
  app.add_option("--half-distance", o.half_distance,
                 "The embedding distance a that scores 50% similarity, > 0 (default 1.23)")
      ->check(number_in("a number greater than 0", 0.0, 1e9, false))
      ->type_name("A");
  app.add_option("--face", o.face,
                 "Which face when an image has several: largest (default), first, or best "
                 "(the most similar pair)")
      ->transform(one_of(policies()))
      ->type_name("POLICY");
}

void add_band_option(CLI::App& app, ScoringOptions& o) {
  app.add_option("--uncertain-band", o.uncertain_band,
                 "Call a result uncertain (exit 5, decision \"uncertain\") when its similarity is within W of "
                 "the threshold, in absolute terms (0.1: within 10.0 percentage points; off by default)")
      ->check(number_in("a number from 0 to 1", 0.0, 1.0, true))
      ->type_name("W");
}

void add_decode_option(CLI::App& app, local::DecodeMode& mode) {
  app.add_option("--decode", mode,
                 "How the local backend decodes images: full (default; every pixel decoded: pipeline 1) or "
                 "scaled (faces found on a reduced JPEG or WebP decode, each aligned from enough pixels: less "
                 "CPU and memory on large photos, pipeline 2, but similarities move by up to about 0.07)")
      ->transform(one_of(decode_modes()))
      ->type_name("MODE");
}

void add_cache_dir_option(CLI::App& app, std::optional<std::string>& dir) {
  app.add_option("--cache-dir", dir,
                 "The analysis cache (default $XDG_CACHE_HOME/faceverify, else ~/.cache/faceverify)")
      ->type_name("DIR");
}

void add_gallery_option(CLI::App& app, std::optional<std::string>& gallery) {
  app.add_option("--gallery", gallery,
                 "Also take every image under DIR (recursive, sorted; files that are not images are skipped "
                 "with a count, a folder or file that cannot be read is an error)")
      ->type_name("DIR");
}

void add_batch_options(CLI::App& app, BatchOptions& o, bool streaming) {
  app.add_option("-j,--jobs", o.jobs, "Analyses in flight at once (default 4)")
      ->check(number_in("a whole number from 1 to 64", 1.0, 64.0, true, true))
      ->type_name("N");
  app.add_option("--max-rps", o.max_rps,
                 "Start at most R requests per second (your plan's limit); HTTP 429 slows every job down")
      ->check(number_in("a number of requests per second greater than 0", 0.0, 1e6, false))
      ->type_name("R");
  add_cache_dir_option(app, o.cache_dir);
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

void add_table_format_options(CLI::App& app, OutputFormat& format) {
  app.add_option("--format", format, "Output: text (default), csv or json")
      ->transform(one_of(table_formats()))
      ->type_name("FORMAT");
  // Defined after --format, so its callback runs last: --json wins.
  app.add_flag_callback(
      "--json", [&format] { format = OutputFormat::json; }, "Same as --format json");
}

Expected<void> check_options(const ServiceOptions& service, const BatchOptions* batch) {
  if (batch && batch->quiet && batch->verbose) {
    return fail(ErrorKind::usage, "--quiet and --verbose contradict each other");
  }
  if (service.api_key && service.api_key_file) {
    return fail(ErrorKind::usage, "give --api-key or --api-key-file, not both");
  }
  if (batch && batch->no_cache && batch->cache_dir) {
    return fail(ErrorKind::usage, "give --cache-dir or --no-cache, not both");
  }
  return {};
}

BackendSettings backend_settings(const ServiceOptions& service, double timeout_seconds, bool verbose) {
  BackendSettings s;
  s.kind = service.kind;
  s.models = service.models;
  s.decode = service.decode;
  s.api = service.api.value_or(api4ai::Mode::demo);
  s.api_url = service.api_url;
  s.api_key_file = service.api_key_file;
  s.api_key = service.api_key;
  s.cacert = service.cacert;
  s.retries = service.retries;
  s.timeout_seconds = timeout_seconds;
  s.verbose = verbose;
  return s;
}

namespace {

template <typename T>
CommandOptions make() {
  return T{};
}

constexpr CommandSpec k_commands[] = {
    {"", "IMAGE1 IMAGE2", "are these two photos the same person?", &make<VerifyOptions>},
    {"embed", "embed IMAGE...", "analyse once; print an embedding file (JSON Lines) to reuse", &make<EmbedOptions>},
    {"matrix", "matrix IMAGE...", "the N x N similarity table (text, csv, json)", &make<MatrixOptions>},
    {"search", "search REFERENCE CANDIDATE...", "rank candidates by similarity (or --gallery DIR)",
     &make<SearchOptions>},
    {"pairs", "pairs FILE|-", "verify a CSV/TSV list of pairs; JSON Lines or CSV, --junit", &make<PairsOptions>},
    {"calibrate", "calibrate LABELLED", "measure AUC, EER, TAR at FAR; choose and save a threshold",
     &make<CalibrateOptions>},
    {"index", "index build|add|info|export", "gallery files: embeddings stored for fast search at scale",
     &make<IndexOptions>},
    {"cache", "cache stats|clear", "the analysis cache of the batch commands", &make<CacheOptions>},
    {"serve", "serve [--listen HOST:PORT]", "a self-hosted Face Analyzer: the local backend over the API4AI protocol",
     &make<ServeOptions>},
};

// Values given to --api-key, so no parser message can echo them (e.g. "The
// following arguments were not expected: <key>" for a command without it).
std::vector<std::string> secrets_in(int argc, const char* const* argv) {
  constexpr std::string_view k_option = "--api-key";
  std::vector<std::string> secrets;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == k_option && i + 1 < argc) secrets.emplace_back(argv[i + 1]);
    if (arg.starts_with(k_option) && arg.size() > k_option.size() && arg[k_option.size()] == '=') {
      secrets.emplace_back(arg.substr(k_option.size() + 1));
    }
  }
  return secrets;
}

// Every secret, and every line of a secret that spans lines, redacted.
std::string redact_all(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    text = api4ai::redact(std::move(text), secret);
    for (std::size_t start = 0; start < secret.size();) {
      const std::size_t end = std::min(secret.find_first_of("\r\n", start), secret.size());
      if (end > start) text = api4ai::redact(std::move(text), std::string_view(secret).substr(start, end - start));
      start = end + 1;
    }
  }
  return text;
}

// The names of the commands, "help" included.
std::vector<std::string_view> command_names() {
  std::vector<std::string_view> names;
  for (const auto& c : command_table()) {
    if (!c.name.empty()) names.push_back(c.name);
  }
  names.push_back("help");
  return names;
}

// "stats and clear", "embed, matrix, ... and cache".
std::string word_list(const std::vector<std::string_view>& names, std::string_view conjunction = "and") {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " " + std::string(conjunction) + " " : ", ";
    text += names[i];
  }
  return text;
}

// "(did you mean embed?)", or the whole list when nothing is near.
std::string suggestion(std::string_view word, const std::vector<std::string_view>& names, std::string_view what) {
  if (const auto near = nearest(word, names)) return "did you mean " + std::string(*near) + "?";
  return "the " + std::string(what) + " are " + word_list(names);
}

// A first argument that is a mistyped command, not an image: no file or
// directory of that name, nothing of a path or URL about it (no '/', '.' or
// ':'), and a command name within typo distance. `faceverify IMG1 IMG2`
// stays the default command for anything else.
std::optional<std::string_view> mistyped_command(std::string_view arg) {
  if (arg.empty() || arg.front() == '-' || arg.find_first_of("/.:\\") != std::string_view::npos) return std::nullopt;
  std::error_code ec;
  if (std::filesystem::symlink_status(std::filesystem::path(arg), ec).type() != std::filesystem::file_type::not_found) {
    return std::nullopt;
  }
  return nearest(arg, command_names());
}

// Every option name `app` and its subcommands accept, without dashes.
void option_names(const CLI::App& app, std::vector<std::string>& longs, std::vector<std::string>& shorts) {
  for (const CLI::Option* opt : app.get_options()) {
    longs.insert(longs.end(), opt->get_lnames().begin(), opt->get_lnames().end());
    shorts.insert(shorts.end(), opt->get_snames().begin(), opt->get_snames().end());
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    option_names(*sub, longs, shorts);
  }
}

// The first argument that looks like an option but is none of `app`'s, named
// with the nearest of its own options: "unknown option --treshold; did you
// mean --threshold?".
std::optional<std::string> unknown_option(const CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::string> longs, shorts;
  option_names(app, longs, shorts);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.starts_with("--") && arg.size() > 2) {
      const std::string_view name =
          arg.substr(2, arg.find('=') == std::string_view::npos ? arg.npos : arg.find('=') - 2);
      if (std::find(longs.begin(), longs.end(), name) != longs.end()) continue;
      const std::vector<std::string_view> candidates(longs.begin(), longs.end());
      const auto near = nearest(name, candidates);
      return "unknown option --" + display_name(name) + (near ? "; did you mean --" + std::string(*near) + "?" : "");
    }
    if (arg.size() > 1 && arg.front() == '-' && arg[1] != '-' && !std::isdigit(static_cast<unsigned char>(arg[1])) &&
        arg[1] != '.') {
      if (std::find(shorts.begin(), shorts.end(), arg.substr(1, 1)) == shorts.end()) {
        return "unknown option -" + display_name(arg.substr(1, 1));
      }
    }
  }
  return std::nullopt;
}

// For a command made of subcommands (cache): a missing or unknown one, named
// with the valid ones.
std::optional<std::string> subcommand_problem(const CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::string_view> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  if (names.empty()) return std::nullopt;
  std::string_view command = app.get_name();  // "faceverify cache": the line already starts with "faceverify: "
  if (const auto space = command.rfind(' '); space != std::string_view::npos) command.remove_prefix(space + 1);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("-")) continue;
    if (std::find(names.begin(), names.end(), arg) != names.end()) return std::nullopt;
    return std::string(command) + ": unknown subcommand '" + display_name(arg) + "' (" +
           suggestion(arg, names, "subcommands") + ")";
  }
  return std::string(command) + " needs a subcommand: " + word_list(names, "or");
}

Expected<Invocation> parse_any(int argc, const char* const* argv, const std::vector<std::string>& secrets);

// faceverify help [COMMAND]: exactly the text of --help and COMMAND --help.
Expected<Invocation> help_command(int argc, const char* const* argv, const std::vector<std::string>& secrets) {
  if (argc > 3) return fail(ErrorKind::usage, "usage: faceverify help [COMMAND]");
  if (argc == 3) {
    const std::string_view name = argv[2];
    const auto names = command_names();
    if (name == "help" || std::find(names.begin(), names.end(), name) == names.end()) {
      std::vector<std::string_view> commands(names.begin(), names.end() - 1);  // without "help"
      return fail(ErrorKind::usage, "help: unknown command '" + display_name(name) + "' (" +
                                        suggestion(name, commands, "commands") + ")");
    }
    const char* const args[] = {argv[0], argv[2], "--help"};
    return parse_any(3, args, secrets);
  }
  const char* const args[] = {argv[0], "--help"};
  return parse_any(2, args, secrets);
}

Expected<Invocation> parse_any(int argc, const char* const* argv, const std::vector<std::string>& secrets) {
  const CommandSpec* spec = &k_commands[0];
  if (argc >= 2) {
    for (const auto& c : command_table()) {
      if (!c.name.empty() && argv[1] == c.name) spec = &c;
    }
    // "help" is a command unless it names a file (faceverify help photo.jpg);
    // with a file named help, "help embed" still asks for help when embed is
    // a command and not a file too.
    std::error_code ec;
    const auto is_file = [&](const char* name) { return std::filesystem::exists(name, ec); };
    const auto is_command = [&](std::string_view name) {
      const auto names = command_names();
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    if (spec->name.empty() && std::string_view(argv[1]) == "help" &&
        (argc <= 2 || !is_file(argv[1]) || (argc == 3 && is_command(argv[2]) && !is_file(argv[2])))) {
      return help_command(argc, argv, secrets);
    }
    if (spec->name.empty()) {
      if (const auto near = mistyped_command(argv[1])) {
        return fail(ErrorKind::usage,
                    "unknown command '" + display_name(argv[1]) + "' (did you mean " + std::string(*near) + "?)");
      }
    }
  }
  const bool named = !spec->name.empty();
  // A named command's parser sees argv from its name on, so the name becomes
  // its program name in messages and help.
  const int sub_argc = named ? argc - 1 : argc;
  const char* const* sub_argv = named ? argv + 1 : argv;
  Invocation inv{spec->make(), std::nullopt};
  CLI::App app{"", named ? "faceverify " + std::string(spec->name) : "faceverify"};
  app.get_formatter()->column_width(34);
  std::visit([&](auto& o) { setup(app, o); }, inv.options);
  try {
    app.parse(sub_argc, sub_argv);
  } catch (const CLI::CallForHelp&) {
    inv.text = app.help();
    return inv;
  } catch (const CLI::CallForAllHelp&) {
    inv.text = app.help();
    return inv;
  } catch (const CLI::CallForVersion&) {
    inv.text = std::string("faceverify ") + k_version + "\n";
    return inv;
  } catch (const CLI::ParseError& e) {
    // Redacted before it is cut to one line, so no part of a key with a
    // line break in it survives.
    std::string what = redact_all(e.what(), secrets);
    if (auto problem = subcommand_problem(app, sub_argc, sub_argv)) {
      what = std::move(*problem);
    } else if (auto unknown = unknown_option(app, sub_argc, sub_argv)) {
      what = std::move(*unknown);
    }
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return fail(ErrorKind::usage, what + " (see " + app.get_name() + " --help)");
  }
  if (auto ok = std::visit([](auto& o) { return finish(o); }, inv.options); !ok) {
    return std::unexpected(ok.error());
  }
  return inv;
}

}  // namespace

std::span<const CommandSpec> command_table() {
  return k_commands;
}

Expected<Invocation> parse_command_line(int argc, const char* const* argv) {
  const auto secrets = secrets_in(argc, argv);
  for (const auto& secret : secrets) register_secret(secret);
  auto inv = parse_any(argc, argv, secrets);
  if (!inv) inv.error().message = redact_all(std::move(inv.error().message), secrets);
  return inv;
}

}  // namespace faceverify::commands

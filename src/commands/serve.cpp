// SPDX-License-Identifier: MIT
// faceverify serve: the local backend behind the API4AI Face Analyzer
// protocol (src/serve/), so any API4AI client works against this machine.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <mutex>
#include <thread>

#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/backend.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/http_client.hpp"
#include "faceverify/image.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/similarity.hpp"
#include "faceverify/version.hpp"
#include "serve/server.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(The server answers like the API4AI Face Analyzer, so API4AI clients work by changing only
their base URL: POST /face-analyzer/v1/results or /v1/results (multipart field `image`,
or `url` with --allow-url-fetch), ?embeddings=true for the 512-float vectors;
GET /face-analyzer/v1/version, /healthz, /readyz, /metrics (Prometheus), and / (a page
to compare two photos in a browser). Replies carry X-Faceverify-Models, which the
faceverify client records, so its embeddings count as the local backend's.

Keys: with --api-key-file (one key per line), every path but /, /healthz and /readyz
needs X-API-KEY or X-RapidAPI-Key. Without it anyone who can reach the address can use
the server: binding an address other than loopback without keys prints a warning.

It prints one line on stderr when ready, one access line per request (stderr or
--access-log FILE: no keys, no query strings, no image bytes), and on SIGINT or SIGTERM
stops accepting, finishes the requests already accepted (at most 10 s) and exits 0.
Exit status 2: a bad option, a port in use, missing models (run
faceverify-install-models).

--healthcheck asks a running server instead (GET /healthz at --listen; 0.0.0.0 and ::
are asked on loopback) and exits 0 when it answers 200, else 1: a container's HEALTHCHECK
without curl.

Examples:
  faceverify serve
  faceverify serve --listen 0.0.0.0:8080 --api-key-file /etc/faceverify/keys --workers 4
  curl -F image=@photo.jpg 'http://127.0.0.1:8080/v1/results?embeddings=true'
  faceverify --api-url http://127.0.0.1:8080 a.jpg b.jpg
See docs/serve.md for systemd, a reverse proxy with TLS, CI service containers and scaling.
)";

/// Where access lines go: stderr (through the diagnostics, which redact every
/// secret) or a file opened for appending.
class AccessLog {
 public:
  explicit AccessLog(Diagnostics& diag) : m_diag(diag) {}
  Expected<void> open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      return fail(ErrorKind::usage, "--access-log " + display_name(path) + ": " + std::strerror(errno));
    }
    m_fd = FileDescriptor(fd);
    return {};
  }
  void write(std::string_view line) {
    std::lock_guard lock(m_mutex);
    if (!m_fd.valid()) {
      m_diag.line(std::string(line));
      return;
    }
    std::string text = redact_secrets(std::string(line));  // as on stderr: a key sent in a path never shows
    text.push_back('\n');
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(m_fd.get(), p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not stop the server
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

 private:
  Diagnostics& m_diag;
  std::mutex m_mutex;
  FileDescriptor m_fd;
};

void ignore(int) {}

// --healthcheck: 0 when the server at `listen` answers /healthz with 200, 1
// otherwise (what a container's HEALTHCHECK expects), one line saying why.
int probe_health(const std::pair<std::string, int>& listen, Diagnostics& diag) {
  std::string host = listen.first;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  const std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(listen.second) + "/healthz";
  CurlOptions options;
  options.use_proxy = false;  // the server is ours, never behind the environment's proxy
  options.max_body_bytes = 64u * 1024u;
  options.user_agent = std::string("faceverify/") + k_version + " healthcheck";
  HttpRequest request;
  request.url = url;
  request.timeout = std::chrono::milliseconds(5000);
  request.connect_timeout = std::chrono::milliseconds(3000);
  const auto response = make_curl_client(std::move(options))->send(request);
  if (!response) {
    diag.line("serve --healthcheck: " + url + ": " + response.error().message);
    return 1;
  }
  if (response->status != 200) {
    diag.line("serve --healthcheck: " + url + " answered HTTP " + std::to_string(response->status));
    return 1;
  }
  return 0;
}

}  // namespace

void setup(CLI::App& app, ServeOptions& o) {
  app.description(
      "faceverify serve: a self-hosted Face Analyzer. Runs the local backend behind the API4AI HTTP protocol.");
  app.footer(k_footer);
  app.add_option("--listen", o.listen,
                 "Address and port to listen on (default 127.0.0.1:8080; :0 picks a free port, named in the "
                 "ready line; [::1]:8080 for IPv6)")
      ->type_name("HOST:PORT");
  app.add_option("--models", o.models, "Directory of the local backend's models (env FACEVERIFY_MODELS)")
      ->type_name("DIR");
  add_decode_option(app, o.decode);
  app.add_option("--workers", o.workers, "Analyses at once; networks for at most one per core (default: the cores)")
      ->check(number_in("a whole number from 1 to 256", 1.0, 256.0, true, true))
      ->type_name("N");
  app.add_option("--queue", o.queue,
                 "Images that may wait while every worker is busy; beyond it requests get 429 with Retry-After "
                 "(default 4 per worker; 0: none wait)")
      ->check(number_in("a whole number from 0 to 100000", 0.0, 100000.0, true, true))
      ->type_name("N");
  app.add_option("--api-key-file", o.api_key_file,
                 "Require a key: FILE (mode 600) holds the accepted keys, one per line (several allow rotation)")
      ->type_name("FILE");
  app.add_option("--max-body-mib", o.max_body_mib, "Largest request body in MiB; larger ones get 413 (default 16)")
      ->check(number_in("a whole number from 1 to 1024", 1.0, 1024.0, true, true))
      ->type_name("N");
  app.add_option("--access-log", o.access_log, "Append the access lines to FILE instead of stderr")->type_name("FILE");
  app.add_option("--cors-origin", o.cors_origin,
                 "Let pages from ORIGIN (e.g. https://app.example.com, or *) call the API from a browser")
      ->type_name("ORIGIN");
  app.add_flag("--allow-url-fetch", o.allow_url_fetch,
               "Accept `url` inputs: the server downloads them (http/https, bounded; public addresses only)");
  app.add_flag("--allow-private-urls", o.allow_private_urls,
               "With --allow-url-fetch, also fetch from loopback, private and link-local addresses");
  app.add_option("--request-timeout", o.request_timeout,
                 "Seconds a request may take to arrive, headers and body (default 60)")
      ->check(number_in("a whole number from 1 to 3600", 1.0, 3600.0, true, true))
      ->type_name("S");
  app.add_option("--max-connections", o.max_connections, "Open client connections at most (default 1000)")
      ->check(number_in("a whole number from 1 to 100000", 1.0, 100000.0, true, true))
      ->type_name("N");
  app.add_option("--max-connections-per-ip", o.max_connections_per_ip,
                 "Open connections from one address at most, so one client cannot take them all (default a quarter "
                 "of --max-connections; 0: no limit, e.g. behind a reverse proxy)")
      ->check(number_in("a whole number from 0 to 100000", 0.0, 100000.0, true, true))
      ->type_name("N");
  app.add_flag("-v,--verbose", o.verbose, "Say where the models were found");
  app.add_flag("--healthcheck", o.healthcheck,
               "Do not serve: exit 0 if the server at --listen answers GET /healthz with 200, else 1 (for a "
               "container's HEALTHCHECK)");
}

Expected<void> finish(ServeOptions& o) {
  auto listen = serve::parse_listen(o.listen);
  if (!listen) return std::unexpected(listen.error());
  if (o.healthcheck && listen->second == 0) {
    return fail(ErrorKind::usage, "--healthcheck needs the server's port in --listen (not :0)");
  }
  if (o.allow_private_urls && !o.allow_url_fetch) {
    return fail(ErrorKind::usage, "--allow-private-urls needs --allow-url-fetch (URL inputs are off without it)");
  }
  return {};
}

int run(ServeOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  const auto listen = serve::parse_listen(o.listen);
  if (!listen) return report_error(diag, listen.error());
  if (o.healthcheck) return probe_health(*listen, diag);

  serve::ServerSettings settings;
  settings.host = listen->first;
  settings.port = listen->second;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  settings.workers = o.workers ? static_cast<std::size_t>(*o.workers) : cores;
  if (o.queue) settings.queue = static_cast<std::size_t>(*o.queue);
  if (o.max_connections_per_ip) settings.max_connections_per_ip = static_cast<std::size_t>(*o.max_connections_per_ip);
  settings.max_body_bytes = static_cast<std::size_t>(o.max_body_mib) * 1024u * 1024u;
  settings.request_timeout = std::chrono::seconds(o.request_timeout);
  settings.max_connections = static_cast<std::size_t>(o.max_connections);
  settings.cors_origin = o.cors_origin;
  settings.version = k_version;
  if (o.api_key_file) {
    auto keys = serve::ApiKeys::read_file(*o.api_key_file);
    if (!keys) return report_error(diag, keys.error());
    settings.keys = std::move(*keys);
  }
  AccessLog log(diag);
  if (o.access_log) {
    if (auto opened = log.open(*o.access_log); !opened) return report_error(diag, opened.error());
  }
  settings.access_log = [&log](std::string_view line) { log.write(line); };

  // The local backend, its models loaded now: a server that cannot analyse
  // must not say it is ready.
  BackendSettings backend_settings;
  backend_settings.kind = BackendKind::local;
  backend_settings.models = o.models;
  backend_settings.decode = o.decode;
  backend_settings.verbose = o.verbose;
  backend_settings.workers = settings.workers;
  auto backend = open_backend(backend_settings, BackendRun{}, diag);
  if (!backend) return report_error(diag, backend.error());
  auto analyzer = (*backend)->analyzer();
  if (!analyzer) return report_error(diag, analyzer.error());
  settings.models_id = model_set_id((*backend)->provenance());
  settings.page.threshold = k_default_threshold;
  settings.page.half_distance = k_default_half_distance;
  settings.page.requires_key = settings.keys.required();
  settings.page.version = k_version;

  std::unique_ptr<serve::UrlFetcher> fetcher;
  if (o.allow_url_fetch) {
    serve::UrlFetchSettings fs;
    fs.allow_private = o.allow_private_urls;
    fs.max_bytes = settings.max_body_bytes;
    fetcher = serve::make_url_fetcher(fs);
    settings.url_fetcher = fetcher.get();
  }

  // SIGINT and SIGTERM are taken by sigwait below: blocked here, before any
  // thread starts, so every thread inherits the mask. A handler is installed
  // first because a signal ignored at start (a shell's `&`) is discarded.
  struct sigaction sa {};
  sa.sa_handler = ignore;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const bool exposed = !serve::is_loopback_host(settings.host) && !settings.keys.required();
  const std::string backend_label = "local backend";
  const std::size_t workers = settings.workers;
  auto server = serve::Server::start(**analyzer, std::move(settings));
  if (!server) {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    return report_error(diag, server.error());
  }
  if (exposed) {
    diag.line("warning: listening on " + listen->first +
              " without --api-key-file: anyone who can reach it can use this server");
  }
  diag.line("serving " + (*server)->url() + " (" + backend_label + ", " + std::to_string(workers) +
            (workers == 1 ? " worker)" : " workers)"));

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  diag.line(std::string("stopping (") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
            "): finishing the requests in progress; a second signal stops at once");
  // A second signal ends the process at once, as after a default signal.
  std::thread([&diag, stop_signals] {
    int again = 0;
    while (sigwait(&stop_signals, &again) != 0) {
    }
    diag.line("stopped at once: the requests in progress were dropped");
    ::_exit(128 + again);
  }).detach();
  (*server)->stop(std::chrono::seconds(10));
  diag.line("stopped");
  return 0;
}

}  // namespace faceverify::commands

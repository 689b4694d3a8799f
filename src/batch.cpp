// SPDX-License-Identifier: MIT
#include "faceverify/batch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "faceverify/interrupt.hpp"
#include "faceverify/retry.hpp"
#include "faceverify/version.hpp"

namespace faceverify {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string dedupe_key(const Image& image) {
  return image.source.kind == SourceKind::url ? "url " + image.source.spec : "sha256 " + image.sha256;
}

// The cache's payload for one analysis: an embedding record without input.
std::string cache_payload(const Subject& s) {
  EmbeddingRecord r;
  r.sha256 = s.sha256;
  r.analysis = *s.analysis;
  r.analysis.name.clear();
  r.provenance = s.provenance;
  r.service_version = s.service_version;
  r.tool_version = k_version;
  return render_embedding_record(r, EmbeddingEncoding::packed);
}

// A cached analysis, only if it parses strictly and is about these bytes.
bool load_cached(const cache::Cache& cache, const std::string& key, Subject& s) {
  const auto payload = cache.load(key);
  if (!payload) return false;
  auto records = parse_embedding_file(*payload, "cache");
  if (!records || records->size() != 1) return false;
  EmbeddingRecord& r = records->front();
  if (r.error || r.sha256 != s.sha256) return false;
  s.analysis = std::move(r.analysis);
  // Who made it then (a faceverify server behind the same URL, or not): the
  // entry says, whatever the server answers today.
  s.provenance = std::move(r.provenance);
  s.service_version = std::move(r.service_version);
  s.cached = true;
  return true;
}

}  // namespace

namespace {

// The records of an embedding file, counted without parsing them: one per
// non-blank line (parse_embedding_file refuses any other line).
std::size_t count_records(std::string_view text) {
  std::size_t n = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    if (text.substr(0, end).find_first_not_of(" \t\r") != std::string_view::npos) ++n;
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return n;
}

std::size_t add_image(std::vector<Subject>& subjects, std::unordered_map<std::string, std::size_t>& by_content,
                      Image image) {
  const auto [it, added] = by_content.emplace(dedupe_key(image), subjects.size());
  if (!added) return it->second;
  Subject s;
  s.input = image.source.kind == SourceKind::url ? display_name(image.source.spec) : image.source.spec;
  s.label = image.label;
  s.sha256 = image.sha256;
  s.image = std::move(image);
  subjects.push_back(std::move(s));
  return subjects.size() - 1;
}

}  // namespace

Expected<std::vector<std::size_t>> InputSet::add(const std::string& argument, int stdin_fd,
                                                 std::size_t max_image_bytes) {
  auto source = classify_image_argument(argument);
  if (!source) return std::unexpected(source.error());
  if (source->kind == SourceKind::stdin_stream) {
    if (stdin_used) return fail(ErrorKind::usage, "standard input (-) can be given only once");
    stdin_used = true;
  }
  if (source->kind == SourceKind::file && gallery::is_gallery_file(source->spec)) return add_gallery(argument);
  auto loaded = load_input(*source, stdin_fd, max_image_bytes);
  if (!loaded) return std::unexpected(loaded.error());
  named += loaded->embedding_text ? count_records(loaded->bytes) : 1;
  if (over_limit()) return std::vector<std::size_t>{};
  if (!loaded->embedding_text) {
    Entry e;
    e.input = loaded->source.kind == SourceKind::url ? display_name(argument) : argument;
    e.label = loaded->label;
    const std::size_t before = subjects.size();
    e.subject = add_image(subjects, by_content, std::move(*loaded));
    e.first_for_subject = subjects.size() > before;
    Subject& s = subjects[e.subject];
    s.max_bytes = max_image_bytes;
    // Hashed now, read again when analysed: memory stays flat however many
    // files. Only regular files can be read twice (not pipes, not /dev/fd/N).
    std::error_code ec;
    if (release_file_bytes && s.image->source.kind == SourceKind::file &&
        std::filesystem::is_regular_file(s.image->source.spec, ec)) {
      std::string().swap(s.image->bytes);
    }
    entries.push_back(std::move(e));
    return std::vector<std::size_t>{entries.size() - 1};
  }

  auto records = parse_embedding_file(loaded->bytes, loaded->label);
  if (!records) return std::unexpected(records.error());
  std::vector<std::size_t> indices;
  for (auto& r : *records) indices.push_back(add_record(std::move(r), loaded->label));
  return indices;
}

std::size_t InputSet::add_record(EmbeddingRecord r, const std::string& file_label) {
  Subject s;
  s.input = r.input;
  s.label = r.input.empty() ? file_label : display_name(r.input);
  s.sha256 = r.sha256;
  s.from_file = true;
  s.file = file_label;
  s.done = true;
  if (r.error) {
    s.analysis = std::unexpected(*r.error);
  } else {
    s.analysis = std::move(r.analysis);
  }
  s.provenance = std::move(r.provenance);
  s.service_version = std::move(r.service_version);
  subjects.push_back(std::move(s));
  entries.push_back(Entry{subjects.back().input, subjects.back().label, subjects.size() - 1, true});
  return entries.size() - 1;
}

Expected<std::vector<std::size_t>> InputSet::add_gallery(const std::string& argument) {
  auto file = gallery::Gallery::open(argument, display_name(argument));
  if (!file) return std::unexpected(file.error());
  named += (*file)->size();
  if (over_limit()) return std::vector<std::size_t>{};
  if (scan_galleries) {
    galleries.push_back(GalleryInput{argument, std::move(*file)});
    return std::vector<std::size_t>{};
  }
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < (*file)->size(); ++i) {
    auto r = (*file)->record(i);
    if (!r) return std::unexpected(r.error());
    indices.push_back(add_record(std::move(*r), (*file)->label()));
  }
  return indices;
}

std::vector<Error> InputSet::check_backend_reads(BackendKind kind) const {
  std::vector<Error> errors;
  for (const auto& s : subjects) {
    if (!s.image) continue;
    if (auto ok = check_source(kind, s.image->source, s.label); !ok) errors.push_back(ok.error());
  }
  return errors;
}

namespace {

// Two local provenances that are not comparable differ in their models.
bool other_model_set(const Provenance& a, const Provenance& b) {
  return a.backend == BackendKind::local && b.backend == BackendKind::local;
}

// Where a record's embedding came from: an embedding-file record, or a whole gallery.
struct Origin {
  const std::string& label;
  const Provenance& provenance;
  const std::string& file;  // the embedding or gallery file it came from
};

std::unexpected<Error> incomparable_records(const Origin& s, const Origin& first) {
  return fail(ErrorKind::usage, s.label + ": its embedding comes from " + describe(s.provenance) + ", " + first.label +
                                    "'s from " + describe(first.provenance) +
                                    (other_model_set(s.provenance, first.provenance)
                                         ? "; embeddings from different model sets cannot be compared"
                                         : "; they cannot be compared"));
}

std::unexpected<Error> incomparable_with_images(const Origin& record, const Provenance& images) {
  return fail(ErrorKind::usage, record.label + ": its embedding comes from " + describe(record.provenance) +
                                    " and cannot be compared with " + describe(images) +
                                    (other_model_set(record.provenance, images)
                                         ? " ones (embeddings from different model sets; embed the images again "
                                           "with the same models)"
                                         : " ones (use the same --backend, or embed the images again)"));
}

Origin origin(const Subject& s) {
  return {s.label, s.provenance, s.file};
}
Origin origin(const GalleryInput& g) {
  return {g.file->label(), g.file->info().provenance, g.file->label()};
}

// The local pipeline version of `p`, nullopt when not local or not known (a
// faceverify server's replies do not name theirs); not recorded: 1.
std::optional<int> pipeline_of(const Provenance& p) {
  if (p.backend != BackendKind::local) return std::nullopt;
  if (p.pipeline > 0) return p.pipeline;
  return p.server.empty() ? std::optional<int>(1) : std::nullopt;
}

// How far a similarity moved between local pipelines 1 and 2 on the
// evaluation photos (0.066; moving a photo by one pixel moves pipeline 1's by
// up to 0.11): tests/local/test_local_decode.cpp.
constexpr const char* k_pipeline_tolerance = "about 0.07";

}  // namespace

Expected<Provenance> InputSet::check_comparable_before_analysis(Backend& backend, Diagnostics* diag) const {
  const Provenance& own = backend.provenance();
  auto ok = check_comparable(own, diag);
  if (ok) return own;
  // Only a refused run asks: a faceverify server is known from its replies,
  // and this one GET is its version reply's.
  if (own.backend != BackendKind::api4ai) return std::unexpected(ok.error());
  const auto model_set = backend.served_model_set();
  if (!model_set) return std::unexpected(ok.error());
  Analysis probe;
  probe.model_set = *model_set;
  Provenance served = produced_by(own, probe);
  if (auto again = check_comparable(served, diag); !again) return std::unexpected(again.error());
  return served;
}

Expected<void> InputSet::check_comparable(const Provenance& backend, Diagnostics* diag) const {
  const bool analyses_images =
      std::any_of(subjects.begin(), subjects.end(), [](const Subject& s) { return !s.from_file; });
  std::vector<Origin> records;
  for (const Subject& s : subjects) {
    if (s.from_file) records.push_back(origin(s));
  }
  for (const GalleryInput& g : galleries) records.push_back(origin(g));
  for (const Origin& r : records) {
    if (analyses_images && !comparable(r.provenance, backend)) return incomparable_with_images(r, backend);
    if (!comparable(r.provenance, records.front().provenance)) return incomparable_records(r, records.front());
  }
  if (!diag) return {};
  // Comparable, but maybe from another pipeline version: one note, for the
  // first record that differs from the images (or from the first record).
  const std::optional<int> reference = analyses_images    ? pipeline_of(backend)
                                       : !records.empty() ? pipeline_of(records.front().provenance)
                                                          : std::nullopt;
  if (!reference) return {};
  for (const Origin& r : records) {
    const std::optional<int> version = pipeline_of(r.provenance);
    if (!version || *version == *reference) continue;
    diag->line("note: " + r.file + " was embedded by local pipeline " + std::to_string(*version) +
               (analyses_images ? ", this run uses " : ", " + records.front().file + " by ") +
               std::to_string(*reference) + "; scores may differ by up to " + k_pipeline_tolerance);
    break;
  }
  return {};
}

Expected<Provenance> InputSet::produced_provenance(const Provenance& fallback) const {
  const Subject* first = nullptr;
  for (const bool records : {false, true}) {
    for (const Subject& s : subjects) {
      if (s.from_file == records && s.done && s.analysis && !first) first = &s;
    }
  }
  if (!first && galleries.empty()) return fallback;
  const Origin head = first ? origin(*first) : origin(galleries.front());
  for (const Subject& s : subjects) {
    if (!s.done || !s.analysis || comparable(s.provenance, head.provenance)) continue;
    return s.from_file && first && !first->from_file ? incomparable_with_images(origin(s), head.provenance)
                                                     : incomparable_records(origin(s), head);
  }
  for (const GalleryInput& g : galleries) {
    if (comparable(g.file->info().provenance, head.provenance)) continue;
    return first && !first->from_file ? incomparable_with_images(origin(g), head.provenance)
                                      : incomparable_records(origin(g), head);
  }
  return head.provenance;
}

Expected<Comparison> compare_subjects(const Subject& a, const Subject& b, FacePolicy policy,
                                      const ScoreOptions& score) {
  // Checked before the run where it can be (check_comparable); a faceverify
  // server's model set only shows in its replies.
  if (!comparable(b.provenance, a.provenance)) return incomparable_records(origin(b), origin(a));
  auto c = compare(*a.analysis, a.label, *b.analysis, b.label, policy, score);
  if (!c && c.error().kind == ErrorKind::api_response && (a.from_file || b.from_file)) {
    // A record's embedding that does not fit: the file is wrong, not the service.
    Error e = c.error();
    e.kind = ErrorKind::input;
    e.message += " (embed both images again with the same backend)";
    return std::unexpected(std::move(e));
  }
  return c;
}

Expected<Analysis> analyse_subject(Subject& s, FaceAnalyzer& analyzer, Diagnostics* diag) {
  Image& image = *s.image;
  if (image.bytes.empty() && image.source.kind == SourceKind::file) {
    auto again = load_image(image.source, -1, s.max_bytes);
    if (!again) return std::unexpected(again.error());
    if (again->sha256 != s.sha256) {
      return fail(ErrorKind::input, s.label + ": the file changed while faceverify was running; run it again");
    }
    image.bytes = std::move(again->bytes);
  }
  auto result = analyzer.analyze(image);
  std::string().swap(image.bytes);
  if (result && diag) {
    for (const std::string& warning : result->warnings) diag->line("warning: " + s.label + ": " + warning);
    result->warnings.clear();
  }
  return result;
}

Expected<RunEnd> analyse_all(InputSet& inputs, Backend* backend, const EngineSettings& settings, Diagnostics& diag,
                             const std::function<void(std::size_t)>& on_done) {
  const auto started = SteadyClock::now();
  auto& subjects = inputs.subjects;
  const bool analyses_images = std::any_of(subjects.begin(), subjects.end(), [](const Subject& s) { return !s.done; });
  if (analyses_images && !backend) return fail(ErrorKind::internal, "no backend to analyse the images with");
  const std::string identity = backend ? cache_identity(backend->provenance()) : std::string();
  const auto& cancel = interrupted();

  // What the cache already knows costs nothing; only the rest needs the backend.
  std::vector<std::size_t> hits;
  std::vector<std::size_t> misses;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    Subject& s = subjects[i];
    if (s.done) continue;
    s.provenance = backend->provenance();
    if (settings.cache && !s.sha256.empty() && load_cached(*settings.cache, cache::make_key(s.sha256, identity), s)) {
      s.image->bytes = std::string();
      hits.push_back(i);
    } else {
      misses.push_back(i);
    }
  }
  FaceAnalyzer* analyzer = nullptr;
  std::optional<std::string> service_version;
  if (!misses.empty()) {
    auto opened = backend->analyzer();
    if (!opened) return std::unexpected(opened.error());
    analyzer = *opened;
    if (settings.want_service_version) service_version = backend->service_version();
  }

  std::size_t done = 0;
  std::size_t errors = 0;
  const std::size_t total = subjects.size();
  auto show_progress = [&] {
    if (settings.progress) diag.progress(progress_text(done, total, errors, Millis(ms_since(started))));
  };
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (cancel.load()) break;  // a large cached run stops at Ctrl-C too
    Subject& s = subjects[i];
    if (!s.from_file && !s.cached) continue;
    s.done = true;
    ++done;
    if (!s.analysis) ++errors;
    on_done(i);
  }
  show_progress();
  if (misses.empty() || cancel.load()) {
    diag.clear_progress();
    return cancel.load() ? RunEnd::interrupted : RunEnd::complete;
  }

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::size_t> finished;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> store_warned{false};
  auto work = [&] {
    for (;;) {
      if (cancel.load()) return;
      const std::size_t k = next.fetch_add(1);
      if (k >= misses.size()) return;
      Subject& s = subjects[misses[k]];
      const auto t0 = SteadyClock::now();
      Expected<Analysis> result = fail(ErrorKind::internal, "not analysed");
      try {
        result = analyse_subject(s, *analyzer, &diag);
      } catch (const std::bad_alloc&) {
        result = fail(ErrorKind::internal, s.label + ": out of memory (try fewer --jobs)");
      } catch (const std::exception& e) {
        result = fail(ErrorKind::internal, s.label + ": internal error: " + e.what() + " (please report this)");
      }
      if (!result && cancel.load()) return;  // cut short by the interruption: not a result
      s.elapsed_ms = ms_since(t0);
      if (result) s.provenance = produced_by(backend->provenance(), *result);
      s.analysis = std::move(result);
      s.service_version = service_version;
      // Failures are never cached: the next run tries again.
      if (s.analysis && settings.cache && !s.sha256.empty()) {
        auto stored = settings.cache->store(cache::make_key(s.sha256, identity), cache_payload(s));
        if (!stored && !store_warned.exchange(true)) {
          diag.line("warning: results are not being cached: " + stored.error().message);
        }
      }
      {
        std::lock_guard lock(mutex);
        finished.push_back(misses[k]);
      }
      wake.notify_one();
    }
  };

  std::vector<std::jthread> workers;
  const std::size_t n_workers =
      std::min<std::size_t>(static_cast<std::size_t>(std::max(1, settings.jobs)), misses.size());
  for (std::size_t w = 0; w < n_workers; ++w) {
    workers.emplace_back([&work] {
      block_interrupts_in_this_thread();
      work();
    });
  }

  std::size_t remaining = misses.size();
  while (remaining > 0 && !cancel.load()) {
    std::deque<std::size_t> batch;
    {
      std::unique_lock lock(mutex);
      wake.wait_for(lock, Millis(100), [&] { return !finished.empty(); });
      batch.swap(finished);
    }
    for (const std::size_t i : batch) {
      if (cancel.load()) break;
      Subject& s = subjects[i];
      s.done = true;
      --remaining;
      ++done;
      if (!s.analysis) ++errors;
      on_done(i);
    }
    show_progress();
  }
  workers.clear();  // joins; transfers in flight abort promptly on interruption
  diag.clear_progress();
  return cancel.load() ? RunEnd::interrupted : RunEnd::complete;
}

}  // namespace faceverify

// SPDX-License-Identifier: MIT
// faceverify embed: one embedding record per distinct image, streamed.
#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/interrupt.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer = R"(Output: one JSON line per image (type "embedding": input, sha256, faces with box,
confidence, landmarks and embedding, backend, endpoint, service_version), or type "error"
for an image that failed. Format: docs/embedding-file.md.

Exit codes: 0 every image analysed; 3 an image has no face (its line has "faces": []);
  4 an image failed (service error; 4 wins over 3); 2 usage or input error (before any request);
  2 also when standard output closed or failed before every record was written (stderr says
  how many are missing; 3 or 4 still wins for an image analysed by then); 130/143 interrupted (the cache keeps what finished).

Examples:
  faceverify embed *.jpg > people.jsonl
  faceverify embed --gallery photos/ > people.jsonl
  faceverify search new.jpg people.jsonl          # no upload for the people already embedded
  faceverify matrix people.jsonl                  # offline: the file holds every embedding
)";

}  // namespace

void setup(CLI::App& app, EmbedOptions& o) {
  app.description(
      "faceverify embed: analyse each image once and print its faces and embeddings as JSON Lines\n"
      "(an embedding file), to compare later with no network and no new upload.\n" +
      std::string(k_input_note));
  app.footer(k_footer);
  app.add_option("IMAGE", o.inputs, "Images (files, URLs, -) or embedding files")->type_name("");
  add_gallery_option(app, o.gallery);
  add_service_options(app, o.service);
  add_batch_options(app, o.batch, /*streaming=*/true);
}

Expected<void> finish(EmbedOptions& o) {
  if (o.inputs.empty() && !o.gallery) {
    return fail(ErrorKind::usage,
                "embed needs images: give IMAGE arguments or --gallery DIR (see faceverify embed --help)");
  }
  return check_options(o.service, &o.batch);
}

int run(EmbedOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, nullptr, diag); !ok) return report_error(diag, ok.error());
  InputSet inputs;
  BadInputs bad;
  std::vector<std::string> args = o.inputs;
  if (o.gallery) {
    const auto files = gallery_images(*o.gallery, diag, o.batch.quiet, bad);
    args.insert(args.end(), files.begin(), files.end());
  }
  add_inputs(inputs, args, o.service, io.stdin_fd, diag, bad);
  if (bad.count > 0) return bad.status.value();
  auto setup = prepare_batch(o.service, o.batch, inputs, diag, /*machine_output=*/true,
                             /*want_service_version=*/true);
  if (!setup) {
    return report_error(diag, setup.error());
  }

  ExitStatus status;
  bool writing = true;
  std::size_t written = 0;  // records on stdout
  std::size_t next = 0;     // --ordered: the next entry to print
  auto print = [&](std::size_t entry) {
    const Entry& e = inputs.entries[entry];
    const Subject& s = inputs.subjects[e.subject];
    // An input that was analysed reports its failure even once stdout is
    // gone: the lost output (2) must not hide a service error (4).
    if (s.analysis) {
      if (s.analysis->faces.empty()) {
        if (e.first_for_subject) diag.line(e.label + ": no face found in the image");
        status.note(exit_status::no_face);
      }
    } else {
      if (e.first_for_subject) diag.line(s.analysis.error().message);
      status.note(s.analysis.error().kind);
    }
    if (!writing) return;  // the reader went away: no more records
    writing = emit(io, render_embedding_record(embedding_record(inputs, entry)));
    if (writing) ++written;
  };
  std::vector<std::vector<std::size_t>> entries_of(inputs.subjects.size());
  for (std::size_t k = 0; k < inputs.entries.size(); ++k) entries_of[inputs.entries[k].subject].push_back(k);
  auto ended = analyse_all(inputs, setup->backend.get(), setup->engine, diag, [&](std::size_t subject) {
    if (o.batch.ordered) {
      while (next < inputs.entries.size() && inputs.subject_of(next).done) print(next++);
      return;
    }
    for (const std::size_t k : entries_of[subject]) print(k);
  });
  if (!ended) {
    return report_error(diag, ended.error());
  }
  // stdout is the data here: a closed one (even quietly, EPIPE) is lost
  // output (exit 2), and the user learns how much is missing.
  // (A write cut by SIGINT/SIGTERM is the interruption's: 130/143 says it.)
  if (!writing && interrupt_signal() == 0) {
    const std::size_t total = inputs.entries.size();
    const bool closed = !io.output_lost;  // EPIPE; any other failure was reported by emit
    diag.line(std::string(closed ? "standard output was closed: " : "standard output: ") +
              std::to_string(total - written) + " of " + std::to_string(total) +
              " embedding records were not written; the embedding file is incomplete");
    io.output_lost = true;
  }
  return status.value();
}

}  // namespace faceverify::commands

// SPDX-License-Identifier: MIT
// faceverify embed: one embedding record per distinct image, streamed.
#include "commands.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/version.hpp"

namespace faceverify::commands {

int embed(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd) {
  InputSet inputs;
  for (const auto& arg : o.inputs) {
    auto added = inputs.add(arg, stdin_fd, max_image_bytes(o));
    if (!added) {
      return report_error(diag, added.error());
    }
  }
  auto setup = prepare_batch(o, inputs, diag, /*want_service_version=*/true);
  if (!setup) {
    return report_error(diag, setup.error());
  }

  int status = exit_status::same;
  bool writing = true;
  std::size_t next = 0;  // --ordered: the next entry to print
  auto print = [&](std::size_t entry) {
    if (!writing) return;  // the reader went away: nothing more to say
    const Entry& e = inputs.entries[entry];
    const Subject& s = inputs.subjects[e.subject];
    EmbeddingRecord r;
    r.input = e.input;
    r.sha256 = s.sha256;
    r.provenance = s.provenance;
    r.service_version = s.service_version;
    r.tool_version = k_version;
    if (s.analysis) {
      r.analysis = *s.analysis;
      if (r.analysis.faces.empty()) {
        if (e.first_for_subject) diag.line(e.label + ": no face found in the image");
        status = std::max(status, exit_status::no_face);
      }
    } else {
      r.error = s.analysis.error();
      if (e.first_for_subject) diag.line(s.analysis.error().message);
      status = std::max(status, exit_code(s.analysis.error().kind));  // 4 outranks 3
    }
    if (writing) writing = emit(out, render_embedding_record(r), diag);
  };
  std::vector<std::vector<std::size_t>> entries_of(inputs.subjects.size());
  for (std::size_t k = 0; k < inputs.entries.size(); ++k) entries_of[inputs.entries[k].subject].push_back(k);
  auto ended = analyse_all(inputs, setup->backend.get(), setup->engine, diag, [&](std::size_t subject) {
    if (o.ordered) {
      while (next < inputs.entries.size() && inputs.subject_of(next).done) print(next++);
      return;
    }
    for (const std::size_t k : entries_of[subject]) print(k);
  });
  if (!ended) {
    return report_error(diag, ended.error());
  }
  if (*ended == RunEnd::interrupted) return interrupted_status(status);
  return status;
}

}  // namespace faceverify::commands

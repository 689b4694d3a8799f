// SPDX-License-Identifier: MIT
// faceverify matrix: N analyses, then the N x N table.
#include "commands.hpp"
#include "faceverify/interrupt.hpp"

namespace faceverify::commands {


int matrix(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd) {
  InputSet inputs;
  std::vector<std::size_t> order;  // entries, in argument order
  for (const auto& arg : o.inputs) {
    auto added = inputs.add(arg, stdin_fd, max_image_bytes(o));
    if (!added) {
      return report_error(diag, added.error());
    }
    order.insert(order.end(), added->begin(), added->end());
  }
  auto setup = analyse_inputs(o, inputs, diag);
  if (!setup) return setup.error();

  MatrixReport report;
  report.context = score_context(o, setup->provenance);
  int status = exit_status::same;
  for (const std::size_t i : order) {
    report.inputs.push_back(summarize(inputs, i));
    if (const auto& e = report.inputs.back().error; e && inputs.entries[i].first_for_subject) {
      diag.line(e->message);
      status = std::max(status, exit_code(e->kind));
    }
  }
  // Scores are symmetric: compute the upper triangle, mirror the rest.
  bool mismatch_reported = false;
  const std::size_t n = order.size();
  report.cells.assign(n, std::vector<std::optional<Comparison>>(n));
  for (std::size_t i = 0; i < n; ++i) {
    const Subject& a = inputs.subject_of(order[i]);
    if (!a.analysis || a.analysis->faces.empty()) continue;
    for (std::size_t j = i; j < n; ++j) {
      const Subject& b = inputs.subject_of(order[j]);
      if (!b.analysis || b.analysis->faces.empty()) continue;
      auto c = compare(*a.analysis, a.label, *b.analysis, b.label, o.face, report.context.score);
      if (!c) {
        if (!mismatch_reported) {
          mismatch_reported = true;
          diag.line(c.error().message);
          status = std::max(status, exit_code(c.error().kind));
        }
        continue;
      }
      report.cells[i][j] = *c;
      Comparison mirrored = *c;
      std::swap(mirrored.face1, mirrored.face2);
      report.cells[j][i] = mirrored;
    }
  }
  if (!emit(out, render_matrix(report, o.format), diag)) return interrupted_status(status);
  return status;
}

}  // namespace faceverify::commands

// SPDX-License-Identifier: MIT
// faceverify matrix: N analyses, then the N x N table.
#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/work_limits.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(Output: text (an aligned table of similarities in %, short labels), csv (a header row of
inputs, one row per input, similarities in [0, 1]) or json (inputs, similarity and distance
matrices; see docs/batch-output.md). A cell of an image that failed is "-" (null in JSON).

Exit codes: 0 table complete; 3 an image has no face; 4 an image failed (4 wins over 3);
  2 usage or input error; 130/143 interrupted.

Examples:
  faceverify matrix a.jpg b.jpg c.jpg
  faceverify matrix --format csv photos/*.jpg > similarity.csv
  faceverify matrix --gallery photos/
)";

}  // namespace

void setup(CLI::App& app, MatrixOptions& o) {
  app.description("faceverify matrix: the N x N similarity table of the faces in N images (N analyses, not N^2).\n" +
                  std::string(k_input_note));
  app.footer(k_footer);
  app.add_option("IMAGE", o.inputs, "Images (files, URLs, -) or embedding files")->type_name("");
  add_gallery_option(app, o.gallery);
  add_table_format_options(app, o.format);
  add_service_options(app, o.service);
  add_scoring_options(app, o.scoring);
  add_batch_options(app, o.batch, /*streaming=*/false);
}

Expected<void> finish(MatrixOptions& o) {
  if (o.inputs.empty() && !o.gallery) {
    return fail(ErrorKind::usage,
                "matrix needs images: give IMAGE arguments or --gallery DIR (see faceverify matrix --help)");
  }
  return check_options(o.service, &o.batch);
}

int run(MatrixOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, &o.scoring, diag); !ok) return report_error(diag, ok.error());
  InputSet inputs;
  inputs.entry_limit = k_max_matrix_inputs;  // past it, inputs are counted, not kept
  BadInputs bad;
  std::vector<std::string> args = o.inputs;
  if (o.gallery) {
    const auto files = gallery_images(*o.gallery, diag, o.batch.quiet, bad);
    args.insert(args.end(), files.begin(), files.end());
  }
  const auto order = add_inputs(inputs, args, o.service, io.stdin_fd, diag, bad);  // entries, in argument order
  // The table is held whole: refuse what would not fit before any request.
  if (auto ok = check_matrix_size(inputs.named); !ok) bad.note(diag, ok.error());
  if (bad.count > 0) return bad.status.value();
  auto setup = analyse_inputs(o.service, o.batch, inputs, diag, o.format != OutputFormat::text);
  if (!setup) return setup.error();

  MatrixReport report;
  report.context = score_context(o.scoring, setup->provenance);
  ExitStatus status;
  for (const std::size_t i : order) {
    report.inputs.push_back(summarize(inputs, i));
    if (const auto& e = report.inputs.back().error; e && inputs.entries[i].first_for_subject) {
      diag.line(e->message);
      status.note(e->kind);
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
      auto c = compare_subjects(a, b, o.scoring.face, report.context.score);
      if (!c) {
        if (!mismatch_reported) {
          mismatch_reported = true;
          diag.line(c.error().message);
          status.note(c.error().kind);
        }
        continue;
      }
      report.cells[i][j] = *c;
      Comparison mirrored = *c;
      std::swap(mirrored.face1, mirrored.face2);
      report.cells[j][i] = mirrored;
    }
  }
  emit(io, render_matrix(report, o.format));
  return status.value();
}

}  // namespace faceverify::commands

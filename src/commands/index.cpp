// SPDX-License-Identifier: MIT
// faceverify index build|add|info|export: gallery files (gallery_file.hpp).
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/gallery_file.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/output_guard.hpp"
#include "provenance_json.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(A gallery file holds the embeddings of many photos as one float32 matrix, with what search
output needs about each photo and the backend that made them (docs/gallery-file.md). search
scans it in place: a million faces in a fraction of a second, in about their size of memory.
Every command that reads an embedding file reads a gallery file too.

  build --out FILE INPUT...  a new gallery from images, embedding files or gallery files
  add FILE INPUT...          append to FILE (replaced whole, never left half written)
  info FILE                  what it holds (--json; --verify also checks the matrix)
  export FILE                print it as an embedding file (JSON Lines)

Exit codes (build, add): 0 every image analysed; 3 an image has no face; 4 an image failed (both
  are stored, as embed would print them, and the gallery is written); 2 usage or input error
  (nothing written); 130/143 interrupted (nothing written; the cache keeps what finished).
  info, export: 0, or 2 for a file that is not a sound gallery.

Examples:
  faceverify index build --out people.fvg --gallery photos/
  faceverify index build --out people.fvg people.jsonl      # from embed's output, no analysis
  faceverify index add people.fvg new/*.jpg
  faceverify search --top 5 suspect.jpg people.fvg
  faceverify index export people.fvg > people.jsonl
)";

std::string size_text(std::uint64_t bytes) {
  char buf[32];
  if (bytes < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(bytes) / 1e3);
  } else if (bytes < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(bytes) / 1e9);
  }
  return buf;
}

// build and add: analyse what needs it, then write every record, in
// argument order, to a new file that replaces `target` at the end.
int write_gallery(IndexOptions& o, Io& io, bool append) {
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, nullptr, diag); !ok) return report_error(diag, ok.error());
  // What is written: for add, a symbolic link is followed, so the gallery it
  // names is the one replaced (messages keep the name as given).
  std::string target = o.file;
  if (append) {
    std::error_code ec;
    const auto real = std::filesystem::canonical(o.file, ec);
    if (!ec) target = real.string();
    // Only a gallery file may be appended to (nothing else is ever rewritten).
    auto existing = gallery::Gallery::open(o.file, display_name(o.file));
    if (!existing) {
      Error e = existing.error();
      if (errno == ENOENT && !std::filesystem::exists(o.file)) {
        e.message = display_name(o.file) + ": no such gallery file (create it with faceverify index build --out " +
                    display_name(o.file) + ")";
      }
      return report_error(diag, e);
    }
    for (const auto& input : o.inputs) {
      if (std::filesystem::equivalent(input, o.file, ec)) {
        return report_error(diag, Error{ErrorKind::usage,
                                        display_name(input) + ": is the gallery being appended to; its records are "
                                                              "kept anyway (give only what to add)",
                                        {},
                                        false,
                                        {}});
      }
    }
    // Its folder must take the new file beside it, before any analysis.
    if (auto ok = check_outputs({PlannedOutput{"FILE", target, OutputKind::gallery}}, {}, -1); !ok) {
      return report_error(diag, ok.error());
    }
  }
  BadInputs bad;
  std::vector<std::string> args;
  if (append) args.push_back(o.file);  // its records come first, copied as they are
  args.insert(args.end(), o.inputs.begin(), o.inputs.end());
  if (o.gallery) {
    const auto files = gallery_images(*o.gallery, diag, o.batch.quiet, bad);
    args.insert(args.end(), files.begin(), files.end());
  }
  if (!append) {
    if (auto ok = check_outputs({PlannedOutput{"--out", o.file, OutputKind::gallery}}, args, -1); !ok) {
      return report_error(diag, ok.error());
    }
  }
  InputSet inputs;
  inputs.scan_galleries = true;  // gallery inputs are copied row by row, never decoded
  // What each argument stands for, in order: entries, or one gallery.
  struct Part {
    std::vector<std::size_t> entries;
    std::optional<std::size_t> gallery;
  };
  std::vector<Part> parts;
  for (const auto& arg : args) {
    const std::size_t galleries = inputs.galleries.size();
    Part p;
    p.entries = add_inputs(inputs, {arg}, o.service, io.stdin_fd, diag, bad);
    if (inputs.galleries.size() > galleries) p.gallery = galleries;
    parts.push_back(std::move(p));
  }
  if (bad.count > 0) return bad.status.value();
  auto setup = prepare_batch(o.service, o.batch, inputs, diag, /*machine_output=*/false,
                             /*want_service_version=*/true);
  if (!setup) return report_error(diag, setup.error());
  auto ended = analyse_all(inputs, setup->backend.get(), setup->engine, diag, [](std::size_t) {});
  if (!ended) return report_error(diag, ended.error());
  if (*ended == RunEnd::interrupted) return exit_status::service;  // final_status: 130/143; nothing written
  auto produced = inputs.produced_provenance(setup->provenance);
  if (!produced) return report_error(diag, produced.error());
  std::optional<std::string> service_version;
  for (const Subject& s : inputs.subjects) {
    if (s.service_version && !service_version) service_version = s.service_version;
  }
  if (!service_version && !inputs.galleries.empty())
    service_version = inputs.galleries.front().file->info().service_version;

  auto writer = gallery::Writer::create(target, *produced, service_version);
  if (writer && append) (*writer)->keep_mode_of(target);  // a gallery kept private stays private
  if (!writer) return report_error(diag, writer.error());
  ExitStatus status;
  for (const Part& p : parts) {
    if (p.gallery) {
      if (auto ok = (*writer)->add_all(*inputs.galleries[*p.gallery].file); !ok) return report_error(diag, ok.error());
      continue;
    }
    for (const std::size_t i : p.entries) {
      const Entry& e = inputs.entries[i];
      const Subject& s = inputs.subjects[e.subject];
      if (s.analysis) {
        if (s.analysis->faces.empty()) {
          if (e.first_for_subject && !s.from_file) diag.line(e.label + ": no face found in the image");
          if (!s.from_file) status.note(exit_status::no_face);
        }
      } else if (!s.from_file) {
        if (e.first_for_subject) diag.line(s.analysis.error().message);
        status.note(s.analysis.error().kind);
      }
      if (auto ok = (*writer)->add(embedding_record(inputs, i)); !ok) return report_error(diag, ok.error());
    }
  }
  if (interrupt_signal() != 0) return exit_status::service;
  const std::uint64_t records = (*writer)->records();
  if (auto ok = (*writer)->commit(); !ok) return report_error(diag, ok.error());
  if (!o.batch.quiet) {
    diag.line(display_name(o.file) + ": " + (append ? "now holds " : "written: ") + std::to_string(records) +
              (records == 1 ? " record" : " records"));
  }
  return status.value();
}

int info(const IndexOptions& o, Io& io) {
  auto g = gallery::Gallery::open(o.file, display_name(o.file));
  if (!g) return report_error(io.diag, g.error());
  const gallery::Gallery& file = **g;
  const gallery::Info& in = file.info();
  std::size_t no_face = 0, failed = 0;
  for (std::size_t i = 0; i < file.size(); ++i) {
    if (file.is_error(i)) {
      ++failed;
    } else if (file.row_count(i) == 0) {
      ++no_face;
    }
  }
  std::optional<bool> matrix_ok;
  int status = 0;
  if (o.verify) {
    auto ok = file.verify_matrix();
    matrix_ok = ok.has_value();
    if (!ok) {
      io.diag.line(ok.error().message);
      status = exit_code(ok.error().kind);
    }
  }
  std::string text;
  if (o.json) {
    nlohmann::ordered_json j;
    j["schema_version"] = 1;
    j["type"] = "gallery_info";
    j["file"] = o.file;
    j["format_version"] = gallery::k_format_version;
    j["records"] = in.records;
    j["faces"] = in.rows;
    j["no_face"] = no_face;
    j["errors"] = failed;
    j["dimension"] = in.dimension;
    j["bytes"] = in.file_size;
    j["checksum"] = "ok";
    j["matrix_checksum"] =
        matrix_ok ? nlohmann::ordered_json(*matrix_ok ? "ok" : "mismatch") : nlohmann::ordered_json("not checked");
    detail::add_provenance(j, in.provenance);
    if (in.provenance.backend != BackendKind::local) {
      j["service_version"] = in.service_version ? nlohmann::ordered_json(*in.service_version) : nullptr;
    }
    j["tool_version"] = in.tool_version;
    text = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  } else {
    text = "Gallery: " + display_name(o.file) + " (format " + std::to_string(gallery::k_format_version) + ", " +
           size_text(in.file_size) + ")\n";
    text += "Backend: " + describe(in.provenance);
    if (in.provenance.backend == BackendKind::local && in.provenance.pipeline > 0) {
      text += ", pipeline " + std::to_string(in.provenance.pipeline);
    }
    text += "\nRecords: " + std::to_string(in.records) + " (" + std::to_string(in.records - no_face - failed) +
            " with faces, " + std::to_string(no_face) + " without a face, " + std::to_string(failed) + " failed)\n";
    text += "Faces: " + std::to_string(in.rows) + " x " + std::to_string(in.dimension) + " float32\n";
    text += "Written by: faceverify " + (in.tool_version.empty() ? std::string("(unknown)") : in.tool_version) + "\n";
    text += std::string("Checksum: header and metadata ok; matrix ") +
            (matrix_ok ? (*matrix_ok ? "ok" : "MISMATCH") : "not checked (--verify)") + "\n";
  }
  emit(io, text);
  return status;
}

int export_records(const IndexOptions& o, Io& io) {
  auto g = gallery::Gallery::open(o.file, display_name(o.file));
  if (!g) return report_error(io.diag, g.error());
  std::string chunk;
  for (std::size_t i = 0; i < (*g)->size(); ++i) {
    auto r = (*g)->record(i);
    if (!r) {
      if (!chunk.empty()) emit(io, chunk);
      return report_error(io.diag, r.error());
    }
    chunk += render_embedding_record(*r);
    if (chunk.size() >= (1u << 20)) {
      if (!emit(io, chunk)) return exit_status::usage;
      chunk.clear();
    }
    if (interrupt_signal() != 0) return exit_status::service;
  }
  if (!chunk.empty()) emit(io, chunk);
  return 0;
}

}  // namespace

void setup(CLI::App& app, IndexOptions& o) {
  app.description(
      "faceverify index: build and read gallery files, the embeddings of many photos stored for\n"
      "fast search (faceverify search REFERENCE GALLERY.fvg) and reused by every command.");
  app.footer(k_footer);
  app.require_subcommand(1, 1);
  auto* build = app.add_subcommand("build", "Write a new gallery file from images, embedding files or galleries");
  auto* add = app.add_subcommand("add", "Append images, embedding files or galleries to a gallery file");
  auto* info = app.add_subcommand("info", "Describe a gallery file: backend, records, faces, size, checksums");
  auto* exp = app.add_subcommand("export", "Print a gallery file as an embedding file (JSON Lines)");
  build->add_option("--out", o.file, "The gallery file to write, required (replaced if it is one already)")
      ->type_name("FILE");
  add->add_option("FILE", o.file, "The gallery file to append to")->required()->type_name("");
  for (auto* sub : {build, add}) {
    sub->add_option("INPUT", o.inputs, "Images (files, URLs, -), embedding files or gallery files")->type_name("");
    add_gallery_option(*sub, o.gallery);
    add_service_options(*sub, o.service);
    add_batch_options(*sub, o.batch, /*streaming=*/false);
  }
  for (auto* sub : {info, exp}) sub->add_option("FILE", o.file, "A gallery file")->required()->type_name("");
  info->add_flag("--json", o.json, "Print one JSON object instead of text");
  info->add_flag("--verify", o.verify, "Also read the whole matrix and check its checksum");
  build->callback([&o] { o.action = IndexOptions::Action::build; });
  add->callback([&o] { o.action = IndexOptions::Action::add; });
  info->callback([&o] { o.action = IndexOptions::Action::info; });
  exp->callback([&o] { o.action = IndexOptions::Action::export_records; });
}

Expected<void> finish(IndexOptions& o) {
  using Action = IndexOptions::Action;
  if (o.action == Action::build && o.file.empty()) {
    return fail(ErrorKind::usage,
                "index build needs --out FILE, the gallery file to write (see faceverify index --help)");
  }
  if (o.action == Action::build || o.action == Action::add) {
    if (o.inputs.empty() && !o.gallery && o.action == Action::build) {
      return fail(ErrorKind::usage,
                  "index build needs inputs: give INPUT arguments or --gallery DIR (see faceverify index --help)");
    }
    return check_options(o.service, &o.batch);
  }
  return {};
}

int run(IndexOptions& o, Io& io) {
  switch (o.action) {
    case IndexOptions::Action::build: return write_gallery(o, io, false);
    case IndexOptions::Action::add: return write_gallery(o, io, true);
    case IndexOptions::Action::info: return info(o, io);
    case IndexOptions::Action::export_records: return export_records(o, io);
  }
  return exit_status::service;
}

}  // namespace faceverify::commands

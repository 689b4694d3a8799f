// SPDX-License-Identifier: MIT
// faceverify cache stats|clear.
#include <nlohmann/json.hpp>
#include <ostream>

#include "commands/cli.hpp"
#include "commands/commands.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(The cache holds analysis results only (faces, boxes, embeddings), never keys or image
bytes: one file per image and endpoint (mode 600, directories 700). The batch commands
(embed, matrix, search, pairs) read and fill it; faceverify IMAGE1 IMAGE2 does not.

Examples:
  faceverify cache stats
  faceverify cache clear --cache-dir /tmp/fv-cache
)";

Expected<cache::Cache> open_cache(const CacheOptions& o) {
  auto dir = o.cache_dir ? Expected<std::filesystem::path>(*o.cache_dir) : cache::default_directory();
  if (!dir) return std::unexpected(dir.error());
  return cache::Cache(*dir);
}

std::string size_text(std::uint64_t bytes) {
  char buf[32];
  if (bytes < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  }
  return buf;
}

int cache_stats(const CacheOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  auto c = open_cache(o);
  if (!c) {
    return report_error(diag, c.error());
  }
  auto stats = c->stats();
  if (!stats) {
    return report_error(diag, stats.error());
  }
  std::string text;
  if (o.json) {
    nlohmann::ordered_json j;
    j["schema_version"] = 1;
    j["type"] = "cache_stats";
    j["directory"] = stats->directory.string();
    j["entries"] = stats->entries;
    j["bytes"] = stats->bytes;
    text = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  } else {
    text = "Cache: " + stats->directory.string() + "\nEntries: " + std::to_string(stats->entries) +
           "\nSize: " + size_text(stats->bytes) + " (" + std::to_string(stats->bytes) + " bytes)\n";
  }
  emit(io, text);
  return 0;
}

int cache_clear(const CacheOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  auto c = open_cache(o);
  if (!c) {
    return report_error(diag, c.error());
  }
  auto removed = c->clear();
  if (!removed) {
    return report_error(diag, removed.error());
  }
  emit(io, "Removed " + std::to_string(*removed) + (*removed == 1 ? " entry" : " entries") + " from " +
               c->directory().string() + "\n");
  return 0;
}

}  // namespace

void setup(CLI::App& app, CacheOptions& o) {
  app.description("faceverify cache: inspect or empty the analysis cache of the batch commands.");
  app.footer(k_footer);
  app.require_subcommand(1, 1);
  auto* stats = app.add_subcommand("stats", "Print the cache directory, its entries and their size");
  auto* clear = app.add_subcommand("clear", "Remove every cached analysis");
  for (auto* sub : {stats, clear}) add_cache_dir_option(*sub, o.cache_dir);
  stats->add_flag("--json", o.json, "Print one JSON object instead of text");
  clear->callback([&o] { o.clear = true; });
}

Expected<void> finish(CacheOptions&) {
  return {};
}

int run(CacheOptions& o, Io& io) {
  return o.clear ? cache_clear(o, io) : cache_stats(o, io);
}

}  // namespace faceverify::commands

// SPDX-License-Identifier: MIT
// faceverify cache stats|clear.
#include <nlohmann/json.hpp>
#include <ostream>

#include "commands.hpp"

namespace faceverify::commands {
namespace {

Expected<cache::Cache> open_cache(const VerifyOptions& o) {
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

}  // namespace

int cache_stats(const VerifyOptions& o, std::ostream& out, Diagnostics& diag) {
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
  emit(out, text, diag);
  return 0;
}

int cache_clear(const VerifyOptions& o, std::ostream& out, Diagnostics& diag) {
  auto c = open_cache(o);
  if (!c) {
    return report_error(diag, c.error());
  }
  auto removed = c->clear();
  if (!removed) {
    return report_error(diag, removed.error());
  }
  emit(out,
       "Removed " + std::to_string(*removed) + (*removed == 1 ? " entry" : " entries") + " from " +
           c->directory().string() + "\n",
       diag);
  return 0;
}

}  // namespace faceverify::commands

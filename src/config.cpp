// SPDX-License-Identifier: MIT
#include "faceverify/config.hpp"
#include "faceverify/file_io.hpp"

#include "faceverify/text.hpp"
#include "text_lines.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace faceverify {
namespace {

constexpr std::size_t k_max_config_bytes = 1024u * 1024u;

// TOML's whitespace, and the CR of a CRLF line end.
constexpr std::string_view k_blank = " \t\r";

// A TOML basic string's content ("..." with \" and \\ escapes), or nullopt.
std::optional<std::string> parse_string(std::string_view v) {
  if (v.size() < 2 || v.front() != '"') return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '"') {
      const std::string_view rest = trim(v.substr(i + 1), k_blank);
      return rest.empty() || rest.front() == '#' ? std::optional(out) : std::nullopt;
    }
    if (c == '\\') {
      if (++i >= v.size()) return std::nullopt;
      out += v[i];
    } else {
      out += c;
    }
  }
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view v) {
  if (const auto hash = v.find('#'); hash != std::string_view::npos) v = trim(v.substr(0, hash), k_blank);
  double x = 0.0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(x)) return std::nullopt;
  return x;
}

// The shortest text that reads back as exactly `x`: a threshold cut between
// two observed scores must not move across either when saved.
std::string number_text(double x) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

}  // namespace

std::optional<std::filesystem::path> default_config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg == '/') return std::filesystem::path(xdg) / "faceverify" / "config.toml";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::filesystem::path(home) / ".config" / "faceverify" / "config.toml";
  return std::nullopt;
}

Expected<Config> parse_config(std::string_view text, std::string_view label) {
  Config c;
  detail::LineReader lines(text);
  std::string_view raw;
  while (lines.next(raw)) {
    const std::string_view line = trim(raw, k_blank);
    if (line.empty() || line.front() == '#') continue;
    const auto where = std::string(label) + ": line " + std::to_string(lines.number()) + ": ";
    if (line.front() == '[') return fail(ErrorKind::usage, where + "tables are not supported (write key = value)");
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) return fail(ErrorKind::usage, where + "expected key = value");
    const std::string_view key = trim(line.substr(0, eq), k_blank);
    const std::string_view value = trim(line.substr(eq + 1), k_blank);
    if (key == "backend") {
      const auto s = parse_string(value);
      const auto kind = s ? backend_from_name(*s) : std::nullopt;
      if (!kind) return fail(ErrorKind::usage, where + "backend must be \"api4ai\" or \"local\"");
      c.backend = *kind;
    } else if (key == "threshold") {
      const auto x = parse_number(value);
      if (!x || *x < 0.0 || *x > 1.0) return fail(ErrorKind::usage, where + "threshold must be a number from 0 to 1");
      c.threshold = *x;
    } else if (key == "half_distance") {
      const auto x = parse_number(value);
      if (!x || *x <= 0.0) return fail(ErrorKind::usage, where + "half_distance must be a number greater than 0");
      c.half_distance = *x;
    }
    // Other keys: ignored, so a newer faceverify's file still reads.
  }
  return c;
}

std::string render_config(const Config& c, std::string_view comment) {
  std::string out;
  if (!comment.empty()) out += "# " + std::string(comment) + "\n";
  if (c.backend) out += "backend = \"" + std::string(backend_name(*c.backend)) + "\"\n";
  if (c.threshold) out += "threshold = " + number_text(*c.threshold) + "\n";
  if (c.half_distance) out += "half_distance = " + number_text(*c.half_distance) + "\n";
  return out;
}

Expected<Config> read_config(const std::filesystem::path& path, bool must_exist) {
  auto text = read_file_at_most(path, k_max_config_bytes);
  if (!text) {
    const ReadError& e = text.error();
    if (e.step == ReadError::Step::open && e.err == ENOENT && !must_exist) return Config{};
    const std::string why = e.step == ReadError::Step::too_large   ? "larger than 1 MiB"
                            : e.step == ReadError::Step::directory ? std::strerror(EISDIR)
                                                                   : std::strerror(e.err);
    return fail(ErrorKind::usage, path.string() + ": cannot read the config file: " + why);
  }
  return parse_config(*text, path.string());
}

Expected<void> write_config(const std::filesystem::path& path, const Config& config, std::string_view comment) {
  Config merged = config;
  if (auto old = read_config(path, false); old) {
    if (!merged.backend) merged.backend = old->backend;
    if (!merged.threshold) merged.threshold = old->threshold;
    if (!merged.half_distance) merged.half_distance = old->half_distance;
  }
  const auto dir = path.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return fail(ErrorKind::input, dir.string() + ": cannot create the config directory: " + ec.message());
      ::chmod(dir.c_str(), 0700);
    }
  }
  if (auto written = write_file_atomically(path, render_config(merged, comment)); !written) {
    return fail(ErrorKind::input, path.string() + ": cannot write the config file: " + std::strerror(written.error()));
  }
  return {};
}

}  // namespace faceverify

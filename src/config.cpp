// SPDX-License-Identifier: MIT
#include "faceverify/config.hpp"
#include "faceverify/file_io.hpp"

#include "faceverify/text.hpp"
#include "text_lines.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace faceverify {
namespace {

constexpr std::size_t k_max_config_bytes = 1024u * 1024u;

// The keys faceverify reads.
constexpr std::string_view k_keys[] = {"backend", "threshold", "half_distance"};

// A key as it may be shown in one line: printable ASCII, at most 40 bytes.
std::string display_text(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  return s.size() > 40 ? out + "..." : out;
}

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

std::optional<std::string> percent_threshold_hint(double x) {
  // From 2: 1.5 is more likely a slip than 1.5 %.
  if (!(x >= 2.0 && x <= 100.0)) return std::nullopt;
  return "thresholds are in [0, 1]; did you mean " + number_text(x / 100.0) + "?";
}

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
    const bool quoted = !value.empty() && (value.front() == '"' || value.front() == '\'');
    // A number key given a string: say which type it needs, not only the range.
    const auto number_error = [&](std::string_view range) {
      return fail(ErrorKind::usage, where + std::string(key) + " must be a number " + std::string(range) +
                                        (quoted ? ", not a string (write it without quotes)" : ""));
    };
    if (key == "backend") {
      const auto s = parse_string(value);
      const auto kind = s ? backend_from_name(*s) : std::nullopt;
      if (!s)
        return fail(ErrorKind::usage, where + "backend must be a string: \"api4ai\" or \"local\", with the quotes");
      if (!kind) return fail(ErrorKind::usage, where + "backend must be \"api4ai\" or \"local\"");
      c.backend = *kind;
    } else if (key == "threshold") {
      const auto x = parse_number(value);
      if (x && (*x < 0.0 || *x > 1.0)) {
        if (const auto hint = percent_threshold_hint(*x)) {
          return fail(ErrorKind::usage, where + "threshold " + number_text(*x) + ": " + *hint);
        }
      }
      if (!x || *x < 0.0 || *x > 1.0) return number_error("from 0 to 1");
      c.threshold = *x;
    } else if (key == "half_distance") {
      const auto x = parse_number(value);
      if (!x || *x <= 0.0) return number_error("greater than 0");
      c.half_distance = *x;
    } else {
      // Ignored, so a newer faceverify's file still reads; but said, so a
      // typo does not silently leave the default in force.
      const auto near = nearest(key, k_keys);
      c.warnings.push_back(where + "unknown key '" + display_text(key) + "'" +
                           (near ? " (did you mean " + std::string(*near) + "?)" : std::string()) + "; ignored");
    }
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
  const auto failed = [&](const std::string& why) {
    return fail(ErrorKind::usage, path.string() + ": cannot read the config file: " + why);
  };
  // Non-blocking, so a FIFO in its place cannot hang the open; then only a
  // regular file is read (never a FIFO, a device such as /dev/zero, or a
  // directory), and at most 1 MiB of it.
  auto fd = open_for_reading(path, O_NONBLOCK);
  if (!fd) {
    if (fd.error().err == ENOENT && !must_exist) return Config{};
    return failed(std::strerror(fd.error().err));
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return failed(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return failed("it is a directory (expected a file such as config.toml)");
  if (!S_ISREG(st.st_mode)) return failed("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > k_max_config_bytes) return failed("larger than 1 MiB");
  auto text = read_at_most(fd->get(), k_max_config_bytes);
  if (!text) {
    return failed(text.error().step == ReadError::Step::too_large ? "larger than 1 MiB"
                                                                  : std::strerror(text.error().err));
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

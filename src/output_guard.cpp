// SPDX-License-Identifier: MIT
#include "faceverify/output_guard.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "faceverify/config.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/gallery_file.hpp"
#include "faceverify/image.hpp"
#include "faceverify/text.hpp"

namespace faceverify {
namespace {

// Enough to hold a report's <head> or a JUnit file's prologue; a config file
// is read whole (config.cpp's own limit).
constexpr std::size_t k_head_bytes = 64u * 1024u;
constexpr std::size_t k_config_bytes = 1024u * 1024u;

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

FileId id_of(const struct stat& st) {
  return FileId{st.st_dev, st.st_ino};
}

std::string_view skip_blank(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  return s;
}

// XML: after a BOM, whitespace, the declaration, comments and a DOCTYPE, the
// root element must be <testsuites> or <testsuite>.
bool looks_like_junit(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  for (;;) {
    s = skip_blank(s);
    std::string_view end;
    if (s.starts_with("<?")) {
      end = "?>";
    } else if (s.starts_with("<!--")) {
      end = "-->";
    } else if (s.starts_with("<!")) {
      end = ">";
    } else {
      break;
    }
    const auto at = s.find(end);
    if (at == std::string_view::npos) return false;
    s.remove_prefix(at + end.size());
  }
  for (const std::string_view root : {std::string_view("<testsuites"), std::string_view("<testsuite")}) {
    if (!s.starts_with(root)) continue;
    const std::string_view rest = s.substr(root.size());
    if (rest.empty() || rest.front() == '>' || rest.front() == '/' || rest.front() == ' ' || rest.front() == '\t' ||
        rest.front() == '\r' || rest.front() == '\n') {
      return true;
    }
  }
  return false;
}

// calibration_report.cpp writes this tag in every report's <head>.
bool looks_like_report(std::string_view s) {
  return s.find("<meta name=\"generator\" content=\"faceverify") != std::string_view::npos;
}

// A file later runs would read as a config: parse_config accepts it and it
// sets a key faceverify writes, or holds nothing but comments. A dotenv
// file of KEY=value lines parses too, but sets none of them.
bool looks_like_config(std::string_view s) {
  auto parsed = parse_config(s, "config");
  if (!parsed) return false;
  if (parsed->backend || parsed->threshold || parsed->half_distance) return true;
  std::size_t from = 0;
  while (from < s.size()) {
    auto to = s.find('\n', from);
    if (to == std::string_view::npos) to = s.size();
    const std::string_view line = trim(s.substr(from, to - from), " \t\r");
    if (!line.empty() && line.front() != '#') return false;
    from = to + 1;
  }
  return true;
}

std::string_view kind_text(OutputKind kind) {
  switch (kind) {
    case OutputKind::junit: return "a JUnit report";
    case OutputKind::html_report: return "a faceverify HTML report";
    case OutputKind::config: return "a faceverify config file";
    case OutputKind::gallery: return "a faceverify gallery file";
  }
  return "";
}

Error usage(const PlannedOutput& o, const std::string& what) {
  return Error{ErrorKind::usage, display_name(o.path.string()) + ": " + o.option + " " + what, {}, false, {}};
}

// The folder the file goes into: it must exist (for the config file, the
// nearest existing ancestor, since write_config creates the rest) and be a
// writable directory.
Expected<void> check_folder(const PlannedOutput& o) {
  std::filesystem::path dir = o.path.parent_path();
  if (dir.empty()) dir = ".";
  struct stat st {};
  while (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    std::filesystem::path parent = dir.parent_path();
    if (parent.empty()) parent = ".";
    if (err != ENOENT || o.kind != OutputKind::config || parent == dir) {
      return std::unexpected(usage(o, "cannot be written: " + display_name(dir.string()) + ": " + std::strerror(err) +
                                          "; name a file in an existing folder"));
    }
    dir = parent;
  }
  if (!S_ISDIR(st.st_mode)) {
    return std::unexpected(
        usage(o, "cannot be written: " + display_name(dir.string()) + " is not a directory; name another file"));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return std::unexpected(usage(o, "cannot be written: " + display_name(dir.string()) + ": " + std::strerror(errno) +
                                        "; name a file in a folder you can write"));
  }
  return {};
}

// Whether the existing regular file may be replaced: empty, or of its kind.
Expected<void> check_kind(const PlannedOutput& o, const struct stat& st) {
  if (st.st_size == 0) return {};
  const std::size_t limit = o.kind == OutputKind::config ? k_config_bytes : k_head_bytes;
  // O_NONBLOCK: a file swapped for a FIFO since stat() must not hang us.
  auto fd = open_for_reading(o.path, O_NONBLOCK);
  std::optional<std::string> head;
  if (fd) {
    auto bytes = o.kind == OutputKind::config ? read_at_most(fd->get(), limit) : read_up_to(fd->get(), limit);
    if (bytes) head = std::move(*bytes);
  }
  if (!head) {
    return std::unexpected(usage(o, "cannot be checked: cannot read the existing file" +
                                        std::string(fd ? "" : std::string(": ") + std::strerror(fd.error().err)) +
                                        "; name another file"));
  }
  if (looks_like(o.kind, *head)) return {};
  return std::unexpected(usage(
      o, "would replace a file that is not " + std::string(kind_text(o.kind)) + "; move it away or name another file"));
}

}  // namespace

bool looks_like(OutputKind kind, std::string_view head) {
  switch (kind) {
    case OutputKind::junit: return looks_like_junit(head);
    case OutputKind::html_report: return looks_like_report(head);
    case OutputKind::config: return looks_like_config(head);
    case OutputKind::gallery: return gallery::looks_like_gallery(head);
  }
  return false;
}

Expected<void> check_outputs(const std::vector<PlannedOutput>& outputs, const std::vector<std::string>& inputs,
                             int stdin_fd) {
  struct Input {
    std::optional<FileId> id;  // nullopt: an output that does not exist yet
    std::string name;
  };
  std::vector<Input> inputs_read;
  for (const std::string& in : inputs) {
    struct stat st {};
    if (::stat(in.c_str(), &st) == 0) inputs_read.push_back(Input{id_of(st), display_name(in)});
  }
  if (struct stat st{}; stdin_fd >= 0 && ::fstat(stdin_fd, &st) == 0 && S_ISREG(st.st_mode)) {
    inputs_read.push_back(Input{id_of(st), "standard input"});
  }
  std::vector<Input> written;
  for (const PlannedOutput& o : outputs) {
    struct stat st {};
    if (::stat(o.path.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        return std::unexpected(usage(o, std::string("cannot be written: ") + std::strerror(errno)));
      }
      if (auto ok = check_folder(o); !ok) return ok;
      // Two outputs that do not exist yet can still be one path.
      for (const Input& w : written) {
        if (w.name == display_name(o.path.lexically_normal().string())) {
          return std::unexpected(usage(o, "is also the file of another option; name another file"));
        }
      }
      written.push_back(Input{std::nullopt, display_name(o.path.lexically_normal().string())});
      continue;
    }
    if (S_ISDIR(st.st_mode)) return std::unexpected(usage(o, "names a directory; name a file"));
    if (!S_ISREG(st.st_mode))
      return std::unexpected(usage(o, "names something that is not a regular file; name a file"));
    const FileId id = id_of(st);
    for (const Input& in : inputs_read) {
      if (in.id == id) {
        return std::unexpected(
            usage(o, "would overwrite " +
                         (in.name == display_name(o.path.string()) ? std::string("an input of this run")
                                                                   : "an input of this run (" + in.name + ")") +
                         "; name another file"));
      }
    }
    for (const Input& w : written) {
      if (w.id == id) return std::unexpected(usage(o, "is also the file of another option; name another file"));
    }
    if (auto ok = check_folder(o); !ok) return ok;
    if (auto ok = check_kind(o, st); !ok) return ok;
    written.push_back(Input{id, display_name(o.path.lexically_normal().string())});
  }
  return {};
}

}  // namespace faceverify

// SPDX-License-Identifier: MIT
// Locating and checking the offline backend's model files. No OpenCV here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "faceverify/local_backend.hpp"
#include "faceverify/sha256.hpp"

namespace faceverify::local {
namespace {

namespace fs = std::filesystem;

// Where faceverify-install-models puts them when run as root (the package
// faceverify-local owns it); scripts/install-models.sh says the same.
constexpr const char* k_system_models_dir = "/var/lib/faceverify/models";
constexpr const char* k_install_hint =
    "install them with faceverify-install-models (scripts/install-models.sh in a source tree), or point --models "
    "DIR at them";

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::optional<fs::path> executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return exe.parent_path();
}

bool has_any(const fs::path& dir) {
  std::error_code ec;
  for (const auto& spec : model_specs()) {
    if (fs::exists(dir / spec.file, ec)) return true;
  }
  return false;
}

// The whole file in one buffer sized from fstat, read with a few large
// read()s (an istreambuf_iterator copied the 7 MB a byte at a time, into a
// growing vector). These bytes are what is checksummed and then loaded.
bool read_whole(const fs::path& file, std::vector<unsigned char>& out) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (ok && done < out.size()) {
      const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        ok = false;  // an error, or the file shrank while read
      else
        done += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace

const char* const k_models_reinstall_hint = "reinstall with faceverify-install-models (scripts/install-models.sh)";

const std::array<ModelSpec, 3>& model_specs() noexcept {
  static const std::array<ModelSpec, 3> k_specs = {
      ModelSpec{"detector", "fr_detect.onnx", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"},
      ModelSpec{"landmarks", "fr_landmark.onnx", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"},
      ModelSpec{"embedder", "fr_feature.onnx", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"}};
  return k_specs;
}

std::vector<std::string> model_search_path(const std::optional<std::string>& explicit_dir) {
  if (explicit_dir) return {*explicit_dir};  // an explicit choice is never second-guessed
  std::vector<std::string> dirs;
  if (auto d = env("FACEVERIFY_MODELS")) return {*d};
  if (auto xdg = env("XDG_DATA_HOME")) {
    dirs.push_back(*xdg + "/faceverify/models");
  } else if (auto home = env("HOME")) {
    dirs.push_back(*home + "/.local/share/faceverify/models");
  }
  dirs.emplace_back(k_system_models_dir);
  if (auto exe = executable_dir()) {
    dirs.push_back((*exe / ".." / "share" / "faceverify" / "models").lexically_normal().string());
#ifdef FACEVERIFY_MODELS_IN_BUILD_TREE
    dirs.push_back((*exe / ".." / "models").lexically_normal().string());  // build/models beside build/src/
#endif
  }
  return dirs;
}

Expected<ModelSet> find_models(const std::optional<std::string>& explicit_dir) {
  const auto dirs = model_search_path(explicit_dir);
  for (const auto& dir : dirs) {
    if (!has_any(dir)) continue;
    ModelSet set;
    set.dir = dir;
    for (std::size_t i = 0; i < model_specs().size(); ++i) {
      const auto& spec = model_specs()[i];
      const fs::path file = fs::path(dir) / spec.file;
      if (!read_whole(file, set.bytes[i])) {
        return fail(ErrorKind::usage, file.string() + ": missing or unreadable (the " + std::string(spec.role) +
                                          " model); " + k_models_reinstall_hint);
      }
      const std::string_view view(reinterpret_cast<const char*>(set.bytes[i].data()), set.bytes[i].size());
      if (sha256_hex(view) != spec.sha256) {
        return fail(ErrorKind::usage, file.string() + ": checksum mismatch (not the pinned " + std::string(spec.role) +
                                          " model); " + k_models_reinstall_hint);
      }
    }
    return set;
  }
  std::string where;
  for (const auto& d : dirs) where += (where.empty() ? "" : ", ") + d;
  return fail(ErrorKind::usage,
              "the local backend's models are not installed (looked in " + where + "); " + k_install_hint);
}

}  // namespace faceverify::local

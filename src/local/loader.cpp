// SPDX-License-Identifier: MIT
// local::make_analyzer: loads the offline backend's module on first use.
// Looked for, in order: $FACEVERIFY_LOCAL_MODULE, next to the executable (a
// build tree), <libdir>/faceverify beside the executable's bin/ (an installed
// tree, wherever it was moved), the configured install directory, and the
// build tree it was built in (for test programs elsewhere in that tree). A
// packaged build (FACEVERIFY_LOCAL_MODULE_BUILD_TREE=OFF, the release preset)
// skips the two build-tree places.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "faceverify/local_backend.hpp"
#include "faceverify/version.hpp"

namespace faceverify::local {
namespace {

using Entry = FaceAnalyzer* (*)(ModelSet*, const PipelineOptions*, Error*, const char*);

std::vector<std::string> module_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("FACEVERIFY_LOCAL_MODULE"); env && *env) out.emplace_back(env);
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    const std::filesystem::path dir =
        std::filesystem::path(std::string(exe, static_cast<std::size_t>(n))).parent_path();
#ifdef FACEVERIFY_LOCAL_MODULE_BUILD_PATH
    out.push_back((dir / FACEVERIFY_LOCAL_MODULE_NAME).string());  // a build tree
#endif
    // An installed tree moved elsewhere: <prefix>/bin/faceverify, <prefix>/<libdir>/faceverify/.
    out.push_back(
        (dir.parent_path() / FACEVERIFY_LOCAL_MODULE_LIBDIR / "faceverify" / FACEVERIFY_LOCAL_MODULE_NAME).string());
  }
  out.emplace_back(FACEVERIFY_LOCAL_MODULE_INSTALL_DIR "/" FACEVERIFY_LOCAL_MODULE_NAME);
#ifdef FACEVERIFY_LOCAL_MODULE_BUILD_PATH
  out.emplace_back(FACEVERIFY_LOCAL_MODULE_BUILD_PATH);
#endif
  std::vector<std::string> unique;
  for (auto& p : out) {
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(std::move(p));
  }
  return unique;
}

// The entry point of the first module found; loaded once, never unloaded
// (analyzers it made may live until exit).
Expected<Entry> entry_point() {
  static std::once_flag once;
  static Expected<Entry> result = fail(ErrorKind::internal, "not loaded");
  std::call_once(once, [] {
    std::string tried;
    for (const auto& path : module_candidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char* why = ::dlerror();
        result = fail(ErrorKind::usage, "cannot load the local backend's module " + path + ": " +
                                            (why ? std::string(why) : std::string("unknown error")) +
                                            " (reinstall the faceverify-local package, which brings OpenCV's "
                                            "libraries; in a source tree: scripts/install-deps.sh)");
        return;
      }
      void* symbol = ::dlsym(handle, "faceverify_local_entry_v2");
      if (!symbol) {
        result = fail(ErrorKind::usage,
                      path + " is not faceverify's local backend module; reinstall the faceverify-local package");
        return;
      }
      result = reinterpret_cast<Entry>(symbol);
      return;
    }
    result =
        fail(ErrorKind::usage, "the local backend is not installed (no " FACEVERIFY_LOCAL_MODULE_NAME " in " + tried +
                                   "); install the faceverify-local package (apt install faceverify-local)");
  });
  return result;
}

}  // namespace

bool compiled_in() noexcept {
  return true;
}

Expected<void> available() {
  if (auto entry = entry_point(); !entry) return std::unexpected(entry.error());
  return {};
}

Expected<std::unique_ptr<FaceAnalyzer>> make_analyzer(ModelSet models, PipelineOptions options) {
  auto entry = entry_point();
  if (!entry) return std::unexpected(entry.error());
  Error error;
  FaceAnalyzer* analyzer = (*entry)(&models, &options, &error, k_version);
  if (!analyzer) return std::unexpected(error);
  return std::unique_ptr<FaceAnalyzer>(analyzer);
}

}  // namespace faceverify::local

// SPDX-License-Identifier: MIT
#pragma once
// The one rule for the files a run writes (--junit, --report, the
// --write-config target), checked before any request:
//   - an output never replaces an input of the same run (compared by device
//     and inode, so ./x, symlinks and hard links are caught) nor another
//     output;
//   - an existing file is replaced only when it is empty or of the kind the
//     option writes (a JUnit report, a faceverify HTML report, a faceverify
//     config file), never a directory or anything but a regular file;
//   - the folder it goes into exists and is writable (for the config file,
//     whose folder write_config creates, the nearest existing one).
// Every error is ErrorKind::usage (exit 2) and names the file and option.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/error.hpp"

namespace faceverify {

enum class OutputKind {
  junit,        // --junit: JUnit XML (<testsuites> or <testsuite>), by faceverify or any tool
  html_report,  // --report: an HTML report faceverify wrote (its generator meta tag)
  config,       // --write-config: a faceverify config file
  gallery,      // index build --out: a faceverify gallery file (gallery_file.hpp)
};

struct PlannedOutput {
  std::string option;  // "--junit", as the user wrote it
  std::filesystem::path path;
  OutputKind kind = OutputKind::junit;
};

/// Whether `head` (the start of an existing file) is of `kind`. For
/// OutputKind::config `head` must be the whole file.
bool looks_like(OutputKind kind, std::string_view head);

/// Checks every output against the rule above. `inputs` are the paths this
/// run reads (those that do not exist, or are URLs, are skipped);
/// `stdin_fd` >= 0 adds standard input (a redirected file) to them.
Expected<void> check_outputs(const std::vector<PlannedOutput>& outputs, const std::vector<std::string>& inputs,
                             int stdin_fd = -1);

}  // namespace faceverify

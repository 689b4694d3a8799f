// SPDX-License-Identifier: MIT
#pragma once
// JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one
// <testcase> per pair, <failure> when the verdict contradicts `expected`,
// <error> when the pair could not be scored.

#include <optional>
#include <string>
#include <vector>

namespace faceverify {

struct JunitCase {
  std::string name;       // e.g. "line 2: a.jpg vs b.jpg"
  std::string classname;  // e.g. "faceverify.pairs"
  double seconds = 0.0;
  enum class Outcome { passed, failed, errored } outcome = Outcome::passed;
  std::string message;     // failure/error message (one line)
  std::string type;        // failure/error type, e.g. "contradiction", "service", "input"
  std::string system_out;  // optional details (e.g. similarity, distance); empty: omitted
};

struct JunitSuite {
  std::string name = "faceverify pairs";
  std::string timestamp;  // ISO 8601, e.g. 2026-11-23T06:45:44
  double seconds = 0.0;
  std::vector<JunitCase> cases;
};

/// A complete XML document (UTF-8, with declaration): <testsuites> holding one
/// <testsuite> with tests/failures/errors/skipped/time counts. Every text and
/// attribute is escaped (& < > " '), control characters other than tab/LF/CR
/// are replaced (XML 1.0 cannot carry them), invalid UTF-8 becomes U+FFFD.
std::string render_junit(const JunitSuite& suite);

}  // namespace faceverify

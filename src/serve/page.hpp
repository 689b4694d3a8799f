// SPDX-License-Identifier: MIT
#pragma once
// GET / of faceverify serve: one self-contained HTML page (no external
// assets) where a person picks two photos and sees the faces, the score and
// the verdict. Its source is src/serve/page.html, embedded at build time.

#include <string>
#include <string_view>

namespace faceverify::serve {

/// What the page needs to know about this server.
struct PageSettings {
  double threshold = 0.8;       // similarity at or above which it says "same person"
  double half_distance = 1.23;  // the similarity formula's constant a
  bool requires_key = false;    // the server was started with --api-key-file
  std::string version;          // faceverify's version, e.g. "1.0.0"
};

/// The page with `settings` filled in (as one JSON object the script reads).
std::string page_html(const PageSettings& settings);

}  // namespace faceverify::serve

// SPDX-License-Identifier: MIT
#pragma once
// Error bodies of HTTP services, summarised for a one-line message: whatever
// a service, proxy or gateway answers with (JSON, an HTML page, plain text),
// the user sees a short line of its text, never markup or control characters.

#include <string>
#include <string_view>

namespace faceverify {

/// One short line describing an error body: JSON `message`, FastAPI
/// `detail[*].msg` (with its `loc`), `detail`, `error` or `title`; an HTML
/// page's title or visible text; or a plain-text excerpt. Never markup, never
/// more than about 200 bytes. Empty if the body is empty or blank. `secret`
/// (an API key) is redacted (redact_secret, text.hpp) from the decoded text before it
/// is cut.
std::string summarize_error_body(std::string_view body, std::string_view content_type, std::string_view secret = {});

/// `text` made fit for a one-line message: control characters become spaces,
/// runs of whitespace collapse, invalid UTF-8 becomes U+FFFD, and past 200
/// bytes it is cut (between characters) and ends in "...".
std::string message_excerpt(std::string_view text);

}  // namespace faceverify

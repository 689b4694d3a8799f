// SPDX-License-Identifier: MIT
#include "serve/page.hpp"

#include <nlohmann/json.hpp>

#include "serve/page_template.hpp"

namespace faceverify::serve {

namespace {

// The page's one placeholder, inside <script type="application/json"
// id="settings">; the build checks it occurs exactly once in page.html.
constexpr std::string_view k_placeholder = "__FACEVERIFY_SETTINGS__";

}  // namespace

std::string page_html(const PageSettings& settings) {
  const nlohmann::json object = {{"threshold", settings.threshold},
                                 {"half_distance", settings.half_distance},
                                 {"requires_key", settings.requires_key},
                                 {"version", settings.version}};
  // replace: a version that is not UTF-8 must not make the page fail.
  const std::string json = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Inside a <script> element "</script" or "<!--" would end or change it;
  // JSON allows \u003c wherever '<' appears (only in strings), so none can.
  std::string safe;
  safe.reserve(json.size() + 16);
  for (const char c : json) {
    if (c == '<') {
      safe += "\\u003c";
    } else {
      safe += c;
    }
  }

  const std::string_view page = detail::page_template();
  const std::size_t at = page.find(k_placeholder);
  if (at == std::string_view::npos) return std::string(page);  // cannot happen: the build checks it
  std::string out;
  out.reserve(page.size() + safe.size());
  out.append(page.substr(0, at));
  out.append(safe);
  out.append(page.substr(at + k_placeholder.size()));
  return out;
}

}  // namespace faceverify::serve

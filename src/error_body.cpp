// SPDX-License-Identifier: MIT
// nlohmann/json exceptions never leave this file: bodies are parsed with
// allow_exceptions=false, and whatever is not JSON is read as text.
#include "faceverify/error_body.hpp"

#include "faceverify/text.hpp"
#include "json_depth.hpp"

#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace faceverify {
namespace {

using nlohmann::json;

constexpr int k_max_json_depth = 64;  // deeper bodies are read as text, not parsed
constexpr std::size_t k_excerpt_chars = 200;

std::optional<json> parse_json(std::string_view text) {
  if (detail::nested_too_deep(text, k_max_json_depth)) return std::nullopt;
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// Keeps printable text on one line: control characters become spaces, runs of
// whitespace collapse, invalid UTF-8 becomes U+FFFD.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (std::size_t i = 0; i < text.size();) {
    const Utf8Sequence seq = decode_utf8(text, i);
    const char32_t c = seq.code_point;
    if (!seq.valid) {
      out += k_replacement_character;
      space = false;
    } else if (c < 0x20 || c == 0x7F || c == ' ') {
      if (!space && !out.empty()) out.push_back(' ');
      space = true;
    } else {
      out.append(text.substr(i, seq.size));
      space = false;
    }
    i += seq.size;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string excerpt(std::string text) {
  if (text.size() <= k_excerpt_chars) return text;
  return std::string(utf8_prefix(text, k_excerpt_chars)) + "...";
}

std::string decode_entities(std::string_view s) {
  static constexpr std::pair<std::string_view, std::string_view> k_entities[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [from, to] : k_entities) {
        if (s.substr(i, from.size()) == from) {
          out.append(to);
          i += from.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(s[i++]);
  }
  return out;
}

std::string html_text(std::string_view html) {
  const std::string lower = ascii_lowercase(html);
  if (const auto t = lower.find("<title"); t != std::string::npos) {
    const auto open_end = lower.find('>', t);
    const auto close = lower.find("</title", t);
    if (open_end != std::string::npos && close != std::string::npos && close > open_end) {
      std::string title = one_line(decode_entities(html.substr(open_end + 1, close - open_end - 1)));
      if (!title.empty()) return title;
    }
  }
  // No usable title: the visible text, tags and script/style content removed.
  std::string text;
  for (std::size_t i = 0; i < html.size();) {
    if (html[i] == '<') {
      for (std::string_view skip : {"<script", "<style"}) {
        if (lower.compare(i, skip.size(), skip) == 0) {
          const auto end = lower.find(std::string("</") + std::string(skip.substr(1)), i);
          i = end == std::string::npos ? html.size() : end;
          break;
        }
      }
      const auto close = html.find('>', i);
      i = close == std::string_view::npos ? html.size() : close + 1;
      text.push_back(' ');
    } else {
      text.push_back(html[i++]);
    }
  }
  return one_line(decode_entities(text));
}

std::string json_error_text(const json& j) {
  if (!j.is_object()) return {};
  if (const json* m = member(j, "message"); m && m->is_string()) return m->get<std::string>();
  if (const json* d = member(j, "detail")) {
    if (d->is_string()) return d->get<std::string>();
    if (d->is_array()) {
      std::string out;
      for (const json& item : *d) {
        const json* msg = member(item, "msg");
        if (!msg || !msg->is_string()) continue;
        if (!out.empty()) out += "; ";
        out += msg->get<std::string>();
        if (const json* loc = member(item, "loc"); loc && loc->is_array() && !loc->empty()) {
          std::string where;
          for (const json& part : *loc) {
            if (!where.empty()) where += ".";
            where += part.is_string() ? part.get<std::string>() : part.dump();
          }
          out += " (" + where + ")";
        }
      }
      return out;
    }
  }
  for (const char* key : {"error", "title"}) {
    if (const json* m = member(j, key); m && m->is_string()) return m->get<std::string>();
  }
  return {};
}

}  // namespace

std::string summarize_error_body(std::string_view body, std::string_view content_type, std::string_view secret) {
  const std::string_view trimmed = trim(body);
  if (trimmed.empty()) return {};
  // Redacted once decoded (JSON escapes, HTML entities) and before the cut.
  const auto shown = [&](std::string text) { return excerpt(redact_secret(std::move(text), secret)); };
  const std::string type = ascii_lowercase(content_type);
  if (trimmed.front() == '{' || trimmed.front() == '[') {
    if (const auto j = parse_json(trimmed)) {
      const std::string text = shown(one_line(json_error_text(*j)));
      if (!text.empty()) return text;
    }
  }
  if (type.find("html") != std::string::npos || trimmed.front() == '<') return shown(html_text(trimmed));
  return shown(one_line(trimmed));
}

std::string message_excerpt(std::string_view text) {
  return excerpt(one_line(text));
}

}  // namespace faceverify

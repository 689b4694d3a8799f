// SPDX-License-Identifier: MIT
#include "faceverify/pairs_file.hpp"

#include "faceverify/text.hpp"
#include "text_lines.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

// Grammar, one row per physical line (a quoted field never spans lines):
//   line   := field (DELIM field)*
//   field  := WS* ( '"' ( [^"] | '""' )* '"' WS* | [^DELIM]* )
// WS is a space, or a tab when the delimiter is a comma; trailing WS of an
// unquoted field is trimmed. A '"' that does not start a field is an ordinary
// character. Everything is plain bytes: paths are passed through unchanged.
//
// The parser works on string_view indices only; nothing in it can throw
// except allocation.

namespace faceverify {
namespace {

constexpr std::string_view k_bom = "\xEF\xBB\xBF";
constexpr std::size_t k_snippet_max = 40;  // bytes of user text quoted in a message

// WS of the grammar: spaces, tabs unless they delimit, and CR.
std::string_view blanks(char delim) {
  return delim == '\t' ? " \r" : " \t\r";
}

bool is_space(char c, char delim) {
  return blanks(delim).find(c) != std::string_view::npos;
}

// User text for an error message: one line, bounded, control bytes shown as '?'.
std::string snippet(std::string_view s) {
  bool cut = false;
  if (s.size() > k_snippet_max) {
    s = utf8_prefix(s, k_snippet_max);  // not a UTF-8 sequence cut in half
    cut = true;
  }
  std::string out;
  out.reserve(s.size() + 3);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (cut) out += "...";
  return out;
}

std::string line_prefix(std::size_t line) {
  return "line " + std::to_string(line) + ": ";
}

// The delimiter: a tab when the line has a tab outside double quotes, else a comma.
char detect_delimiter(std::string_view line) {
  bool quoted = false;
  for (char c : line) {
    if (c == '"')
      quoted = !quoted;
    else if (c == '\t' && !quoted)
      return '\t';
  }
  return ',';
}

struct SplitResult {
  std::vector<std::string> fields;
  std::optional<std::string> error;  // without the "line N: " prefix
};

SplitResult split_fields(std::string_view line, char delim) {
  SplitResult r;
  std::size_t i = 0;
  const std::size_t n = line.size();
  for (;;) {
    while (i < n && is_space(line[i], delim)) ++i;
    std::string field;
    if (i < n && line[i] == '"') {
      const std::size_t field_no = r.fields.size() + 1;
      ++i;
      bool closed = false;
      while (i < n) {
        const std::size_t q = line.find('"', i);
        if (q == std::string_view::npos) {
          i = n;
          break;
        }
        field.append(line.substr(i, q - i));
        if (q + 1 < n && line[q + 1] == '"') {  // "" is one quote
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        closed = true;
        break;
      }
      if (!closed) {
        r.error = "unterminated quoted field (field " + std::to_string(field_no) +
                  "), expected a closing '\"' on the same line";
        return r;
      }
      while (i < n && is_space(line[i], delim)) ++i;
      if (i < n && line[i] != delim) {
        r.error = "unexpected character after the closing quote of field " + std::to_string(field_no) + ", expected " +
                  (delim == '\t' ? "a tab" : "','") + " or the end of the line";
        return r;
      }
    } else {
      std::size_t end = line.find(delim, i);
      if (end == std::string_view::npos) end = n;
      field = std::string(trim(line.substr(i, end - i), blanks(delim)));
      i = end;
    }
    r.fields.push_back(std::move(field));
    if (i >= n) break;
    ++i;  // the delimiter; a delimiter at the end of the line opens one more (empty) field
  }
  return r;
}

PairRow parse_row(std::string_view line, std::size_t line_no, char delim, const SplitResult& split) {
  PairRow row;
  row.line = line_no;
  const std::string prefix = line_prefix(line_no);
  if (split.error) {
    row.error = prefix + *split.error;
    return row;
  }
  const auto& f = split.fields;
  if (!f.empty()) row.image1 = f[0];
  if (f.size() > 1) row.image2 = f[1];
  if (f.size() < 2 || f.size() > 3) {
    std::string msg = prefix + "expected 2 or 3 fields (image1,image2[,expected]), got " + std::to_string(f.size());
    // A likely cause: the other delimiter was used on this line.
    if (delim == '\t' && line.find(',') != std::string_view::npos)
      msg += " (this file is tab-separated: its first row has a tab)";
    else if (delim == ',' && line.find('\t') != std::string_view::npos)
      msg += " (this file is comma-separated: its first row has no tab)";
    else if (f.size() < 2 && line.find(';') != std::string_view::npos)
      msg += " (the line has ';' but no ',' or tab: pairs files are comma- or tab-separated)";
    row.error = std::move(msg);
    return row;
  }
  if (f[0].empty() || f[1].empty()) {
    row.error = prefix + "empty image field (" + (f[0].empty() ? "image1" : "image2") + "), expected a path or URL";
    return row;
  }
  if (f.size() == 3) {
    const std::string_view e = f[2];
    if (e.empty())
      row.expected = Expectation::none;
    else if (iequals(e, "same"))
      row.expected = Expectation::same;
    else if (iequals(e, "different"))
      row.expected = Expectation::different;
    else {
      row.error = prefix + "expected must be \"same\" or \"different\", got \"" + snippet(e) + "\"";
      return row;
    }
  }
  return row;
}

// A header, on the first data line: its first two fields are image1 and
// image2, or it has three fields: two column names (letters, digits, '_',
// '-', spaces: not paths) and a third that names the expectation column
// ("img1,img2,label"). A data row there would be an error, but a typo like
// "a,b,maybe" stays a row with an error, not a silently skipped header.
bool is_column_name(std::string_view field) {
  return !field.empty() && std::all_of(field.begin(), field.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '-' || c == ' ';
  });
}

bool names_expectation(std::string_view field) {
  for (const std::string_view name :
       {"expected", "expectation", "label", "match", "same_person", "is_same", "truth", "ground_truth", "verdict"}) {
    if (iequals(field, name)) return true;
  }
  return false;
}

// A ';'-separated header ("image1;image2;expected", one field here) is one
// too: its rows are then errors with a hint, but it is not a pair.
bool is_header(const std::vector<std::string>& f) {
  if (f.size() == 1 && f[0].find(';') != std::string::npos) {
    std::vector<std::string> parts;
    std::string_view rest = f[0];
    for (std::size_t semi; (semi = rest.find(';')) != std::string_view::npos; rest.remove_prefix(semi + 1)) {
      parts.emplace_back(trim(rest.substr(0, semi), " \t"));
    }
    parts.emplace_back(trim(rest, " \t"));
    return parts.size() > 1 && is_header(parts);
  }
  if (f.size() >= 2 && iequals(f[0], "image1") && iequals(f[1], "image2")) return true;
  return f.size() == 3 && is_column_name(f[0]) && is_column_name(f[1]) && names_expectation(f[2]);
}

}  // namespace

std::string_view expectation_name(Expectation e) noexcept {
  switch (e) {
    case Expectation::none: return "";
    case Expectation::same: return "same";
    case Expectation::different: return "different";
  }
  return "";
}

std::vector<PairRow> parse_pairs(std::string_view text) {
  std::vector<PairRow> rows;
  if (text.substr(0, k_bom.size()) == k_bom) text.remove_prefix(k_bom.size());

  std::optional<char> delim;  // fixed by the first data line
  detail::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    const std::size_t line_no = lines.number();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    // Blank (spaces/tabs only) or comment ('#' after optional spaces/tabs).
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;

    const bool first_data_line = !delim.has_value();
    if (first_data_line) delim = detect_delimiter(line);

    if (line.find('\0') != std::string_view::npos) {
      PairRow row;
      row.line = line_no;
      row.error = line_prefix(line_no) + "NUL byte in line, expected text";
      rows.push_back(std::move(row));
      continue;
    }

    const SplitResult split = split_fields(line, *delim);
    if (first_data_line && !split.error && is_header(split.fields)) continue;
    rows.push_back(parse_row(line, line_no, *delim, split));
  }
  return rows;
}

}  // namespace faceverify

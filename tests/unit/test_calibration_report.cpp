// SPDX-License-Identifier: MIT
#include <algorithm>
#include <catch2/catch.hpp>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "faceverify/calibration_report.hpp"
#include "faceverify/similarity.hpp"
#include "process.hpp"
#include "render/synthetic_calibration.hpp"

using namespace faceverify;

namespace {

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto ch = static_cast<unsigned char>(s[i]);
    std::size_t len = ch < 0x80                  ? 1
                      : ch >= 0xC2 && ch <= 0xDF ? 2
                      : ch >= 0xE0 && ch <= 0xEF ? 3
                      : ch >= 0xF0 && ch <= 0xF4 ? 4
                                                 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Deterministic scores: genuine mostly high, impostors mostly low, some overlap.
std::vector<double> spread(std::size_t n, double lo, double hi) {
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = n == 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(n - 1);
    v.push_back(lo + (hi - lo) * t * t);
  }
  return v;
}

ReportInput typical_input() {
  ReportInput in;
  in.title = "faceverify calibration: faces/labels.csv";
  in.backend = "local";
  in.generated_at = "2024-05-01T12:00:00Z";
  in.threshold = 0.8;
  in.threshold_reason = "best accuracy";
  in.half_distance = 1.23;
  in.calibration = test::synthetic_calibration(spread(40, 0.55, 0.99), spread(300, 0.0, 0.83));
  in.worst_genuine = {{"a/alice_1.jpg", "a/alice_2.jpg", true, 0.55, distance_from_similarity(0.55, 1.23)}};
  in.worst_impostors = {{"a/alice_1.jpg", "b/bob_1.jpg", false, 0.83, distance_from_similarity(0.83, 1.23)}};
  return in;
}

ReportInput hostile_input() {
  ReportInput in = typical_input();
  in.title = "<script>alert(1)</script> & \"title\"";
  in.backend = "api4ai <demo> & 'co'";
  in.generated_at = "2024-05-01T12:00:00Z\"><b>";
  in.threshold_reason = "FAR <= 0.1% & 'safe'";
  in.worst_genuine = {
      {"<img src=x onerror=alert(1)>.jpg", "</td></tr></table><h1>x</h1>.png", true, 0.1, 1.5},
      {"quote\"and'apostrophe&amp;.jpg", "Zo\xC3\xAB \xE6\x97\xA5\xE6\x9C\xAC.jpg", true, 0.2, 1.4},
      {"bad\xFF\xFE utf8 \xC3 and \xED\xA0\x80 surrogate.jpg", "ctl\x01\x1b[31m\x7f.jpg", true, 0.3, 1.3},
  };
  in.worst_impostors = {{"]]><!-- -->.jpg", "<svg onload=alert(1)>.jpg", false, 0.99, 0.5}};
  return in;
}

std::string write_temp(const test::TempDir& dir, const std::string& name, const std::string& html) {
  const auto path = dir / name;
  test::write_file(path, html);
  return path.string();
}

bool have_xmllint() {
  return test::run_process({"xmllint", "--version"}).exit_code == 0;
}

// libxml2's HTML parser knows HTML 4 only: "Tag svg invalid", "Tag section
// invalid" and the like are expected; any other parser error is not.
void check_with_xmllint(const std::string& html) {
  if (!have_xmllint()) return;
  test::TempDir dir;
  const std::string path = write_temp(dir, "report.html", html);
  const auto as_html = test::run_process({"xmllint", "--html", "--noout", path});
  INFO(as_html.err);
  CHECK(as_html.exit_code == 0);
  std::size_t start = 0;
  while (start < as_html.err.size()) {
    auto end = as_html.err.find('\n', start);
    if (end == std::string::npos) end = as_html.err.size();
    const std::string line = as_html.err.substr(start, end - start);
    start = end + 1;
    const auto at = line.find("parser error : ");
    if (at == std::string::npos) continue;
    const std::string message = line.substr(at + 15);
    const bool unknown_tag = message.rfind("Tag ", 0) == 0 && message.find(" invalid") != std::string::npos;
    INFO(line);
    CHECK(unknown_tag);
  }
  // The document is also well-formed XML.
  const auto as_xml = test::run_process({"xmllint", "--noout", path});
  INFO(as_xml.err);
  CHECK(as_xml.exit_code == 0);
  CHECK(as_xml.err.empty());
}

void check_document(const std::string& html) {
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<meta charset=\"utf-8\"/>") != std::string::npos);
  CHECK(html.size() >= 7);
  CHECK(html.substr(html.size() - 8) == "</html>\n");
  CHECK(valid_utf8(html));
  const std::string l = lower(html);
  CHECK(l.find("<script") == std::string::npos);
  CHECK(l.find("http://") == std::string::npos);
  CHECK(l.find("https://") == std::string::npos);
  CHECK(l.find("url(") == std::string::npos);
  CHECK(l.find("@import") == std::string::npos);
  // Inside tags (every '<' starts one: text is escaped): no event handlers, no NaN or infinity.
  for (auto open = l.find('<'); open != std::string::npos; open = l.find('<', open + 1)) {
    const std::string tag = l.substr(open, l.find('>', open) - open);
    INFO(tag);
    CHECK(tag.find(" on") == std::string::npos);
    CHECK(tag.find("nan") == std::string::npos);
    CHECK(tag.find("inf") == std::string::npos);
  }
  for (const char* bad : {">nan", ">inf", ">-nan", ">-inf", "nan%", "inf%", " nan", " inf "}) {
    INFO(bad);
    CHECK(l.find(bad) == std::string::npos);
  }
  CHECK(occurrences(html, "<svg") == occurrences(html, "</svg>"));
  check_with_xmllint(html);
}

}  // namespace

TEST_CASE("calibration report: one self-contained document", "[calibration_report]") {
  const std::string html = render_calibration_report(typical_input());
  check_document(html);
  // Styles are inline, in one <style> block; nothing is linked.
  CHECK(occurrences(html, "<style>") == 1);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("<iframe") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
}

TEST_CASE("calibration report: every section and one chart each", "[calibration_report]") {
  const std::string html = render_calibration_report(typical_input());
  for (const char* heading :
       {"<h2>ROC curve</h2>", "<h2>Score distributions</h2>", "<h2>FAR and FRR against the threshold</h2>",
        "<h2>Summary</h2>", "<h3>TAR at fixed FAR</h3>", "<h2>Worst pairs</h2>",
        "<h3>Lowest-scoring genuine pairs</h3>", "<h3>Highest-scoring impostor pairs</h3>"}) {
    INFO(heading);
    CHECK(html.find(heading) != std::string::npos);
  }
  CHECK(occurrences(html, "<svg") == 3);
  CHECK(html.find("<title>faceverify calibration: faces/labels.csv</title>") != std::string::npos);
  CHECK(html.find("<b>local</b>") != std::string::npos);
  CHECK(html.find("2024-05-01T12:00:00Z") != std::string::npos);
  // Two classes, a legend for each.
  CHECK(html.find("Genuine pairs (n = 40)") != std::string::npos);
  CHECK(html.find("Impostor pairs (n = 300)") != std::string::npos);
  CHECK(occurrences(html, "class=\"bar gen\"") > 0);
  CHECK(occurrences(html, "class=\"bar imp\"") > 0);
  // ROC: 300 impostors span more than two decades: a log FAR axis, marked points.
  CHECK(html.find("FAR (FAR, log scale)") == std::string::npos);
  CHECK(html.find("False accept rate (FAR, log scale)") != std::string::npos);
  CHECK(occurrences(html, "class=\"eer-point\"") == 2);
  CHECK(occurrences(html, "class=\"threshold-point\"") == 1);
}

TEST_CASE("calibration report: the threshold in similarity and distance, drawn as a line", "[calibration_report]") {
  ReportInput in = typical_input();
  const std::string html = render_calibration_report(in);
  char distance[32];
  std::snprintf(distance, sizeof distance, "%.3f", distance_from_similarity(0.8, 1.23));
  CHECK(html.find(std::string("distance <b>") + distance + "</b>") != std::string::npos);
  CHECK(html.find(std::string("similarity &#8805; 80.00%, i.e. distance &#8804; ") + distance) != std::string::npos);
  CHECK(html.find("chosen by: <b>best accuracy</b>") != std::string::npos);
  CHECK(html.find("<div class=\"v\">80.00% <span") != std::string::npos);
  // The histogram and the FAR/FRR chart each draw it, labelled.
  CHECK(occurrences(html, "class=\"threshold-line\"") == 2);
  CHECK(occurrences(html, ">threshold 80.00%</text>") == 2);
  // Moving the threshold moves the line: the histogram's plot spans x = 62..1022.
  in.threshold = 0.25;
  const std::string moved = render_calibration_report(in);
  CHECK(moved.find("<line x1=\"302.0\" y1=\"18.0\" x2=\"302.0\" y2=\"268.0\" class=\"threshold-line\"/>") !=
        std::string::npos);
}

TEST_CASE("calibration report: the summary table", "[calibration_report]") {
  ReportInput in = typical_input();
  auto& cal = in.calibration;
  const std::string html = render_calibration_report(in);
  char auc[32];
  std::snprintf(auc, sizeof auc, "%.4f", *cal.auc);
  CHECK(html.find(std::string("<th>AUC</th><td>") + auc + "</td>") != std::string::npos);
  CHECK(html.find("40 genuine, 300 impostor (340 in all)") != std::string::npos);
  CHECK(html.find("<th>EER</th><td>") != std::string::npos);
  CHECK(html.find("accuracy ") != std::string::npos);
  // One row per FAR target; too few impostors for 0.1% and 0.01%: shaded, with the note.
  REQUIRE(cal.far_targets.size() == 3);
  CHECK(html.find("<td class=\"n\">1%</td>") != std::string::npos);
  CHECK(html.find("<td class=\"n\">0.1%</td>") != std::string::npos);
  CHECK(html.find("<td class=\"n\">0.01%</td>") != std::string::npos);
  CHECK(occurrences(html, "<tr class=\"caution\">") == 3);  // 300 < 1000: even 1% is not meaningful
  CHECK(html.find("only 300 impostor pairs: FAR 0.01% needs at least 100000") != std::string::npos);
  // Each target's threshold as a similarity and as a distance.
  const auto& op = *cal.far_targets[0].point;
  char threshold[32], distance[32];
  std::snprintf(threshold, sizeof threshold, "%.2f%%", op.threshold * 100.0);
  std::snprintf(distance, sizeof distance, "%.3f", distance_from_similarity(op.threshold, 1.23));
  CHECK(html.find(std::string("<td class=\"n\">") + threshold + "</td><td class=\"n\">" + distance + "</td>") !=
        std::string::npos);
  // A FAR target with no point says why.
  cal.far_targets[2].point.reset();
  cal.far_targets[2].note.clear();
  CHECK(render_calibration_report(in).find("<td class=\"note\">no impostor pairs</td>") != std::string::npos);
  // Large counts are grouped.
  cal.impostors = 1234567;
  CHECK(render_calibration_report(in).find("1,234,567") != std::string::npos);
}

TEST_CASE("calibration report: worst pairs with every name escaped", "[calibration_report]") {
  const std::string html = render_calibration_report(hostile_input());
  check_document(html);
  for (const char* raw : {"<script>", "<img", "</td></tr></table><h1>", "<svg onload", "\"><b>", "<demo>", "]]>",
                          "<!--", "'co'", "'safe'"}) {
    INFO(raw);
    CHECK(html.find(raw) == std::string::npos);
  }
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;title&quot;") != std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;.jpg") != std::string::npos);
  CHECK(html.find("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;x&lt;/h1&gt;.png") != std::string::npos);
  CHECK(html.find("quote&quot;and&#39;apostrophe&amp;amp;.jpg") != std::string::npos);
  CHECK(html.find("api4ai &lt;demo&gt; &amp; &#39;co&#39;") != std::string::npos);
  CHECK(html.find("FAR &lt;= 0.1% &amp; &#39;safe&#39;") != std::string::npos);
  CHECK(html.find("]]&gt;&lt;!-- --&gt;.jpg") != std::string::npos);
  // Valid UTF-8 passes through; invalid bytes, surrogates and control characters become U+FFFD.
  CHECK(html.find("Zo\xC3\xAB \xE6\x97\xA5\xE6\x9C\xAC.jpg") != std::string::npos);
  CHECK(html.find(
            "bad\xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD and \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD surrogate.jpg") !=
        std::string::npos);
  CHECK(html.find("ctl\xEF\xBF\xBD\xEF\xBF\xBD[31m\xEF\xBF\xBD.jpg") != std::string::npos);
  // Rows: three genuine, one impostor.
  CHECK(occurrences(html, "<td class=\"name\">") == 8);
}

TEST_CASE("calibration report: empty and one-class calibrations", "[calibration_report]") {
  SECTION("nothing at all") {
    ReportInput in;  // default Calibration: no pairs, no points, no targets
    const std::string html = render_calibration_report(in);
    check_document(html);
    CHECK(occurrences(html, "<svg") == 0);
    CHECK(html.find("<title>Calibration report</title>") != std::string::npos);
    CHECK(html.find("No scored pairs: nothing to plot.") != std::string::npos);
    CHECK(html.find("No scored pairs: no score distributions to plot.") != std::string::npos);
    CHECK(html.find("n/a (needs both classes)") != std::string::npos);
    CHECK(html.find("No genuine pairs.") != std::string::npos);
    CHECK(html.find("No impostor pairs.") != std::string::npos);
    CHECK(html.find("No FAR targets.") != std::string::npos);
  }
  SECTION("empty scores through the helper") {
    ReportInput in = typical_input();
    in.calibration = test::synthetic_calibration({}, {});
    in.worst_genuine.clear();
    in.worst_impostors.clear();
    const std::string html = render_calibration_report(in);
    check_document(html);
    CHECK(html.find("No scored pairs: nothing to plot.") != std::string::npos);
  }
  SECTION("genuine pairs only") {
    ReportInput in = typical_input();
    in.calibration = test::synthetic_calibration(spread(25, 0.4, 0.99), {});
    in.worst_impostors.clear();
    const std::string html = render_calibration_report(in);
    check_document(html);
    CHECK(html.find("No impostor pairs: the ROC curve needs both classes.") != std::string::npos);
    CHECK(html.find("No impostor pairs: no FAR curve.") != std::string::npos);
    CHECK(html.find("Impostor pairs: none") != std::string::npos);
    CHECK(occurrences(html, "<svg") == 2);  // FRR against the threshold; the genuine histogram
    CHECK(occurrences(html, "class=\"curve frr\"") == 1);
    CHECK(occurrences(html, "class=\"curve far\"") == 0);
    CHECK(occurrences(html, "class=\"bar imp\"") == 0);
    CHECK(occurrences(html, "class=\"threshold-line\"") == 2);
    CHECK(html.find("<td class=\"note\">no impostor pairs</td>") != std::string::npos);
  }
  SECTION("impostor pairs only") {
    ReportInput in = typical_input();
    in.calibration = test::synthetic_calibration({}, spread(25, 0.0, 0.7));
    in.worst_genuine.clear();
    const std::string html = render_calibration_report(in);
    check_document(html);
    CHECK(html.find("No genuine pairs: the ROC curve needs both classes.") != std::string::npos);
    CHECK(html.find("No genuine pairs: no FRR curve.") != std::string::npos);
    CHECK(occurrences(html, "<svg") == 2);
    CHECK(occurrences(html, "class=\"bar gen\"") == 0);
  }
  SECTION("one pair of each: a linear FAR axis") {
    ReportInput in = typical_input();
    in.calibration = test::synthetic_calibration({0.9}, {0.1});
    const std::string html = render_calibration_report(in);
    check_document(html);
    CHECK(occurrences(html, "<svg") == 3);
    CHECK(html.find("False accept rate (FAR)") != std::string::npos);
    CHECK(html.find("class=\"chance\"") != std::string::npos);
  }
}

TEST_CASE("calibration report: odd numbers never reach the markup", "[calibration_report]") {
  ReportInput in = typical_input();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  SECTION("non-finite values") {
    in.threshold = nan;
    in.half_distance = inf;
    in.calibration.auc = nan;
    in.calibration.eer = inf;
    in.calibration.roc[1].far = nan;
    in.calibration.roc[2].threshold = -inf;
    in.calibration.genuine_scores.mean = nan;
    in.worst_genuine[0].similarity = nan;
    in.worst_genuine[0].distance = inf;
    in.worst_impostors[0].distance = -inf;
    check_document(render_calibration_report(in));
  }
  SECTION("thresholds at the ends of the scale") {
    for (double t : {0.0, 1.0, -0.5, 1.5}) {
      in.threshold = t;
      in.half_distance = t < 0 ? -1.0 : 1.23;
      const std::string html = render_calibration_report(in);
      check_document(html);
      if (t == 0.0) CHECK(html.find("distance <b>\xE2\x88\x9E</b>") != std::string::npos);
      if (t == 1.0) CHECK(html.find("distance <b>0.000</b>") != std::string::npos);
    }
  }
  SECTION("histogram bins that do not add up") {
    in.calibration.genuine_scores.histogram = {5};
    in.calibration.impostor_scores.histogram.assign(40, 1000);
    check_document(render_calibration_report(in));
  }
}

TEST_CASE("calibration report: numbers do not follow the C locale", "[calibration_report]") {
  const ReportInput in = typical_input();
  const std::string expected = render_calibration_report(in);
  const std::string previous = std::setlocale(LC_ALL, nullptr);
  bool switched = false;
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"}) {
    if (std::setlocale(LC_ALL, name) != nullptr) {
      switched = true;
      break;
    }
  }
  const std::string html = render_calibration_report(in);
  std::setlocale(LC_ALL, previous.c_str());
  if (switched) CHECK(html == expected);
  CHECK(html.find("80.00%") != std::string::npos);
}

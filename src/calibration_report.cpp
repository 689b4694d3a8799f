// SPDX-License-Identifier: MIT
// The calibration report: one self-contained HTML document. Charts are inline
// SVG drawn here, styles are one inline <style> block, there is no script and
// nothing is fetched (no fonts, images or links by URL). The markup is also
// well-formed XML (void elements self-closed, only numeric character
// references), so strict parsers can check it.
#include "faceverify/calibration_report.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "faceverify/similarity.hpp"
#include "faceverify/text.hpp"
#include "faceverify/version.hpp"

namespace faceverify {
namespace {

// ---------------------------------------------------------------- text

constexpr std::string_view k_dash = "\xE2\x80\x94";  // em dash: "no value"

// HTML-escapes text for element content and quoted attribute values, and
// makes it valid UTF-8 without control characters: invalid UTF-8 (one U+FFFD
// per maximal subpart), C0/C1 controls (other than tab and newlines) and
// noncharacters become U+FFFD.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8 + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        case '\t':
        case '\n': out += static_cast<char>(c); break;
        case '\r': out += '\n'; break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out += k_replacement_character;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const Utf8Sequence seq = decode_utf8(s, i);
    const char32_t cp = seq.code_point;
    const bool unwanted = cp <= 0x9F || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFEu) == 0xFFFEu;
    if (!seq.valid || unwanted) {
      out += k_replacement_character;
    } else {
      out.append(s.substr(i, seq.size));
    }
    i += seq.size;
  }
  return out;
}

// ---------------------------------------------------------------- numbers
// std::to_chars never looks at the locale.

std::string chars(double x, std::chars_format format, int precision) {
  if (!std::isfinite(x)) return std::string(k_dash);
  if (x == 0.0) x = 0.0;  // no "-0"
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, format, precision);
  if (ec != std::errc{}) return std::string(k_dash);
  std::string s(buf, end);
  // "-0.00": a tiny negative rounded to zero.
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string fixed(double x, int decimals) {
  return chars(x, std::chars_format::fixed, decimals);
}
std::string general(double x, int significant) {
  return chars(x, std::chars_format::general, significant);
}

// 12,345
std::string count(std::size_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A similarity or threshold as a percentage: "80.00%".
std::string sim(double x) {
  if (!std::isfinite(x)) return std::string(k_dash);
  return fixed(x * 100.0, 2) + "%";
}

// A rate (FAR, TAR, EER, accuracy): "95.20%"; small non-zero rates keep
// three significant digits ("0.00975%") instead of rounding to 0.00%.
std::string rate(double x) {
  if (!std::isfinite(x)) return std::string(k_dash);
  if (x > 0.0 && x < 0.0001) return general(x * 100.0, 3) + "%";
  return fixed(x * 100.0, 2) + "%";
}

// A FAR target: "1%", "0.1%", "0.01%".
std::string target(double x) {
  if (!std::isfinite(x)) return std::string(k_dash);
  return general(x * 100.0, 6) + "%";
}

// A tick label on a 0..1 axis in percent: "0%", "2.5%", "100%".
std::string tick_pct(double x) {
  return general(x * 100.0, 4) + "%";
}

std::string distance_text(double d) {
  if (std::isinf(d) && d > 0) return "\xE2\x88\x9E";  // infinity sign
  return fixed(d, 3);
}

// The distance that scores `similarity`: a * (ln s / ln 0.5)^(1/7).
std::string distance_for(double similarity, double half_distance) {
  if (!std::isfinite(similarity) || !std::isfinite(half_distance) || half_distance <= 0.0) {
    return std::string(k_dash);
  }
  const double s = std::clamp(similarity, 0.0, 1.0);
  if (s <= 0.0) return distance_text(std::numeric_limits<double>::infinity());
  return distance_text(distance_from_similarity(s, half_distance));
}

// An SVG coordinate: finite, one decimal.
std::string c(double v) {
  if (!std::isfinite(v)) v = 0.0;
  return fixed(std::round(v * 10.0) / 10.0, 1);
}

double ratio(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

bool finite(const std::optional<double>& x) {
  return x && std::isfinite(*x);
}

// ---------------------------------------------------------------- SVG

class Svg {
 public:
  Svg(int width, int height, std::string_view label) {
    m_out += "<svg viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) + "\" width=\"" +
             std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" role=\"img\" aria-label=\"" +
             esc(label) + "\">\n";
  }
  void line(double x1, double y1, double x2, double y2, std::string_view cls) {
    m_out += "<line x1=\"" + c(x1) + "\" y1=\"" + c(y1) + "\" x2=\"" + c(x2) + "\" y2=\"" + c(y2) + "\" class=\"" +
             std::string(cls) + "\"/>\n";
  }
  void rect(double x, double y, double w, double h, std::string_view cls, std::string_view tip = {}) {
    m_out += "<rect x=\"" + c(x) + "\" y=\"" + c(y) + "\" width=\"" + c(std::max(w, 0.0)) + "\" height=\"" +
             c(std::max(h, 0.0)) + "\" class=\"" + std::string(cls) + "\"";
    close(tip, "rect");
  }
  void circle(double cx, double cy, double r, std::string_view cls, std::string_view tip = {}) {
    m_out += "<circle cx=\"" + c(cx) + "\" cy=\"" + c(cy) + "\" r=\"" + c(r) + "\" class=\"" + std::string(cls) + "\"";
    close(tip, "circle");
  }
  void diamond(double x, double y, double r, std::string_view cls, std::string_view tip = {}) {
    m_out += "<path d=\"M" + c(x) + " " + c(y - r) + "L" + c(x + r) + " " + c(y) + "L" + c(x) + " " + c(y + r) + "L" +
             c(x - r) + " " + c(y) + "Z\" class=\"" + std::string(cls) + "\"";
    close(tip, "path");
  }
  // Points closer than 0.8 px to the last one kept are dropped: a curve
  // through 30,000 operating points needs only as many as it has pixels.
  void polyline(const std::vector<std::pair<double, double>>& all, std::string_view cls) {
    if (all.empty()) return;
    std::vector<std::pair<double, double>> points{all.front()};
    for (std::size_t i = 1; i < all.size(); ++i) {
      const auto& last = points.back();
      const bool is_end = i + 1 == all.size();
      if (std::hypot(all[i].first - last.first, all[i].second - last.second) >= 0.8) {
        points.push_back(all[i]);
      } else if (is_end && (all[i].first != last.first || all[i].second != last.second)) {
        points.push_back(all[i]);
      }
    }
    m_out += "<polyline points=\"";
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (i > 0) m_out += ' ';
      m_out += c(points[i].first) + "," + c(points[i].second);
    }
    m_out += "\" class=\"" + std::string(cls) + "\"/>\n";
  }
  // `content` is plain text (escaped here).
  void text(double x, double y, std::string_view content, std::string_view cls, std::string_view anchor = "start",
            double rotate = 0.0) {
    m_out += "<text x=\"" + c(x) + "\" y=\"" + c(y) + "\" class=\"" + std::string(cls) + "\"";
    if (anchor != "start") m_out += " text-anchor=\"" + std::string(anchor) + "\"";
    if (rotate != 0.0) m_out += " transform=\"rotate(" + c(rotate) + " " + c(x) + " " + c(y) + ")\"";
    m_out += ">" + esc(content) + "</text>\n";
  }
  std::string finish() {
    m_out += "</svg>\n";
    return std::move(m_out);
  }

 private:
  void close(std::string_view tip, std::string_view element) {
    if (tip.empty()) {
      m_out += "/>\n";
    } else {
      m_out += "><title>" + esc(tip) + "</title></" + std::string(element) + ">\n";
    }
  }
  std::string m_out;
};

struct Scale {
  double lo = 0.0, hi = 1.0;
  bool log = false;
  // Position in [0, 1] along the axis; values outside the domain sit on its edge.
  double frac(double v) const {
    if (std::isnan(v)) return 0.0;
    double t = 0.0;
    if (log) {
      if (v <= lo) return 0.0;
      t = (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    } else {
      t = (v - lo) / (hi - lo);
    }
    return std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : (t > 0 ? 1.0 : 0.0);
  }
};

struct Plot {
  double left = 0, top = 0, width = 0, height = 0;
  Scale x, y;
  double px(double v) const { return left + x.frac(v) * width; }
  double py(double v) const { return top + (1.0 - y.frac(v)) * height; }
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

struct Tick {
  double value = 0.0;
  std::string label;
};

void draw_axes(Svg& svg, const Plot& p, const std::vector<Tick>& xt, const std::vector<Tick>& yt,
               const std::vector<double>& x_minor, std::string_view x_label, std::string_view y_label) {
  for (double v : x_minor) svg.line(p.px(v), p.top, p.px(v), p.bottom(), "grid minor");
  for (const auto& t : yt) svg.line(p.left, p.py(t.value), p.right(), p.py(t.value), "grid");
  for (const auto& t : xt) svg.line(p.px(t.value), p.top, p.px(t.value), p.bottom(), "grid");
  svg.line(p.left, p.bottom(), p.right(), p.bottom(), "axis");
  svg.line(p.left, p.top, p.left, p.bottom(), "axis");
  for (const auto& t : xt) {
    svg.line(p.px(t.value), p.bottom(), p.px(t.value), p.bottom() + 4, "axis");
    svg.text(p.px(t.value), p.bottom() + 17, t.label, "tick", "middle");
  }
  for (const auto& t : yt) {
    svg.line(p.left - 4, p.py(t.value), p.left, p.py(t.value), "axis");
    svg.text(p.left - 7, p.py(t.value) + 4, t.label, "tick", "end");
  }
  svg.text(p.left + p.width / 2, p.bottom() + 38, x_label, "axis-label", "middle");
  svg.text(16, p.top + p.height / 2, y_label, "axis-label", "middle", -90.0);
}

std::vector<Tick> linear_ticks(double lo, double hi, double step) {
  std::vector<Tick> ticks;
  const auto n = static_cast<int>(std::floor((hi - lo) / step + 1e-9));
  for (int i = 0; i <= n; ++i) {
    const double v = lo + step * i;
    ticks.push_back({v, tick_pct(v)});
  }
  return ticks;
}

// The vertical threshold line, labelled above the plot.
void threshold_line(Svg& svg, const Plot& p, double threshold, int svg_width) {
  if (!std::isfinite(threshold)) return;
  const double x = p.px(threshold);
  svg.line(x, p.top - 4, x, p.bottom(), "threshold-line");
  const std::string label = "threshold " + sim(threshold);
  const double half = static_cast<double>(code_points(label)) * 3.4;
  const double lx = std::clamp(x, half + 2, static_cast<double>(svg_width) - half - 2);
  svg.text(lx, p.top - 8, label, "threshold-label", "middle");
}

// ---------------------------------------------------------------- HTML pieces

struct LegendEntry {
  std::string swatch;  // CSS classes of the swatch
  std::string text;    // plain text
};

std::string legend(const std::vector<LegendEntry>& entries) {
  std::string out = "<div class=\"legend\">";
  for (const auto& e : entries) {
    out += "<span><i class=\"sw " + e.swatch + "\"></i>" + esc(e.text) + "</span>";
  }
  return out + "</div>\n";
}

std::string empty_box(std::string_view message) {
  return "<div class=\"empty\">" + esc(message) + "</div>\n";
}

std::string caption(std::string_view text) {
  return "<p class=\"caption\">" + esc(text) + "</p>\n";
}

// The operating point at the chosen threshold: the ROC point with exactly
// that threshold, else the one with the lowest threshold above it (it
// accepts the scores at or above its own threshold, which differ from the
// scores >= `threshold` by at most one distinct score), else the highest.
struct ThresholdPoint {
  OperatingPoint point;
  bool exact = false;
};

std::optional<ThresholdPoint> point_at(const std::vector<OperatingPoint>& roc, double threshold) {
  if (roc.empty() || !std::isfinite(threshold)) return std::nullopt;
  const OperatingPoint* above = nullptr;
  const OperatingPoint* highest = nullptr;
  for (const auto& p : roc) {
    if (!std::isfinite(p.threshold)) continue;
    if (std::abs(p.threshold - threshold) <= 1e-12) return ThresholdPoint{p, true};
    if (p.threshold >= threshold && (!above || p.threshold < above->threshold)) above = &p;
    if (!highest || p.threshold > highest->threshold) highest = &p;
  }
  if (above) return ThresholdPoint{*above, false};
  if (highest) return ThresholdPoint{*highest, false};
  return std::nullopt;
}

std::string approx(bool exact) {
  return exact ? "" : "\xE2\x89\x88 ";
}  // "≈ "

// ---------------------------------------------------------------- charts

constexpr int k_half_w = 520, k_half_h = 370;

std::string roc_chart(const ReportInput& in, const std::optional<ThresholdPoint>& at) {
  const auto& cal = in.calibration;
  if (cal.genuine == 0 && cal.impostors == 0) return empty_box("No scored pairs: nothing to plot.");
  if (cal.impostors == 0) return empty_box("No impostor pairs: the ROC curve needs both classes.");
  if (cal.genuine == 0) return empty_box("No genuine pairs: the ROC curve needs both classes.");
  if (cal.roc.empty()) return empty_box("No operating points: nothing to plot.");

  Plot p;
  p.left = 62, p.top = 14, p.width = k_half_w - 62 - 18, p.height = k_half_h - 14 - 52;
  // A log FAR axis shows the low-FAR end that matters; it needs enough
  // impostors to span at least a decade and a bit. It starts at the decade
  // holding 1/impostors (the smallest non-zero FAR), but no lower than 0.01%.
  const bool log_far = cal.impostors >= 20;
  if (log_far) {
    const double smallest = 1.0 / static_cast<double>(cal.impostors);
    p.x = {std::max(1e-4, std::pow(10.0, std::floor(std::log10(smallest) + 1e-9))), 1.0, true};
  }
  std::vector<Tick> xt;
  std::vector<double> minor;
  if (log_far) {
    for (double d = p.x.lo; d <= 1.0 + 1e-9; d *= 10.0) {
      xt.push_back({d, general(d * 100.0, 3) + "%"});
      if (d < 1.0 - 1e-9) {
        for (int m = 2; m <= 9; ++m) minor.push_back(d * m);
      }
    }
  } else {
    xt = linear_ticks(0.0, 1.0, 0.2);
  }
  // With a log FAR axis a good system's curve hugs the top: start the TAR
  // axis at the tenth below the lowest TAR shown (the left edge, the EER
  // and threshold points), when that is 30% or more.
  if (log_far) {
    double lowest = 1.0;
    bool seen = false;
    for (const auto& op : cal.roc) {
      if (std::isfinite(op.far) && std::isfinite(op.tar) && op.far <= p.x.lo && (!seen || op.tar > lowest)) {
        lowest = op.tar;
        seen = true;
      }
    }
    if (finite(cal.eer)) lowest = std::min(lowest, 1.0 - *cal.eer);
    if (at && std::isfinite(at->point.tar)) lowest = std::min(lowest, at->point.tar);
    const double lo = std::floor((lowest - 0.05) * 10.0 + 1e-9) / 10.0;
    if (lo >= 0.3 && lo < 1.0) p.y.lo = lo;
  }
  const double y_range = 1.0 - p.y.lo;
  const auto yt = linear_ticks(p.y.lo, 1.0, y_range <= 0.3 + 1e-9 ? 0.05 : y_range <= 0.6 + 1e-9 ? 0.1 : 0.2);

  Svg svg(k_half_w, k_half_h, "ROC curve: true accept rate against false accept rate");
  draw_axes(svg, p, xt, yt, minor, log_far ? "False accept rate (FAR, log scale)" : "False accept rate (FAR)",
            "True accept rate (TAR)");
  if (!log_far) svg.polyline({{p.px(0), p.py(0)}, {p.px(1), p.py(1)}}, "chance");

  std::vector<OperatingPoint> pts = cal.roc;
  std::stable_sort(pts.begin(), pts.end(), [](const OperatingPoint& a, const OperatingPoint& b) {
    return a.far != b.far ? a.far < b.far : a.tar < b.tar;
  });
  std::vector<std::pair<double, double>> line;
  for (const auto& op : pts) {
    if (!std::isfinite(op.far) || !std::isfinite(op.tar)) continue;
    line.emplace_back(p.px(op.far), p.py(op.tar));
  }
  svg.polyline(line, "curve roc");

  std::vector<LegendEntry> keys{{"line roc", "ROC"}};
  if (!log_far) keys.push_back({"dash chance", "chance"});
  if (finite(cal.eer)) {
    const double e = *cal.eer;
    std::string tip = "EER " + rate(e);
    if (finite(cal.eer_threshold)) tip += " at threshold " + sim(*cal.eer_threshold);
    svg.circle(p.px(e), p.py(1.0 - e), 5, "eer-point", tip);
    keys.push_back({"dot eer", tip + " (FAR = FRR)"});
  }
  if (at && std::isfinite(at->point.far) && std::isfinite(at->point.tar)) {
    const std::string text = "threshold " + sim(in.threshold) + ": FAR " + approx(at->exact) + rate(at->point.far) +
                             ", TAR " + approx(at->exact) + rate(at->point.tar);
    svg.diamond(p.px(at->point.far), p.py(at->point.tar), 6, "threshold-point", text);
    keys.push_back({"diamond", text});
  }
  std::string out = svg.finish() + legend(keys);
  if (log_far) {
    out += caption("FAR on a log scale from " + general(p.x.lo * 100.0, 3) +
                   "% (the decade of the smallest non-zero FAR, 1 in " + count(cal.impostors) +
                   " impostor pairs); operating points with a lower FAR, including FAR 0, sit on the left edge." +
                   (p.y.lo > 0.0 ? " The TAR axis starts at " + tick_pct(p.y.lo) + "." : std::string()));
  } else {
    out += caption("FAR on a linear scale: with " + count(cal.impostors) +
                   " impostor pairs a log scale would have too few points.");
  }
  return out;
}

std::string rates_chart(const ReportInput& in) {
  const auto& cal = in.calibration;
  const bool far_ok = cal.impostors > 0, frr_ok = cal.genuine > 0;
  if (!far_ok && !frr_ok) return empty_box("No scored pairs: nothing to plot.");
  if (cal.roc.empty()) return empty_box("No operating points: nothing to plot.");

  Plot p;
  p.left = 62, p.top = 22, p.width = k_half_w - 62 - 18, p.height = k_half_h - 22 - 52;
  Svg svg(k_half_w, k_half_h, "FAR and FRR against the similarity threshold");
  draw_axes(svg, p, linear_ticks(0.0, 1.0, 0.1), linear_ticks(0.0, 1.0, 0.2), {}, "Similarity threshold", "Error rate");

  std::vector<OperatingPoint> pts;
  for (const auto& op : cal.roc) {
    if (std::isfinite(op.threshold) && std::isfinite(op.far) && std::isfinite(op.tar)) pts.push_back(op);
  }
  std::stable_sort(pts.begin(), pts.end(),
                   [](const OperatingPoint& a, const OperatingPoint& b) { return a.threshold < b.threshold; });
  std::vector<LegendEntry> keys;
  if (!pts.empty()) {
    // Below the lowest operating point everything is accepted, above the
    // highest nothing more is rejected: extend both ends flat.
    auto curve = [&](auto value) {
      std::vector<std::pair<double, double>> line;
      line.emplace_back(p.px(0.0), p.py(value(pts.front())));
      for (const auto& op : pts) line.emplace_back(p.px(op.threshold), p.py(value(op)));
      line.emplace_back(p.px(1.0), p.py(value(pts.back())));
      return line;
    };
    if (far_ok) {
      svg.polyline(curve([](const OperatingPoint& op) { return op.far; }), "curve far");
      keys.push_back({"line far", "FAR: impostor pairs accepted"});
    }
    if (frr_ok) {
      svg.polyline(curve([](const OperatingPoint& op) { return 1.0 - op.tar; }), "curve frr");
      keys.push_back({"line frr", "FRR: genuine pairs rejected"});
    }
  }
  threshold_line(svg, p, in.threshold, k_half_w);
  if (std::isfinite(in.threshold)) keys.push_back({"dash threshold", "chosen threshold " + sim(in.threshold)});
  if (finite(cal.eer) && finite(cal.eer_threshold)) {
    const std::string tip = "EER " + rate(*cal.eer) + " at threshold " + sim(*cal.eer_threshold);
    svg.circle(p.px(*cal.eer_threshold), p.py(*cal.eer), 5, "eer-point", tip);
    keys.push_back({"dot eer", tip});
  }
  std::string out = svg.finish() + legend(keys);
  if (!far_ok) out += caption("No impostor pairs: no FAR curve.");
  if (!frr_ok) out += caption("No genuine pairs: no FRR curve.");
  return out;
}

// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks up to `max`.
double nice_step(double max, int ticks) {
  const double raw = max / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * magnitude >= raw - 1e-12) return m * magnitude;
  }
  return 10.0 * magnitude;
}

std::string histogram_chart(const ReportInput& in) {
  const auto& cal = in.calibration;
  const Distribution& g = cal.genuine_scores;
  const Distribution& im = cal.impostor_scores;
  const bool has_g = g.count > 0 && !g.histogram.empty();
  const bool has_i = im.count > 0 && !im.histogram.empty();
  if (!has_g && !has_i) return empty_box("No scored pairs: no score distributions to plot.");
  const std::size_t bins = std::max(has_g ? g.histogram.size() : 0, has_i ? im.histogram.size() : 0);

  auto share = [](const Distribution& d, std::size_t i) {
    return i < d.histogram.size() ? ratio(d.histogram[i], d.count) : 0.0;
  };
  double top = 0.0;
  for (std::size_t i = 0; i < bins; ++i) {
    if (has_g) top = std::max(top, share(g, i));
    if (has_i) top = std::max(top, share(im, i));
  }
  if (!(top > 0.0)) top = 1.0;
  const double step = nice_step(top, 5);
  double y_max = std::ceil(top / step - 1e-9) * step;
  if (top > 0.94 * y_max) y_max += step;  // headroom above the tallest bar
  y_max = std::min(1.0, y_max);

  constexpr int w = 1040, h = 320;
  Plot p;
  p.left = 62, p.top = 22, p.width = w - 62 - 18, p.height = h - 22 - 52;
  p.y = {0.0, y_max, false};
  std::vector<Tick> yt;
  for (double v = 0.0; v <= y_max + 1e-9; v += step) yt.push_back({v, tick_pct(v)});
  Svg svg(w, h, "Histograms of genuine and impostor similarity scores");
  draw_axes(svg, p, linear_ticks(0.0, 1.0, 0.1), yt, {}, "Similarity", "Share of the class's pairs");

  const double bin_w = p.width / static_cast<double>(bins);
  const double bar_w = std::max(0.5, (bin_w - 4.0) / 2.0);
  const std::string bin_pct = general(100.0 / static_cast<double>(bins), 4);
  for (std::size_t i = 0; i < bins; ++i) {
    const double lo = static_cast<double>(i) / static_cast<double>(bins);
    const double hi = static_cast<double>(i + 1) / static_cast<double>(bins);
    const std::string range = tick_pct(lo) + "\xE2\x80\x93" + tick_pct(hi);  // en dash
    const double x0 = p.px(lo) + 2.0;
    auto bar = [&](const Distribution& d, double x, const char* cls, const char* name) {
      const double s = share(d, i);
      if (s <= 0.0) return;
      const std::size_t n = i < d.histogram.size() ? d.histogram[i] : 0;
      svg.rect(x, p.py(s), bar_w, p.bottom() - p.py(s), cls,
               std::string(name) + " " + range + ": " + count(n) + (n == 1 ? " pair (" : " pairs (") + rate(s) + ")");
    };
    if (has_g) bar(g, x0, "bar gen", "Genuine");
    if (has_i) bar(im, x0 + bar_w, "bar imp", "Impostor");
  }
  threshold_line(svg, p, in.threshold, w);

  std::vector<LegendEntry> keys;
  keys.push_back({"box gen", has_g ? "Genuine pairs (n = " + count(g.count) + ")" : "Genuine pairs: none"});
  keys.push_back({"box imp", has_i ? "Impostor pairs (n = " + count(im.count) + ")" : "Impostor pairs: none"});
  if (std::isfinite(in.threshold)) keys.push_back({"dash threshold", "chosen threshold " + sim(in.threshold)});
  return svg.finish() + legend(keys) +
         caption("Each class is normalised to its own number of pairs (bars of one colour sum to 100%); " +
                 count(bins) + " bins of " + bin_pct + " points of similarity.");
}

// ---------------------------------------------------------------- tables

std::string td(std::string_view escaped, std::string_view cls = {}) {
  std::string out = "<td";
  if (!cls.empty()) out += " class=\"" + std::string(cls) + "\"";
  return out + ">" + std::string(escaped) + "</td>";
}

std::string summary_section(const ReportInput& in) {
  const auto& cal = in.calibration;
  const double a = in.half_distance;
  std::string out = "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"grid2\">\n<div class=\"panel\">\n";
  out += "<h3>Key figures</h3>\n<table class=\"kv\">\n<tbody>\n";
  out += "<tr><th>Pairs</th>" +
         td(count(cal.genuine) + " genuine, " + count(cal.impostors) + " impostor (" +
            count(cal.genuine + cal.impostors) + " in all)") +
         "</tr>\n";
  out += "<tr><th>AUC</th>" + td(finite(cal.auc) ? fixed(*cal.auc, 4) : "n/a (needs both classes)") + "</tr>\n";
  std::string eer = "n/a (needs both classes)";
  if (finite(cal.eer)) {
    eer = rate(*cal.eer);
    if (finite(cal.eer_threshold)) {
      eer += " at threshold " + sim(*cal.eer_threshold) + " (distance " + distance_for(*cal.eer_threshold, a) + ")";
    }
  }
  out += "<tr><th>EER</th>" + td(esc(eer)) + "</tr>\n";
  std::string best = "n/a (no scores)";
  if (cal.best_accuracy) {
    const auto& b = *cal.best_accuracy;
    best = "accuracy " + rate(b.accuracy) + " at threshold " + sim(b.threshold) + " (distance " +
           distance_for(b.threshold, a) + "); FAR " + rate(b.far) + ", TAR " + rate(b.tar);
  }
  out += "<tr><th>Best-accuracy cut</th>" + td(esc(best)) + "</tr>\n";
  out += "<tr><th>Chosen threshold</th>" +
         td(esc(sim(in.threshold) + " (distance " + distance_for(in.threshold, a) + ")") +
            (in.threshold_reason.empty() ? std::string() : " &#8212; " + esc(in.threshold_reason))) +
         "</tr>\n";
  out += "</tbody>\n</table>\n</div>\n";

  // Score distributions.
  out +=
      "<div class=\"panel\">\n<h3>Score distributions (similarity)</h3>\n<table "
      "class=\"dist\">\n<thead><tr><th>Class</th>"
      "<th class=\"n\">Pairs</th><th class=\"n\">Min</th><th class=\"n\">Q1</th><th class=\"n\">Median</th>"
      "<th class=\"n\">Q3</th><th class=\"n\">Max</th><th class=\"n\">Mean</th></tr></thead>\n<tbody>\n";
  auto dist_row = [&](const char* name, const char* swatch, const Distribution& d) {
    out += "<tr><th class=\"class\"><i class=\"sw box " + std::string(swatch) + "\"></i>" + name + "</th>" +
           td(count(d.count), "n");
    for (double v : {d.min, d.q25, d.median, d.q75, d.max, d.mean}) {
      out += td(d.count == 0 ? std::string(k_dash) : fixed(v * 100.0, 1) + "%", "n");
    }
    out += "</tr>\n";
  };
  dist_row("Genuine", "gen", cal.genuine_scores);
  dist_row("Impostor", "imp", cal.impostor_scores);
  out += "</tbody>\n</table>\n</div>\n</div>\n";

  // TAR at FAR targets.
  out += "<div class=\"panel\">\n<h3>TAR at fixed FAR</h3>\n";
  if (cal.far_targets.empty()) {
    out += "<p class=\"muted\">No FAR targets.</p>\n";
  } else {
    out +=
        "<table>\n<thead><tr><th class=\"n\">FAR target</th><th class=\"n\">TAR</th><th class=\"n\">FAR</th>"
        "<th class=\"n\">Threshold</th><th class=\"n\">Distance</th><th class=\"n\">False accepts</th>"
        "<th class=\"n\">Impostor pairs</th><th>Note</th></tr></thead>\n<tbody>\n";
    for (const auto& t : cal.far_targets) {
      const bool caution = !t.meaningful;
      out += caution ? "<tr class=\"caution\">" : "<tr>";
      out += td(esc(target(t.far)), "n");
      if (t.point) {
        const auto& op = *t.point;
        out += td(esc(rate(op.tar)), "n") + td(esc(rate(op.far)), "n") + td(esc(sim(op.threshold)), "n") +
               td(esc(distance_for(op.threshold, a)), "n") + td(count(op.false_accepts), "n");
      } else {
        for (int i = 0; i < 5; ++i) out += td(k_dash, "n");
      }
      out += td(count(t.impostors), "n");
      std::string note = t.note;
      if (note.empty() && !t.point) note = "no impostor pairs";
      out += td(esc(note), "note") + "</tr>\n";
    }
    out += "</tbody>\n</table>\n";
    out += caption(
        "TAR at FAR f: the lowest threshold whose FAR stays within f. A FAR is meaningful when the impostor pairs "
        "allow at least about 10 false accepts (at least 10 / f pairs); rows without that are shaded.");
  }
  out += "</div>\n</section>\n";
  return out;
}

std::string pairs_table(const std::vector<ScoredPair>& pairs, const char* none) {
  if (pairs.empty()) return "<p class=\"muted\">" + std::string(none) + "</p>\n";
  std::string out =
      "<table class=\"pairs\">\n<thead><tr><th class=\"n\">#</th><th>Image 1</th><th>Image 2</th>"
      "<th class=\"n\">Similarity</th><th class=\"n\">Distance</th></tr></thead>\n<tbody>\n";
  std::size_t i = 0;
  for (const auto& pair : pairs) {
    out += "<tr>" + td(std::to_string(++i), "n") + td(esc(pair.image1), "name") + td(esc(pair.image2), "name") +
           td(esc(sim(pair.similarity)), "n") + td(esc(distance_text(pair.distance)), "n") + "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

constexpr std::string_view k_style = R"CSS(
:root{--fg:#1e293b;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;--gen:#2563eb;--imp:#ea580c;--roc:#4f46e5;--thr:#0f172a;--eer:#dc2626}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Liberation Sans","DejaVu Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 24px 40px}
h1{font-size:23px;line-height:1.25;margin:0 0 4px;overflow-wrap:anywhere}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:0 0 8px}
.meta{color:var(--muted);margin:0 0 16px;overflow-wrap:anywhere}
.meta b{color:var(--fg);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(4,minmax(0,1fr)) minmax(0,2.1fr);gap:12px}
.card,.panel{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.card .s{color:var(--muted);font-size:12.5px;overflow-wrap:anywhere}
.card.threshold{border-color:#94a3b8}
.card .v2{font-size:13px;font-weight:400;color:var(--muted);margin-left:4px}
.card .v2 b{color:var(--fg);font-weight:650}
section{margin-top:22px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin-bottom:16px}
.grid2 > *{min-width:0}
svg{display:block;width:100%;height:auto;overflow:visible}
.caption{color:var(--muted);font-size:12px;margin:6px 0 0}
.muted{color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12.5px;margin-top:6px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;flex:none;vertical-align:middle}
.sw.box{width:12px;height:12px;border-radius:2px;margin-right:6px}
.legend .sw.box{margin-right:0}
.sw.box.gen{background:var(--gen)}
.sw.box.imp{background:var(--imp)}
.sw.line,.sw.dash{width:20px;height:0;border-top:2.5px solid}
.sw.dash{border-top-style:dashed;border-top-width:2px}
.sw.roc{border-color:var(--roc)}
.sw.far{border-color:var(--imp)}
.sw.frr{border-color:var(--gen)}
.sw.chance{border-color:#94a3b8}
.sw.threshold{border-color:var(--thr)}
.sw.dot{width:10px;height:10px;border-radius:50%;background:var(--eer)}
.sw.diamond{width:9px;height:9px;margin:0 2px;border:2px solid var(--thr);background:#fff;transform:rotate(45deg)}
.empty{display:flex;align-items:center;justify-content:center;min-height:200px;border:1px dashed #cbd5e1;border-radius:8px;color:var(--muted);text-align:center;padding:16px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{color:var(--muted);font-weight:600;font-size:12px;border-bottom-color:#cbd5e1}
tbody tr:last-child th,tbody tr:last-child td{border-bottom:none}
.kv th{width:150px;color:var(--muted);font-weight:600;font-size:13px}
th.n,td.n{text-align:right;white-space:nowrap}
td.name{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12px;overflow-wrap:anywhere;word-break:break-all}
td.note{color:#92400e;font-size:12.5px}
tr.caution td{background:#fffbeb}
.pairs td.n{width:1%}
.pairs td.name{width:45%}
.dist th,.dist td{padding:6px 5px}
th.class{white-space:nowrap}
th.class .sw{margin-right:6px}
.grid line{stroke:#e9edf2;stroke-width:1}
.grid.minor{stroke:#f3f5f8}
.axis{stroke:#94a3b8;stroke-width:1}
.tick{fill:var(--muted);font-size:11px}
.axis-label{fill:#334155;font-size:12px;font-weight:600}
.grid{stroke:#e9edf2;stroke-width:1}
.curve{fill:none;stroke-width:2.25;stroke-linejoin:round;stroke-linecap:round}
.roc{stroke:var(--roc)}
.far{stroke:var(--imp)}
.frr{stroke:var(--gen)}
.chance{fill:none;stroke:#94a3b8;stroke-width:1;stroke-dasharray:4 4}
.bar.gen{fill:var(--gen)}
.bar.imp{fill:var(--imp)}
.threshold-line{stroke:var(--thr);stroke-width:1.5;stroke-dasharray:6 4}
.threshold-label{fill:var(--thr);font-size:11px;font-weight:600}
.eer-point{fill:var(--eer);stroke:#fff;stroke-width:1.5}
.threshold-point{fill:#fff;stroke:var(--thr);stroke-width:2}
.spaced{margin-top:16px}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media (max-width:860px){.grid2{grid-template-columns:1fr}.cards{grid-template-columns:repeat(2,1fr)}}
@media print{body{background:#fff}section,.panel{break-inside:avoid}}
)CSS";

}  // namespace

std::string render_calibration_report(const ReportInput& in) {
  const auto& cal = in.calibration;
  const double a = in.half_distance;
  const std::string title = in.title.empty() ? std::string("Calibration report") : in.title;
  const auto at = point_at(cal.roc, in.threshold);

  std::string out;
  out.reserve(64 * 1024);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<meta name=\"generator\" content=\"faceverify ";
  out += k_version;
  out +=
      "\"/>\n<title>" + esc(title) + "</title>\n<style>" + std::string(k_style) + "</style>\n</head>\n<body>\n<main>\n";

  // Header.
  out += "<header>\n<h1>" + esc(title) + "</h1>\n<p class=\"meta\">Backend <b>" +
         esc(in.backend.empty() ? std::string(k_dash) : in.backend) + "</b> &#183; generated <b>" +
         esc(in.generated_at.empty() ? std::string(k_dash) : in.generated_at) + "</b> &#183; half-distance a = <b>" +
         esc(fixed(a, 3)) + "</b> &#183; faceverify " + esc(k_version) + "</p>\n";
  out += "<div class=\"cards\">\n";
  auto card = [&](std::string_view key, const std::string& value, const std::string& sub, const char* cls = "card") {
    out += "<div class=\"" + std::string(cls) + "\"><div class=\"k\">" + esc(key) + "</div><div class=\"v\">" +
           esc(value) + "</div>";
    if (!sub.empty()) out += "<div class=\"s\">" + sub + "</div>";
    out += "</div>\n";
  };
  card("Genuine pairs", count(cal.genuine), "same person");
  card("Impostor pairs", count(cal.impostors), "different people");
  card("AUC", finite(cal.auc) ? fixed(*cal.auc, 4) : std::string(k_dash), finite(cal.auc) ? "" : "needs both classes");
  card("EER", finite(cal.eer) ? rate(*cal.eer) : std::string(k_dash),
       finite(cal.eer) && finite(cal.eer_threshold) ? esc("at threshold " + sim(*cal.eer_threshold))
                                                    : std::string(finite(cal.eer) ? "" : "needs both classes"));
  // The threshold card: similarity and distance, why, and what it does.
  const std::string t_sim = esc(sim(in.threshold)), t_dist = esc(distance_for(in.threshold, a));
  out += "<div class=\"card threshold\"><div class=\"k\">Chosen threshold</div><div class=\"v\">" + t_sim +
         " <span class=\"v2\">distance <b>" + t_dist + "</b></span></div>";
  std::string sub = "same person when similarity &#8805; " + t_sim + ", i.e. distance &#8804; " + t_dist;
  if (!in.threshold_reason.empty()) sub += "<br/>chosen by: <b>" + esc(in.threshold_reason) + "</b>";
  if (at && (cal.genuine > 0 || cal.impostors > 0)) {
    sub += "<br/>at this threshold: ";
    if (cal.impostors > 0) sub += "FAR " + esc(approx(at->exact) + rate(at->point.far));
    if (cal.impostors > 0 && cal.genuine > 0) sub += ", ";
    if (cal.genuine > 0) sub += "TAR " + esc(approx(at->exact) + rate(at->point.tar));
  }
  out += "<div class=\"s\">" + sub + "</div></div>\n";
  // How the threshold in use today does on this data.
  if (in.current_threshold) {
    const auto now = point_at(cal.roc, *in.current_threshold);
    std::string rates =
        "from the " + esc(in.current_threshold_source.empty() ? std::string("default") : in.current_threshold_source);
    if (now && cal.impostors > 0) rates += "<br/>FAR " + esc(approx(now->exact) + rate(now->point.far));
    if (now && cal.genuine > 0)
      rates +=
          std::string(cal.impostors > 0 ? ", " : "<br/>") + "TAR " + esc(approx(now->exact) + rate(now->point.tar));
    card("Your threshold", sim(*in.current_threshold), rates);
  }
  out += "</div>\n</header>\n";

  // Charts.
  out += "<div class=\"grid2 charts\">\n<section id=\"roc\" class=\"panel\">\n<h2>ROC curve</h2>\n" +
         roc_chart(in, at) + "</section>\n";
  out += "<section id=\"rates\" class=\"panel\">\n<h2>FAR and FRR against the threshold</h2>\n" + rates_chart(in) +
         "</section>\n</div>\n";
  out += "<section id=\"distributions\" class=\"panel\">\n<h2>Score distributions</h2>\n" + histogram_chart(in) +
         "</section>\n";

  out += summary_section(in);

  // Worst pairs.
  out +=
      "<section id=\"worst\">\n<h2>Worst pairs</h2>\n<div class=\"panel\">\n<h3>Lowest-scoring genuine pairs</h3>\n" +
      pairs_table(in.worst_genuine, "No genuine pairs.") + "</div>\n";
  out += "<div class=\"panel spaced\">\n<h3>Highest-scoring impostor pairs</h3>\n" +
         pairs_table(in.worst_impostors, "No impostor pairs.") + "</div>\n</section>\n";

  out += "<footer>Similarity s and distance d are related by d = a &#183; (ln s / ln 0.5)<sup>1/7</sup> with a = " +
         esc(fixed(a, 3)) +
         ". A pair is accepted as the same person when s &#8805; threshold. This report is one self-contained "
         "file: no scripts, nothing loaded from the network.</footer>\n";
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace faceverify

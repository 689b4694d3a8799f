// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <clocale>
#include <cstdlib>
#include <limits>
#include <string>

#include "faceverify/junit.hpp"
#include "golden.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace std::string_literals;
using Outcome = JunitCase::Outcome;

using faceverify::test::check_golden;

namespace {

JunitCase make_case(std::string name, Outcome outcome = Outcome::passed, double seconds = 0.0) {
  JunitCase c;
  c.name = std::move(name);
  c.classname = "faceverify.pairs";
  c.outcome = outcome;
  c.seconds = seconds;
  return c;
}

JunitSuite small_suite() {
  JunitSuite s;
  s.timestamp = "2026-11-23T06:45:44";
  s.seconds = 1.2344;
  s.cases.push_back(make_case("line 2: a.jpg vs b.jpg", Outcome::passed, 0.2104));
  JunitCase f = make_case("line 3: a.jpg vs c.jpg", Outcome::failed, 0.2996);
  f.type = "contradiction";
  f.message = "expected same, verdict different (similarity 41.2%)";
  f.system_out = "similarity=0.412 distance=1.084";
  s.cases.push_back(f);
  JunitCase e = make_case("line 4: <x> & \"y\".jpg vs d.jpg", Outcome::errored);
  e.type = "service";
  e.message = "HTTP 503: service unavailable";
  s.cases.push_back(e);
  JunitCase p = make_case("line 5: e.jpg vs f.jpg", Outcome::passed, 0.7236);
  p.system_out = "similarity=0.913";
  s.cases.push_back(p);
  return s;
}

// The value of the first attribute `name="..."` after `from` in xml.
std::string attribute(const std::string& xml, const std::string& name, std::size_t from = 0) {
  const std::string key = " " + name + "=\"";
  const auto start = xml.find(key, from);
  if (start == std::string::npos) return "<missing>";
  const auto begin = start + key.size();
  return xml.substr(begin, xml.find('"', begin) - begin);
}

// The name attribute of the single testcase of a one-case suite.
std::string rendered_name(const std::string& name) {
  JunitSuite s;
  s.cases.push_back(make_case(name));
  const std::string xml = render_junit(s);
  return attribute(xml, "name", xml.find("<testcase"));
}

// The <system-out> text of the single testcase of a one-case suite.
std::string rendered_text(const std::string& text) {
  JunitSuite s;
  JunitCase c = make_case("n");
  c.system_out = text;
  s.cases.push_back(c);
  const std::string xml = render_junit(s);
  const auto begin = xml.find("<system-out>") + 12;
  return xml.substr(begin, xml.find("</system-out>") - begin);
}

bool have_xmllint() {
  return test::run_process({"xmllint", "--version"}).exit_code == 0;
}

// Well-formedness by xmllint when it is installed; true otherwise.
bool well_formed(const std::string& xml) {
  static const bool available = have_xmllint();
  if (!available) return true;
  test::RunOptions opts;
  opts.stdin_data = xml;
  const auto r = test::run_process({"xmllint", "--noout", "-"}, opts);
  if (r.exit_code != 0) UNSCOPED_INFO("xmllint: " << r.err);
  return r.exit_code == 0;
}

}  // namespace

TEST_CASE("junit: golden document for a small suite", "[junit]") {
  const std::string xml = render_junit(small_suite());
  check_golden("junit_suite.xml", xml);
  CHECK(well_formed(xml));
}

TEST_CASE("junit: counts", "[junit]") {
  JunitSuite s;
  s.seconds = 2;
  for (int i = 0; i < 3; ++i) s.cases.push_back(make_case("p" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) s.cases.push_back(make_case("f" + std::to_string(i), Outcome::failed));
  s.cases.push_back(make_case("e", Outcome::errored));
  const std::string xml = render_junit(s);
  for (const std::string element : {"<testsuites", "<testsuite "}) {
    const auto at = xml.find(element);
    REQUIRE(at != std::string::npos);
    CHECK(attribute(xml, "tests", at) == "6");
    CHECK(attribute(xml, "failures", at) == "2");
    CHECK(attribute(xml, "errors", at) == "1");
    CHECK(attribute(xml, "skipped", at) == "0");
    CHECK(attribute(xml, "time", at) == "2.000");
  }
  CHECK(attribute(xml, "name", xml.find("<testsuites")) == "faceverify");
  CHECK(attribute(xml, "name", xml.find("<testsuite ")) == "faceverify pairs");
  // An empty type falls back to the element name (the Ant schema requires one).
  CHECK(attribute(xml, "type", xml.find("<failure")) == "failure");
  CHECK(attribute(xml, "type", xml.find("<error")) == "error");
  CHECK(well_formed(xml));
}

TEST_CASE("junit: empty suite", "[junit]") {
  JunitSuite s;
  const std::string xml = render_junit(s);
  CHECK(xml ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites name=\"faceverify\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000\">\n"
        "  <testsuite name=\"faceverify pairs\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" "
        "time=\"0.000\"/>\n"
        "</testsuites>\n");
  CHECK(well_formed(xml));
}

TEST_CASE("junit: times", "[junit]") {
  auto time_of = [](double seconds) {
    JunitSuite s;
    s.seconds = seconds;
    return attribute(render_junit(s), "time");
  };
  CHECK(time_of(0.0005) == "0.001");
  CHECK(time_of(0.0004) == "0.000");
  CHECK(time_of(12345.6789) == "12345.679");
  CHECK(time_of(-1) == "0.000");
  CHECK(time_of(std::numeric_limits<double>::quiet_NaN()) == "0.000");
  CHECK(time_of(std::numeric_limits<double>::infinity()) == "0.000");
  CHECK(time_of(std::numeric_limits<double>::max()).size() == 309 + 4);
  SECTION("independent of the C locale") {
    const char* old = std::setlocale(LC_NUMERIC, nullptr);
    const std::string saved = old ? old : "C";
    if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") || std::setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
      CHECK(time_of(1.5) == "1.500");
    }
    std::setlocale(LC_NUMERIC, saved.c_str());
  }
}

TEST_CASE("junit: escaping of special characters", "[junit]") {
  SECTION("attributes") {
    CHECK(rendered_name("a&b") == "a&amp;b");
    CHECK(rendered_name("<tag>") == "&lt;tag&gt;");
    CHECK(rendered_name("say \"hi\"") == "say &quot;hi&quot;");
    CHECK(rendered_name("it's") == "it&apos;s");
    CHECK(rendered_name("a\tb\nc\rd") == "a&#9;b&#10;c&#13;d");
    CHECK(rendered_name("&amp;") == "&amp;amp;");
  }
  SECTION("text") {
    CHECK(rendered_text("a & b < c > d \" e ' f") == "a &amp; b &lt; c &gt; d &quot; e &apos; f");
    CHECK(rendered_text("x\ty\nz") == "x\ty\nz");
    CHECK(rendered_text("x\r\ny") == "x&#13;\ny");
    CHECK(rendered_text("]]>") == "]]&gt;");
  }
  SECTION("every field of a case and the suite") {
    JunitSuite s;
    s.name = "<suite>";
    s.timestamp = "\"t\"";
    JunitCase c = make_case("<n>", Outcome::failed);
    c.classname = "<c>";
    c.type = "<t>";
    c.message = "<m>";
    c.system_out = "<o>";
    s.cases.push_back(c);
    const std::string xml = render_junit(s);
    CHECK(xml.find("<suite>") == std::string::npos);
    CHECK(xml.find("\"t\"") == std::string::npos);
    for (const std::string v : {"<n>", "<c>", "<t>", "<m>", "<o>"}) CHECK(xml.find(v) == std::string::npos);
    CHECK(attribute(xml, "message") == "&lt;m&gt;");
    CHECK(attribute(xml, "timestamp") == "&quot;t&quot;");
    CHECK(well_formed(xml));
  }
}

TEST_CASE("junit: control characters are replaced", "[junit]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(rendered_name("a\x01z") == "a" + fffd + "z");
  CHECK(rendered_name("a\0z"s) == "a" + fffd + "z");
  CHECK(rendered_name("\x1B[31mred") == fffd + "[31mred");
  CHECK(rendered_name("del\x7F") == "del" + fffd);
  CHECK(rendered_name("c1\xC2\x85") == "c1" + fffd);                         // U+0085 (NEL)
  CHECK(rendered_name("nc\xEF\xBF\xBE\xEF\xBF\xBF") == "nc" + fffd + fffd);  // U+FFFE, U+FFFF
  CHECK(rendered_text("\x08\x0B\x0C") == fffd + fffd + fffd);
  std::string all;
  for (int i = 0; i < 0x20; ++i) all += static_cast<char>(i);
  JunitSuite s;
  JunitCase c = make_case(all, Outcome::errored);
  c.message = all;
  c.system_out = all;
  c.type = all;
  s.cases.push_back(c);
  CHECK(well_formed(render_junit(s)));
}

TEST_CASE("junit: invalid UTF-8 becomes U+FFFD, valid UTF-8 is kept", "[junit]") {
  const std::string fffd = "\xEF\xBF\xBD";
  SECTION("valid") {
    CHECK(rendered_name("caf\xC3\xA9") == "caf\xC3\xA9");
    CHECK(rendered_name("\xE2\x82\xAC \xF0\x9F\x98\x80") == "\xE2\x82\xAC \xF0\x9F\x98\x80");
    CHECK(rendered_name("\xEF\xBF\xBD") == fffd);
    CHECK(rendered_name("\xF4\x8F\xBF\xBD") == "\xF4\x8F\xBF\xBD");  // U+10FFFD
  }
  SECTION("invalid") {
    CHECK(rendered_name("a\xFFz") == "a" + fffd + "z");
    CHECK(rendered_name("\x80") == fffd);                                   // lone continuation
    CHECK(rendered_name("\xC3") == fffd);                                   // truncated at the end
    CHECK(rendered_name("\xC3(") == fffd + "(");                            // truncated before ASCII
    CHECK(rendered_name("\xE2\x82(") == fffd + "(");                        // maximal subpart: one U+FFFD
    CHECK(rendered_name("\xC0\xAF") == fffd + fffd);                        // overlong '/'
    CHECK(rendered_name("\xE0\x80\xAF") == fffd + fffd + fffd);             // overlong
    CHECK(rendered_name("\xED\xA0\x80") == fffd + fffd + fffd);             // surrogate U+D800
    CHECK(rendered_name("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
    CHECK(rendered_name("\xF5\x80") == fffd + fffd);
    CHECK(rendered_text("\xFE\xFF<") == fffd + fffd + "&lt;");
  }
  SECTION("every byte value is well-formed output") {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    JunitSuite s;
    JunitCase c = make_case(all, Outcome::failed);
    c.message = all + all;
    c.system_out = all;
    s.cases.push_back(c);
    CHECK(well_formed(render_junit(s)));
  }
}

// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "serve/page.hpp"

using faceverify::serve::page_html;
using faceverify::serve::PageSettings;

namespace {

constexpr std::string_view k_open = R"(<script type="application/json" id="settings">)";

// The text of the settings element.
std::string settings_text(const std::string& page) {
  const std::size_t start = page.find(k_open);
  REQUIRE(start != std::string::npos);
  const std::size_t from = start + k_open.size();
  const std::size_t end = page.find("</script>", from);
  REQUIRE(end != std::string::npos);
  return page.substr(from, end - from);
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The value of every src= and href= attribute (quoted or not).
std::vector<std::string> link_values(const std::string& page) {
  std::vector<std::string> values;
  for (const std::string_view attribute : {"src=", "href="}) {
    for (std::size_t at = page.find(attribute); at != std::string::npos; at = page.find(attribute, at + 1)) {
      std::size_t from = at + attribute.size();
      const char quote = from < page.size() && (page[from] == '"' || page[from] == '\'') ? page[from] : ' ';
      if (quote != ' ') ++from;
      std::size_t end = page.find_first_of(quote == ' ' ? std::string(" >") : std::string(1, quote), from);
      if (end == std::string::npos) end = page.size();
      values.push_back(page.substr(from, end - from));
    }
  }
  return values;
}

}  // namespace

TEST_CASE("serve::page_html", "[serve][page]") {
  PageSettings settings;
  settings.threshold = 0.75;
  settings.half_distance = 1.1;
  settings.requires_key = true;
  settings.version = "1.2.3";
  const std::string page = page_html(settings);

  SECTION("the placeholder is replaced by the settings as one JSON object") {
    CHECK(page.find("__FACEVERIFY_SETTINGS__") == std::string::npos);
    const auto json = nlohmann::json::parse(settings_text(page));
    CHECK(json.at("threshold").get<double>() == 0.75);
    CHECK(json.at("half_distance").get<double>() == 1.1);
    CHECK(json.at("requires_key").get<bool>() == true);
    CHECK(json.at("version").get<std::string>() == "1.2.3");
    CHECK(json.size() == 4);
    CHECK(nlohmann::json::parse(settings_text(page_html(PageSettings{}))).at("requires_key") == false);
  }

  SECTION("it is one self-contained page: no external URL, and it calls the API relative to itself") {
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("http://") == std::string::npos);
    CHECK(page.find("https://") == std::string::npos);
    CHECK(page.find("//cdn") == std::string::npos);
    CHECK(page.find("@import") == std::string::npos);
    CHECK(page.find("url(") == std::string::npos);
    for (const std::string& value : link_values(page)) {
      INFO("src/href value: " << value);
      CHECK(value.find("//") == std::string::npos);
      CHECK(value.find(':') == std::string::npos);
    }
    CHECK(page.find(R"(fetch("v1/results?embeddings=true")") != std::string::npos);
    CHECK(page.size() < 25 * 1024);
  }

  SECTION("the result elements the browser test reads are there") {
    for (const std::string_view id : {R"(id="file1")", R"(id="file2")", R"(id="verdict")", R"(id="similarity")",
                                      R"(id="error")", R"(id="apikey")", R"(id="canvas1")", R"(id="canvas2")"}) {
      INFO(id);
      CHECK(count(page, id) == 1);
    }
  }

  SECTION("a '<' in the settings cannot close the script element") {
    PageSettings hostile;
    hostile.version = "</script><script>alert(1)</script><!--";
    const std::string hostile_page = page_html(hostile);
    const std::string text = settings_text(hostile_page);
    CHECK(text.find('<') == std::string::npos);
    CHECK(text.find("\\u003c/script>") != std::string::npos);
    CHECK(nlohmann::json::parse(text).at("version") == hostile.version);
    CHECK(count(hostile_page, "</script>") == count(page, "</script>"));
  }

  SECTION("a version that is not UTF-8 still gives a page") {
    PageSettings odd;
    odd.version = "1.0\xff";
    CHECK_NOTHROW(nlohmann::json::parse(settings_text(page_html(odd))));
  }
}

// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <string>

#include "faceverify/error_body.hpp"

using namespace faceverify;

TEST_CASE("error_body::summarize_error_body", "[error_body]") {
  CHECK(summarize_error_body(R"({"message":"You are not subscribed to this API."})", "application/json") ==
        "You are not subscribed to this API.");
  CHECK(
      summarize_error_body(
          R"({"detail":[{"loc":["query","embeddings"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]})",
          "application/json") == "value could not be parsed to a boolean (query.embeddings)");
  CHECK(summarize_error_body(R"({"detail":"Not Found"})", "application/json") == "Not Found");
  const std::string gfe =
      "<html><head><title>413 Request Entity Too Large</title></head><body><h1>Error: Request Entity Too "
      "Large</h1><h2>Your client issued a request that was too large.</h2></body></html>";
  CHECK(summarize_error_body(gfe, "text/html") == "413 Request Entity Too Large");
  CHECK(summarize_error_body(
            "<html><body><h1>Bad &amp; gateway</h1><script>var x=1;</script><p>try\nlater</p></body></html>",
            "text/html; charset=utf-8") == "Bad & gateway try later");
  CHECK(summarize_error_body("Internal Server Error\n", "text/plain") == "Internal Server Error");
  CHECK(summarize_error_body("", "text/plain").empty());
  SECTION("long bodies become a short one-line excerpt") {
    const std::string s = summarize_error_body(std::string(5000, 'x') + "\n" + std::string(10, 'y'), "text/plain");
    CHECK(s.size() <= 203);
    CHECK(s.find('\n') == std::string::npos);
    CHECK(s.ends_with("..."));
  }
  SECTION("control characters and invalid UTF-8 never reach the terminal") {
    const std::string s = summarize_error_body("bad\x1b[31mred\x07 \xff\xfe end", "text/plain");
    CHECK(s.find('\x1b') == std::string::npos);
    CHECK(s.find('\x07') == std::string::npos);
    CHECK(s.find('\xff') == std::string::npos);
  }
  SECTION("JSON without a known message falls back to text") {
    CHECK(summarize_error_body(R"({"foo":1})", "application/json") == R"({"foo":1})");
  }
}

TEST_CASE("error_body::summarize_error_body HTML and JSON edge cases", "[error_body]") {
  SECTION("entities in a title are decoded, markup around it is not shown") {
    CHECK(summarize_error_body("<html><title>Tom &amp; Jerry&#39;s &lt;page&gt;</title></html>", "text/html") ==
          "Tom & Jerry's <page>");
    CHECK(summarize_error_body("<TITLE>Upper</TITLE>", "") == "Upper");
  }
  SECTION("an empty title falls back to the visible text, without style content") {
    CHECK(summarize_error_body("<html><head><title> </title><style>p{color:red}</style></head><body>Gone</body>",
                               "text/html") == "Gone");
  }
  SECTION("blank bodies are empty") {
    CHECK(summarize_error_body(" \r\n\t ", "text/plain").empty());
  }
  SECTION("JSON that is not an error object, or too deep, is shown as text") {
    CHECK(summarize_error_body("[1, 2]", "application/json") == "[1, 2]");
    const std::string deep = std::string(150, '[') + std::string(150, ']');
    CHECK(summarize_error_body(deep, "application/json") == deep.substr(0, 200) + "...");
  }
  SECTION("a FastAPI detail list with numeric locations") {
    CHECK(summarize_error_body(R"({"detail":[{"loc":["body",0],"msg":"bad"},{"msg":"worse"}]})", "") ==
          "bad (body.0); worse");
  }
  SECTION("error and title members") {
    CHECK(summarize_error_body(R"({"error":"quota"})", "application/json") == "quota");
    CHECK(summarize_error_body(R"({"title":"Forbidden","status":403})", "application/problem+json") == "Forbidden");
  }
}

TEST_CASE("error_body::message_excerpt", "[error_body]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(message_excerpt("") == "");
  CHECK(message_excerpt("  two\n\n lines\t ") == "two lines");
  CHECK(message_excerpt("bell\x07 and \x1b[31mred\x7f") == "bell and [31mred");
  SECTION("invalid UTF-8 becomes U+FFFD, valid UTF-8 is kept") {
    CHECK(message_excerpt("caf\xC3\xA9") == "caf\xC3\xA9");
    CHECK(message_excerpt("a\xFFz") == "a" + fffd + "z");
    CHECK(message_excerpt("\xC0\xAF") == fffd + fffd);                        // overlong '/'
    CHECK(message_excerpt("\xED\xA0\x80") == fffd + fffd + fffd);             // surrogate
    CHECK(message_excerpt("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
    CHECK(message_excerpt("\xE2\x82") == fffd);                               // truncated
  }
  SECTION("long text is cut between characters") {
    CHECK(message_excerpt(std::string(200, 'x')) == std::string(200, 'x'));
    CHECK(message_excerpt(std::string(201, 'x')) == std::string(200, 'x') + "...");
    std::string accents;
    for (int i = 0; i < 150; ++i) accents += "\xC3\xA9";  // 300 bytes
    CHECK(message_excerpt(accents) == accents.substr(0, 200) + "...");
    std::string shifted = "x";  // one byte more: the cut moves back a whole character
    shifted += accents;
    CHECK(message_excerpt(shifted) == shifted.substr(0, 199) + "...");
  }
}

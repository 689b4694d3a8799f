// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "faceverify/text.hpp"

using namespace faceverify;
using namespace std::string_literals;

namespace {

// "U+XXXX/size" or "bad/size" for each step of a scan of `s`.
std::vector<std::string> scan(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.size();) {
    const Utf8Sequence seq = decode_utf8(s, i);
    char buf[32];
    if (seq.valid) {
      std::snprintf(buf, sizeof buf, "U+%04X/%zu", static_cast<unsigned>(seq.code_point), seq.size);
    } else {
      CHECK(seq.code_point == 0xFFFD);
      std::snprintf(buf, sizeof buf, "bad/%zu", seq.size);
    }
    out.emplace_back(buf);
    REQUIRE(seq.size >= 1);
    i += seq.size;
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("text::decode_utf8 valid sequences", "[text]") {
  CHECK(scan("a") == V{"U+0061/1"});
  CHECK(scan("\0"s) == V{"U+0000/1"});
  CHECK(scan("\x7F") == V{"U+007F/1"});
  CHECK(scan("\xC2\x80") == V{"U+0080/2"});      // smallest 2-byte
  CHECK(scan("\xC3\xA9") == V{"U+00E9/2"});      // e acute
  CHECK(scan("\xDF\xBF") == V{"U+07FF/2"});      // largest 2-byte
  CHECK(scan("\xE0\xA0\x80") == V{"U+0800/3"});  // smallest 3-byte
  CHECK(scan("\xE2\x82\xAC") == V{"U+20AC/3"});  // euro sign
  CHECK(scan("\xED\x9F\xBF") == V{"U+D7FF/3"});  // just below the surrogates
  CHECK(scan("\xEE\x80\x80") == V{"U+E000/3"});  // just above them
  CHECK(scan("\xEF\xBF\xBD") == V{"U+FFFD/3"});
  CHECK(scan("\xEF\xBF\xBF") == V{"U+FFFF/3"});        // a noncharacter, but valid UTF-8
  CHECK(scan("\xF0\x90\x80\x80") == V{"U+10000/4"});   // smallest 4-byte
  CHECK(scan("\xF0\x9F\x98\x80") == V{"U+1F600/4"});   // emoji
  CHECK(scan("\xF4\x8F\xBF\xBF") == V{"U+10FFFF/4"});  // largest code point
  CHECK(scan("a\xC3\xA9z") == V{"U+0061/1", "U+00E9/2", "U+007A/1"});
}

TEST_CASE("text::decode_utf8 rejects what RFC 3629 forbids", "[text]") {
  SECTION("overlong forms") {
    CHECK(scan("\xC0\xAF") == V{"bad/1", "bad/1"});  // '/' in two bytes
    CHECK(scan("\xC1\xBF") == V{"bad/1", "bad/1"});
    CHECK(scan("\xE0\x80\xAF") == V{"bad/1", "bad/1", "bad/1"});  // '/' in three bytes
    CHECK(scan("\xE0\x9F\xBF") == V{"bad/1", "bad/1", "bad/1"});  // U+07FF in three bytes
    CHECK(scan("\xF0\x80\x80\xAF") == V{"bad/1", "bad/1", "bad/1", "bad/1"});
    CHECK(scan("\xF0\x8F\xBF\xBF") == V{"bad/1", "bad/1", "bad/1", "bad/1"});  // U+FFFF in four bytes
  }
  SECTION("surrogates") {
    CHECK(scan("\xED\xA0\x80") == V{"bad/1", "bad/1", "bad/1"});  // U+D800
    CHECK(scan("\xED\xBF\xBF") == V{"bad/1", "bad/1", "bad/1"});  // U+DFFF
    // A CESU-8 pair (U+D83D U+DE00) is not the emoji it encodes.
    CHECK(scan("\xED\xA0\xBD\xED\xB8\x80") == V(6, "bad/1"));
  }
  SECTION("above U+10FFFF") {
    CHECK(scan("\xF4\x90\x80\x80") == V{"bad/1", "bad/1", "bad/1", "bad/1"});  // U+110000
    CHECK(scan("\xF5\x80\x80\x80") == V{"bad/1", "bad/1", "bad/1", "bad/1"});
    CHECK(scan("\xF7\xBF\xBF\xBF") == V{"bad/1", "bad/1", "bad/1", "bad/1"});
    CHECK(scan("\xF8\x88\x80\x80\x80") == V(5, "bad/1"));  // old 5-byte form
    CHECK(scan("\xFE\xFF") == V{"bad/1", "bad/1"});
  }
  SECTION("stray continuation bytes") {
    CHECK(scan("\x80") == V{"bad/1"});
    CHECK(scan("\xBF\x80") == V{"bad/1", "bad/1"});
    CHECK(scan("a\x80z") == V{"U+0061/1", "bad/1", "U+007A/1"});
  }
  SECTION("truncated sequences: one maximal subpart each") {
    CHECK(scan("\xC3") == V{"bad/1"});
    CHECK(scan("\xE2\x82") == V{"bad/2"});
    CHECK(scan("\xF0\x9F\x98") == V{"bad/3"});
    CHECK(scan("\xF0\x9F") == V{"bad/2"});
    CHECK(scan("\xC3(") == V{"bad/1", "U+0028/1"});
    CHECK(scan("\xE2\x82(") == V{"bad/2", "U+0028/1"});
    CHECK(scan("\xF0\x9F\x98(") == V{"bad/3", "U+0028/1"});
    // A new lead byte ends the cut sequence and starts its own.
    CHECK(scan("\xE2\x82\xC3\xA9") == V{"bad/2", "U+00E9/2"});
    CHECK(scan("\xF0\x9F\xE2\x82\xAC") == V{"bad/2", "U+20AC/3"});
  }
  SECTION("the scan starts where it is told to") {
    const std::string s = "\xE2\x82\xAC";
    CHECK(decode_utf8(s, 0).valid);
    CHECK_FALSE(decode_utf8(s, 1).valid);
    CHECK(decode_utf8(s, 1).size == 1);
  }
}

TEST_CASE("text::is_valid_utf8", "[text]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ASCII\n\t"));
  CHECK(is_valid_utf8("Zo\xC3\xAB \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"));
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("ok\xC3"));            // truncated at the end
  CHECK_FALSE(is_valid_utf8("\xE2\x82 ok"));       // truncated in the middle
  CHECK_FALSE(is_valid_utf8("\xFF"));
  CHECK_FALSE(is_valid_utf8("\x80"));
}

TEST_CASE("text::code_points", "[text]") {
  CHECK(code_points("") == 0);
  CHECK(code_points("abc") == 3);
  CHECK(code_points("\xC3\xA9\xC3\xA9\xC3\xA9") == 3);
  CHECK(code_points("\xE6\x97\xA5\xE6\x9C\xAC") == 2);
  CHECK(code_points("\xF0\x9F\x98\x80!") == 2);
  // Invalid input: as many as U+FFFD would stand in for.
  CHECK(code_points("\xC0\xAF") == 2);
  CHECK(code_points("\xED\xA0\x80") == 3);
  CHECK(code_points("\xF4\x90\x80\x80") == 4);
  CHECK(code_points("\xE2\x82(") == 2);
  CHECK(code_points("\x80\x80") == 2);
}

TEST_CASE("text::utf8_prefix and code_point_prefix never cut a character", "[text]") {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // 1 + 2 + 3 + 4 bytes
  CHECK(utf8_prefix(s, 0).empty());
  CHECK(utf8_prefix(s, 1) == "a");
  CHECK(utf8_prefix(s, 2) == "a");
  CHECK(utf8_prefix(s, 3) == "a\xC3\xA9");
  CHECK(utf8_prefix(s, 5) == "a\xC3\xA9");
  CHECK(utf8_prefix(s, 6) == "a\xC3\xA9\xE2\x82\xAC");
  CHECK(utf8_prefix(s, 9) == "a\xC3\xA9\xE2\x82\xAC");
  CHECK(utf8_prefix(s, 10) == s);
  CHECK(utf8_prefix(s, 1000) == s);
  CHECK(utf8_prefix("\xFF\xFE\xFD", 2) == "\xFF\xFE");  // invalid bytes are cut between
  CHECK(utf8_prefix("\xE2\x82(", 1).empty());           // nor inside a maximal subpart

  CHECK(code_point_prefix(s, 0).empty());
  CHECK(code_point_prefix(s, 1) == "a");
  CHECK(code_point_prefix(s, 2) == "a\xC3\xA9");
  CHECK(code_point_prefix(s, 3) == "a\xC3\xA9\xE2\x82\xAC");
  CHECK(code_point_prefix(s, 4) == s);
  CHECK(code_point_prefix(s, static_cast<std::size_t>(-1)) == s);
  CHECK(code_point_prefix("\xC0\xAFz", 2) == "\xC0\xAF");
}

TEST_CASE("text::trim", "[text]") {
  CHECK(trim("") == "");
  CHECK(trim(" \t\r\n\v\f") == "");
  CHECK(trim("  a b  ") == "a b");
  CHECK(trim("\tvalue\r\n") == "value");
  CHECK(trim("x") == "x");
  CHECK(trim("\xC2\xA0x\xC2\xA0") == "\xC2\xA0x\xC2\xA0");  // no-break space is not ASCII whitespace
  SECTION("with a chosen set") {
    CHECK(trim(" \ta\t ", " ") == "\ta\t");
    CHECK(trim("--a-b--", "-") == "a-b");
    CHECK(trim("abc", "") == "abc");
    CHECK(trim("\n a \n", " \t\r") == "\n a \n");
  }
}

TEST_CASE("text::iequals and ascii_lowercase", "[text]") {
  CHECK(iequals("", ""));
  CHECK(iequals("Same", "sAME"));
  CHECK(iequals("image1", "IMAGE1"));
  CHECK_FALSE(iequals("same", "sam"));
  CHECK_FALSE(iequals("same", "some"));
  CHECK_FALSE(iequals("@", "`"));  // 0x40 and 0x60 differ only by the case bit, but are not letters
  CHECK_FALSE(iequals("[", "{"));
  CHECK_FALSE(iequals("\xC3\xA9", "\xC3\x89"));  // only ASCII letters fold
  CHECK(ascii_lowercase("HTTPS://Host") == "https://host");
  CHECK(ascii_lowercase("\xC3\x89T\xC3\x89") == "\xC3\x89t\xC3\x89");
  CHECK(ascii_lowercase("@[`{") == "@[`{");
}

TEST_CASE("text::edit_distance and nearest", "[text]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("threshold", "threshold") == 0);
  CHECK(edit_distance("treshold", "threshold") == 1);  // a deletion
  CHECK(edit_distance("embd", "embed") == 1);
  CHECK(edit_distance("mtarix", "matrix") == 1);  // a swap of neighbours
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  const std::string_view commands[] = {"embed", "matrix", "search", "pairs", "calibrate", "cache", "help"};
  CHECK(nearest("embd", commands) == "embed");
  CHECK(nearest("serach", commands) == "search");
  CHECK(nearest("calibarte", commands) == "calibrate");
  CHECK(nearest("cahce", commands) == "cache");
  CHECK_FALSE(nearest("photo", commands));
  CHECK_FALSE(nearest("ab", commands));  // too short to be a typo of anything here
  CHECK_FALSE(nearest("", commands));
}

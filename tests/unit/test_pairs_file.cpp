// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <string>

#include "faceverify/pairs_file.hpp"

using namespace faceverify;
using namespace std::string_literals;

namespace {

// Rows as "line|image1|image2|expected" or "line|error", for compact checks.
std::vector<std::string> summary(const std::vector<PairRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (r.error)
      out.push_back(std::to_string(r.line) + "|" + *r.error);
    else
      out.push_back(std::to_string(r.line) + "|" + r.image1 + "|" + r.image2 + "|" +
                    std::string(expectation_name(r.expected)));
  }
  return out;
}

using V = std::vector<std::string>;

std::string only_error(std::string_view text) {
  const auto rows = parse_pairs(text);
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].error);
  return *rows[0].error;
}

}  // namespace

TEST_CASE("expectation_name", "[pairs_file]") {
  CHECK(expectation_name(Expectation::none).empty());
  CHECK(expectation_name(Expectation::same) == "same");
  CHECK(expectation_name(Expectation::different) == "different");
}

TEST_CASE("pairs: comma-separated file", "[pairs_file]") {
  const auto rows = parse_pairs("a.jpg,b.jpg,same\nc.jpg,d.jpg,different\ne.jpg,f.jpg\n");
  CHECK(summary(rows) == V{"1|a.jpg|b.jpg|same", "2|c.jpg|d.jpg|different", "3|e.jpg|f.jpg|"});
  for (const auto& r : rows) CHECK_FALSE(r.error);
}

TEST_CASE("pairs: tab-separated file keeps commas in fields", "[pairs_file]") {
  const auto rows = parse_pairs("a,1.jpg\tb.jpg\tsame\nc.jpg\td, e.jpg\n");
  CHECK(summary(rows) == V{"1|a,1.jpg|b.jpg|same", "2|c.jpg|d, e.jpg|"});
}

TEST_CASE("pairs: delimiter is decided by the first data line", "[pairs_file]") {
  SECTION("comments and blank lines before it do not count") {
    CHECK(summary(parse_pairs("# a,b\tc\n\n  \na.jpg\tb.jpg\n")) == V{"4|a.jpg|b.jpg|"});
  }
  SECTION("a tab inside quotes does not make a TSV file") {
    CHECK(summary(parse_pairs("\"a\tb.jpg\",c.jpg\nd.jpg,e.jpg\n")) == V{"1|a\tb.jpg|c.jpg|", "2|d.jpg|e.jpg|"});
  }
  SECTION("later lines with the other delimiter are errors with a hint") {
    const auto rows = parse_pairs("a.jpg,b.jpg\nc.jpg\td.jpg\n");
    REQUIRE(rows.size() == 2);
    CHECK_FALSE(rows[0].error);
    CHECK(rows[1].error ==
          "line 2: expected 2 or 3 fields (image1,image2[,expected]), got 1 "
          "(this file is comma-separated: its first row has no tab)");
    const auto tsv = parse_pairs("a.jpg\tb.jpg\nc.jpg,d.jpg\n");
    REQUIRE(tsv.size() == 2);
    CHECK(tsv[1].error ==
          "line 2: expected 2 or 3 fields (image1,image2[,expected]), got 1 "
          "(this file is tab-separated: its first row has a tab)");
  }
}

TEST_CASE("pairs: header row", "[pairs_file]") {
  SECTION("any case with or without the third column quoted or not") {
    CHECK(summary(parse_pairs("image1,image2,expected\na.jpg,b.jpg,same\n")) == V{"2|a.jpg|b.jpg|same"});
    CHECK(summary(parse_pairs("IMAGE1 , Image2\na.jpg,b.jpg\n")) == V{"2|a.jpg|b.jpg|"});
    CHECK(summary(parse_pairs("\"image1\"\t\"image2\"\ta\tb\na.jpg\tb.jpg\n")) == V{"2|a.jpg|b.jpg|"});
  }
  SECTION("after comments and blank lines") {
    CHECK(summary(parse_pairs("# pairs\n\nimage1,image2\na.jpg,b.jpg\n")) == V{"4|a.jpg|b.jpg|"});
  }
  SECTION("only on the first data row") {
    CHECK(summary(parse_pairs("a.jpg,b.jpg\nimage1,image2\n")) == V{"1|a.jpg|b.jpg|", "2|image1|image2|"});
  }
  SECTION("not a header when the first two fields differ") {
    CHECK(summary(parse_pairs("image1,b.jpg\n")) == V{"1|image1|b.jpg|"});
    CHECK(summary(parse_pairs("image2,image1\n")) == V{"1|image2|image1|"});
  }
  SECTION("other column names: three fields the third a name no paths") {
    CHECK(summary(parse_pairs("img1,img2,label\na.jpg,b.jpg,same\n")) == V{"2|a.jpg|b.jpg|same"});
    CHECK(summary(parse_pairs("# x\nLeft, Right, Expected\na.jpg,b.jpg\n")) == V{"3|a.jpg|b.jpg|"});
    CHECK(summary(parse_pairs("image_a\timage_b\tsame_person\na.jpg\tb.jpg\tdifferent\n")) ==
          V{"2|a.jpg|b.jpg|different"});
  }
  SECTION("a mistyped first row is a row not a header") {
    const auto rows = parse_pairs("a.jpg,b.jpg,smae\nc.jpg,d.jpg\n");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].error == std::optional<std::string>(R"(line 1: expected must be "same" or "different", got "smae")"));
    CHECK(parse_pairs("photos/a,photos/b,label\n").size() == 1);
    CHECK(parse_pairs("a,b,same\n").at(0).expected == Expectation::same);
    CHECK(parse_pairs("left,right,label\n").empty());
    CHECK(parse_pairs("a,b,maybe\n").at(0).error);
  }
  SECTION("a semicolon-separated header is a header and its rows get a hint") {
    const auto rows = parse_pairs("image1;image2;expected\na.jpg;b.jpg;same\n");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].line == 2);
    CHECK(rows[0].error == std::optional<std::string>(
                               "line 2: expected 2 or 3 fields (image1,image2[,expected]), got 1 (the line has ';' "
                               "but no ',' or tab: pairs files are comma- or tab-separated)"));
  }
}

TEST_CASE("pairs: quoted fields", "[pairs_file]") {
  SECTION("embedded delimiter and doubled quotes") {
    CHECK(summary(parse_pairs(R"("a, b.jpg","say ""hi"".jpg",same)"
                              "\n")) == V{"1|a, b.jpg|say \"hi\".jpg|same"});
  }
  SECTION("spaces inside quotes are kept around them trimmed") {
    CHECK(summary(parse_pairs(R"(  " a.jpg "  , "b.jpg" , "Same" )")) == V{"1| a.jpg |b.jpg|same"});
  }
  SECTION("a quote inside an unquoted field is an ordinary character") {
    CHECK(summary(parse_pairs("a\"b.jpg,c.jpg\n")) == V{"1|a\"b.jpg|c.jpg|"});
  }
  SECTION("quoted empty image is still empty") {
    CHECK(only_error("\"\",b.jpg\n") == "line 1: empty image field (image1), expected a path or URL");
  }
  SECTION("quoted fields in TSV") {
    CHECK(summary(parse_pairs("\"a\tb.jpg\"\tc.jpg\tdifferent\n")) == V{"1|a\tb.jpg|c.jpg|different"});
  }
}

TEST_CASE("pairs: quoted expected value is trimmed only outside the quotes", "[pairs_file]") {
  CHECK(only_error(R"(a.jpg,b.jpg," same ")") == R"(line 1: expected must be "same" or "different", got " same ")");
}

TEST_CASE("pairs: trimming of unquoted fields", "[pairs_file]") {
  CHECK(summary(parse_pairs("  a b.jpg  , c.jpg , SAME \n\t d.jpg\t,e.jpg\t\n")) ==
        V{"1|a b.jpg|c.jpg|same", "2|d.jpg|e.jpg|"});
  // A tab on the first data row makes the file tab-separated, even next to a comma.
  CHECK(summary(parse_pairs("a.jpg,\tb.jpg\n")) == V{"1|a.jpg,|b.jpg|"});
  CHECK(summary(parse_pairs(" a.jpg \t c.jpg \t different \n")) == V{"1|a.jpg|c.jpg|different"});
}

TEST_CASE("pairs: comments and blank lines are skipped but counted", "[pairs_file]") {
  const auto rows = parse_pairs("# header comment\n\n   \n\t\n  # indented comment\na.jpg,b.jpg\n\n#x\nc.jpg,d.jpg\n");
  CHECK(summary(rows) == V{"6|a.jpg|b.jpg|", "9|c.jpg|d.jpg|"});
}

TEST_CASE("pairs: CRLF BOM missing final newline", "[pairs_file]") {
  SECTION("CRLF") {
    CHECK(summary(parse_pairs("image1,image2,expected\r\na.jpg,b.jpg,same\r\n\r\nc.jpg,d.jpg\r\n")) ==
          V{"2|a.jpg|b.jpg|same", "4|c.jpg|d.jpg|"});
  }
  SECTION("CRLF with quoted last field") {
    CHECK(summary(parse_pairs("a.jpg,\"b.jpg\"\r\n")) == V{"1|a.jpg|b.jpg|"});
  }
  SECTION("UTF-8 BOM then a header") {
    CHECK(summary(parse_pairs("\xEF\xBB\xBFimage1,image2\na.jpg,b.jpg\n")) == V{"2|a.jpg|b.jpg|"});
    CHECK(summary(parse_pairs("\xEF\xBB\xBF\xC3\xA9.jpg,b.jpg\n")) == V{"1|\xC3\xA9.jpg|b.jpg|"});
  }
  SECTION("no trailing newline") {
    CHECK(summary(parse_pairs("a.jpg,b.jpg\nc.jpg,d.jpg,different")) == V{"1|a.jpg|b.jpg|", "2|c.jpg|d.jpg|different"});
  }
}

TEST_CASE("pairs: expected is case-insensitive empty means none", "[pairs_file]") {
  const auto rows = parse_pairs("a,b,Same\na,b,DIFFERENT\na,b,\na,b,  \na,b,\"\"\n");
  CHECK(summary(rows) == V{"1|a|b|same", "2|a|b|different", "3|a|b|", "4|a|b|", "5|a|b|"});
  for (const auto& r : rows) CHECK_FALSE(r.error);
}

TEST_CASE("pairs: nothing to parse gives no rows", "[pairs_file]") {
  CHECK(parse_pairs("").empty());
  CHECK(parse_pairs("\n\n\r\n").empty());
  CHECK(parse_pairs("# only a comment").empty());
  CHECK(parse_pairs("\xEF\xBB\xBF").empty());
  CHECK(parse_pairs("image1,image2,expected\n").empty());
}

TEST_CASE("pairs: errors carry the file line number and go on", "[pairs_file]") {
  const std::string text =
      "# pairs\n"                 // 1
      "a.jpg,b.jpg,same\n"        // 2
      "\n"                        // 3
      "lonely.jpg\n"              // 4
      "a.jpg,b.jpg,maybe\n"       // 5
      "a.jpg,,same\n"             // 6
      "\"a.jpg,b.jpg\n"           // 7
      "a.jpg,b.jpg,same,extra\n"  // 8
      "\"a.jpg\"x,b.jpg\n"        // 9
      "a.jpg, \n"                 // 10
      "c.jpg,d.jpg\n";            // 11
  const auto rows = parse_pairs(text);
  CHECK(summary(rows) ==
        V{
            "2|a.jpg|b.jpg|same",
            "4|line 4: expected 2 or 3 fields (image1,image2[,expected]), got 1",
            R"(5|line 5: expected must be "same" or "different", got "maybe")",
            "6|line 6: empty image field (image2), expected a path or URL",
            "7|line 7: unterminated quoted field (field 1), expected a closing '\"' on the same line",
            "8|line 8: expected 2 or 3 fields (image1,image2[,expected]), got 4",
            "9|line 9: unexpected character after the closing quote of field 1, expected ',' or the end of the line",
            "10|line 10: empty image field (image2), expected a path or URL",
            "11|c.jpg|d.jpg|",
        });
  // The fields that were read are kept on the rows with an error, for reports.
  REQUIRE(rows.size() == 9);
  CHECK(rows[2].image1 == "a.jpg");
  CHECK(rows[2].image2 == "b.jpg");
  CHECK(rows[2].expected == Expectation::none);
}

TEST_CASE("pairs: error messages are single lines with bounded user text", "[pairs_file]") {
  const std::string value = "\x01\r" + std::string(100, 'x');
  const std::string err = only_error("a,b," + value + "\n");
  CHECK(err == "line 1: expected must be \"same\" or \"different\", got \"??" + std::string(38, 'x') + "...\"");
  // Not cut inside a UTF-8 sequence.
  std::string accents;
  for (int i = 0; i < 30; ++i) accents += "\xC3\xA9";
  CHECK(only_error("a,b," + accents) ==
        "line 1: expected must be \"same\" or \"different\", got \"" + accents.substr(0, 40) + "...\"");
  CHECK(only_error("a,b,x" + accents) ==
        "line 1: expected must be \"same\" or \"different\", got \"x" + accents.substr(0, 38) + "...\"");
  CHECK(only_error(std::string(1'000'000, ',')) ==
        "line 1: expected 2 or 3 fields (image1,image2[,expected]), got 1000001");
}

TEST_CASE("pairs: hostile input", "[pairs_file]") {
  SECTION("NUL byte") {
    const auto rows = parse_pairs("a.jpg,b.jpg\nx\0y.jpg,b.jpg\nc.jpg,d.jpg\n"s);
    CHECK(summary(rows) == V{"1|a.jpg|b.jpg|", "2|line 2: NUL byte in line, expected text", "3|c.jpg|d.jpg|"});
    CHECK(only_error("\0"s) == "line 1: NUL byte in line, expected text");
  }
  SECTION("1 MB line") {
    const std::string big(1 << 20, 'a');
    const auto rows = parse_pairs(big + "," + big + "\n" + big + "\n");
    REQUIRE(rows.size() == 2);
    CHECK_FALSE(rows[0].error);
    CHECK(rows[0].image1 == big);
    CHECK(rows[1].error == "line 2: expected 2 or 3 fields (image1,image2[,expected]), got 1");
  }
  SECTION("1 MB unterminated quote") {
    // Appended, not "\"" + std::string(...): that trips GCC 12's -Wrestrict
    // at -O3 (a false positive, GCC bug 105329).
    std::string line = "\"";
    line.append(1 << 20, 'a');
    CHECK(only_error(line) == "line 1: unterminated quoted field (field 1), expected a closing '\"' on the same line");
  }
  SECTION("a lone quote") {
    CHECK(only_error("\"") == "line 1: unterminated quoted field (field 1), expected a closing '\"' on the same line");
    CHECK(only_error("a.jpg,\"") ==
          "line 1: unterminated quoted field (field 2), expected a closing '\"' on the same line");
  }
  SECTION("a quoted field does not span lines") {
    const auto rows = parse_pairs("\"a\nb\",c\n");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].error == "line 1: unterminated quoted field (field 1), expected a closing '\"' on the same line");
    CHECK_FALSE(rows[1].error);  // b",c: the quote does not start the field, so it is an ordinary character
    CHECK(rows[1].image1 == "b\"");
  }
  SECTION("lone CR and stray bytes") {
    CHECK(only_error("\r\r\x01\n") == "line 1: expected 2 or 3 fields (image1,image2[,expected]), got 1");
    CHECK(summary(parse_pairs("\xFF\xFE,\x80\n")) == V{"1|\xFF\xFE|\x80|"});
  }
  SECTION("every byte value every prefix") {
    // Cheap fuzz: no throw, no crash, every row has a line number within the text.
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    all += "\"\",\t\"\n\r\"#";
    for (std::size_t n = 0; n <= all.size(); ++n) {
      const std::string_view text(all.data(), n);
      std::vector<PairRow> rows;
      REQUIRE_NOTHROW(rows = parse_pairs(text));
      for (const auto& r : rows) {
        CHECK(r.line >= 1);
        CHECK(r.line <= 4);
        if (r.error) CHECK(r.error->find('\n') == std::string::npos);
      }
    }
  }
}

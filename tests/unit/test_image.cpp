// SPDX-License-Identifier: MIT
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "faceverify/image.hpp"
#include "faceverify/sha256.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace std::string_literals;

namespace {
std::string bmp_header(std::uint32_t dib) {
  std::string b = "BM";
  b.resize(14, '\0');
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((dib >> (8 * i)) & 0xff));
  b.resize(40, '\0');
  return b;
}
}  // namespace

TEST_CASE("image::sniff_format", "[image]") {
  CHECK(sniff_format(std::string("\xFF\xD8\xFF\xE0rest", 8)) == ImageFormat::jpeg);
  CHECK(sniff_format("\x89PNG\r\n\x1A\nIHDR") == ImageFormat::png);
  CHECK(sniff_format("GIF89a....") == ImageFormat::gif);
  CHECK(sniff_format("GIF87a....") == ImageFormat::gif);
  CHECK(sniff_format("RIFF\x10\0\0\0WEBPVP8 "s) == ImageFormat::webp);
  CHECK(sniff_format(std::string("II*\0\x08\0\0\0", 8)) == ImageFormat::tiff);
  CHECK(sniff_format(std::string("MM\0*\0\0\0\x08", 8)) == ImageFormat::tiff);
  CHECK(sniff_format(bmp_header(40)) == ImageFormat::bmp);
  CHECK(sniff_format(bmp_header(124)) == ImageFormat::bmp);
  SECTION("rejects look-alikes and other files") {
    CHECK_FALSE(sniff_format("BM is the start of this text, not a bitmap header").has_value());
    CHECK_FALSE(sniff_format(bmp_header(7)).has_value());
    CHECK_FALSE(sniff_format("%PDF-1.7\n").has_value());
    CHECK_FALSE(sniff_format("RIFF\x10\0\0\0WAVEfmt "s).has_value());
    CHECK_FALSE(sniff_format("\xFF\xD8").has_value());  // too short
    CHECK_FALSE(sniff_format("").has_value());
    CHECK_FALSE(sniff_format("GIF90a").has_value());
  }
}

TEST_CASE("image::classify_image_argument", "[image]") {
  CHECK(classify_image_argument("-")->kind == SourceKind::stdin_stream);
  CHECK(classify_image_argument("photo.jpg")->kind == SourceKind::file);
  CHECK(classify_image_argument("dir/with:colon.jpg")->kind == SourceKind::file);
  CHECK(classify_image_argument("https://example.com/a.jpg")->kind == SourceKind::url);
  CHECK(classify_image_argument("HTTP://example.com/a.jpg")->kind == SourceKind::url);
  auto ftp = classify_image_argument("ftp://example.com/a.jpg");
  REQUIRE_FALSE(ftp);
  CHECK(ftp.error().kind == ErrorKind::usage);
  CHECK(ftp.error().message.find("ftp") != std::string::npos);
  CHECK_FALSE(classify_image_argument("file:///etc/passwd"));
  CHECK_FALSE(classify_image_argument("https:///nohost"));
  CHECK_FALSE(classify_image_argument(""));
}

TEST_CASE("image::load_image", "[image]") {
  test::TempDir dir;
  const std::string jpeg = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'x');
  auto load = [](const std::string& path) { return load_image(ImageSource{SourceKind::file, path}); };

  SECTION("a JPEG file: bytes, format, sha256, upload name") {
    const std::string path = dir.path().string() + "/me.jpeg";
    test::write_file(path, jpeg);
    auto img = load(path);
    REQUIRE(img);
    CHECK(img->bytes == jpeg);
    CHECK(img->format == ImageFormat::jpeg);
    CHECK(img->sha256 == sha256_hex(jpeg));
    CHECK(img->upload_name == "me.jpeg");
    CHECK(img->label == path);
  }
  SECTION("content decides, not the extension") {
    test::write_file(dir.path().string() + "/notes.jpg", "%PDF-1.4 hello");
    auto img = load(dir.path().string() + "/notes.jpg");
    REQUIRE_FALSE(img);
    CHECK(img.error().kind == ErrorKind::input);
    CHECK(img.error().message ==
          dir.path().string() + "/notes.jpg: not an image (expected JPEG, PNG, WebP, BMP, GIF or TIFF)");
  }
  SECTION("missing file") {
    auto img = load(dir.path().string() + "/nope.jpg");
    REQUIRE_FALSE(img);
    CHECK(img.error().kind == ErrorKind::input);
    CHECK(img.error().message == dir.path().string() + "/nope.jpg: no such file");
  }
  SECTION("directory") {
    auto img = load(dir.path().string());
    REQUIRE_FALSE(img);
    CHECK(img.error().message.find("is a directory") != std::string::npos);
  }
  SECTION("empty file") {
    test::write_file(dir.path().string() + "/empty.png", "");
    auto img = load(dir.path().string() + "/empty.png");
    REQUIRE_FALSE(img);
    CHECK(img.error().message == dir.path().string() + "/empty.png: empty file (expected an image)");
  }
  SECTION("16 MiB is accepted, one byte more is refused before reading") {
    std::string big = jpeg;
    big.resize(k_max_image_bytes, 'x');
    test::write_file(dir.path().string() + "/max.jpg", big);
    CHECK(load(dir.path().string() + "/max.jpg"));
    big.push_back('x');
    test::write_file(dir.path().string() + "/over.jpg", big);
    auto img = load(dir.path().string() + "/over.jpg");
    REQUIRE_FALSE(img);
    CHECK(img.error().message.find("16 MiB") != std::string::npos);
  }
  SECTION("unreadable file") {
    if (::geteuid() == 0)
      SUCCEED("running as root: permissions do not apply");
    else {
      test::write_file(dir.path().string() + "/secret.jpg", jpeg);
      ::chmod((dir.path().string() + "/secret.jpg").c_str(), 0);
      auto img = load(dir.path().string() + "/secret.jpg");
      REQUIRE_FALSE(img);
      CHECK(img.error().message.find("permission denied") != std::string::npos);
    }
  }
  SECTION("stdin is read fully and named stdin.<ext>") {
    test::write_file(dir.path().string() + "/in.jpg", jpeg);
    const int fd = ::open((dir.path().string() + "/in.jpg").c_str(), O_RDONLY);
    auto img = load_image(ImageSource{SourceKind::stdin_stream, "-"}, fd);
    ::close(fd);
    REQUIRE(img);
    CHECK(img->bytes == jpeg);
    CHECK(img->label == "stdin");
    CHECK(img->upload_name == "stdin.jpg");
  }
  SECTION("an embedding file on stdin past 256 MiB is refused, not cut short") {
    // A sparse file read as a stream (stdin is never stat'ed): the text
    // starts like JSON, then 256 MiB + 1 of NULs.
    const std::string path = dir.path().string() + "/big.jsonl";
    test::write_file(path, "{\"type\":\"embedding\"}\n");
    REQUIRE(::truncate(path.c_str(), static_cast<off_t>(k_max_embedding_file_bytes) + 1) == 0);
    const int fd = ::open(path.c_str(), O_RDONLY);
    auto in = load_input(ImageSource{SourceKind::stdin_stream, "-"}, fd, k_max_image_bytes);
    ::close(fd);
    REQUIRE_FALSE(in);
    CHECK(in.error().kind == ErrorKind::input);
    CHECK(in.error().message == "stdin: embedding file larger than the 256 MiB limit; split it");
  }
  SECTION("a URL is not read") {
    auto img = load_image(ImageSource{SourceKind::url, "https://example.com/x.jpg"});
    REQUIRE(img);
    CHECK(img->bytes.empty());
    CHECK(img->sha256.empty());
  }
}

TEST_CASE("sha256::sha256_hex", "[sha256]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // 55, 56 and 64 bytes hit the padding edge cases.
  CHECK(sha256_hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha256_hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha256_hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("image::display_name", "[image]") {
  CHECK(display_name("photo.jpg") == "photo.jpg");
  CHECK(display_name("caf\xc3\xa9.jpg") == "caf\xc3\xa9.jpg");  // valid UTF-8 is kept
  CHECK(display_name("two\nlines.jpg") == "two?lines.jpg");
  CHECK(display_name("bad\xff.jpg") == "bad?.jpg");
  CHECK(display_name("\x1b[31mred") == "?[31mred");
  CHECK(display_name("https://user:pw@example.com/a.jpg") == "https://***@example.com/a.jpg");
  CHECK(display_name("https://example.com/a@b.jpg") == "https://example.com/a@b.jpg");
}

namespace {
std::string be32_bytes(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
// A structurally complete PNG (no pixel data needed for header inspection).
std::string png(std::uint32_t w, std::uint32_t h) {
  std::string d = "\x89PNG\r\n\x1A\n";
  d += be32_bytes(13) + "IHDR" + be32_bytes(w) + be32_bytes(h) + std::string("\x08\x02\0\0\0", 5) + "CRC!";
  d += be32_bytes(0) + "IEND" + "CRC!";
  return d;
}
}  // namespace

TEST_CASE("image::inspect_header", "[image]") {
  const std::string jpeg = test::read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/samples/astronaut.jpg");
  SECTION("a complete JPEG: size from SOF, not truncated") {
    const auto h = inspect_header(jpeg, ImageFormat::jpeg);
    CHECK(h.width == 512u);
    CHECK(h.height == 512u);
    CHECK_FALSE(h.truncated);
  }
  SECTION("a JPEG cut short is truncated, however much is left") {
    for (std::size_t keep : {jpeg.size() - 1, jpeg.size() / 2, std::size_t{200}}) {
      INFO(keep);
      CHECK(inspect_header(jpeg.substr(0, keep), ImageFormat::jpeg).truncated);
    }
  }
  SECTION("data after the JPEG's end (a motion photo's video) is fine") {
    CHECK_FALSE(inspect_header(jpeg + std::string(100000, 'v'), ImageFormat::jpeg).truncated);
  }
  SECTION("PNG: IHDR size, IEND required") {
    const std::string p = png(20000, 15000);
    const auto h = inspect_header(p, ImageFormat::png);
    CHECK(h.width == 20000u);
    CHECK(h.height == 15000u);
    CHECK_FALSE(h.truncated);
    CHECK(inspect_header(p.substr(0, p.size() - 12), ImageFormat::png).truncated);
  }
  SECTION("GIF, BMP and WebP") {
    CHECK(inspect_header(std::string("GIF89a\x10\0\x20\0rest;", 15), ImageFormat::gif).width == 16u);
    CHECK(inspect_header(std::string("GIF89a\x10\0\x20\0rest", 14), ImageFormat::gif).truncated);
    std::string bmp = "BM";
    bmp += std::string("\x40\0\0\0", 4);  // declared file size 64
    bmp.resize(14, '\0');
    bmp += std::string("\x28\0\0\0", 4) + std::string("\x03\0\0\0", 4) + std::string("\xFE\xFF\xFF\xFF", 4);
    bmp.resize(64, '\0');
    const auto h = inspect_header(bmp, ImageFormat::bmp);
    CHECK(h.width == 3u);
    CHECK(h.height == 2u);  // negative height: top-down rows
    CHECK_FALSE(h.truncated);
    CHECK(inspect_header(bmp.substr(0, 40), ImageFormat::bmp).truncated);
    std::string webp = std::string("RIFF") + std::string("\x20\0\0\0", 4) + "WEBPVP8X";
    webp.resize(40, '\0');
    CHECK_FALSE(inspect_header(webp, ImageFormat::webp).truncated);
    CHECK(inspect_header(webp.substr(0, 30), ImageFormat::webp).truncated);
  }
}

// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>

#include "faceverify/api4ai.hpp"
#include "process.hpp"
#include "serve/protocol.hpp"

using namespace faceverify;
using namespace faceverify::serve;
using nlohmann::ordered_json;
using namespace std::string_literals;

namespace {

// The face of the real capture (tests/data/api4ai/face.response.json).
Face fixture_face() {
  Face face;
  face.box = {0.2931367974543039, 0.1336476319097939, 0.6403101791812056, 0.6403101791812056};
  face.confidence = 0.9920044541358948;
  face.landmarks = {{"left-eye", {0.5686073875427247, 0.3465519905090332}},
                    {"right-eye", {0.764842004776001, 0.3802739334106445}},
                    {"nose-tip", {0.6892597675323486, 0.48434698820114136}},
                    {"mouth-left-corner", {0.5597362375259399, 0.5910256290435791}},
                    {"mouth-right-corner", {0.7118245601654053, 0.6196095657348633}}};
  return face;
}

Analysis fixture_analysis() {
  Analysis a;
  a.name = "face.jpeg";
  a.md5 = "533c3e2300f8ddc5eb261a9f2d8d87d3";
  a.faces.push_back(fixture_face());
  return a;
}

ordered_json shared_fixture() {
  return ordered_json::parse(
      test::read_file(std::string(FACEVERIFY_SHARED_DIR) + "/fixtures/api4ai/face.response.json"));
}

// A recorded request (tests/data/serve/*.http): the Content-Type on the first
// line, the body exactly as the client sent it after it.
std::pair<std::string, std::string> recorded(const std::string& name) {
  const std::string text = test::read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/serve/" + name);
  const std::size_t nl = text.find('\n');
  return {text.substr(0, nl), text.substr(nl + 1)};
}

// The file the recorded requests upload: NUL, CR, LF, bare CRs and LFs, and
// fake delimiters that are prefixes of curl's boundary.
const std::string k_payload = "\x00\x01\r\n\r\n--\x00\r\r\n\n"s + "\r\n--" + std::string(24, '-') + "Z\r\n" + "\r\n--" +
                              std::string(10, '-') + "\r\n\xff\xd8\xff\x00"s + "end\r\n";

std::vector<FormField> parsed_recording(const std::string& name, std::string* boundary_out = nullptr) {
  const auto [type, body] = recorded(name);
  const auto boundary = multipart_boundary(type);
  REQUIRE(boundary);
  if (boundary_out) *boundary_out = *boundary;
  auto fields = parse_multipart(body, *boundary);
  REQUIRE(fields);
  return *fields;
}

std::string multipart(std::string_view boundary, std::initializer_list<std::string> parts) {
  std::string body;
  for (const std::string& p : parts) body += "--" + std::string(boundary) + "\r\n" + p + "\r\n";
  return body + "--" + std::string(boundary) + "--\r\n";
}

std::map<std::string, std::pair<double, double>> landmark_map(const Face& face) {
  std::map<std::string, std::pair<double, double>> m;
  for (const auto& [name, p] : face.landmarks) m[name] = {p.x, p.y};
  return m;
}

}  // namespace

TEST_CASE("serve::parse_query", "[serve]") {
  SECTION("percent escapes, '+' and repeated names") {
    auto q = parse_query("embeddings=true&x=%2F");
    REQUIRE(q);
    REQUIRE(q->size() == 2);
    CHECK((*q)[0].name == "embeddings");
    CHECK((*q)[0].value == "true");
    CHECK((*q)[1].name == "x");
    CHECK((*q)[1].value == "/");
    CHECK_FALSE((*q)[1].filename);
    auto r = parse_query("a=1&b=x%20y+z&a=%41%6a&c%2Bd=%2b");
    REQUIRE(r);
    REQUIRE(r->size() == 4);
    CHECK((*r)[1].value == "x y z");
    CHECK((*r)[2].name == "a");
    CHECK((*r)[2].value == "Aj");
    CHECK((*r)[3].name == "c+d");
    CHECK((*r)[3].value == "+");
    CHECK(find_field(*r, "a")->value == "1");
    CHECK(find_field(*r, "zz") == nullptr);
  }
  SECTION("empty pairs are skipped, a bare name has an empty value") {
    auto q = parse_query("&&embeddings&=v&x=&");
    REQUIRE(q);
    REQUIRE(q->size() == 3);
    CHECK((*q)[0].name == "embeddings");
    CHECK((*q)[0].value.empty());
    CHECK((*q)[1].name.empty());
    CHECK((*q)[1].value == "v");
    CHECK((*q)[2].name == "x");
    CHECK(parse_query("")->empty());
    CHECK(parse_query("a=%00")->front().value == "\0"s);
  }
  SECTION("a malformed escape is an error naming it") {
    for (const char* bad : {"a=%zz", "a=%4", "a=%", "%G1=x", "a=1&b=%4g"}) {
      auto q = parse_query(bad);
      REQUIRE_FALSE(q);
      CHECK(q.error().kind == ErrorKind::usage);
      CHECK(q.error().message.find("query string") != std::string::npos);
    }
    CHECK(parse_query("a=%zz").error().message.find("\"%zz\"") != std::string::npos);
    CHECK(parse_query("a=%\n1").error().message.find("\"%\\x0a1\"") != std::string::npos);
  }
  SECTION("bounded by FormLimits") {
    FormLimits limits;
    limits.max_fields = 2;
    limits.max_name_bytes = 3;
    CHECK(parse_query("a=1&b=2", limits));
    CHECK_FALSE(parse_query("a=1&b=2&c=3", limits));
    CHECK(parse_query("abc=1", limits));
    CHECK_FALSE(parse_query("abcd=1", limits));
    CHECK(parse_query("a%62c=1", limits));  // the decoded name counts
  }
}

TEST_CASE("serve::parse_urlencoded", "[serve]") {
  // What Python requests sends for data={'url': 'https://example.com/x y.jpg?a=1&b=%2F'}.
  auto f = parse_urlencoded("url=https%3A%2F%2Fexample.com%2Fx+y.jpg%3Fa%3D1%26b%3D%252F");
  REQUIRE(f);
  REQUIRE(f->size() == 1);
  CHECK((*f)[0].name == "url");
  CHECK((*f)[0].value == "https://example.com/x y.jpg?a=1&b=%2F");
  auto bad = parse_urlencoded("url=%x1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("form body") != std::string::npos);
}

TEST_CASE("serve::parse_bool", "[serve]") {
  for (const char* t : {"true", "True", "TRUE", "1", "yes", "YES", "on", "On", "y", "t", "T"}) {
    INFO(t);
    CHECK(parse_bool(t) == true);
  }
  for (const char* f : {"false", "False", "FALSE", "0", "no", "No", "off", "OFF", "n", "f"}) {
    INFO(f);
    CHECK(parse_bool(f) == false);
  }
  for (const char* x : {"", "2", "tru", "truee", " true", "true ", "nope", "yess", "-1", "00"}) {
    INFO(x);
    CHECK_FALSE(parse_bool(x));
  }
}

TEST_CASE("serve::multipart_boundary", "[serve]") {
  CHECK(multipart_boundary("multipart/form-data; boundary=------------------------dabc16fd17699fe5") ==
        "------------------------dabc16fd17699fe5");
  CHECK(multipart_boundary("multipart/form-data; boundary=\"a b:c'()+_,-./=?\"") == "a b:c'()+_,-./=?");
  CHECK(multipart_boundary("Multipart/Form-Data ;charset=utf-8;  BOUNDARY = xyz ; x=\"y\"") == "xyz");
  CHECK(multipart_boundary("multipart/form-data; boundary=\"q\\\"\"") == std::nullopt);  // '"' is not a bchar
  CHECK(multipart_boundary("multipart/form-data; boundary=first; boundary=second") == "first");
  CHECK(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')) == std::string(70, 'a'));
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  CHECK_FALSE(multipart_boundary("multipart/form-data"));
  CHECK_FALSE(multipart_boundary("multipart/form-data; charset=utf-8"));
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary="));
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=\"\""));
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=\"ab \""));  // a space may not end it
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=a@b"));
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=\"unclosed"));
  CHECK_FALSE(multipart_boundary("multipart/mixed; boundary=abc"));
  CHECK_FALSE(multipart_boundary("multipart/form-dataX; boundary=abc"));
  CHECK_FALSE(multipart_boundary("application/x-www-form-urlencoded"));
  CHECK_FALSE(multipart_boundary(""));
}

TEST_CASE("serve::parse_multipart reads what real clients send", "[serve]") {
  SECTION("curl -F image=@file;filename=…;type=… -F url=…") {
    const auto fields = parsed_recording("curl.http");
    REQUIRE(fields.size() == 2);
    CHECK(fields[0].name == "image");
    CHECK(fields[0].filename == "pay load.bin");
    CHECK(fields[0].content_type == "application/octet-stream");
    CHECK(fields[0].value == k_payload);
    CHECK(fields[1].name == "url");
    CHECK(fields[1].value == "https://example.com/a b.jpg");
    CHECK_FALSE(fields[1].filename);
    CHECK_FALSE(fields[1].content_type);
  }
  SECTION("curl --form-escape: a filename with backslash escapes") {
    const auto fields = parsed_recording("curl-form-escape.http");
    REQUIRE(fields.size() == 1);
    CHECK(fields[0].filename == "fa\"ce\\x.jpg");
    CHECK(fields[0].content_type == "image/jpeg");
    CHECK(fields[0].value == k_payload);
  }
  SECTION("Python requests: files= and data=, fake delimiters longer and shorter than the real one") {
    std::string boundary;
    const auto fields = parsed_recording("requests.http", &boundary);
    REQUIRE(fields.size() == 2);
    CHECK(fields[0].name == "url");
    CHECK(fields[0].value == "https://example.com/x.jpg?a=1&b=%2F");
    CHECK(fields[1].name == "image");
    // urllib3 writes '"' as %22 (the HTML5 rule); like the service, this is not decoded.
    CHECK(fields[1].filename == "fa%22ce.jpeg");
    CHECK_FALSE(fields[1].content_type);
    CHECK(fields[1].value ==
          k_payload + "\r\n--" + boundary + "X\r\n" + "\r\n--" + boundary.substr(0, 20) + "\r\n" + "tail");
  }
}

TEST_CASE("serve::parse_multipart", "[serve]") {
  const std::string b = "XyZ";
  SECTION("filename=\"\", empty values, case-insensitive headers and parameters") {
    auto f = parse_multipart(multipart(b, {"content-DISPOSITION: FORM-DATA; NAME=\"image\"; FileName=\"\"\r\n"
                                           "CONTENT-TYPE:image/png\r\n\r\n",
                                           "Content-Disposition: form-data; name=url\r\n\r\n"}),
                             b);
    REQUIRE(f);
    REQUIRE(f->size() == 2);
    CHECK((*f)[0].name == "image");
    CHECK((*f)[0].filename == "");
    CHECK((*f)[0].content_type == "image/png");
    CHECK((*f)[0].value.empty());
    CHECK((*f)[1].name == "url");
    CHECK((*f)[1].value.empty());
  }
  SECTION("filename* wins over filename, escaped quotes, semicolons inside quotes") {
    auto f = parse_multipart(multipart(b, {"Content-Disposition: form-data; name=\"a;b\"; filename=\"x\\\"y;z.jpg\"\r\n"
                                           "\r\nv1",
                                           "Content-Disposition: form-data; name=\"image\"; filename=\"plain.jpg\"; "
                                           "filename*=UTF-8''%E2%82%AC%20%22.jpg\r\n\r\nv2"}),
                             b);
    REQUIRE(f);
    REQUIRE(f->size() == 2);
    CHECK((*f)[0].name == "a;b");
    CHECK((*f)[0].filename == "x\"y;z.jpg");
    CHECK((*f)[0].value == "v1");
    CHECK((*f)[1].filename == "\xE2\x82\xAC \".jpg");
    CHECK((*f)[1].value == "v2");
  }
  SECTION("preamble, epilogue, transport padding and a folded header") {
    const std::string body =
        "preamble --XyZ not a delimiter\r\n--XyZ  \t\r\n"
        "Content-Disposition: form-data;\r\n name=\"image\"\r\n\r\n"
        "--XyZ\r\n--XyZx\r\n\r\n--XyZ--\r\nepilogue\r\n--XyZ\r\nnonsense";
    auto f = parse_multipart(body, b);
    REQUIRE(f);
    REQUIRE(f->size() == 1);
    CHECK((*f)[0].name == "image");
    CHECK((*f)[0].value == "--XyZ\r\n--XyZx\r\n");
  }
  SECTION("a body that opens with the close delimiter has no parts") {
    auto f = parse_multipart("--XyZ--\r\n", b);
    REQUIRE(f);
    CHECK(f->empty());
  }
  SECTION("errors") {
    const auto error_of = [&](const std::string& body, const FormLimits& limits = {}) {
      auto f = parse_multipart(body, b, limits);
      REQUIRE_FALSE(f);
      CHECK(f.error().kind == ErrorKind::usage);
      CHECK(f.error().message.find('\n') == std::string::npos);
      return f.error().message;
    };
    const std::string part = "Content-Disposition: form-data; name=\"image\"\r\n\r\nbytes";
    CHECK(error_of("").find("no delimiter") != std::string::npos);
    CHECK(error_of("--XyZ\r\n" + part).find("no closing delimiter") != std::string::npos);
    CHECK(error_of("--XyZ\r\n" + part + "\r\n--XyZ\r\nContent-Dispo").find("part 2 ends inside its headers") !=
          std::string::npos);
    CHECK(error_of(multipart(b, {"Content-Disposition: form-data; filename=\"a\"\r\n\r\nx"})).find("no name") !=
          std::string::npos);
    CHECK(error_of(multipart(b, {"Content-Type: text/plain\r\n\r\nx"})).find("no Content-Disposition") !=
          std::string::npos);
    CHECK(error_of(multipart(b, {"Content-Disposition: attachment; name=\"a\"\r\n\r\nx"})).find("not form-data") !=
          std::string::npos);
    CHECK(error_of(multipart(b, {"Content-Disposition: form-data; name=\"a\r\n\r\nx"})).find("malformed") !=
          std::string::npos);
    CHECK(error_of(multipart(b, {"Content-Disposition form-data\r\n\r\nx"})).find("without ':'") != std::string::npos);
    FormLimits limits;
    limits.max_part_header_bytes = 60;
    CHECK(parse_multipart(multipart(b, {part}), b, limits));  // a 46-byte header line + the empty line
    CHECK(error_of(multipart(b, {"X-Pad: " + std::string(40, 'p') + "\r\n" + part}), limits)
              .find("headers longer than 60 bytes") != std::string::npos);
    CHECK(error_of("--XyZ\r\n" + std::string(100, 'h'), limits).find("headers longer") != std::string::npos);
    limits = {};
    limits.max_fields = 2;
    CHECK(parse_multipart(multipart(b, {part, part}), b, limits));
    CHECK(error_of(multipart(b, {part, part, part}), limits).find("more than 2 parts") != std::string::npos);
    limits = {};
    limits.max_name_bytes = 5;
    CHECK(parse_multipart(multipart(b, {part}), b, limits));
    CHECK(error_of(multipart(b, {"Content-Disposition: form-data; name=\"images\"\r\n\r\nx"}), limits)
              .find("name longer than 5") != std::string::npos);
    CHECK(error_of(multipart(b, {"Content-Disposition: form-data; name=\"a\"; filename=\"abcdef\"\r\n\r\nx"}), limits)
              .find("filename longer than 5") != std::string::npos);
  }
  SECTION("bare LF line endings are not accepted (RFC 7578 requires CRLF)") {
    auto f = parse_multipart("--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nx\n--XyZ--\n", b);
    CHECK_FALSE(f);
  }
}

TEST_CASE("serve::results_json matches the service's reply", "[serve]") {
  SECTION("the real capture, key order included") {
    const ordered_json expected = shared_fixture();
    const std::string body = results_json(fixture_analysis(), false);
    CHECK(ordered_json::parse(body) == expected);  // ordered_json compares key order too
    CHECK(body == expected.dump());                // compact, numbers as Python writes them
  }
  SECTION("width and height come after md5 when known") {
    Analysis a = fixture_analysis();
    a.width = 225;
    a.height = 224;
    const ordered_json fixture = shared_fixture();
    ordered_json expected_result = ordered_json::object();
    for (const auto& [key, value] : fixture["results"][0].items()) {
      expected_result[key] = value;
      if (key == "md5") {
        expected_result["width"] = 225;
        expected_result["height"] = 224;
      }
    }
    ordered_json expected = ordered_json::object();
    expected["results"] = ordered_json::array({expected_result});
    CHECK(ordered_json::parse(results_json(a, false)) == expected);
    a.height.reset();
    CHECK(results_json(a, false).find("\"md5\":\"533c3e2300f8ddc5eb261a9f2d8d87d3\",\"width\":225,\"entities\"") !=
          std::string::npos);
  }
  SECTION("with embeddings, entities[2] is the vector, values exact") {
    Analysis a = fixture_analysis();
    a.faces[0].embedding = {0.1, -1.0 / 3.0, 5e-324, 1e-300, -0.0, 0.9920044541358948, 123456.789, 1.0};
    const ordered_json j = ordered_json::parse(results_json(a, true));
    const ordered_json& e = j["results"][0]["entities"][0]["objects"][0]["entities"];
    REQUIRE(e.size() == 3);
    CHECK(e[0]["kind"] == "classes");
    CHECK(e[1]["kind"] == "namedpoints");
    const ordered_json& v = e[2];
    CHECK(v.size() == 3);
    CHECK(v.begin().key() == "kind");
    CHECK(v["kind"] == "vector");
    CHECK(v["name"] == "face-embeddings");
    REQUIRE(v["vector"].size() == a.faces[0].embedding.size());
    for (std::size_t i = 0; i < a.faces[0].embedding.size(); ++i) {
      const double got = v["vector"][i].get<double>();
      CHECK(std::memcmp(&got, &a.faces[0].embedding[i], sizeof got) == 0);  // bit for bit, -0.0 too
    }
    CHECK(results_json(a, false).find("face-embeddings") == std::string::npos);
  }
  SECTION("no faces; several faces in order; a face without confidence or landmarks keeps the positions") {
    Analysis a = fixture_analysis();
    a.faces.clear();
    CHECK(
        results_json(a, true) ==
        R"({"results":[{"status":{"code":"ok","message":"Success"},"name":"face.jpeg",)"
        R"("md5":"533c3e2300f8ddc5eb261a9f2d8d87d3","entities":[{"kind":"objects","name":"face-detector","objects":[]}]}]})");
    Face bare;
    bare.box = {0.5, 0.25, 0.125, 0.0625};
    bare.embedding = {1.0};
    a.faces = {fixture_face(), bare};
    a.faces[0].embedding = {2.0};
    const ordered_json j = ordered_json::parse(results_json(a, true));
    const ordered_json& objects = j["results"][0]["entities"][0]["objects"];
    REQUIRE(objects.size() == 2);
    CHECK(objects[0]["entities"][2]["vector"] == ordered_json::array({2.0}));
    CHECK(objects[1].dump() ==
          R"({"box":[0.5,0.25,0.125,0.0625],"entities":[{"kind":"classes","name":"face","classes":{"face":1.0}},)"
          R"({"kind":"namedpoints","name":"face-landmarks","namedpoints":{}},)"
          R"({"kind":"vector","name":"face-embeddings","vector":[1.0]}]})");
  }
  SECTION("a name that is not UTF-8 is written with U+FFFD, not thrown") {
    Analysis a = fixture_analysis();
    a.name = "bad\xff.jpg";
    const std::string body = results_json(a, false);
    CHECK(body.find("\"name\":\"bad\xEF\xBF\xBD.jpg\"") != std::string::npos);
  }
}

TEST_CASE("serve::results_json round-trips through the client's parser", "[serve]") {
  // Our client (api4ai::parse_response) reads what our server writes back
  // into the same analysis: the two agree on the protocol.
  Analysis a = fixture_analysis();
  a.width = 640;
  a.height = 480;
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  Face second = fixture_face();
  second.box = {0.01, 0.6, 0.3, 0.35};
  second.confidence = 0.5;
  for (auto& [name, p] : second.landmarks) p = {p.x / 3, p.y / 2 + 0.4};
  a.faces.push_back(second);
  for (Face& f : a.faces) {
    for (int i = 0; i < 512; ++i) f.embedding.push_back(unit(rng));
  }
  a.faces[0].embedding[0] = 5e-324;
  a.faces[0].embedding[1] = std::nextafter(1.0, 2.0);
  a.faces[0].embedding[2] = -0.0;

  auto back = api4ai::parse_response(results_json(a, true));
  REQUIRE(back);
  CHECK(back->name == a.name);
  CHECK(back->md5 == a.md5);
  CHECK(back->width == a.width);
  CHECK(back->height == a.height);
  CHECK(back->warnings.empty());
  REQUIRE(back->faces.size() == a.faces.size());
  for (std::size_t i = 0; i < a.faces.size(); ++i) {
    INFO("face " << i);
    CHECK(back->faces[i].box == a.faces[i].box);
    CHECK(back->faces[i].confidence == a.faces[i].confidence);
    // The client keeps landmarks in its JSON library's (sorted) key order,
    // not the reply's: compare them by name.
    CHECK(landmark_map(back->faces[i]) == landmark_map(a.faces[i]));
    REQUIRE(back->faces[i].embedding.size() == a.faces[i].embedding.size());
    CHECK(std::memcmp(back->faces[i].embedding.data(), a.faces[i].embedding.data(),
                      a.faces[i].embedding.size() * sizeof(double)) == 0);
  }
}

TEST_CASE("serve: the other replies", "[serve]") {
  CHECK(failure_json("face.jpeg", "533c3e2300f8ddc5eb261a9f2d8d87d3", "Can not load image.") ==
        R"({"results":[{"status":{"code":"failure","message":"Can not load image."},"name":"face.jpeg",)"
        R"("md5":"533c3e2300f8ddc5eb261a9f2d8d87d3","entities":[]}]})");
  auto failure = api4ai::parse_response(failure_json("x", "y", "Can not load image."));
  REQUIRE_FALSE(failure);
  CHECK(failure.error().message == "the service could not analyse it: Can not load image.");

  CHECK(validation_json({{{"body", "image"}, "field required", "value_error.missing"},
                         {{"query", "embeddings"}, "value could not be parsed to a boolean", "type_error.bool"}}) ==
        R"({"detail":[{"loc":["body","image"],"msg":"field required","type":"value_error.missing"},)"
        R"({"loc":["query","embeddings"],"msg":"value could not be parsed to a boolean","type":"type_error.bool"}]})");
  CHECK(validation_json({}) == R"({"detail":[]})");
  CHECK(message_json("Invalid \"key\"") == R"({"message":"Invalid \"key\""})");
  CHECK(version_json("1.2.0") == R"("v1.2.0")");
  CHECK(version_json("v1.16.2") == R"("v1.16.2")");
  const std::string html = too_large_html();
  CHECK(html.starts_with("<html><head><title>413 Request Entity Too Large</title></head>"));
  CHECK(html.find("Your client issued a request that was too large.") != std::string::npos);
}

// SPDX-License-Identifier: MIT
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "env_var.hpp"
#include "faceverify/cache.hpp"
#include "faceverify/sha256.hpp"
#include "process.hpp"

using namespace faceverify;
using faceverify::cache::Cache;
namespace fs = std::filesystem;

namespace {

fs::path entry_path(const fs::path& dir, const std::string& key) {
  return dir / "v1" / key.substr(0, 2) / key;
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::string header_for(const std::string& payload) {
  return "faceverify-cache 1 " + std::to_string(payload.size()) + " " + sha256_hex(payload) + "\n";
}

// Keys whose fan-out directories (first two hex digits) all differ.
std::vector<std::string> keys_in_distinct_fan_outs(std::size_t count) {
  std::vector<std::string> keys;
  std::set<std::string> fans;
  for (int i = 0; keys.size() < count; ++i) {
    std::string key = cache::make_key(sha256_hex("image " + std::to_string(i)), "backend=test");
    if (fans.insert(key.substr(0, 2)).second) keys.push_back(std::move(key));
  }
  return keys;
}

// True when `payload` is `size` copies of one of `letters`.
bool is_whole_payload(const std::string& payload, std::size_t size, std::string_view letters) {
  if (payload.size() != size || payload.empty()) return false;
  if (letters.find(payload[0]) == std::string_view::npos) return false;
  return std::all_of(payload.begin(), payload.end(), [&](char c) { return c == payload[0]; });
}

class Umask {
 public:
  explicit Umask(mode_t mask) : m_saved(::umask(mask)) {}
  ~Umask() { ::umask(m_saved); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t m_saved;
};

const std::string k_key = cache::make_key(sha256_hex("image bytes"), "api4ai|https://example.test|v1");

}  // namespace

TEST_CASE("cache: store then load round-trips payloads", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  CHECK(c.directory() == tmp.path() / "cache");
  REQUIRE(c.store(k_key, R"({"faces":[]})"));
  CHECK(c.load(k_key) == std::optional<std::string>(R"({"faces":[]})"));

  SECTION("empty payload") {
    REQUIRE(c.store(k_key, ""));
    CHECK(c.load(k_key) == std::optional<std::string>(""));
  }
  SECTION("binary payload with NULs and newlines") {
    const std::string payload("a\0b\nfaceverify-cache 1 3 x\n\xff", 28);
    REQUIRE(c.store(k_key, payload));
    CHECK(c.load(k_key) == std::optional<std::string>(payload));
  }
  SECTION("the entry file has the documented header") {
    const std::string payload = "hello";
    REQUIRE(c.store(k_key, payload));
    CHECK(test::read_file(entry_path(c.directory(), k_key)) == header_for(payload) + payload);
  }
}

TEST_CASE("cache: a missing key loads as nullopt", "[cache]") {
  test::TempDir tmp;
  const Cache missing_dir(tmp.path() / "nowhere");
  CHECK_FALSE(missing_dir.load(k_key));
  CHECK_FALSE(fs::exists(tmp.path() / "nowhere"));  // loading creates nothing

  const Cache c(tmp.path() / "cache");
  REQUIRE(c.store(k_key, "x"));
  CHECK_FALSE(c.load(cache::make_key(sha256_hex("other image"), "api4ai")));
}

TEST_CASE("cache: store overwrites an entry", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  REQUIRE(c.store(k_key, "first"));
  REQUIRE(c.store(k_key, "second, longer"));
  CHECK(c.load(k_key) == std::optional<std::string>("second, longer"));
  REQUIRE(c.store(k_key, "3"));
  CHECK(c.load(k_key) == std::optional<std::string>("3"));
  // No temp files are left behind.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(entry_path(c.directory(), k_key).parent_path())) {
    names.push_back(e.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{k_key});
}

TEST_CASE("cache: files are 0600 and directories 0700 whatever the umask", "[cache]") {
  test::TempDir tmp;
  const fs::path root = tmp.path() / "xdg" / "faceverify";  // parents are created too
  const Cache c(root);
  {
    const Umask permissive(0);  // mkdir/open modes must not rely on the umask
    REQUIRE(c.store(k_key, "payload"));
  }
  CHECK(mode_of(tmp.path() / "xdg") == 0700u);
  CHECK(mode_of(root) == 0700u);
  CHECK(mode_of(root / "v1") == 0700u);
  CHECK(mode_of(root / "v1" / k_key.substr(0, 2)) == 0700u);
  CHECK(mode_of(entry_path(root, k_key)) == 0600u);

  SECTION("a restrictive umask does not make the cache unusable") {
    const Cache other(tmp.path() / "strict");
    {
      const Umask strict(0277);
      REQUIRE(other.store(k_key, "payload"));
    }
    CHECK(mode_of(tmp.path() / "strict" / "v1") == 0700u);
    CHECK(mode_of(entry_path(other.directory(), k_key)) == 0600u);
    CHECK(other.load(k_key) == std::optional<std::string>("payload"));
  }
  SECTION("an existing cache root keeps its permissions") {
    const fs::path existing = tmp.path() / "existing";
    REQUIRE(::mkdir(existing.c_str(), 0700) == 0);
    REQUIRE(::chmod(existing.c_str(), 0755) == 0);
    REQUIRE(Cache(existing).store(k_key, "payload"));
    CHECK(mode_of(existing) == 0755u);
    CHECK(mode_of(existing / "v1") == 0700u);
  }
}

TEST_CASE("cache: a truncated entry is ignored, removed, then replaced", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  const std::string payload(1000, 'z');
  REQUIRE(c.store(k_key, payload));
  const fs::path path = entry_path(c.directory(), k_key);
  const auto size = fs::file_size(path);

  SECTION("payload cut short") {
    REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size - 10)) == 0);
  }
  SECTION("cut inside the header") {
    REQUIRE(::truncate(path.c_str(), 30) == 0);
  }
  SECTION("cut to nothing") {
    REQUIRE(::truncate(path.c_str(), 0) == 0);
  }
  SECTION("bytes appended") {
    test::write_file(path, test::read_file(path) + "extra");
  }
  CHECK_FALSE(c.load(k_key));
  CHECK_FALSE(fs::exists(path));
  REQUIRE(c.store(k_key, payload));
  CHECK(c.load(k_key) == std::optional<std::string>(payload));
}

TEST_CASE("cache: a flipped payload byte is detected", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  const std::string payload = R"({"similarity":0.93})";
  REQUIRE(c.store(k_key, payload));
  const fs::path path = entry_path(c.directory(), k_key);
  std::string bytes = test::read_file(path);
  bytes[bytes.size() - 3] = static_cast<char>(bytes[bytes.size() - 3] ^ 0x01);
  test::write_file(path, bytes);
  CHECK_FALSE(c.load(k_key));
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("cache: malformed headers are never trusted", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  REQUIRE(c.store(k_key, "seed"));  // creates the directories
  const fs::path path = entry_path(c.directory(), k_key);
  const std::string payload = "abc";
  const std::string hash = sha256_hex(payload);
  std::string upper = hash;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char ch) { return ch >= 'a' && ch <= 'f' ? static_cast<char>(ch - 'a' + 'A') : ch; });

  const std::vector<std::string> bad = {
      "garbage\nabc",
      "",
      "abc",
      "faceverify-cache 1 3 " + hash,                                  // no newline, no payload
      "faceverify-cache 2 3 " + hash + "\nabc",                        // another format version
      "faceverify-cache 1 03 " + hash + "\nabc",                       // leading zero
      "faceverify-cache 1 -3 " + hash + "\nabc",                       // sign
      "faceverify-cache 1 3 " + upper + "\nabc",                       // uppercase digest
      "faceverify-cache 1 3 " + hash + " \nabc",                       // trailing space
      "faceverify-cache 1 3 " + hash.substr(1) + "\nabc",              // short digest
      "faceverify-cache 1 99999999999999999999999 " + hash + "\nabc",  // overflow
      "faceverify-cache 1 3 " + sha256_hex("abd") + "\nabc",           // wrong digest
      "faceverify-cache 1 2 " + hash + "\nabc",                        // length mismatch
  };
  for (const std::string& content : bad) {
    INFO("entry: " << content);
    test::write_file(path, content);
    CHECK_FALSE(c.load(k_key));
    CHECK_FALSE(fs::exists(path));
  }
  // The same bytes with a correct header are accepted.
  test::write_file(path, header_for(payload) + payload);
  CHECK(c.load(k_key) == std::optional<std::string>(payload));
}

TEST_CASE("cache: keys that are not 64 lowercase hex digits are rejected", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  std::string upper = k_key;
  upper[5] = 'A';
  const std::vector<std::string> bad = {
      "",
      k_key.substr(1),
      k_key + "0",
      upper,
      "../" + k_key.substr(3),
      k_key.substr(0, 10) + "/../../../../../../../../../../../../../../../../../etc/pass",
      std::string(64, 'g'),
      k_key.substr(0, 63) + '\n',
      std::string(k_key.substr(0, 63)) + '\0',
  };
  for (const std::string& key : bad) {
    INFO("key: " << key);
    CHECK_FALSE(c.load(key));
    const auto stored = c.store(key, "payload");
    REQUIRE_FALSE(stored);
    CHECK(stored.error().kind == ErrorKind::usage);
  }
  CHECK_FALSE(fs::exists(c.directory()));  // nothing was written anywhere
}

TEST_CASE("cache: make_key is deterministic and sensitive to both parts", "[cache]") {
  const std::string content = sha256_hex("image");
  const std::string key = cache::make_key(content, "api4ai|url|opts");
  CHECK(key == cache::make_key(content, "api4ai|url|opts"));
  CHECK(key == sha256_hex("api4ai|url|opts\n" + content));
  CHECK(key.size() == 64);
  CHECK(std::all_of(key.begin(), key.end(),
                    [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); }));
  CHECK(key != cache::make_key(sha256_hex("image2"), "api4ai|url|opts"));
  CHECK(key != cache::make_key(content, "api4ai|url|opts2"));
  CHECK(cache::make_key("a", "b") != cache::make_key("b", "a"));
}

TEST_CASE("cache: default_directory follows XDG_CACHE_HOME, then HOME", "[cache]") {
  const EnvVar xdg("XDG_CACHE_HOME");
  const EnvVar home("HOME");

  xdg.set("/x/cache");
  home.set("/home/u");
  CHECK(cache::default_directory().value() == fs::path("/x/cache/faceverify"));

  xdg.set("");
  CHECK(cache::default_directory().value() == fs::path("/home/u/.cache/faceverify"));

  xdg.set("relative/cache");  // ignored, as the XDG spec says
  CHECK(cache::default_directory().value() == fs::path("/home/u/.cache/faceverify"));

  xdg.unset();
  CHECK(cache::default_directory().value() == fs::path("/home/u/.cache/faceverify"));

  home.unset();
  auto none = cache::default_directory();
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorKind::usage);
  CHECK(
      none.error().message ==
      "cannot locate the cache directory: neither XDG_CACHE_HOME nor HOME is set (use --cache-dir DIR or --no-cache)");

  home.set("");
  CHECK_FALSE(cache::default_directory());

  home.set("relative");
  auto relative = cache::default_directory();
  REQUIRE_FALSE(relative);
  CHECK(relative.error().kind == ErrorKind::usage);
  CHECK_THAT(relative.error().message, Catch::Contains("--cache-dir DIR"));

  xdg.set("/x/cache");
  CHECK(cache::default_directory().value() == fs::path("/x/cache/faceverify"));
}

TEST_CASE("cache: stats and clear count only entries under v1/", "[cache]") {
  test::TempDir tmp;
  const fs::path root = tmp.path() / "cache";
  const Cache c(root);
  const auto keys = keys_in_distinct_fan_outs(4);
  REQUIRE(c.store(keys[0], "one"));
  REQUIRE(c.store(keys[1], "two two"));
  REQUIRE(c.store(keys[2], std::string(5000, '3')));
  REQUIRE(c.store(keys[3], "truncated later"));
  const fs::path truncated = entry_path(root, keys[3]);
  REQUIRE(::truncate(truncated.c_str(), 40) == 0);

  // Files the cache did not create.
  const fs::path fan0 = root / "v1" / keys[0].substr(0, 2);
  test::write_file(root / "keep.txt", "mine");
  test::write_file(root / "v1" / "README", "mine");
  test::write_file(fan0 / "notes.txt", "mine");
  fs::create_directories(root / "v1" / "zz");
  test::write_file(root / "v1" / "zz" / keys[0], "not a fan-out directory");
  fs::create_directories(root / "other");
  test::write_file(root / "other" / keys[1], "outside v1");
  // A temp file left by a killed writer.
  const fs::path leftover = fan0 / ("." + keys[0] + ".tmp.AbC123");
  test::write_file(leftover, "half an entry");

  const auto stats = c.stats();
  REQUIRE(stats);
  CHECK(stats->directory == root);
  CHECK(stats->entries == 3);  // the truncated entry is not counted, nor the temp and foreign files
  CHECK(stats->bytes == fs::file_size(entry_path(root, keys[0])) + fs::file_size(entry_path(root, keys[1])) +
                            fs::file_size(entry_path(root, keys[2])));

  const auto removed = c.clear();
  REQUIRE(removed);
  CHECK(*removed == 4);  // every entry file, the corrupt one included
  for (const auto& key : keys) CHECK_FALSE(fs::exists(entry_path(root, key)));
  CHECK_FALSE(fs::exists(leftover));
  // Empty fan-out directories are removed; the one holding a foreign file stays.
  CHECK(fs::exists(fan0));
  for (std::size_t i = 1; i < keys.size(); ++i) CHECK_FALSE(fs::exists(root / "v1" / keys[i].substr(0, 2)));
  // Files outside the cache's own names are left alone.
  CHECK(test::read_file(root / "keep.txt") == "mine");
  CHECK(test::read_file(root / "v1" / "README") == "mine");
  CHECK(test::read_file(fan0 / "notes.txt") == "mine");
  CHECK(fs::exists(root / "v1" / "zz" / keys[0]));
  CHECK(fs::exists(root / "other" / keys[1]));

  const auto after = c.stats();
  REQUIRE(after);
  CHECK(after->entries == 0);
  CHECK(after->bytes == 0);
  CHECK(c.clear().value() == 0);

  // The cache still works after a clear.
  REQUIRE(c.store(keys[1], "back"));
  CHECK(c.load(keys[1]) == std::optional<std::string>("back"));
  CHECK(c.stats().value().entries == 1);
}

TEST_CASE("cache: stats counts well-formed entries without re-hashing them", "[cache]") {
  // Documented choice: stats() checks the header and the length, not the
  // digest; load() checks the digest and drops the entry.
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  REQUIRE(c.store(k_key, "payload"));
  const fs::path path = entry_path(c.directory(), k_key);
  std::string bytes = test::read_file(path);
  bytes.back() = 'X';
  test::write_file(path, bytes);
  CHECK(c.stats().value().entries == 1);
  CHECK_FALSE(c.load(k_key));
  CHECK(c.stats().value().entries == 0);
}

TEST_CASE("cache: stats and clear of a missing directory", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "absent");
  const auto stats = c.stats();
  REQUIRE(stats);
  CHECK(stats->entries == 0);
  CHECK(stats->bytes == 0);
  CHECK(stats->directory == tmp.path() / "absent");
  CHECK(c.clear().value() == 0);
  CHECK_FALSE(fs::exists(tmp.path() / "absent"));
}

TEST_CASE("cache: store into an unusable directory names it in the error", "[cache]") {
  test::TempDir tmp;
  // Under a regular file: fails for root too.
  test::write_file(tmp.path() / "afile", "x");
  const fs::path under_file = tmp.path() / "afile" / "sub";
  const auto result = Cache(under_file).store(k_key, "payload");
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorKind::input);
  CHECK_THAT(result.error().message, Catch::Contains("cannot create the cache directory " + under_file.string()));
  CHECK_THAT(result.error().message, Catch::EndsWith("(use --cache-dir DIR or --no-cache)"));
  CHECK(result.error().message.find('\n') == std::string::npos);
  CHECK_FALSE(Cache(under_file).load(k_key));

  if (::geteuid() != 0) {  // root ignores permission bits
    const fs::path locked = tmp.path() / "locked";
    REQUIRE(::mkdir(locked.c_str(), 0500) == 0);
    const fs::path dir = locked / "cache";
    const auto denied = Cache(dir).store(k_key, "payload");
    ::chmod(locked.c_str(), 0700);  // let TempDir clean up
    REQUIRE_FALSE(denied);
    CHECK(denied.error().kind == ErrorKind::input);
    CHECK(denied.error().message == "cannot create the cache directory " + dir.string() +
                                        ": Permission denied (use --cache-dir DIR or --no-cache)");
  }
}

TEST_CASE("cache: concurrent writer processes never expose a partial entry", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");
  constexpr std::size_t k_size = 20000;
  constexpr int k_stores = 200;
  REQUIRE(c.store(k_key, std::string(k_size, 'P')));  // so every load should find an entry

  pid_t children[2] = {-1, -1};
  const char letters[2] = {'A', 'B'};
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string payload(k_size, letters[i]);
      int status = 0;
      for (int n = 0; n < k_stores && status == 0; ++n) {
        if (!c.store(k_key, payload)) status = 1;
      }
      ::_exit(status);
    }
    children[i] = pid;
  }
  REQUIRE(children[0] > 0);
  REQUIRE(children[1] > 0);

  int loads = 0;
  int misses = 0;
  int partial = 0;
  std::set<char> seen;
  int statuses[2] = {-1, -1};
  int running = 2;
  while (running > 0) {
    const auto payload = c.load(k_key);
    ++loads;
    if (!payload) {
      ++misses;
    } else if (is_whole_payload(*payload, k_size, "PAB")) {
      seen.insert((*payload)[0]);
    } else {
      ++partial;
    }
    for (int i = 0; i < 2; ++i) {
      if (statuses[i] != -1) continue;
      int status = 0;
      if (::waitpid(children[i], &status, WNOHANG) == children[i]) {
        statuses[i] = status;
        --running;
      }
    }
  }
  INFO("loads: " << loads);
  CHECK(partial == 0);
  CHECK(misses == 0);  // rename(2) replaces the entry atomically
  for (const int status : statuses) {
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const auto last = c.load(k_key);
  REQUIRE(last);
  CHECK(is_whole_payload(*last, k_size, "AB"));
  // Exactly one entry, no temp files left over.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(entry_path(c.directory(), k_key).parent_path())) {
    names.push_back(e.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{k_key});
}

TEST_CASE("cache: concurrent writer threads never expose a partial entry", "[cache]") {
  test::TempDir tmp;
  const Cache c(tmp.path() / "cache");  // created concurrently by the writers
  constexpr std::size_t k_size = 8000;
  constexpr int k_stores = 50;
  const std::string other_key = cache::make_key(sha256_hex("another image"), "api4ai");
  std::atomic<int> failed_stores{0};
  std::atomic<int> partial{0};
  std::atomic<bool> done{false};

  std::vector<std::thread> writers;
  for (const char letter : std::string("ABCD")) {
    writers.emplace_back([&, letter] {
      const std::string payload(k_size, letter);
      for (int n = 0; n < k_stores; ++n) {
        if (!c.store(k_key, payload)) ++failed_stores;
        if (n % 10 == 0 && !c.store(other_key, std::string(1, letter))) ++failed_stores;
      }
    });
  }
  std::thread reader([&] {
    while (!done.load()) {
      const auto payload = c.load(k_key);
      if (payload && !is_whole_payload(*payload, k_size, "ABCD")) ++partial;
    }
  });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();

  CHECK(failed_stores.load() == 0);
  CHECK(partial.load() == 0);
  const auto last = c.load(k_key);
  REQUIRE(last);
  CHECK(is_whole_payload(*last, k_size, "ABCD"));
  const auto other = c.load(other_key);
  REQUIRE(other);
  CHECK(is_whole_payload(*other, 1, "ABCD"));
  CHECK(c.stats().value().entries == 2);
}

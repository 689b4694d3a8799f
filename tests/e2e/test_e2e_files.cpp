// SPDX-License-Identifier: MIT
// The files a run writes and the calls it blocks in (issue 11): outputs never
// replace an input or a file of another kind, bad output paths stop before
// any request, calibrate --write-config refuses data that cannot support a
// threshold, embed reports records a closed stdout lost, and neither a FIFO
// in the cache nor a signal during a blocked read hangs the run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e_support.hpp"
#include "fake_server.hpp"

using nlohmann::json;
namespace test = faceverify::test;
namespace fs = std::filesystem;

namespace {

using namespace faceverify::test::e2e;
using faceverify::test::RunOptions;

json scenario() {
  json images;
  auto put = [&](const std::string& name, double x) { images[name] = {{"embedding", {x, 1.0}}}; };
  put("g1a.jpg", 0.0), put("g1b.jpg", 0.5);    // genuine, d = 0.5
  put("g2a.jpg", 10.0), put("g2b.jpg", 10.9);  // genuine, d = 0.9
  put("i1a.jpg", 20.0), put("i1b.jpg", 21.2);  // impostor, d = 1.2
  put("i2a.jpg", 30.0), put("i2b.jpg", 31.5);  // impostor, d = 1.5
  images["busy.jpg"] = {{"status", 429}, {"body", "{\"message\":\"slow down\"}"}};
  images["slow.jpg"] = {{"embedding", {40.0, 1.0}}, {"delay_ms", 800}};
  return {{"images", images}};
}

struct Files {
  test::FakeServer server{scenario()};
  Photos photo;
  test::TempDir home;
  std::string labelled;  // four labelled pairs, both classes
  Files() {
    labelled = (photo.dir / "labelled.csv").string();
    test::write_file(labelled, photo("g1a.jpg") + "," + photo("g1b.jpg") + ",same\n" + photo("g2a.jpg") + "," +
                                   photo("g2b.jpg") + ",same\n" + photo("i1a.jpg") + "," + photo("i1b.jpg") +
                                   ",different\n" + photo("i2a.jpg") + "," + photo("i2b.jpg") + ",different\n");
  }
  RunOptions env() const {
    RunOptions o;
    o.env_overrides["XDG_CACHE_HOME"] = (home.path() / "cache").string();
    o.env_overrides["XDG_CONFIG_HOME"] = (home.path() / "config").string();
    o.timeout = std::chrono::milliseconds(20000);
    return o;
  }
  test::ProcessResult run(std::vector<std::string> args, RunOptions o) const {
    const std::string command = args.front();
    args.erase(args.begin());
    args = with_server(server, std::move(args));
    args.insert(args.begin(), command);
    return run_faceverify(std::move(args), std::move(o));
  }
  test::ProcessResult run(std::vector<std::string> args) const { return run(std::move(args), env()); }
  std::size_t requests() const { return server.requests().size(); }
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("outputs never replace an input of the same run", "[e2e][files]") {
  Files f;
  const std::string pairs = (f.photo.dir / "swap.csv").string();
  const std::string pairs_text = f.photo("g1a.jpg") + "," + f.photo("g1b.jpg") + ",same\n";
  test::write_file(pairs, pairs_text);
  SECTION("pairs --junit naming the pairs file, as itself or by another spelling") {
    const std::string old_report = (f.photo.dir / "swap.xml").string();
    test::write_file(old_report, "<?xml version=\"1.0\"?>\n<testsuites/>\n");
    fs::create_symlink(pairs, f.photo.dir / "link.csv");
    fs::create_hard_link(pairs, f.photo.dir / "hard.csv");
    for (const std::string& out : {pairs, (f.photo.dir / "." / "swap.csv").string(),
                                   (f.photo.dir / "link.csv").string(), (f.photo.dir / "hard.csv").string()}) {
      auto r = f.run({"pairs", "--junit", out, pairs});
      CHECK(r.exit_code == 2);
      CHECK(one_line(r.err));
      CHECK(contains(r.err, "--junit would overwrite an input of this run"));
      CHECK(r.out.empty());
    }
    // The swapped arguments of the issue: the old report is read as pairs.
    auto r = f.run({"pairs", "--junit", pairs, old_report});
    CHECK(r.exit_code == 2);
    CHECK(test::read_file(pairs) == pairs_text);
    CHECK(f.requests() == 0);
  }
  SECTION("an image of the run, the config file, and the calibrate outputs") {
    auto j = f.run({"pairs", "--junit", f.photo("g1b.jpg"), pairs});
    CHECK(j.exit_code == 2);
    CHECK(contains(j.err, "g1b.jpg: --junit would overwrite"));
    auto r = f.run({"calibrate", "--report", f.labelled, f.labelled});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--report would overwrite an input"));
    auto c = f.run({"calibrate", "--write-config", "--config", f.photo("g1a.jpg"), f.labelled});
    CHECK(c.exit_code == 2);
    auto image = f.run({"calibrate", "--report", f.photo("i1a.jpg"), f.labelled});
    CHECK(image.exit_code == 2);
    CHECK(contains(image.err, "i1a.jpg: --report would overwrite"));
    CHECK(test::read_file(f.photo.dir / "g1b.jpg") == k_jpeg_magic + " bytes of g1b.jpg");
    CHECK(f.requests() == 0);
  }
}

TEST_CASE("an output replaces only an empty file or one of its own kind", "[e2e][files]") {
  Files f;
  const std::string pairs = (f.photo.dir / "p.csv").string();
  test::write_file(pairs, f.photo("g1a.jpg") + "," + f.photo("g1b.jpg") + ",same\n");
  const fs::path notes = f.photo.dir / "notes.txt";
  test::write_file(notes, "my notes\n");
  SECTION("--junit refuses another file, replaces a JUnit report or an empty file") {
    auto r = f.run({"pairs", "--junit", notes.string(), pairs});
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(contains(r.err, "notes.txt: --junit would replace a file that is not a JUnit report"));
    CHECK(test::read_file(notes) == "my notes\n");
    CHECK(f.requests() == 0);
    const fs::path other = f.photo.dir / "other.xml";  // another tool's report
    test::write_file(other, "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- ci -->\n<testsuite name=\"x\" tests=\"0\"/>\n");
    auto ok = f.run({"pairs", "--junit", other.string(), pairs});
    CHECK(ok.exit_code == 0);
    CHECK(contains(test::read_file(other), "<testsuites name=\"faceverify\""));
    const fs::path empty = f.photo.dir / "empty.xml";
    test::write_file(empty, "");
    CHECK(f.run({"pairs", "--junit", empty.string(), pairs}).exit_code == 0);
  }
  SECTION("--report refuses a page it did not write; --write-config a file that is not a config") {
    const fs::path page = f.photo.dir / "index.html";
    test::write_file(page, "<!DOCTYPE html><html><head><title>mine</title></head></html>\n");
    auto r = f.run({"calibrate", "--report", page.string(), f.labelled});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "index.html: --report would replace a file that is not a faceverify HTML report"));
    const fs::path dotenv = f.photo.dir / "settings.env";
    test::write_file(dotenv, "API4AI_KEY=abc\n");
    auto c = f.run({"calibrate", "--write-config", "--config", dotenv.string(), f.labelled});
    CHECK(c.exit_code == 2);
    CHECK(contains(c.err, "settings.env: --write-config would replace a file that is not a faceverify config file"));
    CHECK(test::read_file(dotenv) == "API4AI_KEY=abc\n");
    CHECK(f.requests() == 0);
    // Its own report and config are replaced.
    const fs::path report = f.photo.dir / "r.html";
    REQUIRE(f.run({"calibrate", "--report", report.string(), f.labelled}).exit_code == 0);
    CHECK(f.run({"calibrate", "--report", report.string(), f.labelled}).exit_code == 0);
    const fs::path config = f.photo.dir / "c.toml";
    test::write_file(config, "# mine\nthreshold = 0.7\n");
    CHECK(f.run({"calibrate", "--write-config", "--config", config.string(), f.labelled}).exit_code == 0);
    CHECK(contains(test::read_file(config), "written by faceverify calibrate"));
  }
}

TEST_CASE("output paths are checked before any request", "[e2e][files]") {
  Files f;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"calibrate", "--report", "/nonexistent/r.html", f.labelled},
        std::vector<std::string>{"calibrate", "--report", f.photo.dir.path().string(), f.labelled},
        std::vector<std::string>{"calibrate", "--write-config", "--config", f.photo.dir.path().string(), f.labelled},
        std::vector<std::string>{"calibrate", "--write-config", "--config", f.photo("g1a.jpg") + "/c.toml", f.labelled},
        std::vector<std::string>{"pairs", "--junit", "/nonexistent/dir/r.xml", f.labelled}}) {
    auto r = f.run(args);
    INFO(args[2]);
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(r.out.empty());
  }
  CHECK(f.requests() == 0);
}

TEST_CASE("calibrate --write-config keeps the old file when the data cannot support a threshold", "[e2e][files]") {
  Files f;
  const fs::path config = f.photo.dir / "c.toml";
  const std::string old = "# written by faceverify calibrate\nbackend = \"api4ai\"\nthreshold = 0.75\n";
  test::write_file(config, old);
  SECTION("one class only") {
    const std::string same_only = (f.photo.dir / "same.csv").string();
    test::write_file(same_only, f.photo("g1a.jpg") + "," + f.photo("g1b.jpg") + ",same\n");
    auto r = f.run({"calibrate", "--write-config", "--config", config.string(), same_only});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "c.toml: not saved: no impostor (different people) pair was scored"));
    CHECK(test::read_file(config) == old);
  }
  SECTION("a run with errors: a 429 on the only photo of a genuine pair") {
    const std::string with_error = (f.photo.dir / "err.csv").string();
    test::write_file(with_error,
                     test::read_file(f.labelled) + f.photo("busy.jpg") + "," + f.photo("g1a.jpg") + ",same\n");
    auto r = f.run({"calibrate", "--retries", "0", "--write-config", "--config", config.string(), with_error});
    CHECK(r.exit_code == 4);
    CHECK(contains(r.err, "c.toml: not saved: some images or pairs failed"));
    CHECK(test::read_file(config) == old);
  }
}

TEST_CASE("calibrate reports FAR and TAR at the threshold in use", "[e2e][files]") {
  Files f;
  // Genuine similarities ~0.9987 and ~0.9252, impostors ~0.5582 and ~0.0620.
  auto r = f.run({"calibrate", "--json", "-t", "0.95", f.labelled});
  REQUIRE(r.exit_code == 0);
  auto j = json::parse(r.out);
  CHECK(j["current_threshold"]["threshold"] == 0.95);
  CHECK(j["current_threshold"]["threshold_source"] == "option");
  CHECK(j["current_threshold"]["far"] == 0.0);
  CHECK(j["current_threshold"]["tar"] == 0.5);
  auto t = f.run({"calibrate", "-t", "0.5", f.labelled});
  REQUIRE(t.exit_code == 0);
  CHECK(contains(t.out, "Your threshold (option): similarity 0.5000 (distance "));
  CHECK(contains(t.out, "FAR 50.00%, TAR 100.00%\n"));
  const fs::path report = f.photo.dir / "r.html";
  REQUIRE(f.run({"calibrate", "-t", "0.5", "--report", report.string(), f.labelled}).exit_code == 0);
  CHECK(contains(test::read_file(report), "Your threshold"));
}

TEST_CASE("embed: a closed stdout loses records and says how many", "[e2e][files]") {
  Files f;
  // A reader that goes away (EPIPE): the run stops, says what is missing
  // and exits 2 (lost output), where other commands end quietly.
  auto p = run_process({"bash", "-c", "\"$0\" embed --api-url \"$1\" \"$2\" \"$3\" | true; exit ${PIPESTATUS[0]}",
                        FACEVERIFY_BINARY_PATH, f.server.base_url(), f.photo("i1a.jpg"), f.photo("i1b.jpg")},
                       clean_env(f.env()));
  CHECK(p.exit_code == 2);
  CHECK(contains(p.err,
                 "standard output was closed: 2 of 2 embedding records were not written; the embedding "
                 "file is incomplete"));
  // Another write error: its own line, then the count.
  auto full = run_process({"sh", "-c", "exec \"$0\" embed --api-url \"$1\" \"$2\" > /dev/full", FACEVERIFY_BINARY_PATH,
                           f.server.base_url(), f.photo("g1a.jpg")},
                          clean_env(f.env()));
  CHECK(full.exit_code == 2);
  CHECK(contains(full.err, "cannot write to standard output: No space left on device\n"));
  CHECK(contains(full.err, "standard output: 1 of 1 embedding records were not written"));
  CHECK(one_line(p.err));
}

TEST_CASE("embed: an error analysed before stdout was lost is still reported", "[e2e][files]") {
  Files f;
  // --ordered holds busy.jpg's 429 (it answers first) until slow.jpg is
  // printed; that write fails, and the 429 must still be said and rank 4.
  auto full = run_process(
      {"sh", "-c", "exec \"$0\" embed --ordered -j 2 --retries 0 --api-url \"$1\" \"$2\" \"$3\" > /dev/full",
       FACEVERIFY_BINARY_PATH, f.server.base_url(), f.photo("slow.jpg"), f.photo("busy.jpg")},
      clean_env(f.env()));
  CHECK(full.exit_code == 4);
  CHECK(contains(full.err, "cannot write to standard output: No space left on device\n"));
  CHECK(contains(full.err, "429"));
  CHECK(contains(full.err, "standard output: 2 of 2 embedding records were not written"));
}

TEST_CASE("embed: a stdout closed by the shell is not reused for faceverify's own files", "[e2e][files]") {
  Files f;
  // `>&-` leaves descriptor 1 free: without care the next file opened (a
  // cache entry being written by a worker) would take it and receive records.
  auto p = run_process(
      {"bash", "-c", "\"$0\" embed -j 2 --api-url \"$1\" \"$2\" \"$3\" \"$4\" \"$5\" >&-", FACEVERIFY_BINARY_PATH,
       f.server.base_url(), f.photo("g1a.jpg"), f.photo("g1b.jpg"), f.photo("i1a.jpg"), f.photo("i1b.jpg")},
      clean_env(f.env()));
  CHECK(p.exit_code == 2);
  CHECK(contains(p.err, "4 of 4 embedding records were not written"));
  // The cache holds only entries: a second run completes them, a third is
  // served from the cache alone.
  const std::vector<std::string> photos = {"embed", f.photo("g1a.jpg"), f.photo("g1b.jpg"), f.photo("i1a.jpg"),
                                           f.photo("i1b.jpg")};
  auto again = f.run(photos);
  CHECK(again.exit_code == 0);
  CHECK(std::count(again.out.begin(), again.out.end(), '\n') == 4);
  const std::size_t after_second = f.requests();
  auto third = f.run(photos);
  CHECK(third.exit_code == 0);
  CHECK(std::count(third.out.begin(), third.out.end(), '\n') == 4);
  CHECK(f.requests() == after_second);
}

TEST_CASE("a FIFO in the cache is a miss and a blocked read ends at the first signal", "[e2e][files]") {
  Files f;
  SECTION("a FIFO in place of a cache entry does not hang the run") {
    REQUIRE(f.run({"embed", f.photo("g1a.jpg")}).exit_code == 0);
    std::vector<fs::path> entries;
    for (const auto& e : fs::recursive_directory_iterator(f.home.path() / "cache")) {
      if (e.is_regular_file()) entries.push_back(e.path());
    }
    REQUIRE(entries.size() == 1);
    fs::remove(entries[0]);
    REQUIRE(::mkfifo(entries[0].c_str(), 0600) == 0);
    RunOptions o = f.env();
    o.timeout = std::chrono::milliseconds(10000);
    auto r = f.run({"embed", f.photo("g1a.jpg")}, o);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(fs::is_regular_file(entries[0]));  // the analysis was stored over it
  }
  SECTION("SIGTERM ends a read blocked on a FIFO input with 143") {
    const fs::path fifo = f.photo.dir / "in.fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"embed", fifo.string()}, std::vector<std::string>{"pairs", fifo.string()}}) {
      std::vector<std::string> argv = {"timeout", "--foreground",        "--preserve-status", "-s", "TERM",
                                       "1",       FACEVERIFY_BINARY_PATH};
      argv.insert(argv.end(), args.begin(), args.end());
      RunOptions o = clean_env(f.env());
      o.timeout = std::chrono::milliseconds(10000);
      auto r = run_process(argv, o);
      CHECK_FALSE(r.timed_out);
      CHECK(r.exit_code == 143);
    }
  }
  SECTION("SIGTERM ends a write blocked on a reader that stopped reading, with 143") {
    // ~20 generated 512-value records overfill the pipe to `sleep`, which
    // never reads: the write blocks until the signal ends it. The left side
    // of the pipeline times itself, since bash waits for sleep as well.
    // --foreground: timeout signals faceverify once (not also its group), so
    // a handler that swallowed the signal could not be rescued by a second.
    test::FakeServer generated;
    std::vector<std::string> photos;
    for (int i = 0; i < 24; ++i) photos.push_back(f.photo("person" + std::to_string(i) + ".jpg"));
    std::string script =
        "s=$(date +%s%3N); timeout --foreground --preserve-status -s TERM 2 \"$0\" embed --no-cache --api-url \"$1\"";
    for (std::size_t i = 0; i < photos.size(); ++i) script += " \"${" + std::to_string(i + 2) + "}\"";
    script += "; rc=$?; e=$(date +%s%3N); echo \"rc=$rc ms=$((e - s))\" >&2";
    std::vector<std::string> argv = {"bash", "-c", "{ " + script + "; } | sleep 7", FACEVERIFY_BINARY_PATH,
                                     generated.base_url()};
    argv.insert(argv.end(), photos.begin(), photos.end());
    RunOptions o = clean_env(f.env());
    o.timeout = std::chrono::milliseconds(20000);
    auto r = run_process(argv, o);
    INFO(r.err);
    const auto at = r.err.find("rc=");
    REQUIRE(at != std::string::npos);
    int rc = -1, ms = -1;
    REQUIRE(std::sscanf(r.err.c_str() + at, "rc=%d ms=%d", &rc, &ms) == 2);
    CHECK(rc == 143);
    CHECK(ms < 5000);  // not the 7 s until the reader goes away
  }
}

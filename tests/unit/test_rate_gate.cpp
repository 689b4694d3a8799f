// SPDX-License-Identifier: MIT
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "faceverify/api4ai.hpp"
#include "faceverify/rate_gate.hpp"
#include "http_fakes.hpp"
#include "process.hpp"

using namespace faceverify;
using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

// Fake time: now() is what sleep_for() has advanced it to.
class FakeClock final : public Clock {
 public:
  SteadyTime now() override { return m_now; }
  void sleep_for(Millis d) override {
    ++sleeps;
    m_now += d;
    if (on_sleep) on_sleep();
  }
  void advance(Millis d) { m_now += d; }
  int sleeps = 0;
  std::function<void()> on_sleep;

 private:
  SteadyTime m_now = SteadyTime{} + std::chrono::hours(1000);
};

Millis since(SteadyTime t0, SteadyTime t) {
  return std::chrono::duration_cast<Millis>(t - t0);
}

SteadyTime far_future(FakeClock& clock) {
  return clock.now() + std::chrono::hours(1);
}

}  // namespace

TEST_CASE("rate_gate: no limit gives immediate turns", "[rate_gate]") {
  FakeClock clock;
  const auto t0 = clock.now();
  for (double rps : {0.0, -1.0}) {
    RequestGate gate(rps, clock);
    for (int i = 0; i < 5; ++i) CHECK(gate.wait_turn(far_future(clock)));
  }
  CHECK(clock.now() == t0);
  CHECK(clock.sleeps == 0);
}

TEST_CASE("rate_gate: max_rps spaces successive turns", "[rate_gate]") {
  FakeClock clock;
  const auto t0 = clock.now();
  RequestGate gate(10.0, clock);
  std::vector<Millis> starts;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(gate.wait_turn(far_future(clock)));
    starts.push_back(since(t0, clock.now()));
  }
  CHECK(starts == std::vector<Millis>{0ms, 100ms, 200ms, 300ms, 400ms});

  SECTION("a turn taken late resets the spacing from then") {
    clock.advance(1000ms);  // now 1400 ms, last start 400 ms
    REQUIRE(gate.wait_turn(far_future(clock)));
    CHECK(since(t0, clock.now()) == 1400ms);
    REQUIRE(gate.wait_turn(far_future(clock)));
    CHECK(since(t0, clock.now()) == 1500ms);
  }
  SECTION("4 per second: 250 ms apart") {
    FakeClock c2;
    const auto s0 = c2.now();
    RequestGate g2(4.0, c2);
    REQUIRE(g2.wait_turn(far_future(c2)));
    REQUIRE(g2.wait_turn(far_future(c2)));
    CHECK(since(s0, c2.now()) == 250ms);
  }
}

TEST_CASE("rate_gate: pause_for holds every turn, a shorter pause does not shorten it", "[rate_gate]") {
  FakeClock clock;
  const auto t0 = clock.now();
  RequestGate gate(0.0, clock);
  CHECK(gate.pauses() == 0);
  gate.pause_for(2000ms);
  CHECK(gate.pauses() == 1);
  REQUIRE(gate.wait_turn(far_future(clock)));
  CHECK(since(t0, clock.now()) >= 2000ms);
  CHECK(since(t0, clock.now()) < 2100ms);
  CHECK(clock.sleeps > 1);  // waited in slices, so cancellation is seen promptly

  const auto t1 = clock.now();
  gate.pause_for(3000ms);  // until t1 + 3 s
  clock.advance(1000ms);
  gate.pause_for(500ms);  // until t1 + 1.5 s: the longer pause stays
  CHECK(gate.pauses() == 3);
  REQUIRE(gate.wait_turn(far_future(clock)));
  CHECK(since(t1, clock.now()) >= 3000ms);
  CHECK(since(t1, clock.now()) < 3100ms);

  SECTION("a pause and a rate limit: the later of the two") {
    FakeClock c;
    const auto s0 = c.now();
    RequestGate g(2.0, c);  // 500 ms apart
    REQUIRE(g.wait_turn(far_future(c)));
    g.pause_for(200ms);  // shorter than the rate's spacing
    REQUIRE(g.wait_turn(far_future(c)));
    CHECK(since(s0, c.now()) == 500ms);
    g.pause_for(1500ms);  // until 2000 ms, longer than the next slot (1000 ms)
    REQUIRE(g.wait_turn(far_future(c)));
    CHECK(since(s0, c.now()) >= 2000ms);
    CHECK(since(s0, c.now()) < 2100ms);
  }
}

TEST_CASE("rate_gate: a deadline before the allowed start fails without taking a turn", "[rate_gate]") {
  FakeClock clock;
  const auto t0 = clock.now();
  RequestGate gate(10.0, clock);
  REQUIRE(gate.wait_turn(far_future(clock)));
  CHECK_FALSE(gate.wait_turn(t0 + 99ms));
  CHECK(clock.now() == t0);  // gave up at once, no sleeping first
  CHECK(clock.sleeps == 0);
  // The failed call took no turn: the next one starts at 100 ms, not 200 ms.
  REQUIRE(gate.wait_turn(t0 + 100ms));
  CHECK(since(t0, clock.now()) == 100ms);

  SECTION("during a pause") {
    gate.pause_for(5000ms);
    const auto t1 = clock.now();
    CHECK_FALSE(gate.wait_turn(t1 + 4999ms));
    CHECK(clock.now() == t1);
    REQUIRE(gate.wait_turn(t1 + 5000ms));
    CHECK(since(t1, clock.now()) == 5000ms);
  }
}

TEST_CASE("rate_gate: cancellation", "[rate_gate]") {
  FakeClock clock;
  RequestGate gate(0.0, clock);
  std::atomic<bool> cancel{true};
  CHECK_FALSE(gate.wait_turn(far_future(clock), &cancel));
  cancel = false;
  CHECK(gate.wait_turn(far_future(clock), &cancel));

  SECTION("set while waiting: seen within a slice") {
    const auto t0 = clock.now();
    gate.pause_for(60000ms);
    clock.on_sleep = [&] {
      if (clock.sleeps == 3) cancel = true;
    };
    CHECK_FALSE(gate.wait_turn(far_future(clock), &cancel));
    CHECK(clock.sleeps == 3);
    CHECK(since(t0, clock.now()) <= 150ms);
    // A cancelled wait took no turn either.
    clock.on_sleep = nullptr;
    cancel = false;
    REQUIRE(gate.wait_turn(far_future(clock), &cancel));
    CHECK(since(t0, clock.now()) >= 60000ms);
  }
}

TEST_CASE("rate_gate: threads share the limit (real clock)", "[rate_gate]") {
  // 50 per second: 20 turns need at least 19 intervals of 20 ms.
  RequestGate gate(50.0, system_clock_source());
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> turns{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 5; ++i) {
          if (gate.wait_turn(std::chrono::steady_clock::now() + std::chrono::seconds(30))) ++turns;
        }
      });
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(turns == 20);
  CHECK(took >= 380ms);
}

// --- the API4AI analyzer with a shared gate ---------------------------------

namespace {

// Answers from a script and records the fake time of every send.
class ScriptedClient final : public HttpClient {
 public:
  explicit ScriptedClient(Clock& clock) : m_clock(clock) {}
  std::vector<Expected<HttpResponse>> replies;
  std::vector<HttpRequest> requests;
  std::vector<SteadyTime> sent_at;
  Expected<HttpResponse> send(const HttpRequest& r) override {
    requests.push_back(r);
    sent_at.push_back(m_clock.now());
    return replies.at(std::min(requests.size() - 1, replies.size() - 1));
  }

 private:
  Clock& m_clock;
};

using faceverify::test::reply;

// The recorded API4AI reply with an embedding added, as embeddings=true returns.
std::string ok_body() {
  auto j = nlohmann::json::parse(
      test::read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/api4ai/face.response.json"));
  j["results"][0]["entities"][0]["objects"][0]["entities"].push_back(
      {{"kind", "vector"}, {"name", "face-embeddings"}, {"vector", std::vector<double>(512, 0.01)}});
  return j.dump();
}

Image jpeg(const std::string& name) {
  Image img;
  img.source = {SourceKind::file, name};
  img.label = name;
  img.upload_name = name;
  img.bytes = "\xFF\xD8\xFF";
  img.format = ImageFormat::jpeg;
  return img;
}

api4ai::Endpoint demo() {
  return *api4ai::make_endpoint(api4ai::Mode::demo, {}, {});
}

}  // namespace

TEST_CASE("rate_gate: a 429 pauses every analyzer sharing the gate", "[rate_gate]") {
  FakeClock clock;
  const auto t0 = clock.now();
  RequestGate gate(0.0, clock);
  api4ai::BatchSettings batch;
  batch.gate = &gate;
  batch.per_image_timeout = Millis(60000);

  SECTION("429 with Retry-After: 3, then 200") {
    ScriptedClient client(clock);
    client.replies = {reply(429, R"({"message":"Too Many Requests"})", {{"retry-after", "3"}}), reply(200, ok_body())};
    api4ai::Analyzer a(demo(), client, RetryPolicy{}, clock.now() + 1h, clock, {}, batch);
    auto r = a.analyze(jpeg("a.jpg"));
    REQUIRE(r);
    CHECK(r->faces.size() == 1);
    CHECK(gate.pauses() == 1);
    REQUIRE(client.sent_at.size() == 2);
    CHECK(client.sent_at[0] == t0);
    CHECK(since(t0, client.sent_at[1]) >= 3000ms);

    // A second analyzer on the same gate, starting later, is not held back.
    ScriptedClient other(clock);
    other.replies = {reply(200, ok_body())};
    api4ai::Analyzer b(demo(), other, RetryPolicy{}, clock.now() + 1h, clock, {}, batch);
    const auto t1 = clock.now();
    REQUIRE(b.analyze(jpeg("b.jpg")));
    REQUIRE(other.sent_at.size() == 1);
    CHECK(other.sent_at[0] == t1);
  }

  SECTION("another analyzer waits out the pause before sending") {
    ScriptedClient client(clock);
    client.replies = {reply(429, "", {{"retry-after", "3"}})};
    RetryPolicy no_retry;
    no_retry.retries = 0;
    api4ai::Analyzer a(demo(), client, no_retry, clock.now() + 1h, clock, {}, batch);
    auto failed = a.analyze(jpeg("a.jpg"));
    REQUIRE_FALSE(failed);
    CHECK(failed.error().http_status == 429);
    CHECK(gate.pauses() == 1);
    CHECK(clock.now() == t0);  // a did not sleep: no retry

    ScriptedClient other(clock);
    other.replies = {reply(200, ok_body())};
    api4ai::Analyzer b(demo(), other, RetryPolicy{}, clock.now() + 1h, clock, {}, batch);
    REQUIRE(b.analyze(jpeg("b.jpg")));
    REQUIRE(other.sent_at.size() == 1);
    CHECK(since(t0, other.sent_at[0]) >= 3000ms);
    CHECK(since(t0, other.sent_at[0]) < 3100ms);
    CHECK(gate.pauses() == 1);
  }

  SECTION("without Retry-After the pause is 1 s (twice the default base delay)") {
    ScriptedClient client(clock);
    client.replies = {reply(429, "")};
    RetryPolicy no_retry;
    no_retry.retries = 0;
    api4ai::Analyzer a(demo(), client, no_retry, clock.now() + 1h, clock, {}, batch);
    REQUIRE_FALSE(a.analyze(jpeg("a.jpg")));
    CHECK(gate.pauses() == 1);

    ScriptedClient other(clock);
    other.replies = {reply(200, ok_body())};
    api4ai::Analyzer b(demo(), other, RetryPolicy{}, clock.now() + 1h, clock, {}, batch);
    REQUIRE(b.analyze(jpeg("b.jpg")));
    REQUIRE(other.sent_at.size() == 1);
    CHECK(since(t0, other.sent_at[0]) >= 1000ms);
    CHECK(since(t0, other.sent_at[0]) < 1100ms);
  }

  SECTION("a pause longer than the per-image budget fails without sending") {
    ScriptedClient client(clock);
    client.replies = {reply(429, "", {{"retry-after", "30"}})};
    RetryPolicy no_retry;
    no_retry.retries = 0;
    api4ai::Analyzer a(demo(), client, no_retry, clock.now() + 1h, clock, {}, batch);
    REQUIRE_FALSE(a.analyze(jpeg("a.jpg")));

    ScriptedClient other(clock);
    other.replies = {reply(200, ok_body())};
    api4ai::BatchSettings tight = batch;
    tight.per_image_timeout = Millis(10000);  // the gate's deadline: now + the attempt's remaining budget
    api4ai::Analyzer b(demo(), other, RetryPolicy{}, clock.now() + 1h, clock, {}, tight);
    auto r = b.analyze(jpeg("b.jpg"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::timeout);
    CHECK(r.error().message == "b.jpg: --timeout reached while waiting for the service's rate limit");
    CHECK(other.requests.empty());
    CHECK(clock.now() == t0);  // refused at once: waiting could not help
  }

  SECTION("a 503 does not pause the gate") {
    ScriptedClient client(clock);
    client.replies = {reply(503, "busy"), reply(200, ok_body())};
    api4ai::Analyzer a(demo(), client, RetryPolicy{}, clock.now() + 1h, clock, {}, batch);
    REQUIRE(a.analyze(jpeg("a.jpg")));
    CHECK(client.requests.size() == 2);
    CHECK(gate.pauses() == 0);
  }
}

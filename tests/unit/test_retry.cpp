// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <vector>

#include "faceverify/retry.hpp"

using namespace faceverify;
using namespace std::chrono_literals;

namespace {

// A clock that advances only when the code sleeps or an attempt "takes time".
class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return m_now; }
  void sleep_for(Millis d) override {
    sleeps.push_back(d);
    m_now += d;
  }
  void advance(Millis d) { m_now += d; }
  std::vector<Millis> sleeps;

 private:
  std::chrono::steady_clock::time_point m_now{};
};

std::unexpected<Error> retryable(std::string msg, std::optional<Millis> after = {}) {
  return std::unexpected(Error{ErrorKind::http, std::move(msg), 503, true, after});
}

struct Script {
  std::vector<Expected<int>> outcomes;
  std::size_t calls = 0;
  Millis cost{10};
  FakeClock* clock = nullptr;
  Expected<int> operator()(Millis remaining) {
    clock->advance(std::min(cost, remaining));  // a real request is bounded by the time left
    const auto& o = outcomes[std::min(calls, outcomes.size() - 1)];
    ++calls;
    return o;
  }
};

Expected<int> run(Script& script, FakeClock& clock, RetryPolicy policy = {}, Millis budget = 60s,
                  std::vector<AttemptReport>* reports = nullptr) {
  script.clock = &clock;
  std::function<Expected<int>(Millis)> fn = [&](Millis m) { return script(m); };
  std::function<void(const AttemptReport&)> on = [&](const AttemptReport& r) {
    if (reports) reports->push_back(r);
  };
  return run_with_retries<int>(
      policy, clock.now() + budget, clock, [] { return 0.5; }, fn, on);
}

}  // namespace

TEST_CASE("retry::parse_retry_after", "[retry]") {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_retry_after("120", now) == Millis(120000));
  CHECK(parse_retry_after(" 0 ", now) == Millis(0));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == Millis(30000));
  CHECK(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now) == Millis(60000));
  CHECK(parse_retry_after("Wed Oct 21 07:28:05 2015", now) == Millis(5000));
  CHECK(parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now) == Millis(0));  // in the past
  CHECK_FALSE(parse_retry_after("", now).has_value());
  CHECK_FALSE(parse_retry_after("soon", now).has_value());
  CHECK_FALSE(parse_retry_after("-5", now).has_value());
  CHECK_FALSE(parse_retry_after("1.5", now).has_value());
  CHECK(parse_retry_after("99999999999999999999999", now) == k_max_retry_after);
  CHECK(parse_retry_after("99999999999", now) == k_max_retry_after);
  // Found by fuzzing: dates centuries away overflowed the clock's nanoseconds.
  CHECK(parse_retry_after("Wed, 21 Oct 1007 07:28:30 GMT", now) == Millis(0));
  CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == k_max_retry_after);
}

TEST_CASE("retry::backoff_delay", "[retry]") {
  RetryPolicy p;  // 500 ms base, 8 s cap
  CHECK(backoff_delay(p, 1, 0.0) == 250ms);
  CHECK(backoff_delay(p, 1, 1.0) == 500ms);
  CHECK(backoff_delay(p, 2, 1.0) == 1000ms);
  CHECK(backoff_delay(p, 3, 1.0) == 2000ms);
  CHECK(backoff_delay(p, 10, 1.0) == 8000ms);  // capped
  CHECK(backoff_delay(p, 10, 0.0) == 4000ms);  // jitter keeps at least half
  CHECK(backoff_delay(p, 1000, 0.7) <= 8000ms);
}

TEST_CASE("retry::run_with_retries", "[retry]") {
  FakeClock clock;
  SECTION("succeeds after two retryable failures, sleeping between attempts") {
    Script s{{retryable("HTTP 503"), retryable("HTTP 503"), 42}};
    std::vector<AttemptReport> reports;
    auto r = run(s, clock, {}, 60s, &reports);
    REQUIRE(r);
    CHECK(*r == 42);
    CHECK(s.calls == 3);
    CHECK(clock.sleeps == std::vector<Millis>{375ms, 750ms});
    REQUIRE(reports.size() == 3);
    CHECK(reports[0].next_delay == 375ms);
    CHECK(reports[2].error == nullptr);
    CHECK(reports[2].attempt == 3);
    CHECK(reports[2].max_attempts == 5);
  }
  SECTION("a permanent error is not retried") {
    Script s{{Expected<int>(std::unexpected(Error{ErrorKind::http, "HTTP 401", 401, false, {}}))}};
    auto r = run(s, clock);
    REQUIRE_FALSE(r);
    CHECK(s.calls == 1);
    CHECK(clock.sleeps.empty());
    CHECK(r.error().message == "HTTP 401");
  }
  SECTION("retries = N makes N+1 attempts and never sleeps after the last") {
    Script s{{retryable("HTTP 500")}};
    RetryPolicy p;
    p.retries = 2;
    auto r = run(s, clock, p);
    REQUIRE_FALSE(r);
    CHECK(s.calls == 3);
    CHECK(clock.sleeps.size() == 2);
    CHECK(r.error().message == "gave up after 3 attempts: HTTP 500");
    CHECK(r.error().http_status == 503);
  }
  SECTION("retries = 0 makes one attempt") {
    Script s{{retryable("HTTP 500")}};
    RetryPolicy p;
    p.retries = 0;
    auto r = run(s, clock, p);
    CHECK(s.calls == 1);
    CHECK(r.error().message == "HTTP 500");
  }
  SECTION("Retry-After lengthens the wait") {
    Script s{{retryable("HTTP 429", 3000ms), 1}};
    auto r = run(s, clock);
    REQUIRE(r);
    CHECK(clock.sleeps == std::vector<Millis>{3000ms});
  }
  SECTION("a Retry-After beyond the deadline gives up at once, saying so") {
    Script s{{retryable("HTTP 429", 3600000ms), 1}};
    auto r = run(s, clock);
    REQUIRE_FALSE(r);
    CHECK(s.calls == 1);
    CHECK(clock.sleeps.empty());
    CHECK(r.error().message ==
          "HTTP 429 (the service asks to wait 3600 s, more than --timeout leaves; try again later)");
  }
  SECTION("a long Retry-After within a long deadline is honoured") {
    Script s{{retryable("HTTP 429", 300000ms), 1}};
    auto r = run(s, clock, {}, 600s);
    REQUIRE(r);
    CHECK(clock.sleeps == std::vector<Millis>{300000ms});
  }
  SECTION("the deadline stops retrying before a sleep would overrun it") {
    Script s{{retryable("HTTP 503")}};
    s.cost = 900ms;
    auto r = run(s, clock, {}, 2s);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::timeout);
    CHECK(r.error().message.find("--timeout") != std::string::npos);
    CHECK(r.error().message.find("HTTP 503") != std::string::npos);
    CHECK(clock.now().time_since_epoch() <= 2s);
  }
  SECTION("each attempt is told the time left") {
    std::vector<Millis> seen;
    std::function<Expected<int>(Millis)> fn = [&](Millis left) -> Expected<int> {
      seen.push_back(left);
      clock.advance(100ms);
      if (seen.size() < 2) return retryable("reset");
      return 1;
    };
    auto r = run_with_retries<int>(
        {}, clock.now() + 10s, clock, [] { return 0.0; }, fn);
    REQUIRE(r);
    CHECK(seen == std::vector<Millis>{10000ms, 9650ms});
  }
}

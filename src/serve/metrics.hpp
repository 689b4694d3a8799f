// SPDX-License-Identifier: MIT
#pragma once
// GET /metrics of faceverify serve: what Prometheus scrapes. Counters by
// route and status, a latency histogram, bytes received, faces found, and
// the gauges the server reports (in flight, queue depth). Thread-safe.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace faceverify::serve {

class Metrics {
 public:
  /// Upper bounds of the latency histogram's buckets, in seconds.
  static constexpr std::array<double, 12> k_buckets = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                       0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

  /// One finished request: `route` is a fixed label ("results", "version",
  /// "page", "healthz", "readyz", "metrics", "other"), never the raw path.
  void record(std::string_view route, int status, double seconds, std::uint64_t bytes_in, std::uint64_t faces);

  /// The Prometheus text exposition format (version 0.0.4), with the
  /// gauges given by the caller.
  std::string render(std::uint64_t in_flight, std::uint64_t queue_depth, std::uint64_t connections) const;

 private:
  mutable std::mutex m_mutex;
  std::map<std::pair<std::string, int>, std::uint64_t> m_requests;
  std::array<std::uint64_t, k_buckets.size()> m_bucket_counts{};
  std::uint64_t m_count = 0;
  double m_sum = 0.0;
  std::uint64_t m_bytes_in = 0;
  std::uint64_t m_faces = 0;
};

}  // namespace faceverify::serve

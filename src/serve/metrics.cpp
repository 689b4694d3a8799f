// SPDX-License-Identifier: MIT
#include "serve/metrics.hpp"

#include <cstdio>

namespace faceverify::serve {

void Metrics::record(std::string_view route, int status, double seconds, std::uint64_t bytes_in, std::uint64_t faces) {
  std::lock_guard lock(m_mutex);
  ++m_requests[{std::string(route), status}];
  for (std::size_t i = 0; i < k_buckets.size(); ++i) {
    if (seconds <= k_buckets[i]) ++m_bucket_counts[i];
  }
  ++m_count;
  m_sum += seconds;
  m_bytes_in += bytes_in;
  m_faces += faces;
}

std::string Metrics::render(std::uint64_t in_flight, std::uint64_t queue_depth, std::uint64_t connections) const {
  std::lock_guard lock(m_mutex);
  std::string out;
  char line[1024];
  out += "# HELP faceverify_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE faceverify_requests_total counter\n";
  for (const auto& [key, count] : m_requests) {
    std::snprintf(line, sizeof line, "faceverify_requests_total{route=\"%s\",status=\"%d\"} %llu\n", key.first.c_str(),
                  key.second, static_cast<unsigned long long>(count));
    out += line;
  }
  out += "# HELP faceverify_request_duration_seconds Time from the request's headers to its answer.\n";
  out += "# TYPE faceverify_request_duration_seconds histogram\n";
  for (std::size_t i = 0; i < k_buckets.size(); ++i) {
    std::snprintf(line, sizeof line, "faceverify_request_duration_seconds_bucket{le=\"%g\"} %llu\n", k_buckets[i],
                  static_cast<unsigned long long>(m_bucket_counts[i]));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "faceverify_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                "faceverify_request_duration_seconds_sum %.6f\n"
                "faceverify_request_duration_seconds_count %llu\n",
                static_cast<unsigned long long>(m_count), m_sum, static_cast<unsigned long long>(m_count));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP faceverify_request_bytes_total Request body bytes received.\n"
                "# TYPE faceverify_request_bytes_total counter\n"
                "faceverify_request_bytes_total %llu\n"
                "# HELP faceverify_faces_total Faces found in analysed images.\n"
                "# TYPE faceverify_faces_total counter\n"
                "faceverify_faces_total %llu\n",
                static_cast<unsigned long long>(m_bytes_in), static_cast<unsigned long long>(m_faces));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP faceverify_in_flight Requests being received, queued or analysed.\n"
                "# TYPE faceverify_in_flight gauge\n"
                "faceverify_in_flight %llu\n"
                "# HELP faceverify_queue_depth Images waiting for a worker.\n"
                "# TYPE faceverify_queue_depth gauge\n"
                "faceverify_queue_depth %llu\n"
                "# HELP faceverify_connections Open client connections.\n"
                "# TYPE faceverify_connections gauge\n"
                "faceverify_connections %llu\n",
                static_cast<unsigned long long>(in_flight), static_cast<unsigned long long>(queue_depth),
                static_cast<unsigned long long>(connections));
  out += line;
  return out;
}

}  // namespace faceverify::serve

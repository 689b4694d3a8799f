// SPDX-License-Identifier: MIT
#pragma once
// The bounded queue in front of faceverify serve's workers: a fixed number
// of threads, each running one analysis at a time, and at most `capacity`
// jobs waiting. A full queue refuses at once (the server answers 429), so a
// burst never grows memory or latency without bound.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace faceverify::serve {

class WorkQueue {
 public:
  WorkQueue(std::size_t workers, std::size_t capacity);
  ~WorkQueue();  // finishes queued jobs, then joins
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  /// Queues `job`; false when every worker is busy and `capacity` jobs
  /// already wait, or the queue is closed.
  bool try_submit(std::function<void()> job);

  /// Jobs waiting (not yet taken by a worker).
  std::size_t depth() const;
  /// Jobs waiting or running.
  std::size_t pending() const;

  /// Refuses new jobs; the ones queued still run.
  void close();

 private:
  void work();

  mutable std::mutex m_mutex;
  std::condition_variable m_ready;
  std::deque<std::function<void()>> m_jobs;
  std::size_t m_capacity;
  std::size_t m_running = 0;
  bool m_closed = false;
  std::vector<std::thread> m_threads;
};

}  // namespace faceverify::serve

// SPDX-License-Identifier: MIT
#include "serve/work_queue.hpp"

namespace faceverify::serve {

WorkQueue::WorkQueue(std::size_t workers, std::size_t capacity) : m_capacity(capacity) {
  m_threads.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) m_threads.emplace_back([this] { work(); });
}

WorkQueue::~WorkQueue() {
  close();
  for (auto& t : m_threads) t.join();
}

bool WorkQueue::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(m_mutex);
    if (m_closed || m_jobs.size() + m_running >= m_threads.size() + m_capacity) return false;
    m_jobs.push_back(std::move(job));
  }
  m_ready.notify_one();
  return true;
}

std::size_t WorkQueue::depth() const {
  std::lock_guard lock(m_mutex);
  return m_jobs.size();
}

std::size_t WorkQueue::pending() const {
  std::lock_guard lock(m_mutex);
  return m_jobs.size() + m_running;
}

void WorkQueue::close() {
  {
    std::lock_guard lock(m_mutex);
    m_closed = true;
  }
  m_ready.notify_all();
}

void WorkQueue::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(m_mutex);
      m_ready.wait(lock, [this] { return m_closed || !m_jobs.empty(); });
      if (m_jobs.empty()) return;  // closed and drained
      job = std::move(m_jobs.front());
      m_jobs.pop_front();
      ++m_running;
    }
    job();
    std::lock_guard lock(m_mutex);
    --m_running;
  }
}

}  // namespace faceverify::serve

// SPDX-License-Identifier: MIT
#pragma once
// Sets or unsets one environment variable for a test's scope and restores
// it afterwards.

#include <cstdlib>
#include <optional>
#include <string>

class EnvVar {
 public:
  explicit EnvVar(std::string name) : m_name(std::move(name)) {
    if (const char* value = std::getenv(m_name.c_str())) m_saved = value;
  }
  ~EnvVar() {
    if (m_saved) {
      ::setenv(m_name.c_str(), m_saved->c_str(), 1);
    } else {
      ::unsetenv(m_name.c_str());
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;
  void set(const std::string& value) const { ::setenv(m_name.c_str(), value.c_str(), 1); }
  void unset() const { ::unsetenv(m_name.c_str()); }

 private:
  std::string m_name;
  std::optional<std::string> m_saved;
};

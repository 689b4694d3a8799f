// SPDX-License-Identifier: MIT
#include <csignal>
#include <iostream>

#include "faceverify/app.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout becomes a write error, not a crash
  return faceverify::run(argc, argv, std::cout, std::cerr);
}

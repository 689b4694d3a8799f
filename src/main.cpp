// SPDX-License-Identifier: MIT
#include <stdio_ext.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "faceverify/app.hpp"
#include "faceverify/interrupt.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout becomes a write error, not a crash
  const int status = faceverify::run(argc, argv, std::cout, std::cerr);
  // A signal that cut a write to a stalled reader leaves the rest of that
  // record in stdout's buffer: flushing it at exit would block again.
  if (faceverify::interrupt_signal() != 0) __fpurge(stdout);
  return status;
}

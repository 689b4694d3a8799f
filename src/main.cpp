// SPDX-License-Identifier: MIT
#include <stdio_ext.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "faceverify/app.hpp"
#include "faceverify/interrupt.hpp"

namespace {

// A descriptor 0, 1 or 2 that the caller closed (`>&-`) would be reused by the
// next file faceverify opens, and stdout's records would land in a cache entry
// or a report. Each closed one is held by /dev/null opened read-only: reads see
// end of file, and writes still fail (EBADF), so a closed stdout stays a lost
// output as the contract says.
void hold_closed_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int held = open("/dev/null", O_RDONLY);
    if (held < 0) std::_Exit(4);  // cannot keep our own output apart from our files
    if (held != fd) {
      dup2(held, fd);
      close(held);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  hold_closed_standard_descriptors();
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout becomes a write error, not a crash
  const int status = faceverify::run(argc, argv, std::cout, std::cerr);
  // A signal that cut a write to a stalled reader leaves the rest of that
  // record in stdout's buffer: flushing it at exit would block again.
  if (faceverify::interrupt_signal() != 0) __fpurge(stdout);
  return status;
}

// razar-replay: read-only forensics over a RAZAR spine (docs/replay.md).
#include <unistd.h>

#include <iostream>

#include "replay/replay_cli.h"

int main(int argc, char** argv) {
  return razar::replay::ReplayToolMain(argc, argv, std::cout, std::cerr, isatty(STDERR_FILENO));
}

// razar: the recovery core's command (docs/operations.md).
#include <iostream>

#include "orchestrator/cli/razar_cli.h"

int main(int argc, char** argv) {
  return razar::orchestrator::RazarMain(argc, argv, std::cout, std::cerr);
}

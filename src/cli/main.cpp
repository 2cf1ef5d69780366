// herd: a thin executable over libherd (see src/cli/app.cpp).
#include "cli/commands.hpp"

int main(int argc, char** argv) {
  return herd::cli::main(argc, argv);
}

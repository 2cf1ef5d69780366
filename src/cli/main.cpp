// herd: a thin executable over libherd (see src/cli/app.cpp).
#include <malloc.h>

#include "cli/commands.hpp"

namespace {

/// Transfers allocate and free blocks of up to 256 KiB at a high rate (SFTP replies, libssh's
/// packet buffers). With glibc's defaults many of those are mmap()ed and unmapped, or the heap
/// is trimmed after them, and the page faults that follow took half of a 1 GiB download's
/// system time. Keeping such blocks in the heap costs at most the process's peak, which the
/// transfer windows already bound.
void keep_transfer_blocks_in_the_heap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  keep_transfer_blocks_in_the_heap();
  return herd::cli::main(argc, argv);
}

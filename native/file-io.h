// Positioned file I/O that finishes what it starts: the kernel may move fewer bytes than asked or be
// interrupted, and every caller (appends, reads, recovery) needs all of its bytes or an errno. Kept
// in one place so that no caller handles a short transfer on its own, or forgets to.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loghouse {

// Reads exactly `length` bytes at `position` into `bytes`. Returns 0, an errno, or EIO if the file
// ends first (it is shorter than an index says).
int ReadAll(int fd, uint8_t* bytes, size_t length, uint64_t position);

// Writes every iovec at `position`, resuming after partial writes. Returns 0 or an errno.
int WriteAll(int fd, std::vector<iovec> pieces, uint64_t position);

}  // namespace loghouse

#include "file-io.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace loghouse {

int ReadAll(int fd, uint8_t* bytes, size_t length, uint64_t position) {
  while (length > 0) {
    const ssize_t got = pread(fd, bytes, length, static_cast<off_t>(position));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno;
    if (got == 0) return EIO;  // The file is shorter than the index says.
    bytes += got;
    length -= static_cast<size_t>(got);
    position += static_cast<uint64_t>(got);
  }
  return 0;
}

int WriteAll(int fd, std::vector<iovec> pieces, uint64_t position) {
  size_t first = 0;
  while (first < pieces.size()) {
    const int countMax = std::min<size_t>(pieces.size() - first, IOV_MAX);
    const ssize_t wrote = pwritev(fd, &pieces[first], countMax, static_cast<off_t>(position));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return errno;
    position += static_cast<uint64_t>(wrote);
    size_t left = static_cast<size_t>(wrote);
    while (left > 0 && left >= pieces[first].iov_len) {
      left -= pieces[first].iov_len;
      first++;
    }
    if (left > 0) {
      pieces[first].iov_base = static_cast<uint8_t*>(pieces[first].iov_base) + left;
      pieces[first].iov_len -= left;
    }
  }
  return 0;
}

}  // namespace loghouse

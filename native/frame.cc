#include "frame.h"

#include <cassert>
#include <cstring>

#include "crc32c.h"

namespace loghouse {

FrameHeader ReadFrameHeader(const uint8_t* frame) {
  FrameHeader header;
  std::memcpy(&header, frame, kFrameHeaderBytes);
  return header;
}

void WriteFrameHeader(uint8_t* frame, const FrameHeader& header) {
  assert(header.reserved == 0);
  std::memcpy(frame, &header, kFrameHeaderBytes);
}

void SealFrame(uint8_t* frame) {
  const FrameHeader header = ReadFrameHeader(frame);
  const uint32_t crc = Crc32c(frame + 4, kFrameHeaderBytes - 4 + header.valueLength);
  std::memcpy(frame, &crc, 4);
}

FrameCheck CheckFrame(const uint8_t* frame, size_t available, uint64_t expectedOffset,
                      size_t* frameBytes) {
  if (available < kFrameHeaderBytes) return FrameCheck::kShort;
  const FrameHeader header = ReadFrameHeader(frame);
  if (header.valueLength > kValueBytesHardMax) return FrameCheck::kBadLength;
  const size_t size = kFrameHeaderBytes + header.valueLength;
  if (available < size) return FrameCheck::kShort;
  if (Crc32c(frame + 4, size - 4) != header.crc) return FrameCheck::kBadChecksum;
  // The checksum matched, so these fields are what the writer meant; they can still disagree with
  // where the frame was found (a misplaced write or a file from another segment).
  if (header.offset != expectedOffset) return FrameCheck::kBadOffset;
  if (header.reserved != 0) return FrameCheck::kBadReserved;
  *frameBytes = size;
  return FrameCheck::kOk;
}

const char* DescribeFrameCheck(FrameCheck check) {
  switch (check) {
    case FrameCheck::kOk: return "ok";
    case FrameCheck::kShort: return "frame is cut short";
    case FrameCheck::kBadLength: return "frame length is beyond any record";
    case FrameCheck::kBadChecksum: return "checksum mismatch";
    case FrameCheck::kBadOffset: return "frame holds another offset";
    case FrameCheck::kBadReserved: return "reserved header field is not zero";
  }
  return "unknown";
}

}  // namespace loghouse

#include "frame.h"

#include <cassert>
#include <cstring>

#include "crc32c.h"

namespace loghouse {
namespace {

uint32_t Load32(const uint8_t* at) {
  uint32_t value;
  std::memcpy(&value, at, 4);
  return value;
}

uint64_t Load64(const uint8_t* at) {
  uint64_t value;
  std::memcpy(&value, at, 8);
  return value;
}

// The checksum of a frame of `bytes` bytes that belongs at `offset`.
uint32_t FrameChecksum(const uint8_t* frame, size_t bytes, uint64_t offset) {
  return Crc32cExtend(Crc32cExtend(kCrc32cInitial, reinterpret_cast<const uint8_t*>(&offset), 8), frame + 4, bytes - 4) ^
         kCrc32cInitial;
}

}  // namespace

bool PeekFrame(const uint8_t* frame, size_t available, FrameView* view) {
  if (available < kCompactHeaderBytes) return false;
  const uint32_t word = Load32(frame + 4);
  view->full = (word & kFullFlag) != 0;
  view->valueLength = word & kLengthMask;
  if (!view->full) return true;
  if (available < kFullHeaderBytes) return false;
  view->metadata = RecordMetadata{Load64(frame + 8), Load64(frame + 16), Load32(frame + 24)};
  return true;
}

FrameCheck CheckFrame(const uint8_t* frame, size_t available, uint64_t offset, FrameView* view) {
  if (!PeekFrame(frame, available, view)) return FrameCheck::kShort;
  if (view->valueLength > kValueBytesHardMax) return FrameCheck::kBadLength;
  if ((Load32(frame + 4) & ~(kFullFlag | kLengthMask)) != 0) return FrameCheck::kBadReserved;
  if (available < view->Bytes()) return FrameCheck::kShort;
  if (FrameChecksum(frame, view->Bytes(), offset) != Load32(frame)) return FrameCheck::kBadChecksum;
  // The checksum matched, so these fields are what the writer meant.
  if (view->full && (Load32(frame + 28) != 0 || view->metadata.timestampMs == 0)) return FrameCheck::kBadReserved;
  return FrameCheck::kOk;
}

void WriteFullFrame(uint8_t* out, uint64_t offset, const RecordMetadata& metadata, const uint8_t* value, uint32_t length) {
  assert(length <= kValueBytesHardMax);
  assert(metadata.timestampMs != 0);
  const uint32_t word = length | kFullFlag;
  const uint32_t reserved = 0;
  std::memcpy(out + 4, &word, 4);
  std::memcpy(out + 8, &metadata.term, 8);
  std::memcpy(out + 16, &metadata.timestampMs, 8);
  std::memcpy(out + 24, &metadata.type, 4);
  std::memcpy(out + 28, &reserved, 4);
  if (length > 0 && out + kFullHeaderBytes != value) std::memmove(out + kFullHeaderBytes, value, length);
  const uint32_t crc = FrameChecksum(out, kFullHeaderBytes + length, offset);
  std::memcpy(out, &crc, 4);
}

void WriteCompactFrame(uint8_t* out, uint64_t offset, const uint8_t* value, uint32_t length) {
  assert(length <= kValueBytesHardMax);
  std::memcpy(out + 4, &length, 4);
  if (length > 0) std::memcpy(out + kCompactHeaderBytes, value, length);
  const uint32_t crc = FrameChecksum(out, kCompactHeaderBytes + length, offset);
  std::memcpy(out, &crc, 4);
}

const char* DescribeFrameCheck(FrameCheck check) {
  switch (check) {
    case FrameCheck::kOk: return "ok";
    case FrameCheck::kShort: return "frame is cut short";
    case FrameCheck::kBadLength: return "frame length is beyond any record";
    case FrameCheck::kBadChecksum: return "checksum mismatch";
    case FrameCheck::kBadReserved: return "reserved header bits are set";
  }
  return "unknown";
}

}  // namespace loghouse

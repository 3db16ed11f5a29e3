// The on-disk frame of one record in a store file. All integers are little-endian.
//
// Records appended together share their metadata (term, creation time, type), so only the first
// record of a run carries it (a full frame); the rest carry just a checksum and a length (compact
// frames). At 100-byte records this keeps the framing overhead near 8% instead of 40%.
//
//   0  u32 crc32c     of the record's offset (8 bytes, little-endian) followed by bytes [4, end):
//                     the offset is not stored but is part of the checksum, so a frame found at
//                     the wrong offset fails verification
//   4  u32 word       bits 0-29: value length; bit 31: full frame
//   full frames only:
//   8  u64 term        the Raft term that wrote it (0 on a single node)
//  16  u64 timestampMs creation time, non-decreasing along the log, never 0
//  24  u32 type        0 for user data; Raft uses other values for its own entries
//  28  u32 reserved    always 0
//   then the value bytes.
//
// A compact frame takes the metadata of the nearest full frame before it in the same segment.
// Invariants: a segment's first frame is full; every buffer of frames handed between JavaScript and
// the addon (encode, read, append, verifyFrames) starts with a full frame.
// src/storage/frame.ts mirrors this layout.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace loghouse {

static_assert(std::endian::native == std::endian::little, "frames are stored little-endian");

constexpr size_t kFullHeaderBytes = 32;
constexpr size_t kCompactHeaderBytes = 8;
constexpr size_t kHeaderBytesMax = kFullHeaderBytes;
constexpr uint32_t kFullFlag = 1u << 31;
constexpr uint32_t kLengthMask = (1u << 30) - 1;

// No record value may be larger, whatever the configuration: a length field above it is corrupt.
constexpr uint32_t kValueBytesHardMax = 64u << 20;

struct RecordMetadata {
  uint64_t term = 0;
  uint64_t timestampMs = 0;
  uint32_t type = 0;

  bool operator==(const RecordMetadata&) const = default;
};

struct FrameView {
  bool full = false;
  uint32_t valueLength = 0;
  RecordMetadata metadata;  // only meaningful when full

  size_t HeaderBytes() const { return full ? kFullHeaderBytes : kCompactHeaderBytes; }
  size_t Bytes() const { return HeaderBytes() + valueLength; }
};

enum class FrameCheck { kOk, kShort, kBadLength, kBadChecksum, kBadReserved };

// Parses and checks the frame at `frame` with `available` readable bytes, expected to hold the
// record at `offset`. On kOk, `*view` describes it.
FrameCheck CheckFrame(const uint8_t* frame, size_t available, uint64_t offset, FrameView* view);

// Reads the header fields without checking the checksum (the caller trusts the bytes). Returns
// false if fewer bytes than the header are available.
bool PeekFrame(const uint8_t* frame, size_t available, FrameView* view);

// Writes a full frame for `value` at `out` (which has room for kFullHeaderBytes + length).
void WriteFullFrame(uint8_t* out, uint64_t offset, const RecordMetadata& metadata, const uint8_t* value, uint32_t length);

// Writes a compact frame for `value` at `out` (which has room for kCompactHeaderBytes + length).
void WriteCompactFrame(uint8_t* out, uint64_t offset, const uint8_t* value, uint32_t length);

const char* DescribeFrameCheck(FrameCheck check);

}  // namespace loghouse

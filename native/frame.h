// The on-disk frame of one record in a store file. All integers are little-endian.
//
//   0  u32 crc32c      of bytes [4, 40 + valueLength)
//   4  u32 valueLength
//   8  u64 offset      the record's offset in the log
//  16  u64 term        the Raft term that wrote it (0 on a single node)
//  24  u64 timestampMs creation time, non-decreasing along the log
//  32  u32 type        0 for user data; Raft uses other values for its own entries
//  36  u32 reserved    always 0
//  40  value bytes
//
// src/storage/frame.ts mirrors this layout for decoding in JavaScript.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace loghouse {

static_assert(std::endian::native == std::endian::little, "frames are stored little-endian");

constexpr size_t kFrameHeaderBytes = 40;

// No record value may be larger, whatever the configuration: a length field above it is corrupt.
constexpr uint32_t kValueBytesHardMax = 64u << 20;

struct FrameHeader {
  uint32_t crc;
  uint32_t valueLength;
  uint64_t offset;
  uint64_t term;
  uint64_t timestampMs;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(FrameHeader) == kFrameHeaderBytes, "the header has no padding");

FrameHeader ReadFrameHeader(const uint8_t* frame);

// WriteFrameHeader stores `header` as given; SealFrame then computes and stores the checksum of a
// frame whose value bytes already follow its header.
void WriteFrameHeader(uint8_t* frame, const FrameHeader& header);
void SealFrame(uint8_t* frame);

enum class FrameCheck { kOk, kShort, kBadLength, kBadChecksum, kBadOffset, kBadReserved };

// Checks the frame starting at `frame` with `available` bytes readable from there, expecting
// the record at `expectedOffset`. On kOk, `*frameBytes` is the frame's full size.
FrameCheck CheckFrame(const uint8_t* frame, size_t available, uint64_t expectedOffset,
                      size_t* frameBytes);

const char* DescribeFrameCheck(FrameCheck check);

}  // namespace loghouse

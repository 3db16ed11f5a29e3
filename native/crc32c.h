// CRC32C (Castagnoli), the checksum every stored record carries.
#pragma once
#include <cstddef>
#include <cstdint>

namespace loghouse {

constexpr uint32_t kCrc32cInitial = 0xFFFFFFFFu;

// Continues a CRC32C over `bytes` from the running (pre-inverted) state `crc`, using the SSE4.2
// instruction when the CPU has it. Start with kCrc32cInitial and finish with `^ kCrc32cInitial`.
uint32_t Crc32cExtend(uint32_t crc, const uint8_t* bytes, size_t length);

// The CRC32C of `bytes`.
inline uint32_t Crc32c(const uint8_t* bytes, size_t length) {
  return Crc32cExtend(kCrc32cInitial, bytes, length) ^ kCrc32cInitial;
}

}  // namespace loghouse

// CRC32C (Castagnoli), the checksum every stored record carries.
#pragma once
#include <cstddef>
#include <cstdint>

namespace loghouse {

// Returns the CRC32C of `bytes`, using the SSE4.2 instruction when the CPU has it.
uint32_t Crc32c(const uint8_t* bytes, size_t length);

}  // namespace loghouse

#include "crc32c.h"

#include <array>
#include <cstring>

namespace loghouse {
namespace {

constexpr uint32_t kPolynomialReversed = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ ((crc & 1u) ? kPolynomialReversed : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t Crc32cPortable(uint32_t crc, const uint8_t* bytes, size_t length) {
  for (size_t i = 0; i < length; i++) crc = kTable[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t initial, const uint8_t* bytes, size_t length) {
  uint64_t crc = initial;
  while (length >= 8) {
    uint64_t word;
    std::memcpy(&word, bytes, 8);
    crc = __builtin_ia32_crc32di(crc, word);
    bytes += 8;
    length -= 8;
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  while (length > 0) {
    crc32 = __builtin_ia32_crc32qi(crc32, *bytes);
    bytes++;
    length--;
  }
  return crc32;
}

bool HasHardwareCrc() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const uint8_t* bytes, size_t length) {
#if defined(__x86_64__)
  static const bool hardware = HasHardwareCrc();
  if (hardware) return Crc32cHardware(crc, bytes, length);
#endif
  return Crc32cPortable(crc, bytes, length);
}

}  // namespace loghouse

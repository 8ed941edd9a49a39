/* SipHash-2-4, written from the description in the SipHash paper: 2 compression rounds per
 * 8-byte little-endian word, 4 finalisation rounds. */
#include "util/siphash.h"

#include <string.h>

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

#define SIPROUND       \
  do {                 \
    v0 += v1;          \
    v1 = rotl(v1, 13); \
    v1 ^= v0;          \
    v0 = rotl(v0, 32); \
    v2 += v3;          \
    v3 = rotl(v3, 16); \
    v3 ^= v2;          \
    v0 += v3;          \
    v3 = rotl(v3, 21); \
    v3 ^= v0;          \
    v2 += v1;          \
    v1 = rotl(v1, 17); \
    v1 ^= v2;          \
    v2 = rotl(v2, 32); \
  } while (0)

uint64_t api__siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
  size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = load_le64(p + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  unsigned char last[8] = {0};
  if (len % 8) memcpy(last, p + whole, len % 8);
  last[7] = (unsigned char)len;
  uint64_t m = load_le64(last);
  v3 ^= m;
  SIPROUND;
  SIPROUND;
  v0 ^= m;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* Strict base64url: one table lookup per character, no allocation. */
#include "util/b64url.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for the alphabet, 64 for every other byte. */
static const uint8_t value[256] = {
#define X64 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
    X64, X64, 64,  64,  64,  64,  64,  64,  64, 64, 64, 64, 64, 64, 64, 62, 64, 64, /* 0x20: '-' */
    52,  53,  54,  55,  56,  57,  58,  59,  60, 61, 64, 64, 64, 64, 64, 64, /* 0x30: digits */
    64,  0,   1,   2,   3,   4,   5,   6,   7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15,  16,  17,  18,  19,  20,  21,  22,  23, 24, 25, 64, 64, 64, 64, 63, /* 0x50: '_' */
    64,  26,  27,  28,  29,  30,  31,  32,  33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41,  42,  43,  44,  45,  46,  47,  48,  49, 50, 51, 64, 64, 64, 64, 64, /* 0x70 */
    X64, X64, X64, X64, X64, X64, X64, X64,
#undef X64
};

long api__b64url_decode(unsigned char *dst, const char *src, size_t n) {
  const unsigned char *s = (const unsigned char *)src;
  if (n % 4 == 1) return -1;
  size_t full = n / 4 * 4, o = 0;
  for (size_t i = 0; i < full; i += 4) {
    uint32_t a = value[s[i]], b = value[s[i + 1]], c = value[s[i + 2]], d = value[s[i + 3]];
    if ((a | b | c | d) & 64) return -1;
    uint32_t v = a << 18 | b << 12 | c << 6 | d;
    dst[o++] = (unsigned char)(v >> 16);
    dst[o++] = (unsigned char)(v >> 8);
    dst[o++] = (unsigned char)v;
  }
  size_t rest = n - full;
  if (rest == 2) {
    uint32_t a = value[s[full]], b = value[s[full + 1]];
    if ((a | b) & 64 || (b & 15)) return -1;
    dst[o++] = (unsigned char)(a << 2 | b >> 4);
  } else if (rest == 3) {
    uint32_t a = value[s[full]], b = value[s[full + 1]], c = value[s[full + 2]];
    if ((a | b | c) & 64 || (c & 3)) return -1;
    dst[o++] = (unsigned char)(a << 2 | b >> 4);
    dst[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
  }
  return (long)o;
}

size_t api__b64url_encode(char *dst, const void *src, size_t n) {
  const unsigned char *s = src;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    dst[o++] = alphabet[v >> 18];
    dst[o++] = alphabet[(v >> 12) & 63];
    dst[o++] = alphabet[(v >> 6) & 63];
    dst[o++] = alphabet[v & 63];
  }
  if (n - i == 1) {
    dst[o++] = alphabet[s[i] >> 2];
    dst[o++] = alphabet[(s[i] & 3) << 4];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)s[i] << 8 | s[i + 1];
    dst[o++] = alphabet[v >> 10];
    dst[o++] = alphabet[(v >> 4) & 63];
    dst[o++] = alphabet[(v & 15) << 2];
  }
  dst[o] = '\0';
  return o;
}

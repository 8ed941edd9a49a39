/* SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash for hash tables whose keys come from
 * clients. With a random key, nobody outside the process can choose keys that collide. */
#ifndef API_UTIL_SIPHASH_H
#define API_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of data[0..len) under the 128-bit key (k0 the low, k1 the high little-endian half). */
uint64_t api__siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif

/* Fast non-cryptographic random bytes for identifiers (trace and span ids): a per-thread
 * xoshiro256** seeded from getrandom(). Never for secrets — those use OpenSSL's RAND_bytes. */
#ifndef API_UTIL_RAND_H
#define API_UTIL_RAND_H

#include <stddef.h>
#include <stdint.h>

uint64_t api__rand64(void);
void api__rand_fill(void *buf, size_t n);

#endif

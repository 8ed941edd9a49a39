/* Rate limiting internals shared by the limiter, the in-memory store and the unit tests. */
#ifndef API_MW_RATELIMIT_INTERNAL_H
#define API_MW_RATELIMIT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "libapi/middleware.h"

/* Bounds on the policy, so that every product below fits in 64 bits: limit * window <= 1e18. */
#define API__RATE_MAX_LIMIT 1000000000ULL
#define API__RATE_MAX_WINDOW_MS 1000000000ULL

/*
 * The counting state of one key. Token bucket: a = tokens scaled by window_ms (a bucket of burst
 * tokens holds burst * window_ms units, refilled by limit units per millisecond, so refill is
 * exact integer arithmetic), b = when a was last brought up to date. Sliding window: a = the
 * current window's start, b = its count, c = the previous window's count.
 */
typedef struct api__rate_cell {
  uint64_t a, b, c;
  uint8_t algo;
  bool used; /* false: a fresh key (full bucket, empty windows) */
} api__rate_cell;

/*
 * Count cost against cell under p at now (milliseconds, never going backwards for one key; a
 * clock that does is treated as standing still). Fills *r and returns the time from which the
 * cell is indistinguishable from a fresh one (so the store may drop it).
 */
uint64_t api__rate_apply(api__rate_cell *cell, const api_rate_params *p, unsigned cost,
                         uint64_t now, api_rate_result *r);

#endif

/* xoshiro256** (Blackman and Vigna), one state per thread, seeded on first use. */
#include "util/rand.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t state[4];
static _Thread_local int seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void seed(void) {
  if (getrandom(state, sizeof(state), 0) != (ssize_t)sizeof(state)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    state[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
    state[1] = (uint64_t)(uintptr_t)&ts;
    state[2] = 0x9e3779b97f4a7c15u;
    state[3] = 0xbf58476d1ce4e5b9u;
  }
  seeded = 1;
}

uint64_t api__rand64(void) {
  if (!seeded) seed();
  uint64_t result = rotl(state[1] * 5, 7) * 9;
  uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

void api__rand_fill(void *buf, size_t n) {
  unsigned char *p = buf;
  while (n) {
    uint64_t r = api__rand64();
    size_t k = n < sizeof(r) ? n : sizeof(r);
    memcpy(p, &r, k);
    p += k;
    n -= k;
  }
}

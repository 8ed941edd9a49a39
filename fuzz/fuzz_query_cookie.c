/* libFuzzer target for the query-string, Cookie and percent-decoding parsers (src/http/codec.c),
 * plus a Set-Cookie -> Cookie round trip. Beyond "no crash", it checks what callers rely on:
 * results are NUL-terminated, inside the arena, never longer than the input, limits are exact, and
 * a query string is rejected exactly when percent-decoding it as a whole fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/chars.h"
#include "http/codec.h"
#include "libapi/common.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *block_lo, *block_hi;

static void check_str(const char *s, size_t input_len) {
  if (s < block_lo || s >= block_hi) abort(); /* not in the arena's block */
  const char *nul = memchr(s, '\0', (size_t)(block_hi - s));
  if (!nul || (size_t)(nul - s) > input_len) abort();
}

static void check_pairs(const api__kv *kv, size_t n, size_t input_len) {
  if (!kv) abort();
  if (n && ((const char *)kv < block_lo || (const char *)(kv + n) > block_hi)) abort();
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    check_str(kv[i].key, input_len);
    check_str(kv[i].value, input_len);
    total += strlen(kv[i].key) + strlen(kv[i].value);
  }
  if (total > input_len) abort(); /* decoding never grows, and separators are dropped */
}

typedef int (*parse_fn)(api__arena *, const char *, size_t, size_t, api__kv **, size_t *);

/* The limit is exact: n pairs pass with max n and fail with max n - 1. */
static void check_limit(parse_fn parse, api__arena *a, const char *in, size_t size, size_t n) {
  api__kv *kv;
  size_t m;
  if (parse(a, in, size, n, &kv, &m) != 0 || m != n) abort();
  if (n && (parse(a, in, size, n - 1, &kv, &m) != API_EBADREQ || kv || m)) abort();
}

static void fuzz_set_cookie_round_trip(api__arena *a, const char *in, size_t size) {
  /* name NUL value: the first NUL of the input splits it. */
  const char *sep = memchr(in, '\0', size);
  if (!sep) return;
  const char *name = in, *value = sep + 1;
  if (!memchr(value, '\0', size - (size_t)(value - in))) return;
  size_t need;
  int rc = api__set_cookie_format(NULL, 0, name, value, NULL, &need);
  if (rc == API_EINVAL) return;
  if (rc != API_ENOMEM) abort();
  char *buf = malloc(need + 1);
  if (!buf) abort();
  size_t len;
  if (api__set_cookie_format(buf, need + 1, name, value, NULL, &len) != 0 || len != need ||
      strlen(buf) != len)
    abort();
  if (!api__is_token(name, strlen(name))) abort();
  /* Whatever was accepted must read back as exactly one cookie, unchanged (DQUOTEs stripped). */
  api__kv *kv;
  size_t n;
  if (api__cookie_parse(a, buf, len, SIZE_MAX, &kv, &n) != 0 || n != 1) abort();
  size_t vlen = strlen(value);
  if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') value++, vlen -= 2;
  if (strcmp(kv[0].key, name) != 0 || strlen(kv[0].value) != vlen ||
      memcmp(kv[0].value, value, vlen) != 0)
    abort();
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;

  /* A first block large enough for any result (about 10 bytes per input byte), so every returned
   * pointer must land inside it and the arena must never call malloc. */
  size_t cap = 32 * size + 1024;
  char *block = malloc(cap);
  if (!block) return 0;
  block_lo = block;
  block_hi = block + cap;
  api__arena a;
  api__arena_init(&a, block, cap);

  /* Percent-decoding: out of place and in place agree, in both modes. */
  char *out = malloc(size + 1), *inplace = malloc(size + 1);
  if (!out || !inplace) abort();
  long whole = -1;
  for (int plus = 0; plus < 2; plus++) {
    long n1 = api__pct_decode(out, in, size, plus);
    if (size) memcpy(inplace, in, size);
    long n2 = api__pct_decode(inplace, inplace, size, plus);
    if (n1 != n2 || n1 < -1 || n1 > (long)size) abort();
    if (n1 >= 0) {
      if (out[n1] != '\0' || memcmp(out, inplace, (size_t)n1 + 1) != 0) abort();
      if (memchr(out, '\0', (size_t)n1)) abort();
    }
    if (plus) whole = n1;
  }

  /* Query strings: splitting at '&' and '=' never breaks an escape that was valid (neither is a
   * hex digit), so the parse fails exactly when decoding the whole input fails. */
  api__kv *kv;
  size_t n;
  int rc = api__query_parse(&a, in, size, SIZE_MAX, &kv, &n);
  if (rc == 0) {
    if (whole < 0) abort();
    check_pairs(kv, n, size);
    check_limit(api__query_parse, &a, in, size, n);
  } else if (rc != API_EBADREQ || whole >= 0 || kv || n) {
    abort();
  }

  /* Cookies: never an error without a limit; names are tokens. */
  if (api__cookie_parse(&a, in, size, SIZE_MAX, &kv, &n) != 0) abort();
  check_pairs(kv, n, size);
  for (size_t i = 0; i < n; i++)
    if (!api__is_token(kv[i].key, strlen(kv[i].key))) abort();
  check_limit(api__cookie_parse, &a, in, size, n);

  if (a.total != 0) abort(); /* everything fitted in the first block: no malloc */

  fuzz_set_cookie_round_trip(&a, in, size);

  /* The string predicates take C strings: give them one, for crashes and over-reads. */
  memcpy(out, in, size);
  out[size] = '\0';
  (void)api__is_json_media_type(out);
  (void)api__header_has_token(out, "close");

  api__arena_reset(&a);
  free(inplace);
  free(out);
  free(block);
  return 0;
}

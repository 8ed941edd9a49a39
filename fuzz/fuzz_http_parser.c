/* libFuzzer target: the request head parser and the chunked decoder, fed whole and in pieces.
 * The first input byte picks the split points, so the same request is also parsed incrementally. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "libapi/common.h"

static const api__limits lim = {.max_uri = 2048, .max_header_bytes = 4096, .max_headers = 32};

static void check(int ok) {
  if (!ok) abort();
}

static int parse(char *buf, size_t len, size_t step, api__head *h, api__header *hdrs) {
  api__parser p;
  api__parser_reset(&p);
  int rc = 0;
  for (size_t n = step < len ? step : len; rc == 0; n = n + step < len ? n + step : len) {
    rc = api__parse_head(&p, buf, n, hdrs, &lim, h);
    if (rc < 0) check(p.reason != NULL);
    if (n == len) break;
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)(data[0] % 16) + 1;
  data++;
  size--;
  char *whole = malloc(size + 1), *piecewise = malloc(size + 1);
  memcpy(whole, data, size);
  memcpy(piecewise, data, size);
  api__header hdrs[32], hdrs2[32];
  api__head h, h2;
  int rc = parse(whole, size, size ? size : 1, &h, hdrs);
  int rc2 = parse(piecewise, size, step, &h2, hdrs2);
  /* Incremental parsing can only fail earlier (an eager limit), never disagree on success. */
  check((rc > 0) == (rc2 > 0));
  if (rc > 0) {
    check(rc == rc2 && (size_t)rc <= size && h.nheaders == h2.nheaders);
    check(h.method >= whole && h.method + h.method_len < whole + rc);
    for (uint32_t i = 0; i < h.nheaders; i++) {
      check(hdrs[i].name >= whole && hdrs[i].name + hdrs[i].name_len < whole + rc);
      check(strlen(hdrs[i].name) == hdrs[i].name_len && strlen(hdrs[i].value) == hdrs[i].value_len);
    }
    if (h.chunked) {
      api__chunked c;
      api__chunked_reset(&c);
      size_t off = (size_t)rc, total = 0;
      while (off < size) {
        size_t end = off + step < size ? off + step : size;
        size_t used = 0, dlen = 0;
        const char *d;
        int crc = api__chunked_decode(&c, whole + off, end - off, &used, &d, &dlen);
        check(used <= end - off);
        off += used;
        if (crc < 0 || crc == API__CHUNK_DONE) break;
        if (crc == API__CHUNK_DATA) {
          check(d >= whole && d + dlen <= whole + size);
          total += dlen;
        }
      }
      check(total <= size);
    }
  }
  free(whole);
  free(piecewise);
  return 0;
}

/* libFuzzer target: the request head parser and the chunked decoder, each fed the input at once
 * and in pieces, into buffers of the exact length that move between calls (so any read past the
 * end is caught). Both ways must give the same answer, down to the reason and the parsed fields.
 * Byte 0 picks the piece size (low 4 bits) and whether the input is fed straight to the chunked
 * decoder (bit 7); the rest is the request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "libapi/common.h"

static const api__limits lim = {.max_uri = 512, .max_header_bytes = 2048, .max_headers = 16};
enum { MAXH = 16, TRAILER_MAX = 512 };

static void check(int ok) {
  if (!ok) abort();
}

static bool same_reason(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* Feed in[0..len) `step` more bytes per call into a buffer that is reallocated every time. */
static int parse(const uint8_t *in, size_t len, size_t step, char **pbuf, api__parser *p,
                 api__header *hdrs, api__head *h) {
  char *buf = NULL;
  size_t n = 0, had = 0;
  int rc = 0;
  api__parser_reset(p);
  do {
    n = n + step < len ? n + step : len;
    char *nb = malloc(n ? n : 1);
    if (had) memcpy(nb, buf, had);
    memcpy(nb + had, in + had, n - had);
    free(buf);
    buf = nb;
    had = n;
    rc = api__parse_head(p, buf, n, hdrs, &lim, h);
    check(p->scanned <= n);
    check(rc <= 0 || (size_t)rc <= n);
    check(rc >= 0 || p->reason != NULL);
  } while (rc == 0 && n < len);
  *pbuf = buf;
  return rc;
}

/* s is inside [buf, buf + n) and is a C string of length len there (or a static "" / "/"). */
static void check_str(const char *s, uint32_t len, const char *buf, size_t n, bool may_be_static) {
  if (may_be_static && (s < buf || s >= buf + n)) {
    check(strlen(s) == len);
    return;
  }
  check(s >= buf && s + len < buf + n && s[len] == '\0' && memchr(s, '\0', len) == NULL);
}

static size_t off(const char *s, const char *buf) { return (size_t)(s - buf); }

/* Decode in[0..len) in pieces of `step` (each copied to its own buffer); returns the status and
 * appends the body to *body. */
static int dechunk(const char *in, size_t len, size_t step, char *body, size_t *blen, size_t *used,
                   const char **reason) {
  api__chunked c;
  api__chunked_reset(&c);
  c.max_trailer_bytes = TRAILER_MAX;
  size_t o = 0;
  *blen = 0;
  while (o < len) {
    size_t plen = len - o < step ? len - o : step;
    char *piece = malloc(plen);
    memcpy(piece, in + o, plen);
    size_t po = 0;
    while (po < plen) {
      size_t consumed = 0, dlen = 0;
      const char *d = NULL;
      int rc = api__chunked_decode(&c, piece + po, plen - po, &consumed, &d, &dlen);
      check(consumed <= plen - po);
      if (rc == API__CHUNK_DATA) {
        check(dlen > 0 && d >= piece + po && d + dlen <= piece + po + consumed);
        memcpy(body + *blen, d, dlen);
        *blen += dlen;
      } else {
        check(d == NULL && dlen == 0);
      }
      if (rc == API__CHUNK_MORE) check(consumed == plen - po);
      po += consumed;
      if (rc < 0 || rc == API__CHUNK_DONE) {
        check(rc == API__CHUNK_DONE || (rc == API_EBADREQ && c.reason));
        free(piece);
        *used = o + po;
        *reason = c.reason;
        return rc;
      }
    }
    free(piece);
    o += plen;
  }
  *used = len;
  *reason = NULL;
  return API__CHUNK_MORE;
}

/* The body decoded at once and in pieces must be the same, and never longer than the input. */
static void chunked_both_ways(const char *in, size_t len, size_t step) {
  char *b1 = malloc(len + 1), *b2 = malloc(len + 1);
  size_t l1, l2, u1, u2;
  const char *r1, *r2;
  int rc1 = dechunk(in, len, len ? len : 1, b1, &l1, &u1, &r1);
  int rc2 = dechunk(in, len, step, b2, &l2, &u2, &r2);
  check(rc1 == rc2 && l1 == l2 && memcmp(b1, b2, l1) == 0 && same_reason(r1, r2));
  check(l1 <= len && u1 <= len);
  if (rc1 >= 0) check(u1 == u2);
  free(b1);
  free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)(data[0] & 15) + 1;
  bool body_only = data[0] & 0x80;
  data++;
  size--;
  if (body_only) {
    chunked_both_ways((const char *)data, size, step);
    return 0;
  }

  api__parser p1, p2;
  api__header hdrs1[MAXH], hdrs2[MAXH];
  api__head h1, h2;
  char *b1, *b2;
  int rc1 = parse(data, size, size ? size : 1, &b1, &p1, hdrs1, &h1);
  int rc2 = parse(data, size, step, &b2, &p2, hdrs2, &h2);
  check(rc1 == rc2);
  if (rc1 < 0) check(same_reason(p1.reason, p2.reason));
  if (rc1 > 0) {
    size_t n = (size_t)rc1;
    check(h1.head_len == n && h2.head_len == n && h1.nheaders == h2.nheaders);
    check(h1.nheaders <= lim.max_headers && h1.headers == hdrs1);
    check(memcmp(b1, b2, n) == 0);                  /* the same bytes NUL-terminated */
    check(memcmp(b1 + n, data + n, size - n) == 0); /* nothing after the head was touched */
    check_str(h1.method, h1.method_len, b1, n, false);
    check(h1.method_len > 0 && h1.target_len > 0 && h1.target >= b1 &&
          h1.target + h1.target_len < b1 + n);
    check_str(h1.path, h1.path_len, b1, n, true);
    check_str(h1.query, h1.query_len, b1, n, true);
    check(h1.minor == 0 || h1.minor == 1);
    check(!(h1.chunked && h1.content_length >= 0));
    check(off(h1.method, b1) == off(h2.method, b2) && off(h1.target, b1) == off(h2.target, b2));
    for (uint32_t i = 0; i < h1.nheaders; i++) {
      check_str(hdrs1[i].name, hdrs1[i].name_len, b1, n, false);
      check_str(hdrs1[i].value, hdrs1[i].value_len, b1, n, false);
      check(hdrs1[i].name_len > 0);
      check(off(hdrs1[i].name, b1) == off(hdrs2[i].name, b2) &&
            off(hdrs1[i].value, b1) == off(hdrs2[i].value, b2) &&
            hdrs1[i].value_len == hdrs2[i].value_len);
    }
    check(h1.content_length == h2.content_length && h1.chunked == h2.chunked &&
          h1.keep_alive == h2.keep_alive && h1.expect_continue == h2.expect_continue);
    if (h1.chunked) chunked_both_ways((const char *)data + n, size - n, step);
  }
  free(b1);
  free(b2);
  return 0;
}

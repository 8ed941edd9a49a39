/* libFuzzer target for the header parsers of the built-in middleware: Accept-Encoding
 * (src/mw/compress.c), entity-tag lists and HTTP dates (src/mw/cache.c). Beyond "no crash": the
 * chosen coding is one of three, a tag always matches a list made of itself, and a parsed date
 * formats back to an IMF-fixdate that parses to the same time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mw/cache_internal.h"
#include "mw/compress_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0'; /* header values never hold a NUL: the parser stops at the first */

  api__accept_enc ae = API__ACCEPT_ENC_INIT;
  api__accept_enc_scan(&ae, s);
  int enc = api__accept_enc_choose(&ae, true);
  if (enc != API__ENC_NONE && enc != API__ENC_GZIP && enc != API__ENC_DEFLATE) abort();
  if (ae.gzip > 1000 || ae.deflate > 1000 || ae.identity > 1000 || ae.star > 1000) abort();

  api__etag cur = {.opaque = "abc", .len = 3}, m;
  int r = api__etag_list_match(s, &cur, true, false, true, &m);
  if (r == API__ETAG_MATCH && m.opaque && (m.opaque < s || m.opaque + m.len > s + size) &&
      m.opaque != cur.opaque)
    abort(); /* a matched tag points into the list (or is the current tag for "*") */
  api__etag own;
  if (api__etag_parse(s, &own)) {
    /* A valid tag matches itself under weak comparison, and under strong when strong. */
    if (!api__etag_list_match(s, &own, true, false, false, NULL)) abort();
    if (!own.weak && !api__etag_list_match(s, &own, true, true, false, NULL)) abort();
  }

  time_t t;
  if (api__http_date_parse(s, &t) && t >= 0) { /* before 1970 parses, but is not sent */
    char buf[30];
    time_t back;
    if (!api__http_date_format(t, buf) || !api__http_date_parse(buf, &back) || back != t) abort();
  }
  free(s);
  return 0;
}

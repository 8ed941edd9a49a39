/* The library's one JSON parser for untrusted text: request bodies, JWT headers and claims, JWK
 * sets, session data, schema text and documents (see json.c). It builds jansson values and
 * accepts exactly what json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) accepts, plus
 * "\u0000" in strings with API__JSON_ALLOW_NUL (as JSON_ALLOW_NUL):
 * - RFC 8259 grammar, any value at the top, nothing but whitespace after it;
 * - UTF-8 checked (no overlong forms, no surrogates, nothing above U+10FFFF), lone surrogate
 *   escapes refused, control characters in strings refused;
 * - duplicate object keys refused (compared after unescaping); a NUL in a key always refused;
 * - integers outside int64 and reals that overflow a double ("1e400") refused, reals that
 *   underflow become 0;
 * - at most API__JSON_MAX_DEPTH levels of nesting, the innermost value counted as jansson counts
 *   them (2048 nested empty arrays parse, 2048 around a 1 do not); deeper input is an error, not
 *   a deep recursion.
 * One difference, on purpose: jansson skips a NUL byte right after a number or a literal ("[8\0]"
 * parses as [8]); this parser refuses every raw NUL byte.
 * Unlike jansson, it tells running out of memory apart from bad input (err->enomem). */
#ifndef API_UTIL_JSON_H
#define API_UTIL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Accept "\u0000" in strings (never in object keys): JSON Schema documents and instances use it. */
#define API__JSON_ALLOW_NUL 0x1u

/* jansson's JSON_PARSER_MAX_DEPTH: a value may sit at most this many levels deep (the top value is
 * at level 1). */
#define API__JSON_MAX_DEPTH 2048

typedef struct api__json_error {
  size_t offset;    /* byte offset of the error in the text */
  int line;         /* 1-based */
  int column;       /* 1-based, in characters (UTF-8 sequences) as jansson counts them */
  bool enomem;      /* out of memory: the text may well be valid */
  char message[64]; /* e.g. "duplicate object key" */
} api__json_error;

/* Parse len bytes of text (need not be NUL-terminated). Returns a new reference, or NULL with
 * *err filled (err may be NULL). flags: 0 or API__JSON_ALLOW_NUL.
 * Thread: any, concurrently. */
json_t *api__json_parse(const char *text, size_t len, unsigned flags, api__json_error *err);

#endif

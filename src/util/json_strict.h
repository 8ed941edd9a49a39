/* A fast strict JSON parser producing jansson values, for small untrusted documents (JWT headers
 * and claims). It accepts what json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts:
 * UTF-8 only, no "\u0000", no duplicate object keys, integers that fit a json_int_t, at most 2048
 * levels of nesting, nothing after the value but whitespace. One difference, on purpose: jansson
 * skips a NUL byte right after a number or a literal ("[8\0]" parses as [8]); this parser refuses
 * every NUL byte. */
#ifndef API_UTIL_JSON_STRICT_H
#define API_UTIL_JSON_STRICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Parse len bytes of text. Returns a new reference, or NULL with a reason in err (err_len bytes,
 * may be NULL) for invalid JSON or when out of memory. */
json_t *api__json_parse_strict(const char *text, size_t len, char *err, size_t err_len);

#endif

/*
 * Small codecs of the HTTP layer: percent-decoding, query strings, Cookie and Set-Cookie, the
 * HTTP date, media-type and list-header checks. Pure functions over caller memory or a request
 * arena: no globals, no locks, no malloc of their own (the arena may malloc a chunk), so every one
 * of them is safe to call from any thread on its own data.
 */
#ifndef API_HTTP_CODEC_H
#define API_HTTP_CODEC_H

#include <libapi/response.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/arena.h"

/* A decoded name/value pair; both strings NUL-terminated, neither ever NULL. */
typedef struct api__kv {
  const char *key;
  const char *value;
} api__kv;

/*
 * Percent-decode src[0..len) into dst: "%XX" (hex digits in either case) becomes that byte and,
 * when plus_is_space, '+' becomes ' ' (form encoding; paths keep '+').
 * dst needs len + 1 bytes and may be src itself (decoding never grows, so in place is safe); a NUL
 * is written after the decoded bytes. On failure dst holds unspecified bytes.
 * Returns the decoded length (<= len), or -1 when src has a malformed escape ("%", "%4", "%zz"),
 * an escape of NUL ("%00") or a raw NUL byte — a decoded string never contains a NUL, so a C string
 * can never be silently cut short. Callers answer 400 for -1.
 */
long api__pct_decode(char *dst, const char *src, size_t len, bool plus_is_space);

/*
 * Parse an application/x-www-form-urlencoded string qs[0..len) (a query string without its '?'),
 * following the WHATWG URL standard's splitting: pieces between '&' that are empty are skipped;
 * each piece splits at its first '=' only ("a=b=c" is a -> "b=c"); "a" and "a=" both give the
 * value ""; "=x" gives the key "" (kept, as URLSearchParams does). Keys and values are
 * percent-decoded with '+' as space. Order and repeated keys are kept.
 * a:         the request arena that receives the array and all the strings.
 * max_pairs: more pairs than this is an error (SIZE_MAX for no limit; 0 allows only "").
 * out, n:    on success the pairs and their count. *out is never NULL on success: with no pairs it
 *            points to an empty array that must not be written to.
 * Returns 0; API_EBADREQ for a malformed escape, %00, a raw NUL, or more than max_pairs pairs;
 * API_ENOMEM when the arena cannot grow. On error *out is NULL and *n is 0.
 * Ownership: everything returned lives in the arena (until api__arena_reset()); qs is not kept
 * and need not be NUL-terminated. One arena allocation per call (none when there are no pairs), of
 * about 10 * len bytes at most.
 */
int api__query_parse(api__arena *a, const char *qs, size_t len, size_t max_pairs, api__kv **out,
                     size_t *n);

/*
 * Parse one Cookie field value header[0..len) (RFC 6265 section 5.4, with the leniency of
 * browsers and common servers): pairs are separated by ';'; SP and HTAB around pairs, names and
 * values are dropped; a value wrapped in one pair of DQUOTEs loses them. Pairs without '=', with an
 * empty name, a name that is not a token, or a NUL byte anywhere, are skipped, not errors. Values
 * are kept as sent (not percent-decoded, inner spaces kept). Duplicate names are all kept, in
 * order; lookups take the first, which RFC 6265 makes the most specific (longest path) one.
 * Callers with several Cookie fields call this once per field and concatenate; max_pairs applies
 * to this call only, so pass what is left of the request's budget.
 * a:         the request arena that receives the array and all the strings.
 * max_pairs: more accepted pairs than this is an error (SIZE_MAX for no limit).
 * out, n:    on success the pairs and their count; *out is never NULL on success (see
 *            api__query_parse()).
 * Returns 0; API_EBADREQ only for more than max_pairs pairs; API_ENOMEM when the arena cannot
 * grow. On error *out is NULL and *n is 0.
 * Ownership: as api__query_parse(): all in the arena, header is not kept.
 */
int api__cookie_parse(api__arena *a, const char *header, size_t len, size_t max_pairs,
                      api__kv **out, size_t *n);

/*
 * Build a Set-Cookie field value, e.g.
 *   "sid=abc; Path=/; Domain=example.com; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT;
 *    HttpOnly; Secure; SameSite=Lax"
 * with attributes in that order, each only when set in opts (opts may be NULL: none; a NULL or ""
 * path or domain is not sent; a negative max_age sends Max-Age=0).
 * Validation (API_EINVAL, nothing useful in buf):
 *   - name NULL or not an RFC 9110 token;
 *   - value (NULL means "") not *cookie-octet (RFC 6265: %x21 / %x23-2B / %x2D-3A / %x3C-5B /
 *     %x5D-7E, so no space, DQUOTE, ',', ';', '\', CTL, DEL or non-ASCII), optionally wrapped in
 *     one pair of DQUOTEs which are kept;
 *   - path or domain with ';', a CTL, DEL or a non-ASCII byte (RFC 6265 path-value is CHAR only);
 *   - expires whose date has no 4-digit year; same_site not an api_samesite value;
 *   - SameSite=None without secure, and the prefixes browsers enforce: a name starting with
 *     "__Secure-" without secure, or "__Host-" without secure, with a domain, or with a path other
 *     than "/" (matched case-insensitively, as RFC 6265bis does) — browsers drop such cookies
 *     silently, so the mistake is reported where it is made.
 * Sizing works like snprintf: buf[0..cap) receives the value and a NUL. When cap is too small
 * (including buf NULL with cap 0, to measure), nothing is written and API_ENOMEM is returned.
 * *len_out (required) always gets the value's length without the NUL after a 0 or API_ENOMEM
 * return, so a caller can allocate *len_out + 1 bytes and call again.
 * Returns 0, API_EINVAL or API_ENOMEM (buffer too small).
 */
int api__set_cookie_format(char *buf, size_t cap, const char *name, const char *value,
                           const api_cookie_opts *opts, size_t *len_out);

/* Length of an IMF-fixdate, without the NUL. */
#define API__HTTP_DATE_LEN 29

/*
 * Format t as an IMF-fixdate (RFC 9110 section 5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT", into out
 * with a NUL. Locale-independent and thread-safe (no strftime, gmtime_r).
 * Returns API__HTTP_DATE_LEN, or 0 (and out = "") when t's year is outside 0..9999 or gmtime_r
 * fails, since the format has room for four digits only.
 */
size_t api__http_date(time_t t, char out[API__HTTP_DATE_LEN + 1]);

/*
 * Whether a Content-Type value names JSON: type "application" with subtype "json" or
 * "<something>+json" (RFC 6839 structured syntax suffix), compared case-insensitively, optionally
 * followed by OWS and ";parameters" (not checked). False for NULL, "text/json",
 * "application/jsonx", "application/json-patch", "application/+json", "application/json, x".
 */
bool api__is_json_media_type(const char *content_type);

/*
 * Whether the comma-separated list value (Connection, Upgrade, TE, ...) has an element equal to
 * token, compared case-insensitively, with OWS around elements ignored and empty elements allowed
 * ("keep-alive, , Upgrade" has "upgrade"). An element must match whole: "keep-alive" does not
 * contain "alive", and "close;x" is not "close". False when value or token is NULL or token is "".
 */
bool api__header_has_token(const char *value, const char *token);

#endif

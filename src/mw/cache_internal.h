/* Shared by the caching helpers and the built-in middleware: HTTP dates, entity-tag lists, and
 * the ETag suffixes the compression middleware adds. */
#ifndef API_MW_CACHE_INTERNAL_H
#define API_MW_CACHE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "libapi/api.h"

/* Copy options of any size (older or newer callers) into *dst, zero-filling what the caller's
 * struct did not have. False for NULL or a size that cannot be right. */
#define API__COPY_OPTIONS(dst, src)                                                    \
  ((src) && (src)->size >= sizeof(size_t) &&                                           \
   (memset((dst), 0, sizeof(*(dst))),                                                  \
    memcpy((dst), (src), (src)->size < sizeof(*(dst)) ? (src)->size : sizeof(*(dst))), \
    (dst)->size = sizeof(*(dst)), true))

/* Longest entity tag (opaque part) that api_res_etag() accepts and the lists are matched with. */
#define API__ETAG_MAX 256

/* An IMF-fixdate into buf[30] ("Sun, 06 Nov 1994 08:49:37 GMT" and a NUL). Returns false for t
 * outside 1970..9999. */
bool api__http_date_format(time_t t, char buf[30]);

/* Parse an HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime), with nothing
 * around it. Returns false for anything else, or for a date that does not exist. */
bool api__http_date_parse(const char *s, time_t *out);

/* One entity tag from a field value: [W/] DQUOTE *etagc DQUOTE. */
typedef struct api__etag {
  const char *opaque; /* after the opening quote */
  size_t len;         /* without the quotes */
  bool weak;
} api__etag;

/* Parse a whole ETag field value ("\"x\"", "W/\"x\""). Returns false when malformed. */
bool api__etag_parse(const char *s, api__etag *out);

/* How an entity-tag list compares with the current tag. */
enum {
  API__ETAG_NO_MATCH = 0,
  API__ETAG_MATCH = 1, /* a listed tag matched (or "*": see below) */
};

/*
 * Does the If-Match / If-None-Match list in field (one field value) match cur (NULL: the resource
 * has no tag)? strong picks strong comparison (both strong, same opaque) instead of weak (same
 * opaque). "*" matches when the resource exists. With coding_suffix, a listed strong tag whose
 * opaque is cur's plus "-gzip" or "-deflate" also matches (the compression middleware's tags).
 * Malformed elements are skipped: they never match. *matched (if not NULL) gets the tag that
 * matched ("*" gives cur, or a tag with a NULL opaque when cur is NULL).
 */
int api__etag_list_match(const char *field, const api__etag *cur, bool exists, bool strong,
                         bool coding_suffix, api__etag *matched);

/* True for methods GET and HEAD. */
bool api__method_is_get_or_head(const char *method);

/* Turn the response into 304 Not Modified: no body, no Content-Type/Content-Encoding. */
void api__res_not_modified(api_res *res);

#endif

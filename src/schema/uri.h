/* URI reference resolution for $id and $ref. */
#ifndef API_SCHEMA_URI_H
#define API_SCHEMA_URI_H

#include <stdbool.h>
#include <stddef.h>

/* Resolve ref against base (RFC 3986 section 5.2). Returns a malloc'd (api__malloc) string, or
 * NULL when out of memory. */
char *api__uri_resolve(const char *base, const char *ref);

#endif

/* A fast strict JSON parser producing jansson values (see json_parse.c). */
#ifndef API_SCHEMA_JSON_PARSE_H
#define API_SCHEMA_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* Parse len bytes; a new reference, or NULL with the byte offset and a static message. */
json_t *api__json_parse(const char *text, size_t len, size_t *err_offset, const char **err_msg);

#endif

/* Character classes of RFC 9110 used by the parser and the response builder. */
#ifndef API_HTTP_CHARS_H
#define API_HTTP_CHARS_H

#include <stdbool.h>
#include <stddef.h>

/* Bit flags per byte in api__chars[]. */
enum {
  API__C_TCHAR = 1, /* token character: ALPHA DIGIT !#$%&'*+-.^_`|~ */
  API__C_VCHAR = 2, /* field-value byte: VCHAR, SP, HTAB, obs-text (0x80-0xFF) */
  API__C_TARGET =
      4, /* request-target byte: VCHAR except... any visible ASCII, no SP, no obs-text */
};

extern const unsigned char api__chars[256];

static inline bool api__is_tchar(unsigned char c) { return api__chars[c] & API__C_TCHAR; }
static inline bool api__is_vchar(unsigned char c) { return api__chars[c] & API__C_VCHAR; }

/* n > 0 bytes, all tchar. */
bool api__is_token(const char *s, size_t n);
/* Every byte allowed in a field value (no CR, LF, NUL or other controls except HTAB, no DEL),
 * and no leading or trailing SP/HTAB. n may be 0. */
bool api__is_field_value(const char *s, size_t n);

#endif

/* Strict base64url (RFC 4648 section 5) without padding, as JOSE uses it (RFC 7515 section 2). */
#ifndef API_UTIL_B64URL_H
#define API_UTIL_B64URL_H

#include <stddef.h>

/* The decoded size of n base64url characters (an upper bound when n is not a valid length). */
static inline size_t api__b64url_decoded_len(size_t n) {
  return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}
/* The encoded size of n bytes, without padding and without a NUL. */
static inline size_t api__b64url_encoded_len(size_t n) {
  return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Decode n characters of src into dst (room for api__b64url_decoded_len(n) bytes). Refuses, with
 * -1, anything but the canonical encoding: padding, whitespace, characters outside [A-Za-z0-9-_],
 * a length of 1 mod 4, and non-zero unused bits in the last character (which would let several
 * strings decode to the same bytes). Returns the number of bytes written. */
long api__b64url_decode(unsigned char *dst, const char *src, size_t n);

/* Encode n bytes into dst (room for api__b64url_encoded_len(n) + 1), NUL-terminated. Returns the
 * length without the NUL. */
size_t api__b64url_encode(char *dst, const void *src, size_t n);

#endif

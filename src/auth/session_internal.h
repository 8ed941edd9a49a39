/* Between the session and CSRF middleware. */
#ifndef API_AUTH_SESSION_INTERNAL_H
#define API_AUTH_SESSION_INTERNAL_H

#include <stddef.h>

#include <libapi/request.h>
#include <libapi/session.h>

/* The id of the request's session, creating the session when there is none; NULL when the
 * request has no session middleware, the session was destroyed, or on failure. */
const char *api__session_id(api_req *req);
/* The session id the request arrived with (a live session loaded from its cookie), or NULL. */
const char *api__session_loaded_id(api_req *req);

/* The key ring of encrypted-cookie sessions (session_cookie.c). */
typedef struct api__sess_ring api__sess_ring;
/* Copies n keys (1..API_SESSION_MAX_KEYS, non-zero, distinct) into a new ring; 0, API_EINVAL (the
 * message names the key), API_ENOMEM or API_EINTERNAL. */
int api__sess_ring_new(api__sess_ring **out, const api_session_key *keys, size_t n);
/* Wipes and frees r; NULL is allowed. */
void api__sess_ring_free(api__sess_ring *r);
/* The length of the cookie value sealing plain_len bytes. */
size_t api__sess_sealed_len(size_t plain_len);
/* Encrypts pt under keys[0] for the cookie called name into *out (api__malloc, NUL-terminated;
 * free with api__free). 0, API_ENOMEM, API_ESYS (no randomness) or API_EINTERNAL. */
int api__sess_seal(const api__sess_ring *r, const char *name, const unsigned char *pt, size_t len,
                   char **out);
/* Decrypts a cookie value of the cookie called name: 0 with *pt (api__malloc, *len bytes plus a
 * NUL; the caller wipes and frees it), API_ENOMEM, or API_ENOTFOUND for a value that does not open
 * (malformed, too long, unknown key, forged, another cookie's). */
int api__sess_open(const api__sess_ring *r, const char *name, const char *value, unsigned char **pt,
                   size_t *len);

#endif

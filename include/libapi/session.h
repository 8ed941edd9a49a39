/*
 * libapi/session.h: cookie sessions (with a server-side store, or wholly in an encrypted cookie),
 * and CSRF protection.
 *
 * The session middleware (api_mw_session) keeps a random 256-bit id in an HttpOnly cookie and the
 * session's data, a JSON object, in a store (api_session_store: an in-memory one is provided,
 * api_session_memstore; a shared one such as Redis implements the same functions) — or, given a
 * key ring instead of a store, seals the whole session into the cookie with AES-256-GCM (no
 * server state; logout cannot revoke a copied cookie before it expires). Handlers read
 * and write the data with api_session_get/api_session_set, rotate the id at login with
 * api_session_regenerate and end the session with api_session_destroy. A session is created only
 * when something is stored in it, so anonymous traffic costs no store space.
 *
 * The CSRF middleware (api_mw_csrf) refuses unsafe requests (POST, PUT, PATCH, DELETE, ...) that
 * come from another site (Sec-Fetch-Site, Origin) or that carry the session cookie without the
 * session's CSRF token (api_csrf_token) in a header or form field.
 *
 * See docs/auth.md ("Cookie sessions", "Encrypted-cookie sessions", "CSRF").
 */
#ifndef LIBAPI_SESSION_H
#define LIBAPI_SESSION_H

#include <jansson.h>
#include <stddef.h>

#include <libapi/common.h>
#include <libapi/middleware.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The length of a session id: 32 random bytes in base64url, without padding. */
#define API_SESSION_ID_LEN 43
/** The largest serialized session data the middleware stores (bytes of compact JSON). */
#define API_SESSION_MAX_DATA (64 * 1024)

/* ---- Store ---- */

/**
 * A stored session, as the store sees it. Times are seconds since the epoch.
 */
typedef struct api_session_record {
  char *data;          /**< the data as compact JSON text, NUL-terminated */
  size_t len;          /**< its length */
  long long created;   /**< when the session was created (the absolute timeout counts from it) */
  long long last_seen; /**< the last request that used it (the idle timeout counts from it) */
  long long expires;   /**< the store may forget the record at this time */
} api_session_record;

/**
 * A session store: functions over user_data. Every function may be called from any worker thread
 * at once: the store synchronises itself. Build it with API_SESSION_STORE(...). The calls are
 * synchronous (they run on the worker): a networked store must answer quickly or keep a local
 * cache.
 */
typedef struct api_session_store {
  size_t size; /**< sizeof(api_session_store), set by API_SESSION_STORE */
  /* id is the storage key: a SHA-256 of the session id in base64url (API_SESSION_ID_LEN
   * characters), so that the store, its dumps and its logs never hold a usable cookie value. */
  /** Copies the record of id into *out: out->data allocated with malloc() (the caller frees it
   * with free()). Returns 0, API_ENOTFOUND (unknown or expired at now) or another error. */
  int (*load)(void *user_data, const char *id, long long now, api_session_record *out);
  /** Creates or replaces the record of id (rec->data is copied). Returns 0, API_ENOMEM, or another
   * error. A bounded store evicts its least recently used records to make room. */
  int (*save)(void *user_data, const char *id, const api_session_record *rec);
  /** Forgets id. Returns 0 (also when it was unknown) or an error. */
  int (*remove)(void *user_data, const char *id);
  void *user_data; /**< passed to each function */
} api_session_store;

#define API_SESSION_STORE(...) \
  (&(const api_session_store){.size = sizeof(api_session_store), __VA_ARGS__})

/** An in-memory store: a hash table bounded in records and bytes, evicting the least recently
 * used record to make room. Thread: safe (one mutex). */
typedef struct api_session_memstore api_session_memstore;

/**
 * Creates an in-memory store holding at most max_records sessions (0: 100000) of at most
 * max_bytes bytes of data in all (0: 64 MiB).
 * @return 0; API_EINVAL (max_bytes below API_SESSION_MAX_DATA); API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_session_memstore_free() after the app that
 * uses it. Thread: any.
 */
LIBAPI_EXTERN int api_session_memstore_new(api_session_memstore **out, size_t max_records,
                                           size_t max_bytes);
/** Fills *out with the store functions of ms. Thread: any. */
LIBAPI_EXTERN void api_session_memstore_store(api_session_memstore *ms, api_session_store *out);
/** The number of records held (expired ones not yet evicted included). Thread: any. */
LIBAPI_EXTERN size_t api_session_memstore_count(api_session_memstore *ms);
/** Frees ms. NULL is allowed. Thread: once no request uses it. */
LIBAPI_EXTERN void api_session_memstore_free(api_session_memstore *ms);

/* ---- Encrypted-cookie sessions ---- */

/** The length of an encrypted-session key, in bytes (AES-256-GCM). */
#define API_SESSION_KEY_LEN 32
/** The most keys a ring holds. */
#define API_SESSION_MAX_KEYS 16
/** The largest session cookie, name and value together, that the middleware writes or reads:
 * browsers drop longer ones. */
#define API_SESSION_COOKIE_MAX 4096

/**
 * A key for encrypted-cookie sessions: 32 random bytes. Generate one with
 * `openssl rand -base64 32`, keep it out of the source (an environment variable or a file) and
 * load it with api_session_key_decode().
 */
typedef struct api_session_key {
  unsigned char bytes[API_SESSION_KEY_LEN]; /**< the AES-256 key */
} api_session_key;

/**
 * Decodes a key written in base64 (standard, as `openssl rand -base64 32` prints it, with or
 * without its '=' padding) or base64url; surrounding whitespace (a trailing newline) is ignored.
 * @return 0; API_EINVAL (NULL, not base64, or not exactly 32 bytes: the message says which, never
 *         the key).
 * Ownership: out is the caller's; wipe it (OPENSSL_cleanse) once api_mw_session has copied it.
 * Thread: any.
 */
LIBAPI_EXTERN int api_session_key_decode(api_session_key *out, const char *text);

/* ---- Middleware ---- */

/** The default idle and absolute timeouts, in seconds. */
#define API_SESSION_DEFAULT_IDLE (30 * 60)
#define API_SESSION_DEFAULT_ABSOLUTE (12 * 60 * 60)

/**
 * Options of api_mw_session. Build them with API_SESSION_OPTIONS(...); zero members take the
 * defaults.
 */
typedef struct api_session_options {
  size_t size;                    /**< sizeof(api_session_options), set by API_SESSION_OPTIONS */
  const api_session_store *store; /**< the store, copied (its user_data must outlive the app);
                                       or NULL with keys */
  const char *cookie_name;        /**< default "__Host-sid" when secure with path "/", else "sid" */
  const char *path;               /**< the cookie's Path; default "/" */
  const char *domain;             /**< the cookie's Domain; default none (host-only: keep it so) */
  long long idle_timeout; /**< seconds without a request after which the session ends; 0: default
                               (API_SESSION_DEFAULT_IDLE) */
  long long absolute_timeout; /**< seconds after creation when the session ends whatever happens;
                                   0: API_SESSION_DEFAULT_ABSOLUTE */
  int insecure; /**< non-zero: no Secure attribute, for http://localhost development only */
  long long (*clock)(void *user_data); /**< the time in seconds; NULL: the system clock (tests) */
  void *clock_data;                    /**< passed to clock */
  /** Encrypted-cookie sessions, instead of a store: a key ring. keys[0] encrypts every cookie
   * written; every key decrypts (rotation: put the new key first, keep the old ones until the
   * sessions they sealed have expired). Exactly one of store and keys must be given. Copied (and
   * wiped when the app is freed). */
  const api_session_key *keys;
  size_t nkeys; /**< the number of keys, 1..API_SESSION_MAX_KEYS */
} api_session_options;

#define API_SESSION_OPTIONS(...) \
  (&(const api_session_options){.size = sizeof(api_session_options), __VA_ARGS__})

/**
 * Makes the session middleware. Its on_request hook reads the session cookie and loads the
 * session from the store (a cookie that is malformed, unknown, expired or repeated is ignored: the
 * request has no session); its on_send hook saves a changed or new session, refreshes the
 * last-seen time, and sets the cookie (HttpOnly, Secure unless insecure, SameSite=Lax, Path,
 * Max-Age the time left) — or clears it after api_session_destroy. Register it before the
 * middleware and handlers that use sessions.
 *
 * With keys instead of a store, the cookie value is
 * base64url(version || key id || nonce || AES-256-GCM(created, last seen, id, data) || tag), the
 * cookie name authenticated with it. A value that does not decrypt under any key of the ring
 * (forged, truncated, another cookie's, a retired key), is expired, repeated or longer than
 * API_SESSION_COOKIE_MAX is ignored (logged at debug level). The cookie is rewritten when the
 * session changes and otherwise at most every min(60, idle_timeout / 10) seconds, so the idle
 * timeout runs from that rewrite (a session may end up to that much early). A session whose
 * cookie would be over API_SESSION_COOKIE_MAX bytes (name and value; about 2.9 KiB of JSON data)
 * is not sent: the response becomes a 500 and an error is logged; the client keeps its old cookie.
 *
 * @return 0; API_EINVAL (a bad option, named in api_last_error(): both or neither of store and
 *         keys, nkeys out of range, an all-zero or repeated key); API_ENOMEM.
 * Ownership: the state belongs to app. Thread: the state is read-only; the store synchronises.
 */
LIBAPI_EXTERN int api_mw_session(api_app *app, const api_session_options *opts,
                                 api_middleware *out);

/* ---- Using the session in handlers and hooks ---- */

/**
 * The value stored under key in the request's session, or NULL (no such key, no session, or no
 * session middleware). Borrowed: valid until the session is changed or the response is sent.
 * Thread: the request's.
 */
LIBAPI_EXTERN json_t *api_session_get(api_req *req, const char *key);

/**
 * Stores value under key (replacing an older value), creating the session when the request has
 * none (a fresh id; the cookie is set with the response). A NULL value removes key.
 * @return 0; API_EINVAL (NULL req or key); API_ESTATE (no session middleware on this request, or
 *         the session was destroyed); API_ENOMEM. The serialized data must stay under
 *         API_SESSION_MAX_DATA bytes (with encrypted cookies: the cookie under
 *         API_SESSION_COOKIE_MAX bytes, about 2.9 KiB of data) or saving fails (answered 500).
 * Ownership: steals the reference to value, also on error. Thread: the request's.
 */
LIBAPI_EXTERN int api_session_set(api_req *req, const char *key, json_t *value);

/** Whether the request has a live session (loaded from its cookie or created by this request):
 * 1 or 0. */
LIBAPI_EXTERN int api_session_exists(api_req *req);

/**
 * Gives the session a new id, keeping its data, and forgets the old id: call it when the user logs
 * in or their privileges change, so that an id planted or seen before (session fixation) is
 * worthless. Creates the session when there is none. The absolute timeout restarts. With
 * encrypted cookies the new id (and CSRF token) is sealed into a fresh cookie value; the old
 * value cannot be forgotten and stays valid until it expires.
 * @return 0; API_ESTATE (no session middleware); API_ENOMEM; API_ESYS (no randomness).
 * Thread: the request's.
 */
LIBAPI_EXTERN int api_session_regenerate(api_req *req);

/**
 * Ends the session (logout): removes it from the store at the end of the request and clears the
 * cookie (Max-Age=0). Later api_session_set calls on this request fail with API_ESTATE. With
 * encrypted cookies only the browser's copy is cleared: a copy taken before stays valid until its
 * idle or absolute timeout (docs/auth.md, "Encrypted-cookie sessions").
 * @return 0 (also when there was no session); API_ESTATE (no session middleware).
 * Thread: the request's.
 */
LIBAPI_EXTERN int api_session_destroy(api_req *req);

/* ---- CSRF ---- */

/**
 * Options of api_mw_csrf. Build them with API_CSRF_OPTIONS(...); zero members take the defaults.
 */
typedef struct api_csrf_options {
  size_t size;                /**< sizeof(api_csrf_options), set by API_CSRF_OPTIONS */
  const void *secret;         /**< HMAC key for the tokens, at least 32 bytes; NULL: random at
                                   start (tokens then die with the process: set it when several
                                   processes serve one site) */
  size_t secret_len;          /**< its length */
  const char *header;         /**< the request header carrying the token; default "X-CSRF-Token" */
  const char *form_field;     /**< the urlencoded form field carrying it; default "_csrf" */
  const char *const *origins; /**< NULL-terminated trusted origins ("https://app.example");
                                   NULL: the Origin must name the request's own Host */
  int allow_same_site;        /**< non-zero: accept Sec-Fetch-Site: same-site (sibling
                                   subdomains) as well as same-origin */
  int require_origin; /**< non-zero: refuse unsafe requests with neither Sec-Fetch-Site nor Origin
                           (for cookies not managed by api_mw_session, e.g. a JWT in a cookie,
                           where there is no session to bind a token to; non-browser clients
                           must then send Origin) */
} api_csrf_options;

#define API_CSRF_OPTIONS(...) \
  (&(const api_csrf_options){.size = sizeof(api_csrf_options), __VA_ARGS__})

/**
 * Makes the CSRF middleware (a pre_handler hook; register it after api_mw_session). For requests
 * with an unsafe method (anything but GET, HEAD, OPTIONS and TRACE):
 *  - Sec-Fetch-Site, when present, must be "same-origin" or "none" ("same-site" too with
 *    allow_same_site);
 *  - Origin, when present, must be one of origins, or (without origins) name the Host of the
 *    request; "null" is refused;
 *  - with require_origin, one of the two must be present;
 *  - when the request carries a session (api_session_exists), the token
 *    api_csrf_token() gave for it must come in the header or, for an
 *    application/x-www-form-urlencoded body, in the form field.
 * A failure answers 403 (API_EFORBIDDEN) with the standard error body.
 *
 * @return 0; API_EINVAL (a bad option); API_ENOMEM; API_ESYS (no randomness for the secret).
 * Ownership: the state belongs to app. Thread: read-only state.
 */
LIBAPI_EXTERN int api_mw_csrf(api_app *app, const api_csrf_options *opts, api_middleware *out);

/** The length of a CSRF token: an HMAC-SHA256 in base64url. */
#define API_CSRF_TOKEN_LEN 43

/**
 * The CSRF token of the request's session, to put in forms (the form field) or hand to scripts
 * (which send it in the header): base64url(HMAC-SHA256(secret, session id)). Creates the session
 * when there is none. It changes with the session id (api_session_regenerate): send the new one
 * after login.
 * @return the token in request memory, or NULL (no CSRF middleware on this request, no session
 *         middleware, or out of memory). Thread: the request's.
 */
LIBAPI_EXTERN const char *api_csrf_token(api_req *req);

#ifdef __cplusplus
}
#endif

#endif

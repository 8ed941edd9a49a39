/*
 * libapi/auth.h: the cryptographic core of authentication — JSON Web Tokens (RFC 7519) signed as
 * JWS compact serializations (RFC 7515), key sets built from JWKS (RFC 7517), PEM or raw secrets,
 * and bcrypt password hashing.
 *
 * Keys are pinned: every key in a key set carries the one algorithm it may be used with, fixed when
 * the key is loaded. A token is verified only with a key whose algorithm equals the token's "alg",
 * so an RSA public key can never be used as an HMAC secret, and "none" is never accepted.
 *
 * Verification (api_jwt_verify) is strict: exactly three base64url parts without padding, a JSON
 * header and payload without duplicate keys, a known "alg", no "crit" extension, a signature of the
 * exact length, then the registered claims: exp (required unless allowed otherwise), nbf, iat, iss,
 * aud, sub. Each refusal carries a reason (api_jwt_error) that a bearer-token middleware turns into
 * `WWW-Authenticate: Bearer error="invalid_token", error_description="..."` (RFC 6750).
 *
 * See docs/auth.md for the guide and the threat model.
 */
#ifndef LIBAPI_AUTH_H
#define LIBAPI_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include <libapi/common.h>
#include <libapi/middleware.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Algorithms ---- */

/** The JWS algorithms libapi signs and verifies (RFC 7518 section 3, RFC 8037 for EdDSA). */
typedef enum api_jwt_alg {
  API_JWT_ALG_UNKNOWN = 0, /**< not an algorithm: "none" and every unknown name map here */
  API_JWT_HS256,           /**< HMAC SHA-256; secret of at least 32 bytes */
  API_JWT_HS384,           /**< HMAC SHA-384; secret of at least 48 bytes */
  API_JWT_HS512,           /**< HMAC SHA-512; secret of at least 64 bytes */
  API_JWT_RS256,           /**< RSASSA-PKCS1-v1_5 SHA-256; RSA key of 2048 to 8192 bits */
  API_JWT_RS384,           /**< RSASSA-PKCS1-v1_5 SHA-384 */
  API_JWT_RS512,           /**< RSASSA-PKCS1-v1_5 SHA-512 */
  API_JWT_PS256,           /**< RSASSA-PSS SHA-256, MGF1 SHA-256, salt = hash length */
  API_JWT_PS384,           /**< RSASSA-PSS SHA-384 */
  API_JWT_PS512,           /**< RSASSA-PSS SHA-512 */
  API_JWT_ES256,           /**< ECDSA P-256 SHA-256 */
  API_JWT_ES384,           /**< ECDSA P-384 SHA-384 */
  API_JWT_ES512,           /**< ECDSA P-521 SHA-512 */
  API_JWT_EDDSA,           /**< EdDSA with Ed25519 */
} api_jwt_alg;

/** A bit for alg in api_jwt_verify_options.algorithms: API_JWT_ALG_BIT(API_JWT_ES256) | ... */
#define API_JWT_ALG_BIT(alg) (1u << (unsigned)(alg))

/** The JOSE name of alg ("HS256", "EdDSA"), or NULL for API_JWT_ALG_UNKNOWN and other values. */
LIBAPI_EXTERN const char *api_jwt_alg_name(api_jwt_alg alg);

/**
 * The algorithm named name, compared exactly (JOSE names are case-sensitive).
 * Returns API_JWT_ALG_UNKNOWN for NULL, "none" in any case, and every name not in api_jwt_alg.
 */
LIBAPI_EXTERN api_jwt_alg api_jwt_alg_from_name(const char *name);

/* ---- Key sets ---- */

/**
 * An immutable set of keys, each pinned to one algorithm and optionally named by a "kid".
 * Build one with the api_jwt_keyset_from_* functions (and api_jwt_keyset_merge to combine them),
 * free it with api_jwt_keyset_free.
 * Thread: immutable once built; any number of threads may verify and sign with it at once.
 */
typedef struct api_jwt_keyset api_jwt_keyset;

/**
 * Builds a key set from a JWK Set (`{"keys":[...]}`) or a single JWK object, in JSON.
 *
 * Each key becomes pinned to an algorithm: its "alg" member when present, which must fit the key
 * ("RS256" on an "EC" key is refused), else the only algorithm its type allows ("EC" keys by curve:
 * P-256 ES256, P-384 ES384, P-521 ES512; "OKP" Ed25519 EdDSA). "RSA" and "oct" keys must carry
 * "alg". Keys with "use" other than "sig", or "key_ops" without "verify" or "sign", are skipped
 * (they are for encryption). Refused, failing the whole set: duplicate JSON keys, unknown "kty" or
 * "crv", bad base64url, coordinates of the wrong length, points not on the curve, RSA moduli under
 * 2048 or over 8192 bits, "oct" secrets shorter than the hash output (32/48/64 bytes), and a set
 * with no usable key. Private members (d, p, q, ...) are loaded too: such keys can sign.
 *
 * @param out   receives the key set
 * @param json  the JSON text, len bytes (need not be NUL-terminated)
 * @param len   its length
 * @return 0; API_EINVAL with a message naming the key (api_last_error()); API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_jwt_keyset_free(). Thread: any.
 */
LIBAPI_EXTERN int api_jwt_keyset_from_jwks(api_jwt_keyset **out, const char *json, size_t len);

/**
 * Builds a key set of one key from PEM text: a private key (PKCS#8, or traditional RSA/EC), a
 * public key (SubjectPublicKeyInfo or PKCS#1 RSA) or an X.509 certificate (its public key).
 * Encrypted private keys are refused (no passphrase prompt). Only the first PEM block is read.
 *
 * @param out  receives the key set
 * @param pem  the PEM text, len bytes
 * @param len  its length
 * @param alg  the algorithm to pin the key to. Required for RSA keys (RS256..PS512). Optional for
 *             EC keys (deduced from the curve; if given it must match) and Ed25519 keys (EdDSA).
 *             HS* is always refused: a PEM is never an HMAC secret.
 * @param kid  the key's "kid", or NULL for none; copied
 * @return 0; API_EINVAL (bad PEM, unsupported key type or curve, alg missing or not matching the
 *         key, RSA under 2048 or over 8192 bits); API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_jwt_keyset_free(). Thread: any.
 */
LIBAPI_EXTERN int api_jwt_keyset_from_pem(api_jwt_keyset **out, const char *pem, size_t len,
                                          const char *alg, const char *kid);

/**
 * Builds a key set of one HMAC key from a raw secret.
 *
 * @param out     receives the key set
 * @param secret  the secret bytes (read them from a file or the environment, never from source)
 * @param len     their length: at least 32 bytes for HS256, 48 for HS384, 64 for HS512
 * @param alg     "HS256", "HS384" or "HS512"
 * @param kid     the key's "kid", or NULL for none; copied
 * @return 0; API_EINVAL (secret too short, alg not HS*); API_ENOMEM.
 * Ownership: *out is the caller's; the secret is copied (and wiped when the set is freed).
 * Thread: any.
 */
LIBAPI_EXTERN int api_jwt_keyset_from_secret(api_jwt_keyset **out, const void *secret, size_t len,
                                             const char *alg, const char *kid);

/**
 * Builds a key set from a file, by its content: JSON (starts with '{') is a JWK Set or a JWK as in
 * api_jwt_keyset_from_jwks; text containing "-----BEGIN " is PEM as in api_jwt_keyset_from_pem;
 * anything else is a raw HMAC secret as in api_jwt_keyset_from_secret, less one trailing "\n" or
 * "\r\n" (files written by `echo` or editors end with one). Files over 1 MiB are refused.
 * This is what a `libapi jwt verify --key FILE` command calls.
 *
 * @param out   receives the key set
 * @param path  the file
 * @param alg   the algorithm for PEM and secret files (see those functions); ignored for JSON
 * @param kid   the kid for PEM and secret files, or NULL; ignored for JSON
 * @return 0; API_ESYS (cannot read the file); API_EINVAL; API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_jwt_keyset_free(). Thread: any (blocks on
 * file I/O: call it at start-up or on the offload pool).
 */
LIBAPI_EXTERN int api_jwt_keyset_from_file(api_jwt_keyset **out, const char *path, const char *alg,
                                           const char *kid);

/**
 * A new key set holding the keys of a and then those of b (neither is changed). Use it to combine
 * sources, e.g. a JWKS of public keys and a PEM private key to sign with, or an old and a new
 * secret during rotation.
 * @return 0; API_EINVAL (a or b NULL); API_ENOMEM.
 * Ownership: *out is the caller's; a and b stay the caller's. Keys are shared, not copied.
 * Thread: any.
 */
LIBAPI_EXTERN int api_jwt_keyset_merge(api_jwt_keyset **out, const api_jwt_keyset *a,
                                       const api_jwt_keyset *b);

/** The number of keys in ks (0 for NULL). Thread: any. */
LIBAPI_EXTERN size_t api_jwt_keyset_count(const api_jwt_keyset *ks);

/**
 * The public half of ks as a JWK Set, in compact JSON: asymmetric keys only (HMAC secrets and
 * private members never appear), each with kty, its public members, alg, use "sig" and kid when it
 * has one. This is the document to serve at /.well-known/jwks.json.
 * @return 0; API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_auth_string_free(). Thread: any.
 */
LIBAPI_EXTERN int api_jwt_keyset_to_jwks(char **out, const api_jwt_keyset *ks);

/** Frees ks. NULL is allowed. Thread: once no other thread uses ks. */
LIBAPI_EXTERN void api_jwt_keyset_free(api_jwt_keyset *ks);

/* ---- Verification ---- */

/** Why a token was refused. The names (api_jwt_error_name) are stable. */
typedef enum api_jwt_error {
  API_JWT_OK = 0,          /**< the token is valid */
  API_JWT_MALFORMED,       /**< not three base64url parts, bad JSON, duplicate keys, bad header */
  API_JWT_TOO_LARGE,       /**< longer than max_token_size */
  API_JWT_ALG_NOT_ALLOWED, /**< "none", an unknown alg, or one not in the allowed algorithms */
  API_JWT_UNKNOWN_KID,     /**< the header names a kid no key in the set has */
  API_JWT_NO_KEY,          /**< no key in the set is pinned to the token's algorithm */
  API_JWT_BAD_SIGNATURE,   /**< the signature does not verify (or has the wrong length) */
  API_JWT_BAD_TYP,         /**< the "typ" header is missing or not the required one */
  API_JWT_UNKNOWN_CRIT,    /**< the header has a "crit" extension libapi does not understand */
  API_JWT_EXPIRED,         /**< now >= exp + leeway */
  API_JWT_NOT_YET_VALID,   /**< now + leeway < nbf, or iat is in the future */
  API_JWT_BAD_ISSUER,      /**< iss missing or not the configured issuer */
  API_JWT_BAD_AUDIENCE,    /**< aud missing or none of its values is a configured audience */
  API_JWT_BAD_SUBJECT,     /**< sub missing or not the required subject */
  API_JWT_MISSING_CLAIM,   /**< a required claim (or exp) is absent */
  API_JWT_BAD_CLAIM,       /**< a registered claim has the wrong type (e.g. exp not a number) */
  API_JWT_INTERNAL,        /**< out of memory or a crypto library failure, not the token's fault */
} api_jwt_error;

/** The stable short name of e, e.g. "expired", "bad_signature"; "unknown" outside the enum. */
LIBAPI_EXTERN const char *api_jwt_error_name(api_jwt_error e);

/**
 * A short English description of e that is safe to send to the client, e.g. as the RFC 6750
 * error_description ("The access token expired"). It reveals nothing about the key set.
 */
LIBAPI_EXTERN const char *api_jwt_error_description(api_jwt_error e);

/** The default and the hard limit of api_jwt_verify_options.max_token_size. */
#define API_JWT_DEFAULT_MAX_TOKEN_SIZE 8192
#define API_JWT_MAX_TOKEN_SIZE_LIMIT (1024 * 1024)

/**
 * What api_jwt_verify checks beyond the signature. Build it with API_JWT_VERIFY_OPTIONS(...);
 * every member left zero takes its default.
 */
typedef struct api_jwt_verify_options {
  size_t size;         /**< sizeof(api_jwt_verify_options), set by API_JWT_VERIFY_OPTIONS */
  unsigned algorithms; /**< API_JWT_ALG_BIT()s allowed; 0: every algorithm of the key set */
  const char *issuer;  /**< iss must equal it exactly; NULL: iss is not checked */
  const char *const *audiences; /**< NULL-terminated; aud (string or array) must contain one of
                                     them; NULL: aud is not checked (set it: see docs/auth.md) */
  const char *subject;          /**< sub must equal it exactly; NULL: not checked */
  long long leeway;             /**< seconds of clock skew allowed for exp, nbf and iat (>= 0) */
  long long now; /**< the current time in seconds since the epoch; 0: the system clock */
  const char *const *required_claims; /**< NULL-terminated names that must be present */
  const char *typ; /**< the "typ" header must be this ("JWT", "at+jwt"), compared case-insensitively
                        and with an optional "application/" prefix; NULL: not checked */
  size_t max_token_size; /**< longest token accepted; 0: API_JWT_DEFAULT_MAX_TOKEN_SIZE */
  int allow_missing_exp; /**< non-zero: a token without exp is accepted (it never expires) */
} api_jwt_verify_options;

/** A pointer to verify options: API_JWT_VERIFY_OPTIONS(.issuer = "https://id", .audiences = a). */
#define API_JWT_VERIFY_OPTIONS(...) \
  (&(const api_jwt_verify_options){.size = sizeof(api_jwt_verify_options), __VA_ARGS__})

/**
 * The outcome of api_jwt_verify. Declare it zeroed (`api_jwt_result r = {0};`) and always pass it
 * to api_jwt_result_free() afterwards, whatever api_jwt_verify returned.
 */
typedef struct api_jwt_result {
  api_jwt_error error; /**< API_JWT_OK or why the token was refused */
  char message[192];   /**< details for logs (may name claims and times; not for clients) */
  json_t *header;      /**< the decoded header, once its JSON parsed; else NULL. Read-only: it
                            may be shared with other results (a per-thread cache) */
  json_t *claims;      /**< the claims, set only when the token is valid (error == API_JWT_OK) */
  api_jwt_alg alg;     /**< the algorithm the token was verified with */
  const char *kid;     /**< the header's kid, or NULL; points into header */
} api_jwt_result;

/**
 * Verifies a JWS compact token and its claims against a key set.
 *
 * The checks, in order: size, structure and strict base64url, header JSON (an object without
 * duplicate keys) with a string "alg" that is allowed and not "none", "typ" when options require
 * it, no "crit", "kid" (a string when present) selecting keys pinned to the token's algorithm (keys
 * without a kid are candidates for every token), the signature (HMAC compared in constant time,
 * ECDSA as JOSE r||s of the exact length), the payload JSON (an object without duplicate keys),
 * then exp, nbf, iat (numbers; with leeway), iss, aud, sub and the required claims.
 *
 * @param ks     the keys to verify with
 * @param token  the token, len bytes (e.g. straight from the Authorization header)
 * @param len    its length
 * @param opts   the checks (API_JWT_VERIFY_OPTIONS(...)); NULL for all defaults
 * @param res    receives the outcome; see api_jwt_result
 * @return 0 when the token is valid (res->claims set); API_EUNAUTHORIZED when it is refused
 *         (res->error and res->message say why); API_EINVAL for a NULL argument or bad options;
 *         API_ENOMEM (res->error is API_JWT_INTERNAL: answer 503, not 401).
 * Ownership: res->header and res->claims belong to res, freed by api_jwt_result_free(); take a
 * reference with json_incref() to keep them longer.
 * Thread: any; ks may be shared by all threads.
 */
LIBAPI_EXTERN int api_jwt_verify(const api_jwt_keyset *ks, const char *token, size_t len,
                                 const api_jwt_verify_options *opts, api_jwt_result *res);

/** Releases what res holds and zeroes it. NULL is allowed. */
LIBAPI_EXTERN void api_jwt_result_free(api_jwt_result *res);

/* ---- Signing ---- */

/**
 * Signs claims into a JWS compact token: header {"alg":...,"typ":"JWT","kid":...} plus extras.
 *
 * The key is chosen among the keys of ks that can sign (HMAC secrets and private keys): the one
 * whose kid is kid if kid is given, else the only one pinned to alg if alg is given, else the only
 * signing key in the set. If alg and kid are both given they must agree.
 *
 * @param out     receives the token (NUL-terminated)
 * @param ks      the keys
 * @param alg     the algorithm name, or NULL
 * @param kid     the key id, or NULL; it goes into the header when the key has one
 * @param claims  a JSON object, serialized compactly in its own key order
 * @param header_extras  a JSON object of more header members (e.g. {"typ":"at+jwt"} replaces typ),
 *                       or NULL. It cannot set "alg", "kid" or "crit" (API_EINVAL).
 * @return 0; API_EINVAL (no such key, ambiguous choice, claims not an object); API_ENOMEM;
 *         API_EINTERNAL (the crypto library failed).
 * Ownership: *out is the caller's; free it with api_auth_string_free(). Thread: any.
 */
LIBAPI_EXTERN int api_jwt_sign(char **out, const api_jwt_keyset *ks, const char *alg,
                               const char *kid, const json_t *claims, const json_t *header_extras);

/** Frees a string returned by api_jwt_sign, api_jwt_keyset_to_jwks or api_password_hash (wiping
 * it first). NULL is allowed. */
LIBAPI_EXTERN void api_auth_string_free(char *s);

/* ---- Passwords (bcrypt) ---- */

/** The default bcrypt cost (2^12 rounds: about 250 ms on a 2020s server core). */
#define API_PASSWORD_DEFAULT_COST 12
/** The longest password bcrypt takes whole, in bytes; longer ones are refused, not truncated. */
#define API_PASSWORD_MAX_LEN 72

/**
 * Hashes a password with bcrypt into a "$2b$<cost>$<salt><hash>" string (60 characters), with a
 * 128-bit salt from the operating system's random generator.
 *
 * Blocks for about 100 ms or more (doubling with each cost step), so it refuses to run on a
 * worker (event-loop) thread: from a handler use api_req_password_hash(), or call it in the work
 * function of api_offload() (libapi/request.h).
 *
 * @param out       receives the hash string
 * @param password  the password, NUL-terminated, at most API_PASSWORD_MAX_LEN bytes: bcrypt reads
 *                  only 72 bytes, so longer ones are refused rather than silently truncated
 * @param cost      log2 of the rounds, 4..31; 0 for API_PASSWORD_DEFAULT_COST
 * @return 0; API_EINVAL (NULL, too long, cost out of range); API_ESTATE (called on a worker
 *         thread); API_ENOMEM; API_ESYS (no randomness or hashing failed).
 * Ownership: *out is the caller's; free it with api_auth_string_free(). Thread: any but a
 * worker's (the main thread, an offload pool thread, a thread of the application's).
 */
LIBAPI_EXTERN int api_password_hash(char **out, const char *password, int cost);

/**
 * Checks a password against a bcrypt hash ("$2b$", "$2a$" or "$2y$"), comparing the whole
 * recomputed string in constant time.
 *
 * Blocks like api_password_hash (at the hash's cost), and like it refuses to run on a worker
 * thread: from a handler use api_req_password_verify().
 *
 * @param password  the password offered, NUL-terminated
 * @param hash      the stored hash; NULL when the user is unknown: the password is then checked
 *                  against an internal hash of a random password at API_PASSWORD_DEFAULT_COST
 *                  (made by the first call of any kind, which takes twice as long), so that an
 *                  unknown user costs as much time as a known one whose hash has the default
 *                  cost, and the result is API_EUNAUTHORIZED
 * @return 0 when the password matches; API_EUNAUTHORIZED when it does not (including passwords
 *         over API_PASSWORD_MAX_LEN bytes, and hash NULL); API_EINVAL when hash is not a
 *         well-formed bcrypt hash or password is NULL (treat every non-zero value as "no");
 *         API_ESTATE (called on a worker thread); API_ENOMEM.
 * Thread: any but a worker's.
 */
LIBAPI_EXTERN int api_password_verify(const char *password, const char *hash);

/**
 * What runs on the request's worker when api_req_password_verify or api_req_password_hash is
 * done; it answers the request like a handler (returns API_NEXT, an error, or API_ASYNC again).
 * @param rc    the result of api_password_verify / api_password_hash (0, API_EUNAUTHORIZED, ...;
 *              api_last_error() explains it)
 * @param hash  api_req_password_hash: the new hash (60 characters) when rc is 0, borrowed, valid
 *              until the response is sent (copy it to keep it); otherwise NULL
 */
typedef int (*api_password_done_fn)(api_req *req, api_res *res, int rc, const char *hash,
                                    void *user_data);

/**
 * api_password_verify(password, hash) on the offload pool, then done(req, res, rc, NULL,
 * user_data) on the request's worker. Meant to be returned from a handler:
 * `return api_req_password_verify(req, pw, user ? user->hash : NULL, login_done, ctx);`.
 * A NULL hash (unknown user) burns the same time as a real check and gives API_EUNAUTHORIZED.
 * @return API_ASYNC when queued; API_EINVAL (NULL req, password or done); API_ENOMEM;
 *         API_EUNAVAILABLE (the server is stopping). On an error done is not called.
 * Ownership: password and hash are copied (into request memory, the password copy wiped as soon
 * as bcrypt is done and again when the request ends); the caller may free its own right away.
 * Thread: the request's worker (a handler or hook).
 */
LIBAPI_EXTERN int api_req_password_verify(api_req *req, const char *password, const char *hash,
                                          api_password_done_fn done, void *user_data);

/**
 * api_password_hash(password, cost) on the offload pool, then done(req, res, rc, hash, user_data)
 * on the request's worker (hash NULL unless rc is 0). Meant to be returned from a handler.
 * @return API_ASYNC when queued; API_EINVAL (NULL argument, cost out of 4..31, password over
 *         API_PASSWORD_MAX_LEN bytes); API_ENOMEM; API_EUNAVAILABLE (the server is stopping). On
 *         an error done is not called.
 * Ownership: password is copied and the copy wiped as for api_req_password_verify.
 * Thread: the request's worker.
 */
LIBAPI_EXTERN int api_req_password_hash(api_req *req, const char *password, int cost,
                                        api_password_done_fn done, void *user_data);

/**
 * Whether hash should be replaced by a fresh api_password_hash at cost (0 for the default) after
 * the next successful login: its variant is not "$2b$" or its cost differs.
 * @return 1 yes, 0 no, API_EINVAL when hash is not a well-formed bcrypt hash.
 * Thread: any; does not block.
 */
LIBAPI_EXTERN int api_password_needs_rehash(const char *hash, int cost);

/* ---- The principal: who made the request ---------------------------------------------------- */

/** How a principal was authenticated (api_principal.method). */
typedef enum api_auth_method {
  API_AUTH_NONE = 0, /**< not set */
  API_AUTH_BEARER,   /**< a JWT bearer token (api_mw_jwt); claims are set */
  API_AUTH_API_KEY,  /**< an API key (api_mw_api_key); key_id and rate_limit_key are set */
  API_AUTH_SESSION,  /**< a server-side session */
  API_AUTH_OTHER,    /**< the application's own method */
} api_auth_method;

/**
 * What an authenticated request carries: set by an authentication middleware (or by the
 * application with api_req_set_principal()), read by guards (api_mw_require()) and handlers.
 */
typedef struct api_principal {
  size_t size;                /**< sizeof(api_principal) */
  api_auth_method method;     /**< how the request was authenticated */
  const char *subject;        /**< who: the token's "sub", the API key's subject; never NULL */
  const char *const *roles;   /**< NULL-terminated, never NULL (may be empty) */
  const char *const *scopes;  /**< NULL-terminated, never NULL (may be empty) */
  json_t *claims;             /**< bearer tokens: the verified claims (read-only); else NULL */
  const char *key_id;         /**< API keys: the record's id; else NULL */
  const char *rate_limit_key; /**< an identity for rate limiting ("key:<id>", "sub:<subject>") */
} api_principal;

/**
 * The request's principal, or NULL when no authentication method accepted the request (no
 * credentials, or a middleware in optional mode let an anonymous request through).
 * Ownership: borrowed, valid until the response is sent. Thread: the request's.
 */
LIBAPI_EXTERN const api_principal *api_req_principal(const api_req *req);

/**
 * Authenticate the request as p, for an application's own authentication method: every string,
 * list and the claims (a new reference) are copied into request memory, and api_req_set_user()
 * is called with the subject (so logs and the access log name the user).
 * @param req  the request
 * @param p    the principal; size must be set, subject must not be NULL; roles, scopes NULL for
 *             none; rate_limit_key NULL for "sub:<subject>"
 * @return 0; API_EINVAL (NULL, bad size, NULL subject); API_ENOMEM.
 * Ownership: p stays the caller's. Thread: the request's.
 */
LIBAPI_EXTERN int api_req_set_principal(api_req *req, const api_principal *p);

/** 1 when the request's principal has role (compared exactly), else 0 (also unauthenticated). */
LIBAPI_EXTERN int api_req_has_role(const api_req *req, const char *role);
/** 1 when the request's principal has scope (compared exactly), else 0 (also unauthenticated). */
LIBAPI_EXTERN int api_req_has_scope(const api_req *req, const char *scope);

/* ---- Built-in middleware: JWT bearer tokens ----------------------------------------------------
 */

/** Options of api_mw_jwt(); build with API_JWT_AUTH_OPTIONS(.keys = ks, .verify = ...). */
typedef struct api_jwt_auth_options {
  size_t size;                /**< sizeof(api_jwt_auth_options), set by API_JWT_AUTH_OPTIONS */
  const api_jwt_keyset *keys; /**< required; borrowed: it must outlive the app */
  const api_jwt_verify_options *verify; /**< the claim checks; copied with its strings and
                                             lists (now is ignored); NULL: defaults */
  const char *realm;       /**< realm of the WWW-Authenticate challenge; default "api" */
  const char *cookie;      /**< also read the token from this cookie when there is no
                                Authorization header; NULL: header only */
  const char *roles_claim; /**< claim holding the roles (array of strings, or one string);
                                default "roles" */
  int optional;            /**< non-zero: a request without a token passes as anonymous (guards
                                still refuse it); a bad token is refused all the same */
} api_jwt_auth_options;

#define API_JWT_AUTH_OPTIONS(...) \
  (&(const api_jwt_auth_options){.size = sizeof(api_jwt_auth_options), __VA_ARGS__})

/**
 * JWT bearer authentication (RFC 6750), in pre_handler: register it on the app or on a group (or
 * before the guards in a route's .middleware list), so that it runs before api_mw_require().
 *
 * The token comes from `Authorization: Bearer <token>` (scheme case-insensitive, one or more
 * spaces, then one b64token: [A-Za-z0-9-._~+/]+ followed by optional '='), else from the cookie
 * named in opts. Refused with 400 and `WWW-Authenticate: Bearer realm="...",
 * error="invalid_request"`: more than one Authorization field, a Bearer field without a token,
 * with characters outside b64token, or with more than one token. Another scheme ("Basic ...") is
 * not this middleware's: it counts as no token. No token: 401 with `WWW-Authenticate: Bearer
 * realm="..."` (in optional mode the request goes on anonymous). A token api_jwt_verify()
 * refuses: 401 with `WWW-Authenticate: Bearer realm="...", error="invalid_token",
 * error_description="<api_jwt_error_description()>"` (the details go to the request's log at
 * debug level, never to the client); 503 when verification ran out of memory. A valid token
 * sets the principal: subject from "sub" (a token without a string "sub" is refused), roles
 * from roles_claim, scopes from "scope" (a space-separated string) or else "scp" (an array of
 * strings, or a string; at most 64 roles and 64 scopes are read), the claims; and
 * api_req_set_user(req, sub).
 *
 * WWW-Authenticate is added in on_send (the error path rebuilds the response), to 401 responses
 * (and 400/403 answers of the auth middleware), errors returned by the handler included.
 * Returns 0; API_EINVAL (NULL arguments, bad size, no keys, a realm or claim name with '"', '\\'
 * or control characters, bad verify options); API_ENOMEM.
 * Ownership: options are copied, except keys (borrowed). The state is freed by api_app_free().
 * Thread: configuration thread, before the server starts; read-only afterwards.
 */
LIBAPI_EXTERN int api_mw_jwt(api_app *app, const api_jwt_auth_options *opts, api_middleware *out);

/* ---- Built-in middleware: guards (roles, scopes, permissions) ---------------------------------
 */

/** One role and the permissions it grants; an array of them ends with {NULL, NULL}. */
typedef struct api_role_permissions {
  const char *role;               /**< the role name */
  const char *const *permissions; /**< NULL-terminated */
} api_role_permissions;

/**
 * A role -> permissions map (role-based access control), owned by the app.
 * Thread: immutable once built; shared by every worker.
 */
typedef struct api_rbac api_rbac;

/**
 * Builds a role -> permissions map from map (terminated by an entry with role NULL). A role may
 * appear more than once (its permissions add up).
 * @return 0; API_EINVAL (NULL, an empty role or permission name); API_ENOMEM.
 * Ownership: everything is copied; *out belongs to app (freed by api_app_free()).
 * Thread: configuration thread.
 */
LIBAPI_EXTERN int api_rbac_new(api_app *app, const api_role_permissions *map, api_rbac **out);

/**
 * 1 when one of the request principal's roles grants permission in rbac, else 0 (also for an
 * unauthenticated request or a NULL argument). Thread: the request's.
 */
LIBAPI_EXTERN int api_req_has_permission(const api_req *req, const api_rbac *rbac,
                                         const char *permission);

/** Options of api_mw_require(); build with API_REQUIRE(.roles = (const char *[]){"admin", NULL}).
 */
typedef struct api_require_options {
  size_t size;                    /**< sizeof(api_require_options), set by API_REQUIRE */
  const char *const *roles;       /**< NULL-terminated roles; NULL: none */
  const char *const *scopes;      /**< NULL-terminated scopes; NULL: none */
  const char *const *permissions; /**< NULL-terminated permissions, checked through rbac */
  const api_rbac *rbac;           /**< required with permissions; borrowed (the app owns it) */
  int any;                        /**< 0: every listed role, scope and permission is needed;
                                       non-zero: any one of them is enough */
} api_require_options;

#define API_REQUIRE(...) \
  (&(const api_require_options){.size = sizeof(api_require_options), __VA_ARGS__})

/**
 * A guard (pre_handler) for any authentication method: a request without a principal is refused
 * with 401 (plus the challenges of the authentication middleware that ran), a principal without
 * what opts requires with 403. For bearer tokens the 403 carries `WWW-Authenticate: Bearer
 * realm="...", error="insufficient_scope"` plus `scope="<the required scopes>"` when scopes are
 * required (RFC 6750 3.1). With nothing required, the guard only demands authentication.
 * Register it after the authentication middleware (a route's .middleware, or a group).
 * Returns 0; API_EINVAL (NULL arguments, bad size, permissions without rbac, an empty name or
 * one with '"', '\\' or control characters); API_ENOMEM.
 * Ownership: names are copied; rbac is borrowed. Thread: as api_mw_jwt().
 */
LIBAPI_EXTERN int api_mw_require(api_app *app, const api_require_options *opts,
                                 api_middleware *out);

/* ---- Built-in middleware: API keys ------------------------------------------------------------
 */

/** The length of a key hash: 64 lower-case hex digits (SHA-256 or HMAC-SHA-256). */
#define API_API_KEY_HASH_LEN 64

/**
 * One API key as the server stores it: never the key, only its hash. Keys look like
 * "<prefix>_<secret>"; the prefix ([A-Za-z0-9-], 1 to 64 characters, no '_') is public and names
 * the record, the secret is random.
 */
typedef struct api_api_key_record {
  const char *id;             /**< the record's id (e.g. a database id); required */
  const char *prefix;         /**< the key's public prefix; unique among the records; required */
  const char *hash;           /**< api_api_key_hash() of the whole key; required */
  const char *subject;        /**< the principal's subject; NULL: id */
  const char *const *roles;   /**< NULL-terminated; NULL: none */
  const char *const *scopes;  /**< NULL-terminated; NULL: none */
  const char *rate_limit_key; /**< the principal's rate_limit_key; NULL: "key:<id>" */
} api_api_key_record;

/** Options of api_mw_api_key(); build with API_API_KEY_OPTIONS(.records = r, .nrecords = n). */
typedef struct api_api_key_options {
  size_t size;                       /**< set by API_API_KEY_OPTIONS */
  const api_api_key_record *records; /**< the keys; copied */
  size_t nrecords;                   /**< how many */
  const char *header;                /**< the request header; default "X-API-Key" */
  const char *query_param;           /**< also accept the key in this query parameter (it
                                          ends up in proxy and browser logs: avoid); NULL: no */
  const void *pepper;                /**< HMAC-SHA-256 key the hashes were made with; NULL:
                                          plain SHA-256; copied */
  size_t pepper_len;                 /**< its length (at least 16 bytes when set) */
  const char *realm;                 /**< realm of `WWW-Authenticate: ApiKey realm="..."`;
                                          default "api" */
  int optional;                      /**< non-zero: no key passes as anonymous */
} api_api_key_options;

#define API_API_KEY_OPTIONS(...) \
  (&(const api_api_key_options){.size = sizeof(api_api_key_options), __VA_ARGS__})

/**
 * API key authentication, in pre_handler. The key comes from the header (exactly one field), or
 * when configured and there is no header, from the query parameter (exactly one). Its prefix
 * selects the record; the hash of the key is compared with the record's with CRYPTO_memcmp. An
 * unknown prefix is hashed and compared against a dummy record all the same, so that timing
 * says little about which prefixes exist; both are answered alike: 401 with `WWW-Authenticate:
 * ApiKey realm="..."`, as is a missing key (unless optional). Keys longer than 512 bytes are
 * refused before hashing. A matching key sets the principal (method API_AUTH_API_KEY, subject,
 * roles, scopes, key_id, rate_limit_key) and api_req_set_user(req, subject). The key itself is
 * never logged or copied into the request's state.
 * Returns 0; API_EINVAL (bad options: a record with a missing id, prefix or hash, a malformed
 * prefix or hash, a duplicate prefix, a pepper under 16 bytes, a malformed header name);
 * API_ENOMEM. Ownership: everything is copied. Thread: as api_mw_jwt().
 */
LIBAPI_EXTERN int api_mw_api_key(api_app *app, const api_api_key_options *opts,
                                 api_middleware *out);

/**
 * Mints a new API key "<prefix>_<secret>" (secret: 32 random bytes in base64url) and its hash
 * (SHA-256, lower-case hex) to store in an api_api_key_record. Show the key to its owner once;
 * store only the hash. For a peppered store, hash the key again with api_api_key_hash().
 * @param prefix    the record's public prefix ([A-Za-z0-9-], 1..64), or NULL for a random one
 *                  (12 hex digits; read it back as the part of the key before '_')
 * @param key_out   receives the key
 * @param hash_out  receives its hash
 * @return 0; API_EINVAL (NULL outputs, bad prefix); API_ENOMEM; API_ESYS (no randomness).
 * Ownership: both strings are the caller's; free them with api_auth_string_free(). Thread: any.
 */
LIBAPI_EXTERN int api_api_key_generate(const char *prefix, char **key_out, char **hash_out);

/**
 * The hash of key as api_mw_api_key() compares it: SHA-256, or HMAC-SHA-256 with pepper when
 * pepper is not NULL, in lower-case hex.
 * @return 0; API_EINVAL (NULL key or out); API_ENOMEM; API_EINTERNAL (the crypto library).
 * Ownership: *out is the caller's; free it with api_auth_string_free(). Thread: any.
 */
LIBAPI_EXTERN int api_api_key_hash(char **out, const char *key, const void *pepper,
                                   size_t pepper_len);

/* ---- Refresh tokens -----------------------------------------------------------------------------
 */

/** Bytes of a refresh token's hash (SHA-256) and of a family id. */
#define API_REFRESH_HASH_LEN 32
#define API_REFRESH_FAMILY_LEN 16
/** The longest subject a refresh token carries, NUL included. */
#define API_REFRESH_SUBJECT_MAX 256

/** A refresh token as a store keeps it: its hash, never the token. */
typedef struct api_refresh_record {
  unsigned char hash[API_REFRESH_HASH_LEN];     /**< SHA-256 of the token text */
  unsigned char family[API_REFRESH_FAMILY_LEN]; /**< the login it descends from */
  char subject[API_REFRESH_SUBJECT_MAX];        /**< the user, NUL-terminated */
  long long expires_at;                         /**< Unix time after which it is refused */
  long long family_expires_at; /**< absolute end of the family (no rotation goes past it) */
} api_refresh_record;

/**
 * Where refresh tokens live: a table of functions over ctx, so that a shared store (Redis, SQL)
 * can implement it. Each function returns 0 or a negative api_err, and must be atomic with
 * respect to the others (consume in particular: two concurrent consumes of one token must not
 * both return 0). Build one with API_REFRESH_STORE(...).
 */
typedef struct api_refresh_store {
  size_t size; /**< sizeof(api_refresh_store), set by API_REFRESH_STORE */
  /** Add rec. API_EEXIST if its hash is there; API_EUNAVAILABLE when the store is full. */
  int (*insert)(void *ctx, const api_refresh_record *rec);
  /**
   * Use the token whose hash is hash at time now: if it is active and not expired, mark it used
   * (keeping it, to detect reuse, until it expires), copy it to *out and return 0. If it was
   * already used, copy it to *out and return API_ECONFLICT. Unknown, revoked or expired:
   * API_ENOTFOUND.
   */
  int (*consume)(void *ctx, const unsigned char *hash, long long now, api_refresh_record *out);
  /** Copy the record of hash to *out without changing it: 0 or API_ENOTFOUND. */
  int (*lookup)(void *ctx, const unsigned char *hash, api_refresh_record *out);
  /** Remove every record of family (used ones included). 0 even when there was none. */
  int (*revoke_family)(void *ctx, const unsigned char *family);
  /** Remove the record of hash. 0 even when there was none. */
  int (*remove)(void *ctx, const unsigned char *hash);
  void *ctx; /**< passed to every function */
} api_refresh_store;

#define API_REFRESH_STORE(...) \
  (&(const api_refresh_store){.size = sizeof(api_refresh_store), __VA_ARGS__})

/** Options of api_refresh_issue() and api_refresh_rotate(). */
typedef struct api_refresh_options {
  size_t size;          /**< set by API_REFRESH_OPTIONS */
  long long ttl;        /**< lifetime of each token, seconds; 0: 14 days */
  long long family_ttl; /**< lifetime of a login, across rotations; 0: 90 days */
  long long now;        /**< the current Unix time; 0: the system clock (tests set it) */
} api_refresh_options;

#define API_REFRESH_OPTIONS(...) \
  (&(const api_refresh_options){.size = sizeof(api_refresh_options), __VA_ARGS__})

/**
 * Issues the first refresh token of a new login (a new family) for subject: 256 random bits in
 * base64url (43 characters). The store keeps only its SHA-256.
 * @param store    the store
 * @param subject  the user, 1 to API_REFRESH_SUBJECT_MAX - 1 bytes
 * @param opts     lifetimes, or NULL for defaults
 * @param out      receives the token
 * @return 0; API_EINVAL; API_ENOMEM; API_ESYS (no randomness); the store's error
 *         (API_EUNAVAILABLE when full).
 * Ownership: *out is the caller's; free it with api_auth_string_free(). Thread: any (the store
 * must be thread-safe, as the in-memory one is).
 */
LIBAPI_EXTERN int api_refresh_issue(const api_refresh_store *store, const char *subject,
                                    const api_refresh_options *opts, char **out);

/**
 * Uses a refresh token: on success it is invalidated and a new token of the same family is
 * returned (its expiry is now + ttl, capped by the family's end). If token was already used (a
 * copy was stolen, or the client retried), the whole family is revoked: the thief's and the
 * user's tokens alike, and API_EUNAUTHORIZED is returned.
 * @param store         the store
 * @param token         the token the client sent
 * @param opts          lifetimes, or NULL
 * @param out           receives the new token
 * @param subject_out   if not NULL, receives the subject (API_REFRESH_SUBJECT_MAX bytes)
 * @return 0; API_EUNAUTHORIZED (unknown, malformed, expired, revoked or reused token);
 *         API_EINVAL (NULL arguments); API_ENOMEM; the store's error.
 * Ownership: *out is the caller's; free it with api_auth_string_free(). Thread: any.
 */
LIBAPI_EXTERN int api_refresh_rotate(const api_refresh_store *store, const char *token,
                                     const api_refresh_options *opts, char **out,
                                     char *subject_out);

/**
 * Logout: removes token, or with family non-zero every token of its family (used ones
 * included). An unknown or malformed token is not an error (logging out twice is fine).
 * @return 0; API_EINVAL (NULL); the store's error. Thread: any.
 */
LIBAPI_EXTERN int api_refresh_revoke(const api_refresh_store *store, const char *token, int family);

/** The in-memory refresh store (one process only: a restart forgets every token). */
typedef struct api_refresh_memstore api_refresh_memstore;

/**
 * A new in-memory store holding at most max_records records (0: 100,000), used ones included.
 * When full, an insert first drops expired records, then the used records kept for reuse
 * detection (oldest expiry first); if only active tokens remain it fails with API_EUNAVAILABLE.
 * api_refresh_rotate() stores the new token before consuming the old one (so that reuse
 * detection cannot miss it), so it too needs room for one more record.
 * @return 0; API_ENOMEM.
 * Ownership: *out is the caller's; free it with api_refresh_memstore_free().
 * Thread: every function is safe from any thread (one mutex).
 */
LIBAPI_EXTERN int api_refresh_memstore_new(api_refresh_memstore **out, size_t max_records);
/** Fills *out with the store's functions (ctx = ms). Thread: any. */
LIBAPI_EXTERN void api_refresh_memstore_store(api_refresh_memstore *ms, api_refresh_store *out);
/** The number of records held (used ones included). Thread: any. */
LIBAPI_EXTERN size_t api_refresh_memstore_count(api_refresh_memstore *ms);
/** Frees ms; NULL is allowed. Thread: once no other thread uses it. */
LIBAPI_EXTERN void api_refresh_memstore_free(api_refresh_memstore *ms);

#ifdef __cplusplus
}
#endif
#endif

/* Internals shared by the JWT files: keys, key sets, per-algorithm facts and the JWS layer. */
#ifndef API_AUTH_JWT_INTERNAL_H
#define API_AUTH_JWT_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "libapi/auth.h"

#define API__JWT_ALG_COUNT (API_JWT_EDDSA + 1)

/* One key, pinned to one algorithm. Shared between key sets by reference count. */
typedef struct api__jwk {
  int refs;              /* atomic */
  uint64_t id;           /* unique in the process: names the key in per-thread context caches */
  api_jwt_alg alg;       /* the only algorithm this key is used with */
  char *kid;             /* NULL when the key has none */
  EVP_PKEY *pkey;        /* RSA, EC and Ed25519 keys */
  unsigned char *secret; /* HMAC keys */
  size_t secret_len;
  bool can_sign;  /* an HMAC secret or a private key */
  size_t sig_len; /* the exact signature length for this key */
} api__jwk;

struct api_jwt_keyset {
  size_t n;
  unsigned algs; /* API_JWT_ALG_BIT of every key's alg */
  api__jwk *keys[];
};

/* The kind of an algorithm and its digest. */
typedef enum {
  API__KIND_HMAC,
  API__KIND_RSA,
  API__KIND_PSS,
  API__KIND_EC,
  API__KIND_EDDSA
} api__kind;
api__kind api__jwt_alg_kind(api_jwt_alg alg);
/* The digest for alg (fetched once per process), NULL for EdDSA. */
const EVP_MD *api__jwt_alg_md(api_jwt_alg alg);
/* The digest output length of alg's hash: 32, 48 or 64 (64 for EdDSA's signature halves). */
size_t api__jwt_alg_hash_len(api_jwt_alg alg);

/* A new key; takes pkey or copies secret. Returns NULL on allocation failure (pkey is freed). */
api__jwk *api__jwk_new(api_jwt_alg alg, const char *kid, EVP_PKEY *pkey, const void *secret,
                       size_t secret_len, bool can_sign);
void api__jwk_unref(api__jwk *k);
/* A key set of n keys taking over the references in keys (all of them are released on failure). */
int api__keyset_new(api_jwt_keyset **out, api__jwk **keys, size_t n);

/* Verify sig over data with k (whose alg is already checked). 1 valid, 0 not, -1 internal error. */
int api__jws_verify_sig(const api__jwk *k, const unsigned char *data, size_t len,
                        const unsigned char *sig, size_t sig_len);
/* Sign data with k into sig (room for k->sig_len bytes); *sig_len receives the length. */
int api__jws_sign_sig(const api__jwk *k, const unsigned char *data, size_t len, unsigned char *sig,
                      size_t *sig_len);

/* Sign a JWS over exact header and payload bytes (for tests with fixed vectors). */
int api__jws_sign(char **out, const api__jwk *k, const void *header, size_t header_len,
                  const void *payload, size_t payload_len);

/* The JWS layer of api_jwt_verify, without the claims: structure, header, key selection and
 * signature. buf has room for api__b64url_decoded_len(len) bytes; on success *payload points into
 * it and res->header holds the header. allowed is a set of API_JWT_ALG_BITs. */
int api__jws_verify(const api_jwt_keyset *ks, const char *token, size_t len, unsigned allowed,
                    const char *typ, api_jwt_result *res, unsigned char *buf,
                    unsigned char **payload, size_t *payload_len);

/* The per-thread cache of the last parsed header, keyed by its exact base64url text. get returns
 * a new reference or NULL; put keeps a reference (headers over 256 characters are not cached). */
json_t *api__jwt_header_cache_get(const char *b64, size_t len);
void api__jwt_header_cache_put(const char *b64, size_t len, json_t *header);

/* Move a string from jansson's allocator (json_dumps) to ours; frees s. NULL on failure. */
char *api__jwt_json_take(char *s);

#endif

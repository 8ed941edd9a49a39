/* The signature layer: HMAC, RSA (PKCS#1 v1.5 and PSS), ECDSA and Ed25519 over a JWS signing
 * input, with per-thread cached OpenSSL contexts so that verifying costs no context setup. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <string.h>

#include "auth/jwt_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"

/* ---- per-thread contexts ----
 * A key set is shared by every worker, but OpenSSL contexts are not thread-safe. Each thread keeps
 * a few contexts ready, named by the key's process-unique id: an HMAC context holding the key's
 * precomputed pads, or a verify context with its padding and digest set. Ids are never reused, so
 * a freed key's entries are simply never hit again and are evicted in turn. */

#define CACHE_SLOTS 8

typedef struct {
  uint64_t id;
  EVP_MAC_CTX *mac;
  EVP_PKEY_CTX *pctx;
} cache_slot;

#define HEADER_CACHE_MAX 256

typedef struct {
  cache_slot slot[CACHE_SLOTS];
  unsigned next;
  EVP_MD_CTX *md;
  /* The last header parsed on this thread, by its base64url text: tokens from one issuer share
   * one header, so most verifications skip parsing it. */
  json_t *header;
  size_t header_len;
  char header_b64[HEADER_CACHE_MAX];
} thread_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac;
static _Thread_local thread_cache *cache;

static void slot_clear(cache_slot *s) {
  EVP_MAC_CTX_free(s->mac);
  EVP_PKEY_CTX_free(s->pctx);
  memset(s, 0, sizeof(*s));
}

static void cache_free(void *p) {
  thread_cache *c = p;
  for (int i = 0; i < CACHE_SLOTS; i++) slot_clear(&c->slot[i]);
  EVP_MD_CTX_free(c->md);
  json_decref(c->header);
  api__free(c);
}

static void cache_init(void) {
  pthread_key_create(&cache_key, cache_free);
  hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static thread_cache *get_cache(void) {
  if (cache) return cache;
  pthread_once(&cache_once, cache_init);
  thread_cache *c = api__calloc(1, sizeof(*c));
  if (!c) return NULL;
  if (!(c->md = EVP_MD_CTX_new())) {
    api__free(c);
    return NULL;
  }
  pthread_setspecific(cache_key, c);
  return cache = c;
}

/* The slot for key id: its own if cached (*hit true), else a cleared one. */
static cache_slot *get_slot(thread_cache *c, uint64_t id, bool *hit) {
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (c->slot[i].id == id) return *hit = true, &c->slot[i];
  cache_slot *s = &c->slot[c->next++ % CACHE_SLOTS];
  slot_clear(s);
  *hit = false;
  return s;
}

json_t *api__jwt_header_cache_get(const char *b64, size_t len) {
  thread_cache *c = cache;
  if (!c || !c->header || c->header_len != len || memcmp(c->header_b64, b64, len) != 0) return NULL;
  return json_incref(c->header);
}

void api__jwt_header_cache_put(const char *b64, size_t len, json_t *header) {
  thread_cache *c = get_cache();
  if (!c || len > HEADER_CACHE_MAX) return;
  json_decref(c->header);
  c->header = json_incref(header);
  c->header_len = len;
  memcpy(c->header_b64, b64, len);
}

/* ---- HMAC ---- */

static int hmac_compute(const api__jwk *k, const unsigned char *data, size_t len,
                        unsigned char *out, size_t *out_len) {
  thread_cache *c = get_cache();
  if (!c || !hmac) return -1;
  bool hit;
  cache_slot *s = get_slot(c, k->id, &hit);
  if (hit) {
    if (!EVP_MAC_init(s->mac, NULL, 0, NULL)) return -1; /* back to the precomputed key state */
  } else {
    const char *md = api__jwt_alg_hash_len(k->alg) == 32   ? "SHA256"
                     : api__jwt_alg_hash_len(k->alg) == 48 ? "SHA384"
                                                           : "SHA512";
    OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
                           OSSL_PARAM_END};
    if (!(s->mac = EVP_MAC_CTX_new(hmac))) return -1;
    if (!EVP_MAC_init(s->mac, k->secret, k->secret_len, params)) {
      slot_clear(s);
      return -1;
    }
    s->id = k->id;
  }
  if (!EVP_MAC_update(s->mac, data, len) || !EVP_MAC_final(s->mac, out, out_len, 64)) {
    slot_clear(s);
    return -1;
  }
  return 0;
}

/* ---- ECDSA signature forms ---- */

/* One DER INTEGER from an unsigned big-endian value. */
static size_t der_int(unsigned char *o, const unsigned char *v, size_t n) {
  while (n > 1 && v[0] == 0) v++, n--;
  size_t pad = v[0] & 0x80 ? 1 : 0;
  o[0] = 0x02;
  o[1] = (unsigned char)(n + pad);
  o[2] = 0;
  memcpy(o + 2 + pad, v, n);
  return 2 + pad + n;
}

/* JOSE r||s (each half bytes) to a DER ECDSA-Sig-Value. dst has room for 2 * (half + 3) + 3. */
static size_t raw_to_der(unsigned char *dst, const unsigned char *sig, size_t half) {
  unsigned char body[2 * (66 + 3)];
  size_t n = der_int(body, sig, half);
  n += der_int(body + n, sig + half, half);
  size_t h = 0;
  dst[h++] = 0x30;
  if (n >= 128) dst[h++] = 0x81;
  dst[h++] = (unsigned char)n;
  memcpy(dst + h, body, n);
  return h + n;
}

static bool all_zero(const unsigned char *p, size_t n) {
  unsigned char acc = 0;
  for (size_t i = 0; i < n; i++) acc |= p[i];
  return acc == 0;
}

/* ---- verify ---- */

static int setup_pctx(EVP_PKEY_CTX *pctx, const api__jwk *k, bool sign) {
  const EVP_MD *md = api__jwt_alg_md(k->alg);
  api__kind kind = api__jwt_alg_kind(k->alg);
  if ((sign ? EVP_PKEY_sign_init(pctx) : EVP_PKEY_verify_init(pctx)) <= 0) return -1;
  if (EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0) return -1;
  if (kind == API__KIND_RSA && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
    return -1;
  if (kind == API__KIND_PSS &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0))
    return -1;
  return 0;
}

static int digest(thread_cache *c, const api__jwk *k, const unsigned char *data, size_t len,
                  unsigned char *out, unsigned *out_len) {
  if (!EVP_DigestInit_ex2(c->md, api__jwt_alg_md(k->alg), NULL) ||
      !EVP_DigestUpdate(c->md, data, len) || !EVP_DigestFinal_ex(c->md, out, out_len))
    return -1;
  return 0;
}

static int verify_eddsa(const api__jwk *k, const unsigned char *data, size_t len,
                        const unsigned char *sig, size_t sig_len) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return -1;
  int rc = -1;
  if (EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1)
    rc = EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  return rc;
}

int api__jws_verify_sig(const api__jwk *k, const unsigned char *data, size_t len,
                        const unsigned char *sig, size_t sig_len) {
  if (sig_len != k->sig_len) return 0;
  api__kind kind = api__jwt_alg_kind(k->alg);
  int rc;
  if (kind == API__KIND_HMAC) {
    unsigned char mac[64];
    size_t n = 0;
    if (hmac_compute(k, data, len, mac, &n) != 0) return -1;
    return n == sig_len && CRYPTO_memcmp(mac, sig, n) == 0;
  }
  if (kind == API__KIND_EDDSA) {
    rc = verify_eddsa(k, data, len, sig, sig_len);
    ERR_clear_error();
    return rc;
  }
  unsigned char der[2 * (66 + 3) + 3];
  if (kind == API__KIND_EC) {
    size_t half = sig_len / 2;
    /* r = 0 or s = 0 is never a valid signature (CVE-2022-21449: Java accepted r = s = 0). */
    if (all_zero(sig, half) || all_zero(sig + half, half)) return 0;
    sig_len = raw_to_der(der, sig, half);
    sig = der;
  }
  thread_cache *c = get_cache();
  if (!c) return -1;
  bool hit;
  cache_slot *s = get_slot(c, k->id, &hit);
  if (!hit) {
    if (!(s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) ||
        setup_pctx(s->pctx, k, false) != 0) {
      slot_clear(s);
      ERR_clear_error();
      return -1;
    }
    s->id = k->id;
  }
  unsigned char dg[64];
  unsigned dn = 0;
  if (digest(c, k, data, len, dg, &dn) != 0) return -1;
  rc = EVP_PKEY_verify(s->pctx, sig, sig_len, dg, dn);
  if (rc != 1) ERR_clear_error();
  if (rc < 0) {
    /* A malformed signature makes some providers return -1: that is the token's fault. A context
     * left in an odd state is dropped either way. */
    slot_clear(s);
    rc = 0;
  }
  return rc == 1;
}

/* ---- sign ---- */

int api__jws_sign_sig(const api__jwk *k, const unsigned char *data, size_t len, unsigned char *sig,
                      size_t *sig_len) {
  api__kind kind = api__jwt_alg_kind(k->alg);
  if (kind == API__KIND_HMAC) return hmac_compute(k, data, len, sig, sig_len);
  int rc = -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char der[2 * (66 + 3) + 3];
  size_t n = kind == API__KIND_EC ? sizeof(der) : k->sig_len;
  if (!ctx) return -1;
  if (kind == API__KIND_EDDSA) {
    if (EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1 &&
        EVP_DigestSign(ctx, sig, &n, data, len) == 1)
      rc = 0;
  } else {
    unsigned char dg[64];
    unsigned dn = 0;
    const EVP_MD *md = api__jwt_alg_md(k->alg);
    if (EVP_Digest(data, len, dg, &dn, md, NULL) &&
        (pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) &&
        setup_pctx(pctx, k, true) == 0 &&
        EVP_PKEY_sign(pctx, kind == API__KIND_EC ? der : sig, &n, dg, dn) == 1)
      rc = 0;
  }
  if (rc == 0 && kind == API__KIND_EC) {
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    const BIGNUM *r, *s;
    size_t half = k->sig_len / 2;
    rc = -1;
    if (es) {
      ECDSA_SIG_get0(es, &r, &s);
      if (BN_bn2binpad(r, sig, (int)half) == (int)half &&
          BN_bn2binpad(s, sig + half, (int)half) == (int)half)
        rc = 0;
    }
    ECDSA_SIG_free(es);
    n = k->sig_len;
  }
  EVP_PKEY_CTX_free(pctx);
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (rc == 0) *sig_len = n;
  return rc;
}

int api__jws_sign(char **out, const api__jwk *k, const void *header, size_t header_len,
                  const void *payload, size_t payload_len) {
  size_t hn = api__b64url_encoded_len(header_len), pn = api__b64url_encoded_len(payload_len);
  size_t total = hn + 1 + pn + 1 + api__b64url_encoded_len(k->sig_len) + 1;
  char *tok = api__malloc(total);
  if (!tok) return api__fail(API_ENOMEM, "out of memory");
  api__b64url_encode(tok, header, header_len);
  tok[hn] = '.';
  api__b64url_encode(tok + hn + 1, payload, payload_len);
  unsigned char sig[1024];
  size_t sn = 0;
  if (k->sig_len > sizeof(sig) ||
      api__jws_sign_sig(k, (const unsigned char *)tok, hn + 1 + pn, sig, &sn) != 0) {
    api__free(tok);
    return api__fail(API_EINTERNAL, "signing with %s failed", api_jwt_alg_name(k->alg));
  }
  tok[hn + 1 + pn] = '.';
  api__b64url_encode(tok + hn + 1 + pn + 1, sig, sn);
  *out = tok;
  return 0;
}

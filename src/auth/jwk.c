/* Keys and key sets: loading JWK Sets, PEM and raw secrets, pinning each key to one algorithm,
 * and exporting the public half as a JWK Set. */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"
#include "util/json.h"

/* ---- algorithms ---- */

static const struct {
  const char *name;
  api__kind kind;
  const char *md;
  size_t hash_len;
} algs[API__JWT_ALG_COUNT] = {
    [API_JWT_HS256] = {"HS256", API__KIND_HMAC, "SHA256", 32},
    [API_JWT_HS384] = {"HS384", API__KIND_HMAC, "SHA384", 48},
    [API_JWT_HS512] = {"HS512", API__KIND_HMAC, "SHA512", 64},
    [API_JWT_RS256] = {"RS256", API__KIND_RSA, "SHA256", 32},
    [API_JWT_RS384] = {"RS384", API__KIND_RSA, "SHA384", 48},
    [API_JWT_RS512] = {"RS512", API__KIND_RSA, "SHA512", 64},
    [API_JWT_PS256] = {"PS256", API__KIND_PSS, "SHA256", 32},
    [API_JWT_PS384] = {"PS384", API__KIND_PSS, "SHA384", 48},
    [API_JWT_PS512] = {"PS512", API__KIND_PSS, "SHA512", 64},
    [API_JWT_ES256] = {"ES256", API__KIND_EC, "SHA256", 32},
    [API_JWT_ES384] = {"ES384", API__KIND_EC, "SHA384", 48},
    [API_JWT_ES512] = {"ES512", API__KIND_EC, "SHA512", 64},
    [API_JWT_EDDSA] = {"EdDSA", API__KIND_EDDSA, NULL, 64},
};

const char *api_jwt_alg_name(api_jwt_alg alg) {
  if ((unsigned)alg >= API__JWT_ALG_COUNT) return NULL;
  return algs[alg].name;
}

api_jwt_alg api_jwt_alg_from_name(const char *name) {
  if (!name) return API_JWT_ALG_UNKNOWN;
  for (int a = 1; a < API__JWT_ALG_COUNT; a++)
    if (strcmp(algs[a].name, name) == 0) return (api_jwt_alg)a;
  return API_JWT_ALG_UNKNOWN;
}

api__kind api__jwt_alg_kind(api_jwt_alg alg) { return algs[alg].kind; }
size_t api__jwt_alg_hash_len(api_jwt_alg alg) { return algs[alg].hash_len; }

/* Digests are fetched once: an implicit fetch on every use costs a locked lookup. */
static EVP_MD *mds[3];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;
static void fetch_mds(void) {
  mds[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
  mds[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
  mds[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

const EVP_MD *api__jwt_alg_md(api_jwt_alg alg) {
  if (!algs[alg].md) return NULL;
  pthread_once(&mds_once, fetch_mds);
  return mds[algs[alg].hash_len == 32 ? 0 : algs[alg].hash_len == 48 ? 1 : 2];
}

/* ---- keys ---- */

static atomic_uint_fast64_t next_key_id = 1;

api__jwk *api__jwk_new(api_jwt_alg alg, const char *kid, EVP_PKEY *pkey, const void *secret,
                       size_t secret_len, bool can_sign) {
  api__jwk *k = api__calloc(1, sizeof(*k));
  if (!k) goto fail;
  if (kid && !(k->kid = api__strdup(kid))) goto fail;
  if (secret) {
    if (!(k->secret = api__malloc(secret_len ? secret_len : 1))) goto fail;
    memcpy(k->secret, secret, secret_len);
    k->secret_len = secret_len;
  }
  k->refs = 1;
  k->id = atomic_fetch_add(&next_key_id, 1);
  k->alg = alg;
  k->pkey = pkey;
  k->can_sign = can_sign;
  switch (algs[alg].kind) {
    case API__KIND_HMAC:
      k->sig_len = algs[alg].hash_len;
      break;
    case API__KIND_RSA:
    case API__KIND_PSS:
      k->sig_len = (size_t)EVP_PKEY_get_size(pkey);
      break;
    case API__KIND_EC:
      k->sig_len = alg == API_JWT_ES256 ? 64 : alg == API_JWT_ES384 ? 96 : 132;
      break;
    case API__KIND_EDDSA:
      k->sig_len = 64;
      break;
  }
  return k;
fail:
  if (k) {
    api__free(k->kid);
    api__free(k);
  }
  EVP_PKEY_free(pkey);
  return NULL;
}

void api__jwk_unref(api__jwk *k) {
  if (!k || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  EVP_PKEY_free(k->pkey);
  if (k->secret) OPENSSL_cleanse(k->secret, k->secret_len);
  api__free(k->secret);
  api__free(k->kid);
  api__free(k);
}

int api__keyset_new(api_jwt_keyset **out, api__jwk **keys, size_t n) {
  api_jwt_keyset *ks = api__malloc(sizeof(*ks) + n * sizeof(keys[0]));
  if (!ks) {
    for (size_t i = 0; i < n; i++) api__jwk_unref(keys[i]);
    return api__fail(API_ENOMEM, "out of memory");
  }
  ks->n = n;
  ks->algs = 0;
  for (size_t i = 0; i < n; i++) {
    ks->keys[i] = keys[i];
    ks->algs |= API_JWT_ALG_BIT(keys[i]->alg);
  }
  *out = ks;
  return 0;
}

void api_jwt_keyset_free(api_jwt_keyset *ks) {
  if (!ks) return;
  for (size_t i = 0; i < ks->n; i++) api__jwk_unref(ks->keys[i]);
  api__free(ks);
}

size_t api_jwt_keyset_count(const api_jwt_keyset *ks) { return ks ? ks->n : 0; }

int api_jwt_keyset_merge(api_jwt_keyset **out, const api_jwt_keyset *a, const api_jwt_keyset *b) {
  if (!out || !a || !b) return api__fail(API_EINVAL, "api_jwt_keyset_merge: NULL argument");
  size_t n = a->n + b->n;
  api__jwk **keys = api__malloc((n ? n : 1) * sizeof(*keys));
  if (!keys) return api__fail(API_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    keys[i] = i < a->n ? a->keys[i] : b->keys[i - a->n];
    __atomic_add_fetch(&keys[i]->refs, 1, __ATOMIC_RELAXED);
  }
  int rc = api__keyset_new(out, keys, n);
  api__free(keys);
  return rc;
}

/* ---- fitting a key to an algorithm ---- */

/* The JOSE curve of an EC key ("P-256"...), or NULL when it is another curve. */
static const char *ec_curve(EVP_PKEY *pkey) {
  char group[64];
  if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
    return NULL;
  if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) return "P-256";
  if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) return "P-384";
  if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0) return "P-521";
  return NULL;
}

static api_jwt_alg alg_of_curve(const char *crv) {
  if (!crv) return API_JWT_ALG_UNKNOWN;
  if (strcmp(crv, "P-256") == 0) return API_JWT_ES256;
  if (strcmp(crv, "P-384") == 0) return API_JWT_ES384;
  if (strcmp(crv, "P-521") == 0) return API_JWT_ES512;
  return API_JWT_ALG_UNKNOWN;
}

/* Pin pkey to an algorithm: want (may be UNKNOWN for "deduce") must fit the key. Returns the alg,
 * or UNKNOWN with a reason in why. */
static api_jwt_alg pin(EVP_PKEY *pkey, api_jwt_alg want, const char *want_name, char *why,
                       size_t why_len) {
  if (want_name && !want) {
    snprintf(why, why_len, "unsupported alg \"%s\"", want_name);
    return API_JWT_ALG_UNKNOWN;
  }
  if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
    bool pss_only = EVP_PKEY_is_a(pkey, "RSA-PSS");
    if (!want) {
      snprintf(why, why_len, "an RSA key needs its alg (RS256..PS512) given");
      return API_JWT_ALG_UNKNOWN;
    }
    api__kind k = algs[want].kind;
    if (k != API__KIND_RSA && k != API__KIND_PSS) {
      snprintf(why, why_len, "alg %s does not fit an RSA key", algs[want].name);
      return API_JWT_ALG_UNKNOWN;
    }
    if (pss_only && k != API__KIND_PSS) {
      snprintf(why, why_len, "an RSA-PSS key can only be used with PS256..PS512");
      return API_JWT_ALG_UNKNOWN;
    }
    /* Small keys are breakable; huge ones make every verification a denial of service. */
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 2048 || bits > 8192) {
      snprintf(why, why_len, "RSA key of %d bits: 2048 to 8192 are accepted", bits);
      return API_JWT_ALG_UNKNOWN;
    }
    return want;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    const char *crv = ec_curve(pkey);
    api_jwt_alg a = alg_of_curve(crv);
    if (!a) {
      snprintf(why, why_len, "unsupported EC curve (P-256, P-384 and P-521 are)");
      return API_JWT_ALG_UNKNOWN;
    }
    if (want && want != a) {
      snprintf(why, why_len, "alg %s does not fit a %s key (%s does)", algs[want].name, crv,
               algs[a].name);
      return API_JWT_ALG_UNKNOWN;
    }
    return a;
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    if (want && want != API_JWT_EDDSA) {
      snprintf(why, why_len, "alg %s does not fit an Ed25519 key (EdDSA does)", algs[want].name);
      return API_JWT_ALG_UNKNOWN;
    }
    return API_JWT_EDDSA;
  }
  snprintf(why, why_len, "unsupported key type (RSA, EC and Ed25519 are)");
  return API_JWT_ALG_UNKNOWN;
}

static bool pkey_has_private(EVP_PKEY *pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    size_t n = 0;
    return EVP_PKEY_get_raw_private_key(pkey, NULL, &n) == 1;
  }
  BIGNUM *bn = NULL;
  int ok = EVP_PKEY_get_bn_param(
      pkey, EVP_PKEY_is_a(pkey, "EC") ? OSSL_PKEY_PARAM_PRIV_KEY : OSSL_PKEY_PARAM_RSA_D, &bn);
  BN_clear_free(bn);
  return ok == 1;
}

static int single(api_jwt_keyset **out, api__jwk *k) {
  if (!k) return api__fail(API_ENOMEM, "out of memory");
  return api__keyset_new(out, &k, 1);
}

/* ---- raw secrets ---- */

int api_jwt_keyset_from_secret(api_jwt_keyset **out, const void *secret, size_t len,
                               const char *alg, const char *kid) {
  if (!out || !secret || !alg) return api__fail(API_EINVAL, "api_jwt_keyset_from_secret: NULL");
  api_jwt_alg a = api_jwt_alg_from_name(alg);
  if (!a || algs[a].kind != API__KIND_HMAC)
    return api__fail(API_EINVAL, "a secret is an HMAC key: alg must be HS256, HS384 or HS512");
  if (len < algs[a].hash_len)
    return api__fail(API_EINVAL, "%s secret of %zu bytes: at least %zu are required", alg, len,
                     algs[a].hash_len);
  return single(out, api__jwk_new(a, kid, NULL, secret, len, true));
}

/* ---- PEM ---- */

static int no_passphrase(char *buf, int size, int rwflag, void *u) { return -1; }

int api_jwt_keyset_from_pem(api_jwt_keyset **out, const char *pem, size_t len, const char *alg,
                            const char *kid) {
  if (!out || !pem) return api__fail(API_EINVAL, "api_jwt_keyset_from_pem: NULL argument");
  if (len > INT32_MAX) return api__fail(API_EINVAL, "PEM too large");
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio) return api__fail(API_ENOMEM, "out of memory");
  EVP_PKEY *pkey = NULL;
  if (memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27)) {
    X509 *cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    if (cert) pkey = X509_get_pubkey(cert);
    X509_free(cert);
  } else {
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, 0, NULL, NULL);
    if (dctx) {
      OSSL_DECODER_CTX_set_pem_password_cb(dctx, no_passphrase, NULL);
      if (!OSSL_DECODER_from_bio(dctx, bio)) pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!pkey) return api__fail(API_EINVAL, "no key in the PEM text (or an encrypted key)");
  char why[128];
  api_jwt_alg a = pin(pkey, api_jwt_alg_from_name(alg), alg, why, sizeof(why));
  if (!a) {
    EVP_PKEY_free(pkey);
    return api__fail(API_EINVAL, "PEM key: %s", why);
  }
  bool priv = pkey_has_private(pkey);
  ERR_clear_error();
  return single(out, api__jwk_new(a, kid, pkey, NULL, 0, priv));
}

/* ---- JWK ---- */

/* A base64url member of a JWK, decoded into an api__malloc'd buffer. 1 found, 0 absent, -1 bad. */
static int member_bytes(const json_t *jwk, const char *name, unsigned char **out, size_t *len) {
  json_t *v = json_object_get(jwk, name);
  *out = NULL;
  *len = 0;
  if (!v) return 0;
  if (!json_is_string(v) || json_string_length(v) == 0) return -1;
  size_t n = json_string_length(v);
  unsigned char *b = api__malloc(api__b64url_decoded_len(n) + 1);
  if (!b) return -2;
  long m = api__b64url_decode(b, json_string_value(v), n);
  if (m <= 0) {
    api__free(b);
    return -1;
  }
  *out = b;
  *len = (size_t)m;
  return 1;
}

static void wipe_free(unsigned char *p, size_t n) {
  if (p) OPENSSL_cleanse(p, n);
  api__free(p);
}

/* Build an EVP_PKEY of type from params. */
static EVP_PKEY *from_params(const char *type, int selection, OSSL_PARAM_BLD *bld) {
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
      EVP_PKEY_fromdata(ctx, &pkey, selection, params) <= 0)
    pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

/* Push a base64url member as a BIGNUM. 1 pushed, 0 absent, -1 bad, -2 no memory. */
static int push_bn(OSSL_PARAM_BLD *bld, const json_t *jwk, const char *member, const char *param,
                   BIGNUM **keep) {
  unsigned char *b;
  size_t n;
  int rc = member_bytes(jwk, member, &b, &n);
  if (rc <= 0) return rc;
  BIGNUM *bn = BN_bin2bn(b, (int)n, NULL);
  wipe_free(b, n);
  if (!bn) return -2;
  if (!OSSL_PARAM_BLD_push_BN(bld, param, bn)) {
    BN_clear_free(bn);
    return -2;
  }
  *keep = bn; /* the builder refers to it until the params are built */
  return 1;
}

static EVP_PKEY *jwk_rsa(const json_t *jwk, bool *priv, const char **err) {
  static const char *const members[][2] = {
      {"n", OSSL_PKEY_PARAM_RSA_N},          {"e", OSSL_PKEY_PARAM_RSA_E},
      {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
      {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
      {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
  };
  BIGNUM *bns[8] = {0};
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  EVP_PKEY *pkey = NULL;
  int found[8] = {0};
  *err = "out of memory";
  if (!bld) return NULL;
  for (int i = 0; i < 8; i++) {
    found[i] = push_bn(bld, jwk, members[i][0], members[i][1], &bns[i]);
    if (found[i] == -2) goto done;
    if (found[i] < 0 || (i < 2 && found[i] == 0)) {
      *err = i < 2 ? "RSA key without valid \"n\" and \"e\"" : "bad base64url in a private member";
      goto done;
    }
  }
  /* OpenSSL wants all CRT members or none. */
  int crt = found[3] + found[4] + found[5] + found[6] + found[7];
  if ((crt != 0 && crt != 5) || (crt && !found[2])) {
    *err = "RSA private key with an incomplete set of members (d, p, q, dp, dq, qi)";
    goto done;
  }
  *priv = found[2] == 1;
  pkey = from_params("RSA", *priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld);
  if (!pkey) *err = "OpenSSL refused the RSA key";
done:
  OSSL_PARAM_BLD_free(bld);
  for (int i = 0; i < 8; i++) BN_clear_free(bns[i]);
  return pkey;
}

static EVP_PKEY *jwk_ec(const json_t *jwk, const char *crv, bool *priv, const char **err) {
  const char *group = NULL;
  size_t size = 0;
  if (strcmp(crv, "P-256") == 0) group = "prime256v1", size = 32;
  if (strcmp(crv, "P-384") == 0) group = "secp384r1", size = 48;
  if (strcmp(crv, "P-521") == 0) group = "secp521r1", size = 66;
  if (!group) {
    *err = "unsupported EC curve (P-256, P-384 and P-521 are)";
    return NULL;
  }
  unsigned char *x = NULL, *y = NULL, *d = NULL, pub[1 + 2 * 66];
  size_t xn, yn, dn;
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  BIGNUM *dbn = NULL;
  int rx = member_bytes(jwk, "x", &x, &xn), ry = member_bytes(jwk, "y", &y, &yn),
      rd = member_bytes(jwk, "d", &d, &dn);
  *err = "out of memory";
  if (rx == -2 || ry == -2 || rd == -2) goto done;
  *err = "EC coordinates \"x\" and \"y\" missing or not of the curve's size";
  if (rx != 1 || ry != 1 || xn != size || yn != size) goto done;
  *err = "EC private member \"d\" invalid or not of the curve's size";
  if (rd < 0 || (rd == 1 && dn != size)) goto done;
  *err = "out of memory";
  pub[0] = 4;
  memcpy(pub + 1, x, size);
  memcpy(pub + 1 + size, y, size);
  if (!(bld = OSSL_PARAM_BLD_new())) goto done;
  if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * size))
    goto done;
  if (rd == 1) {
    if (!(dbn = BN_bin2bn(d, (int)dn, NULL)) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn))
      goto done;
  }
  *priv = rd == 1;
  pkey = from_params("EC", *priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld);
  if (!pkey) *err = "OpenSSL refused the EC key (is the point on the curve?)";
done:
  OSSL_PARAM_BLD_free(bld);
  BN_clear_free(dbn);
  api__free(x);
  api__free(y);
  wipe_free(d, dn);
  return pkey;
}

static EVP_PKEY *jwk_okp(const json_t *jwk, const char *crv, bool *priv, const char **err) {
  if (strcmp(crv, "Ed25519") != 0) {
    *err = "unsupported OKP curve (Ed25519 is)";
    return NULL;
  }
  unsigned char *x = NULL, *d = NULL, pub[32];
  size_t xn, dn, pn = sizeof(pub);
  EVP_PKEY *pkey = NULL;
  int rx = member_bytes(jwk, "x", &x, &xn), rd = member_bytes(jwk, "d", &d, &dn);
  *err = "out of memory";
  if (rx == -2 || rd == -2) goto done;
  *err = "Ed25519 \"x\" missing or not 32 bytes";
  if (rx != 1 || xn != 32) goto done;
  *err = "Ed25519 \"d\" invalid or not 32 bytes";
  if (rd < 0 || (rd == 1 && dn != 32)) goto done;
  *priv = rd == 1;
  *err = "OpenSSL refused the Ed25519 key";
  if (*priv) {
    pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, 32);
    if (pkey && (!EVP_PKEY_get_raw_public_key(pkey, pub, &pn) || memcmp(pub, x, 32) != 0)) {
      *err = "Ed25519 \"x\" is not the public key of \"d\"";
      EVP_PKEY_free(pkey);
      pkey = NULL;
    }
  } else {
    pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, 32);
  }
done:
  api__free(x);
  wipe_free(d, dn);
  return pkey;
}

static bool has_op(const json_t *ops, const char *op) {
  size_t i;
  json_t *v;
  json_array_foreach(ops, i,
                     v) if (json_is_string(v) && strcmp(json_string_value(v), op) == 0) return true;
  return false;
}

/* One JWK into *out. Returns 0 (and *out NULL when the key is to be skipped) or an api_err with
 * the message set; idx names the key in messages. */
static int load_jwk(const json_t *jwk, size_t idx, api__jwk **out) {
  *out = NULL;
  char where[96];
  const json_t *kidv = json_object_get(jwk, "kid");
  if (kidv && !json_is_string(kidv))
    return api__fail(API_EINVAL, "JWK %zu: \"kid\" is not a string", idx);
  const char *kid = json_string_value(kidv);
  snprintf(where, sizeof(where), "JWK %zu%s%.40s%s", idx, kid ? " (kid \"" : "", kid ? kid : "",
           kid ? "\")" : "");
  if (!json_is_object(jwk)) return api__fail(API_EINVAL, "%s: not an object", where);
  const json_t *use = json_object_get(jwk, "use"), *ops = json_object_get(jwk, "key_ops");
  if (use && !json_is_string(use)) return api__fail(API_EINVAL, "%s: \"use\" not a string", where);
  if (ops && !json_is_array(ops))
    return api__fail(API_EINVAL, "%s: \"key_ops\" not an array", where);
  if (use && strcmp(json_string_value(use), "sig") != 0) return 0;
  if (ops && !has_op(ops, "verify") && !has_op(ops, "sign")) return 0;

  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  const json_t *algv = json_object_get(jwk, "alg"), *crvv = json_object_get(jwk, "crv");
  if (!kty) return api__fail(API_EINVAL, "%s: no \"kty\"", where);
  if (algv && !json_is_string(algv))
    return api__fail(API_EINVAL, "%s: \"alg\" not a string", where);
  if (crvv && !json_is_string(crvv))
    return api__fail(API_EINVAL, "%s: \"crv\" not a string", where);
  const char *algname = json_string_value(algv), *crv = json_string_value(crvv);
  api_jwt_alg alg = api_jwt_alg_from_name(algname);
  if (algname && !alg)
    return api__fail(API_EINVAL, "%s: unsupported alg \"%.20s\"", where, algname);

  if (strcmp(kty, "oct") == 0) {
    if (!alg || algs[alg].kind != API__KIND_HMAC)
      return api__fail(API_EINVAL, "%s: an \"oct\" key needs alg HS256, HS384 or HS512", where);
    unsigned char *k;
    size_t kn;
    int rc = member_bytes(jwk, "k", &k, &kn);
    if (rc == -2) return api__fail(API_ENOMEM, "out of memory");
    if (rc != 1) return api__fail(API_EINVAL, "%s: \"k\" missing or bad base64url", where);
    if (kn < algs[alg].hash_len) {
      wipe_free(k, kn);
      return api__fail(API_EINVAL, "%s: %s secret of %zu bytes: at least %zu are required", where,
                       algs[alg].name, kn, algs[alg].hash_len);
    }
    *out = api__jwk_new(alg, kid, NULL, k, kn, true);
    wipe_free(k, kn);
    return *out ? 0 : api__fail(API_ENOMEM, "out of memory");
  }

  const char *err = "unsupported \"kty\" (RSA, EC, OKP and oct are)";
  bool priv = false;
  EVP_PKEY *pkey = NULL;
  if (strcmp(kty, "RSA") == 0) {
    pkey = jwk_rsa(jwk, &priv, &err);
  } else if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) {
    if (!crv) return api__fail(API_EINVAL, "%s: no \"crv\"", where);
    pkey = kty[0] == 'E' ? jwk_ec(jwk, crv, &priv, &err) : jwk_okp(jwk, crv, &priv, &err);
  }
  ERR_clear_error();
  if (!pkey)
    return api__fail(strcmp(err, "out of memory") == 0 ? API_ENOMEM : API_EINVAL, "%s: %s", where,
                     err);
  char why[128];
  api_jwt_alg pinned = pin(pkey, alg, algname, why, sizeof(why));
  if (!pinned) {
    EVP_PKEY_free(pkey);
    return api__fail(API_EINVAL, "%s: %s", where, why);
  }
  *out = api__jwk_new(pinned, kid, pkey, NULL, 0, priv);
  return *out ? 0 : api__fail(API_ENOMEM, "out of memory");
}

int api_jwt_keyset_from_jwks(api_jwt_keyset **out, const char *json, size_t len) {
  if (!out || !json) return api__fail(API_EINVAL, "api_jwt_keyset_from_jwks: NULL argument");
  api__json_error jerr;
  json_t *root = api__json_parse(json, len, 0, &jerr);
  if (!root && jerr.enomem) return api__fail(API_ENOMEM, "out of memory");
  if (!root)
    return api__fail(API_EINVAL, "JWKS: %s at line %d, column %d", jerr.message, jerr.line,
                     jerr.column);
  int rc = 0;
  const json_t *list = json_object_get(root, "keys");
  size_t n = 1;
  if (!json_is_object(root)) {
    rc = api__fail(API_EINVAL, "JWKS: not a JSON object");
  } else if (list) {
    if (!json_is_array(list)) rc = api__fail(API_EINVAL, "JWKS: \"keys\" is not an array");
    n = json_array_size(list);
  } else if (!json_object_get(root, "kty")) {
    rc = api__fail(API_EINVAL, "JWKS: neither a JWK Set (\"keys\") nor a JWK (\"kty\")");
  }
  api__jwk **keys = rc ? NULL : api__calloc(n ? n : 1, sizeof(*keys));
  if (!rc && !keys) rc = api__fail(API_ENOMEM, "out of memory");
  size_t used = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    rc = load_jwk(list ? json_array_get(list, i) : root, i, &keys[used]);
    if (!rc && keys[used]) used++;
  }
  if (!rc && used == 0) rc = api__fail(API_EINVAL, "JWKS: no signature key in the set");
  if (!rc) {
    rc = api__keyset_new(out, keys, used);
  } else {
    for (size_t i = 0; i < used; i++) api__jwk_unref(keys[i]);
  }
  api__free(keys);
  json_decref(root);
  return rc;
}

/* ---- files ---- */

#define MAX_KEY_FILE (1024 * 1024)

int api_jwt_keyset_from_file(api_jwt_keyset **out, const char *path, const char *alg,
                             const char *kid) {
  if (!out || !path) return api__fail(API_EINVAL, "api_jwt_keyset_from_file: NULL argument");
  FILE *f = fopen(path, "rb");
  if (!f) return api__fail(API_ESYS, "%s: %s", path, strerror(errno));
  unsigned char *buf = api__malloc(MAX_KEY_FILE + 1);
  if (!buf) {
    fclose(f);
    return api__fail(API_ENOMEM, "out of memory");
  }
  size_t n = fread(buf, 1, MAX_KEY_FILE + 1, f);
  int bad = ferror(f);
  fclose(f);
  int rc;
  if (bad) {
    rc = api__fail(API_ESYS, "%s: read error", path);
  } else if (n > MAX_KEY_FILE) {
    rc = api__fail(API_EINVAL, "%s: larger than 1 MiB", path);
  } else {
    size_t i = 0;
    while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
    if (i < n && buf[i] == '{') {
      rc = api_jwt_keyset_from_jwks(out, (const char *)buf, n);
    } else if (memmem(buf, n, "-----BEGIN ", 11)) {
      rc = api_jwt_keyset_from_pem(out, (const char *)buf, n, alg, kid);
    } else {
      size_t m = n;
      if (m && buf[m - 1] == '\n') m--;
      if (m && buf[m - 1] == '\r' && m < n) m--;
      if (!alg)
        rc = api__fail(API_EINVAL, "%s: a secret file needs its alg (HS256..HS512)", path);
      else
        rc = api_jwt_keyset_from_secret(out, buf, m, alg, kid);
    }
  }
  OPENSSL_cleanse(buf, n < MAX_KEY_FILE ? n : MAX_KEY_FILE);
  api__free(buf);
  return rc;
}

/* ---- export ---- */

static int set_b64(json_t *o, const char *name, const unsigned char *b, size_t n) {
  char *s = api__malloc(api__b64url_encoded_len(n) + 1);
  if (!s) return -1;
  api__b64url_encode(s, b, n);
  int rc = json_object_set_new(o, name, json_string(s));
  api__free(s);
  return rc;
}

static int set_bn(json_t *o, const char *name, EVP_PKEY *pkey, const char *param, int pad) {
  BIGNUM *bn = NULL;
  if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) return -1;
  int n = pad ? pad : BN_num_bytes(bn);
  unsigned char *b = api__malloc((size_t)n + 1);
  int rc = -1;
  if (b && BN_bn2binpad(bn, b, n) == n) rc = set_b64(o, name, b, (size_t)n);
  api__free(b);
  BN_free(bn);
  return rc;
}

static json_t *public_jwk(const api__jwk *k) {
  json_t *o = json_object();
  if (!o) return NULL;
  int rc = 0;
  EVP_PKEY *p = k->pkey;
  switch (algs[k->alg].kind) {
    case API__KIND_RSA:
    case API__KIND_PSS:
      rc |= json_object_set_new(o, "kty", json_string("RSA"));
      rc |= set_bn(o, "n", p, OSSL_PKEY_PARAM_RSA_N, 0);
      rc |= set_bn(o, "e", p, OSSL_PKEY_PARAM_RSA_E, 0);
      break;
    case API__KIND_EC: {
      int size = k->alg == API_JWT_ES256 ? 32 : k->alg == API_JWT_ES384 ? 48 : 66;
      rc |= json_object_set_new(o, "kty", json_string("EC"));
      rc |= json_object_set_new(o, "crv", json_string(ec_curve(p)));
      rc |= set_bn(o, "x", p, OSSL_PKEY_PARAM_EC_PUB_X, size);
      rc |= set_bn(o, "y", p, OSSL_PKEY_PARAM_EC_PUB_Y, size);
      break;
    }
    case API__KIND_EDDSA: {
      unsigned char x[32];
      size_t xn = sizeof(x);
      rc |= json_object_set_new(o, "kty", json_string("OKP"));
      rc |= json_object_set_new(o, "crv", json_string("Ed25519"));
      rc |= EVP_PKEY_get_raw_public_key(p, x, &xn) == 1 ? set_b64(o, "x", x, xn) : -1;
      break;
    }
    case API__KIND_HMAC:
      rc = -1;
      break;
  }
  rc |= json_object_set_new(o, "alg", json_string(algs[k->alg].name));
  rc |= json_object_set_new(o, "use", json_string("sig"));
  if (k->kid) rc |= json_object_set_new(o, "kid", json_string(k->kid));
  if (rc) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int api_jwt_keyset_to_jwks(char **out, const api_jwt_keyset *ks) {
  if (!out || !ks) return api__fail(API_EINVAL, "api_jwt_keyset_to_jwks: NULL argument");
  *out = NULL;
  json_t *list = json_array(), *root = json_object();
  int rc = !list || !root || json_object_set(root, "keys", list);
  for (size_t i = 0; !rc && i < ks->n; i++) {
    if (!ks->keys[i]->pkey) continue;
    json_t *jwk = public_jwk(ks->keys[i]);
    rc = !jwk || json_array_append_new(list, jwk);
  }
  char *s = rc ? NULL : json_dumps(root, JSON_COMPACT);
  json_decref(list);
  json_decref(root);
  ERR_clear_error();
  if (!s) return api__fail(API_ENOMEM, "out of memory");
  *out = api__jwt_json_take(s);
  return *out ? 0 : api__fail(API_ENOMEM, "out of memory");
}

/* JWT verification and signing: the compact serialization, the header rules, key selection and
 * the registered claims. The signature primitives are in jws.c, the keys in jwk.c. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/jwt_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"
#include "util/json.h"

/* ---- errors ---- */

static const struct {
  const char *name, *description;
} errors[] = {
    [API_JWT_OK] = {"ok", "The access token is valid"},
    [API_JWT_MALFORMED] = {"malformed", "The access token is malformed"},
    [API_JWT_TOO_LARGE] = {"too_large", "The access token is too large"},
    [API_JWT_ALG_NOT_ALLOWED] = {"alg_not_allowed", "The access token's algorithm is not accepted"},
    [API_JWT_UNKNOWN_KID] = {"unknown_kid", "The access token's key is unknown"},
    [API_JWT_NO_KEY] = {"no_key", "No key can verify the access token"},
    [API_JWT_BAD_SIGNATURE] = {"bad_signature", "The access token's signature is invalid"},
    [API_JWT_BAD_TYP] = {"bad_typ", "The access token has the wrong type"},
    [API_JWT_UNKNOWN_CRIT] = {"unknown_crit", "The access token uses an unsupported extension"},
    [API_JWT_EXPIRED] = {"expired", "The access token expired"},
    [API_JWT_NOT_YET_VALID] = {"not_yet_valid", "The access token is not valid yet"},
    [API_JWT_BAD_ISSUER] = {"bad_issuer", "The access token has the wrong issuer"},
    [API_JWT_BAD_AUDIENCE] = {"bad_audience", "The access token is not meant for this service"},
    [API_JWT_BAD_SUBJECT] = {"bad_subject", "The access token has the wrong subject"},
    [API_JWT_MISSING_CLAIM] = {"missing_claim", "The access token lacks a required claim"},
    [API_JWT_BAD_CLAIM] = {"bad_claim", "The access token has an invalid claim"},
    [API_JWT_INTERNAL] = {"internal", "The access token could not be checked"},
};

const char *api_jwt_error_name(api_jwt_error e) {
  return (unsigned)e <= API_JWT_INTERNAL ? errors[e].name : "unknown";
}

const char *api_jwt_error_description(api_jwt_error e) {
  return (unsigned)e <= API_JWT_INTERNAL ? errors[e].description : "The access token is invalid";
}

/* Record why the token was refused; returns the api_err of api_jwt_verify. */
__attribute__((format(printf, 3, 4))) static int refuse(api_jwt_result *res, api_jwt_error e,
                                                        const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->message, sizeof(res->message), fmt, ap);
  va_end(ap);
  res->error = e;
  if (e == API_JWT_INTERNAL) return api__fail(API_ENOMEM, "JWT: %s", res->message);
  return api__fail(API_EUNAUTHORIZED, "JWT refused (%s): %s", errors[e].name, res->message);
}

void api_jwt_result_free(api_jwt_result *res) {
  if (!res) return;
  json_decref(res->header);
  json_decref(res->claims);
  memset(res, 0, sizeof(*res));
}

void api_auth_string_free(char *s) {
  if (!s) return;
  OPENSSL_cleanse(s, strlen(s));
  api__free(s);
}

char *api__jwt_json_take(char *s) {
  json_free_t jfree;
  json_get_alloc_funcs(NULL, &jfree);
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = api__malloc(n);
  if (d) memcpy(d, s, n);
  OPENSSL_cleanse(s, n - 1);
  jfree(s);
  return d;
}

/* ---- the JWS layer ---- */

static bool typ_matches(const char *have, const char *want) {
  if (strcasecmp(have, want) == 0) return true;
  return strncasecmp(have, "application/", 12) == 0 && strcasecmp(have + 12, want) == 0;
}

int api__jws_verify(const api_jwt_keyset *ks, const char *token, size_t len, unsigned allowed,
                    const char *typ, api_jwt_result *res, unsigned char *buf,
                    unsigned char **payload, size_t *payload_len) {
  const char *dot1 = memchr(token, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
    return refuse(res, API_JWT_MALFORMED, "not three dot-separated parts");
  size_t hb = (size_t)(dot1 - token), pb = (size_t)(dot2 - dot1 - 1);
  size_t sb = len - (size_t)(dot2 + 1 - token);
  if (hb == 0) return refuse(res, API_JWT_MALFORMED, "empty header");

  /* Header: parsed, or the same text as the last one on this thread. Only objects are cached. */
  unsigned char *h = buf;
  long hn = 0;
  if (!(res->header = api__jwt_header_cache_get(token, hb))) {
    hn = api__b64url_decode(h, token, hb);
    if (hn < 0) return refuse(res, API_JWT_MALFORMED, "header is not canonical base64url");
    api__json_error jerr;
    res->header = api__json_parse((const char *)h, (size_t)hn, 0, &jerr);
    if (!res->header && jerr.enomem) return refuse(res, API_JWT_INTERNAL, "out of memory");
    if (!res->header) return refuse(res, API_JWT_MALFORMED, "header: %s", jerr.message);
    if (!json_is_object(res->header)) return refuse(res, API_JWT_MALFORMED, "header not an object");
    api__jwt_header_cache_put(token, hb, res->header);
  }
  const json_t *algv = json_object_get(res->header, "alg");
  if (!json_is_string(algv)) return refuse(res, API_JWT_MALFORMED, "header without string alg");
  const char *algname = json_string_value(algv);
  if (strcasecmp(algname, "none") == 0)
    return refuse(res, API_JWT_ALG_NOT_ALLOWED, "alg \"none\" is never accepted");
  api_jwt_alg alg = api_jwt_alg_from_name(algname);
  if (!alg) return refuse(res, API_JWT_ALG_NOT_ALLOWED, "unsupported alg \"%.32s\"", algname);
  if (!(allowed & API_JWT_ALG_BIT(alg)))
    return refuse(res, API_JWT_ALG_NOT_ALLOWED, "alg %s is not allowed", algname);
  const json_t *typv = json_object_get(res->header, "typ");
  if (typv && !json_is_string(typv)) return refuse(res, API_JWT_MALFORMED, "typ not a string");
  if (typ && (!typv || !typ_matches(json_string_value(typv), typ)))
    return refuse(res, API_JWT_BAD_TYP, "typ %.40s%s%s, %s required", typv ? "\"" : "(none)",
                  typv ? json_string_value(typv) : "", typv ? "\"" : "", typ);
  const json_t *crit = json_object_get(res->header, "crit");
  if (crit) {
    const char *first = json_string_value(json_array_get(crit, 0));
    if (!json_is_array(crit) || !first) return refuse(res, API_JWT_MALFORMED, "bad crit");
    return refuse(res, API_JWT_UNKNOWN_CRIT, "crit names \"%.40s\", which is not understood",
                  first);
  }
  const json_t *kidv = json_object_get(res->header, "kid");
  if (kidv && !json_is_string(kidv)) return refuse(res, API_JWT_MALFORMED, "kid not a string");
  res->kid = json_string_value(kidv);

  /* Signature and payload bytes, strictly decoded before any key is used. */
  unsigned char *sig = h + hn;
  long sn = api__b64url_decode(sig, dot2 + 1, sb);
  if (sn < 0) return refuse(res, API_JWT_MALFORMED, "signature is not canonical base64url");
  unsigned char *p = sig + sn;
  long pn = api__b64url_decode(p, dot1 + 1, pb);
  if (pn < 0) return refuse(res, API_JWT_MALFORMED, "payload is not canonical base64url");
  if (sn == 0) return refuse(res, API_JWT_BAD_SIGNATURE, "no signature");

  /* Keys: pinned to this alg, and named by kid when both the token and the key have one. */
  bool kid_known = false, tried = false;
  for (size_t i = 0; i < ks->n; i++) {
    const api__jwk *k = ks->keys[i];
    if (res->kid && k->kid) {
      if (strcmp(res->kid, k->kid) != 0) continue;
      kid_known = true;
    }
    if (k->alg != alg) continue;
    tried = true;
    int ok = api__jws_verify_sig(k, (const unsigned char *)token, hb + 1 + pb, sig, (size_t)sn);
    if (ok < 0) return refuse(res, API_JWT_INTERNAL, "the crypto library failed");
    if (ok) {
      res->alg = alg;
      *payload = p;
      *payload_len = (size_t)pn;
      return 0;
    }
  }
  if (tried) return refuse(res, API_JWT_BAD_SIGNATURE, "signature does not verify");
  if (res->kid && !kid_known)
    return refuse(res, API_JWT_UNKNOWN_KID, "no key has kid \"%.40s\"", res->kid);
  return refuse(res, API_JWT_NO_KEY, "no key %s%.40s%sis pinned to %s", res->kid ? "\"" : "",
                res->kid ? res->kid : "", res->kid ? "\" " : "", algname);
}

/* ---- claims ---- */

/* A NumericDate claim: 1 present (value in *v), 0 absent, -1 not a number. */
static int numeric_date(const json_t *claims, const char *name, double *v) {
  const json_t *c = json_object_get(claims, name);
  if (!c) return 0;
  if (!json_is_number(c)) return -1;
  *v = json_number_value(c);
  return 1;
}

static int check_claims(const json_t *claims, const api_jwt_verify_options *o, long long now,
                        api_jwt_result *res) {
  static const char *const dates[] = {"exp", "nbf", "iat"}, *const strings[] = {"iss", "sub",
                                                                                "jti"};
  double t[3];
  int have[3];
  for (int i = 0; i < 3; i++) {
    have[i] = numeric_date(claims, dates[i], &t[i]);
    if (have[i] < 0) return refuse(res, API_JWT_BAD_CLAIM, "%s is not a number", dates[i]);
    const json_t *s = json_object_get(claims, strings[i]);
    if (s && !json_is_string(s))
      return refuse(res, API_JWT_BAD_CLAIM, "%s not a string", strings[i]);
  }
  const json_t *aud = json_object_get(claims, "aud");
  if (aud && !json_is_string(aud)) {
    size_t i;
    const json_t *v;
    if (!json_is_array(aud)) return refuse(res, API_JWT_BAD_CLAIM, "aud not a string or array");
    json_array_foreach(aud, i, v) if (!json_is_string(v)) return refuse(res, API_JWT_BAD_CLAIM,
                                                                        "aud holds a non-string");
  }
  double n = (double)now, leeway = (double)o->leeway;
  if (!have[0] && !o->allow_missing_exp) return refuse(res, API_JWT_MISSING_CLAIM, "no exp");
  if (have[0] && n >= t[0] + leeway)
    return refuse(res, API_JWT_EXPIRED, "expired at %.0f, now %lld, leeway %lld", t[0], now,
                  o->leeway);
  if (have[1] && n + leeway < t[1])
    return refuse(res, API_JWT_NOT_YET_VALID, "nbf %.0f, now %lld, leeway %lld", t[1], now,
                  o->leeway);
  if (have[2] && n + leeway < t[2])
    return refuse(res, API_JWT_NOT_YET_VALID, "issued in the future (iat %.0f, now %lld)", t[2],
                  now);
  if (o->issuer) {
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!iss || strcmp(iss, o->issuer) != 0)
      return refuse(res, API_JWT_BAD_ISSUER, "iss %s%.60s%s", iss ? "\"" : "(none)", iss ? iss : "",
                    iss ? "\"" : "");
  }
  if (o->audiences) {
    bool match = false;
    for (const char *const *a = o->audiences; *a && !match; a++) {
      if (json_is_string(aud)) {
        match = strcmp(json_string_value(aud), *a) == 0;
      } else {
        size_t i;
        const json_t *v;
        json_array_foreach(aud, i, v) if (strcmp(json_string_value(v), *a) == 0) match = true;
      }
    }
    if (!match) return refuse(res, API_JWT_BAD_AUDIENCE, aud ? "no accepted aud" : "no aud");
  }
  if (o->subject) {
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub || strcmp(sub, o->subject) != 0) return refuse(res, API_JWT_BAD_SUBJECT, "wrong sub");
  }
  if (o->required_claims)
    for (const char *const *c = o->required_claims; *c; c++)
      if (!json_object_get(claims, *c)) return refuse(res, API_JWT_MISSING_CLAIM, "no %.60s", *c);
  return 0;
}

/* ---- verify ---- */

int api_jwt_verify(const api_jwt_keyset *ks, const char *token, size_t len,
                   const api_jwt_verify_options *opts, api_jwt_result *res) {
  if (!res) return api__fail(API_EINVAL, "api_jwt_verify: NULL result");
  memset(res, 0, sizeof(*res));
  if (!ks || (!token && len)) {
    res->error = API_JWT_INTERNAL;
    return api__fail(API_EINVAL, "api_jwt_verify: NULL argument");
  }
  api_jwt_verify_options o = {0};
  if (opts) {
    if (opts->size == 0 || opts->size > sizeof(o)) {
      res->error = API_JWT_INTERNAL;
      return api__fail(API_EINVAL, "api_jwt_verify: options not built with API_JWT_VERIFY_OPTIONS");
    }
    memcpy(&o, opts, opts->size);
  }
  unsigned all = (API_JWT_ALG_BIT(API_JWT_EDDSA) << 1) - 2;
  if (o.leeway < 0 || o.max_token_size > API_JWT_MAX_TOKEN_SIZE_LIMIT || (o.algorithms & ~all)) {
    res->error = API_JWT_INTERNAL;
    return api__fail(API_EINVAL, "api_jwt_verify: bad options (leeway, size or algorithms)");
  }
  size_t max = o.max_token_size ? o.max_token_size : API_JWT_DEFAULT_MAX_TOKEN_SIZE;
  if (len > max) return refuse(res, API_JWT_TOO_LARGE, "%zu bytes, at most %zu", len, max);
  if (len == 0) return refuse(res, API_JWT_MALFORMED, "empty token");
  unsigned allowed = o.algorithms ? o.algorithms & ks->algs : ks->algs;

  /* Decoded parts go on the stack for ordinary tokens. */
  unsigned char stack[6200], *buf = stack;
  if (api__b64url_decoded_len(len) > sizeof(stack) && !(buf = api__malloc(len)))
    return refuse(res, API_JWT_INTERNAL, "out of memory");
  unsigned char *payload;
  size_t pn;
  int rc = api__jws_verify(ks, token, len, allowed, o.typ, res, buf, &payload, &pn);
  if (rc == 0) {
    api__json_error jerr;
    json_t *claims = api__json_parse((const char *)payload, pn, 0, &jerr);
    if (!claims && jerr.enomem) {
      rc = refuse(res, API_JWT_INTERNAL, "out of memory");
    } else if (!claims) {
      rc = refuse(res, API_JWT_MALFORMED, "payload: %s", jerr.message);
    } else if (!json_is_object(claims)) {
      json_decref(claims);
      rc = refuse(res, API_JWT_MALFORMED, "payload not a JSON object");
    } else {
      rc = check_claims(claims, &o, o.now ? o.now : (long long)time(NULL), res);
      if (rc == 0)
        res->claims = claims;
      else
        json_decref(claims);
    }
  }
  if (buf != stack) api__free(buf);
  return rc;
}

/* ---- sign ---- */

int api_jwt_sign(char **out, const api_jwt_keyset *ks, const char *alg, const char *kid,
                 const json_t *claims, const json_t *header_extras) {
  if (!out || !ks || !json_is_object(claims) || (header_extras && !json_is_object(header_extras)))
    return api__fail(API_EINVAL, "api_jwt_sign: NULL argument or claims not an object");
  *out = NULL;
  api_jwt_alg a = api_jwt_alg_from_name(alg);
  if (alg && !a) return api__fail(API_EINVAL, "api_jwt_sign: unsupported alg \"%s\"", alg);
  const api__jwk *key = NULL;
  size_t found = 0;
  for (size_t i = 0; i < ks->n; i++) {
    const api__jwk *k = ks->keys[i];
    if (!k->can_sign || (a && k->alg != a) || (kid && (!k->kid || strcmp(kid, k->kid) != 0)))
      continue;
    key = k;
    found++;
  }
  if (found != 1)
    return api__fail(API_EINVAL, "api_jwt_sign: %s signing key for alg %s, kid %s",
                     found ? "more than one" : "no", alg ? alg : "(any)", kid ? kid : "(any)");
  json_t *header = json_object();
  int bad = !header ||
            json_object_set_new(header, "alg", json_string(api_jwt_alg_name(key->alg))) ||
            json_object_set_new(header, "typ", json_string("JWT")) ||
            (key->kid && json_object_set_new(header, "kid", json_string(key->kid)));
  const char *name;
  json_t *v;
  if (!bad && header_extras) {
    json_object_foreach((json_t *)header_extras, name, v) {
      if (strcmp(name, "alg") == 0 || strcmp(name, "kid") == 0 || strcmp(name, "crit") == 0) {
        json_decref(header);
        return api__fail(API_EINVAL, "api_jwt_sign: header_extras cannot set \"%s\"", name);
      }
      if (json_object_set(header, name, v)) bad = 1;
    }
  }
  char *h = bad ? NULL : json_dumps(header, JSON_COMPACT);
  char *p = h ? json_dumps(claims, JSON_COMPACT) : NULL;
  json_decref(header);
  int rc = p ? api__jws_sign(out, key, h, strlen(h), p, strlen(p))
             : api__fail(API_ENOMEM, "out of memory");
  json_free_t jfree;
  json_get_alloc_funcs(NULL, &jfree);
  if (h) jfree(h);
  if (p) {
    OPENSSL_cleanse(p, strlen(p));
    jfree(p);
  }
  return rc;
}

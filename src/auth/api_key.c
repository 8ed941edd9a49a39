/*
 * API keys "<prefix>_<secret>". The server keeps only a hash of each key; the public prefix finds
 * the record, the hash decides, compared with CRYPTO_memcmp. An unknown prefix runs the same hash
 * and comparison against a dummy record, so the two refusals look and take alike.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authmw_internal.h"
#include "core/error_internal.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"

#define MAX_KEY 512
#define MAX_PREFIX 64

typedef struct key_rec {
  char *id, *prefix, *subject, *rate_limit_key;
  char **roles, **scopes;
  unsigned char hash[32];
} key_rec;

typedef struct key_mw {
  key_rec *recs; /* sorted by prefix */
  size_t n;
  key_rec dummy;
  char *header, *query;
  unsigned char *pepper;
  size_t pepper_len;
  char *challenge;
  int optional;
} key_mw;

static void rec_clear(key_rec *r) {
  api__free(r->id);
  api__free(r->prefix);
  api__free(r->subject);
  api__free(r->rate_limit_key);
  api__free(r->roles);
  api__free(r->scopes);
}

static void key_mw_free(void *p) {
  key_mw *s = p;
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) rec_clear(&s->recs[i]);
  api__free(s->recs);
  api__free(s->header);
  api__free(s->query);
  if (s->pepper) OPENSSL_cleanse(s->pepper, s->pepper_len);
  api__free(s->pepper);
  api__free(s->challenge);
  api__free(s);
}

static bool prefix_ok(const char *p, size_t n) {
  if (n == 0 || n > MAX_PREFIX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  }
  return true;
}

static int hash_key(unsigned char out[32], const char *key, size_t len, const void *pepper,
                    size_t pepper_len) {
  if (pepper) {
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), pepper, (int)pepper_len, (const unsigned char *)key, len, out, &n) ||
        n != 32)
      return API_EINTERNAL;
    return 0;
  }
  return EVP_Digest(key, len, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : API_EINTERNAL;
}

static int hex_decode(unsigned char out[32], const char *hex) {
  if (!hex || strlen(hex) != API_API_KEY_HASH_LEN) return -1;
  for (size_t i = 0; i < 32; i++) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      char c = hex[2 * i + (size_t)k];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    out[i] = (unsigned char)v;
  }
  return 0;
}

static int cmp_rec(const void *a, const void *b) {
  return strcmp(((const key_rec *)a)->prefix, ((const key_rec *)b)->prefix);
}

static const key_rec *find(const key_mw *s, const char *prefix, size_t n) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *p = s->recs[mid].prefix;
    int c = strncmp(p, prefix, n);
    if (c == 0 && p[n] != '\0') c = 1;
    if (c == 0) return &s->recs[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static int key_pre_handler(api_req *req, api_res *res, void *user_data) {
  (void)res;
  const key_mw *s = user_data;
  int rc = api__auth_offer(req, s->challenge);
  if (rc) return rc;
  const char *key = api_req_header(req, s->header);
  if (key && api_req_header_n(req, s->header, 1)) return API_EUNAUTHORIZED;
  if (!key && s->query) {
    key = api_req_query(req, s->query);
    if (key && api_req_query_n(req, s->query, 1)) return API_EUNAUTHORIZED;
  }
  if (!key || !*key) {
    if (s->optional || api_req_principal(req)) return API_NEXT;
    return API_EUNAUTHORIZED;
  }
  size_t len = strlen(key);
  if (len > MAX_KEY) return API_EUNAUTHORIZED;
  const char *us = strchr(key, '_');
  const key_rec *r = NULL;
  if (us && prefix_ok(key, (size_t)(us - key))) r = find(s, key, (size_t)(us - key));
  const key_rec *target = r ? r : &s->dummy;
  unsigned char h[32];
  if ((rc = hash_key(h, key, len, s->pepper, s->pepper_len)) != 0) return rc;
  int differ = CRYPTO_memcmp(h, target->hash, sizeof(h));
  OPENSSL_cleanse(h, sizeof(h));
  if (differ || !r) return API_EUNAUTHORIZED;
  return api_req_set_principal(req, &(api_principal){.size = sizeof(api_principal),
                                                     .method = API_AUTH_API_KEY,
                                                     .subject = r->subject,
                                                     .roles = (const char *const *)r->roles,
                                                     .scopes = (const char *const *)r->scopes,
                                                     .key_id = r->id,
                                                     .rate_limit_key = r->rate_limit_key});
}

static bool header_name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 128) return false;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

static int copy_rec(key_rec *d, const api_api_key_record *r) {
  const char *subject = r->subject ? r->subject : r->id;
  if (!(d->id = api__strdup(r->id)) || !(d->prefix = api__strdup(r->prefix)) ||
      !(d->subject = api__strdup(subject)) || !(d->roles = api__auth_strv_dup(r->roles)) ||
      !(d->scopes = api__auth_strv_dup(r->scopes)))
    return API_ENOMEM;
  if (r->rate_limit_key) {
    d->rate_limit_key = api__strdup(r->rate_limit_key);
  } else if ((d->rate_limit_key = api__malloc(strlen(r->id) + 5))) {
    sprintf(d->rate_limit_key, "key:%s", r->id);
  }
  return d->rate_limit_key ? 0 : API_ENOMEM;
}

int api_mw_api_key(api_app *app, const api_api_key_options *opts, api_middleware *out) {
  if (!app || !opts || !out) return api__fail(API_EINVAL, "api_mw_api_key: NULL argument");
  if (opts->size < sizeof(*opts))
    return api__fail(API_EINVAL, "api_mw_api_key: options not built with API_API_KEY_OPTIONS");
  if (opts->nrecords && !opts->records)
    return api__fail(API_EINVAL, "api_mw_api_key: records: NULL with nrecords > 0");
  const char *header = opts->header ? opts->header : "X-API-Key";
  if (!header_name_ok(header))
    return api__fail(API_EINVAL, "api_mw_api_key: header: \"%.100s\" is not a header name", header);
  if (opts->query_param && (!*opts->query_param || strlen(opts->query_param) > 128))
    return api__fail(API_EINVAL, "api_mw_api_key: query_param: empty or too long");
  if (opts->pepper && opts->pepper_len < 16)
    return api__fail(API_EINVAL, "api_mw_api_key: pepper: at least 16 bytes");
  const char *realm = opts->realm ? opts->realm : "api";
  if (!api__auth_quotable(realm) || strlen(realm) > 256)
    return api__fail(API_EINVAL, "api_mw_api_key: realm: empty, too long or not quotable");
  unsigned char tmp[32];
  for (size_t i = 0; i < opts->nrecords; i++) {
    const api_api_key_record *r = &opts->records[i];
    if (!r->id || !*r->id || strlen(r->id) > 256)
      return api__fail(API_EINVAL, "api_mw_api_key: records[%zu]: id missing or too long", i);
    if (!r->prefix || !prefix_ok(r->prefix, strlen(r->prefix)))
      return api__fail(API_EINVAL,
                       "api_mw_api_key: records[%zu]: prefix must be 1..64 of [A-Za-z0-9-]", i);
    if (hex_decode(tmp, r->hash) != 0)
      return api__fail(API_EINVAL, "api_mw_api_key: records[%zu]: hash is not 64 hex digits", i);
  }
  key_mw *s = api__calloc(1, sizeof(*s));
  if (!s) return API_ENOMEM;
  s->optional = opts->optional;
  int rc = 0;
  if (opts->nrecords && !(s->recs = api__calloc(opts->nrecords, sizeof(*s->recs)))) rc = API_ENOMEM;
  for (; !rc && s->n < opts->nrecords; s->n++) {
    rc = copy_rec(&s->recs[s->n], &opts->records[s->n]);
    hex_decode(s->recs[s->n].hash, opts->records[s->n].hash);
  }
  size_t clen = strlen(realm) + 16;
  if (!rc && (!(s->header = api__strdup(header)) ||
              (opts->query_param && !(s->query = api__strdup(opts->query_param))) ||
              !(s->challenge = api__malloc(clen)) ||
              (opts->pepper && !(s->pepper = api__malloc(opts->pepper_len)))))
    rc = API_ENOMEM;
  if (!rc && RAND_bytes(s->dummy.hash, sizeof(s->dummy.hash)) != 1) rc = API_ESYS;
  if (!rc && s->n > 1) {
    qsort(s->recs, s->n, sizeof(*s->recs), cmp_rec);
    for (size_t i = 1; i < s->n; i++)
      if (strcmp(s->recs[i - 1].prefix, s->recs[i].prefix) == 0)
        rc = api__fail(API_EINVAL, "api_mw_api_key: records: prefix \"%s\" appears twice",
                       s->recs[i].prefix);
  }
  if (rc) {
    key_mw_free(s);
    return rc;
  }
  if (s->pepper) {
    memcpy(s->pepper, opts->pepper, opts->pepper_len);
    s->pepper_len = opts->pepper_len;
  }
  snprintf(s->challenge, clen, "ApiKey realm=\"%s\"", realm);
  if ((rc = api_app_on_free(app, key_mw_free, s)) != 0) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "api_key",
                          .pre_handler = key_pre_handler,
                          .on_send = api__auth_on_send,
                          .user_data = s};
  out->security = api__security_scheme_auto(
      app, "apiKeyAuth",
      json_pack("{s:s,s:s,s:s}", "type", "apiKey", "in", "header", "name", header));
  if (out->security && opts->query_param)
    out->security_also = api__security_scheme_auto(
        app, "apiKeyQuery",
        json_pack("{s:s,s:s,s:s}", "type", "apiKey", "in", "query", "name", opts->query_param));
  out->security_optional = opts->optional != 0;
  return out->security && (!opts->query_param || out->security_also) ? 0 : API_ENOMEM;
}

int api_api_key_hash(char **out, const char *key, const void *pepper, size_t pepper_len) {
  if (!out || !key) return api__fail(API_EINVAL, "api_api_key_hash: NULL argument");
  unsigned char h[32];
  int rc = hash_key(h, key, strlen(key), pepper, pepper_len);
  if (rc) return rc;
  if (!(*out = api__malloc(API_API_KEY_HASH_LEN + 1))) return API_ENOMEM;
  api__auth_hex(*out, h, sizeof(h));
  return 0;
}

int api_api_key_generate(const char *prefix, char **key_out, char **hash_out) {
  if (!key_out || !hash_out) return api__fail(API_EINVAL, "api_api_key_generate: NULL output");
  char pbuf[MAX_PREFIX + 1];
  if (prefix) {
    if (!prefix_ok(prefix, strlen(prefix)))
      return api__fail(API_EINVAL, "api_api_key_generate: prefix must be 1..64 of [A-Za-z0-9-]");
    strcpy(pbuf, prefix);
  } else {
    unsigned char r[6];
    if (RAND_bytes(r, sizeof(r)) != 1) return API_ESYS;
    api__auth_hex(pbuf, r, sizeof(r));
  }
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof(secret)) != 1) return API_ESYS;
  size_t pl = strlen(pbuf);
  char *key = api__malloc(pl + 1 + api__b64url_encoded_len(sizeof(secret)) + 1);
  if (!key) return API_ENOMEM;
  memcpy(key, pbuf, pl);
  key[pl] = '_';
  api__b64url_encode(key + pl + 1, secret, sizeof(secret));
  OPENSSL_cleanse(secret, sizeof(secret));
  int rc = api_api_key_hash(hash_out, key, NULL, 0);
  if (rc) {
    api_auth_string_free(key);
    return rc;
  }
  *key_out = key;
  return 0;
}

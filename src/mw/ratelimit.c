/*
 * The rate-limiting middleware: builds a key for the request (name, client address or its prefix,
 * a digest of the API key header, the app's user key, the route), takes the request's cost from
 * the store, and answers 429 when the key is over its limit. The store's answer is kept in a
 * small per-request record so on_send can add the RateLimit-* fields to whatever response goes
 * out, error responses included (the error path rebuilds the response and drops earlier fields).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "http/chars.h"
#include "libapi/request.h"
#include "libapi/response.h"
#include "mw/ratelimit_internal.h"
#include "util/alloc.h"

enum {
  MAX_NAME = 64,
  MAX_PART = 256, /* a key part longer than this is replaced by its SHA-256 */
  KEY_CAP = 1536, /* name + 4 parts of at most MAX_PART bytes, with tags and lengths */
  USER_KEY_CAP = 257,
};

typedef struct cidr {
  int family; /* AF_INET or AF_INET6 */
  unsigned prefix;
  unsigned char addr[16];
} cidr;

typedef struct limiter {
  api_rate_params params;
  unsigned key_by;
  char *key_header;
  api_rate_key_fn key_fn;
  void *key_user_data;
  unsigned ipv4_prefix, ipv6_prefix;
  cidr *allow;
  size_t nallow;
  api_rate_skip_fn skip;
  void *skip_user_data;
  unsigned cost;
  api_rate_cost_fn cost_fn;
  void *cost_user_data;
  api_rate_store *store;
  bool own_store;
  char name[MAX_NAME + 1];
  bool fail_closed;
  api_rate_clock_fn now_ms;
  void *clock_user_data;
  char policy[96]; /* RateLimit-Policy */
} limiter;

/* What the limiter learnt about one request, for on_send. Lives in the request's arena. */
typedef struct record {
  const limiter *lim;
  api_req *req;
  bool answered; /* result holds the store's answer */
  api_rate_result result;
} record;

/* The per-request record is kept as a request local under the limiter's address. */
static record *find_record(api_req *req, const limiter *lim) { return api_req_local(req, lim); }

static unsigned long long monotonic_ms(void *user_data) {
  (void)user_data;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- addresses ---- */

/* Parse a textual address: IPv4, or IPv6 (IPv4-mapped ones count as IPv4). */
static bool parse_addr(const char *s, int *family, unsigned char out[16]) {
  if (!s) return false;
  if (inet_pton(AF_INET, s, out) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s, out) != 1) return false;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(out, mapped, 12) == 0) {
    memmove(out, out + 12, 4);
    *family = AF_INET;
  } else {
    *family = AF_INET6;
  }
  return true;
}

static void mask(unsigned char *a, size_t len, unsigned prefix) {
  for (size_t i = 0; i < len; i++) {
    unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
    if (bits < 8) a[i] &= (unsigned char)(0xff00u >> bits);
  }
}

static bool in_cidr(const cidr *c, int family, const unsigned char a[16]) {
  if (c->family != family) return false;
  unsigned char m[16];
  memcpy(m, a, 16);
  mask(m, family == AF_INET ? 4 : 16, c->prefix);
  return memcmp(m, c->addr, family == AF_INET ? 4 : 16) == 0;
}

static int parse_cidr(const char *s, cidr *out) {
  char buf[64];
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  if (n >= sizeof(buf)) return API_EINVAL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  memset(out, 0, sizeof(*out));
  if (!parse_addr(buf, &out->family, out->addr)) return API_EINVAL;
  unsigned max = out->family == AF_INET ? 32 : 128;
  out->prefix = max;
  if (slash) {
    char *end;
    const char *digits = slash + 1;
    if (*digits < '0' || *digits > '9' || strlen(digits) > 3) return API_EINVAL;
    unsigned long v = strtoul(digits, &end, 10);
    if (*end || v > max) return API_EINVAL;
    /* a mapped IPv4 address with an IPv6 prefix keeps covering the same addresses */
    if (out->family == AF_INET && strchr(buf, ':')) v = v >= 96 ? v - 96 : 0;
    out->prefix = (unsigned)v;
  }
  mask(out->addr, out->family == AF_INET ? 4 : 16, out->prefix);
  return 0;
}

/* ---- keys ---- */

typedef struct keybuf {
  unsigned char b[KEY_CAP];
  size_t len;
} keybuf;

/* Append a tagged, length-prefixed part, so that no two different part lists give the same key;
 * a long part goes in as its SHA-256. */
static int put(keybuf *k, char tag, const void *data, size_t len) {
  unsigned char digest[32];
  if (len > MAX_PART) {
    if (EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL) != 1) return API_EINTERNAL;
    data = digest;
    len = sizeof(digest);
    tag = (char)(tag | 0x20); /* lower case: a digest */
  }
  k->b[k->len++] = (unsigned char)tag;
  k->b[k->len++] = (unsigned char)(len >> 8);
  k->b[k->len++] = (unsigned char)len;
  if (len) memcpy(k->b + k->len, data, len);
  k->len += len;
  return 0;
}

static int put_addr(keybuf *k, const limiter *lim, const char *addr) {
  int family;
  unsigned char a[17]; /* the address and its prefix length */
  if (!parse_addr(addr, &family, a)) return put(k, 'S', addr ? addr : "", addr ? strlen(addr) : 0);
  unsigned prefix = family == AF_INET ? lim->ipv4_prefix : lim->ipv6_prefix;
  size_t n = family == AF_INET ? 4 : 16;
  mask(a, n, prefix);
  a[n] = (unsigned char)prefix; /* 10.0.0.0/8 and 10.0.0.0/32 are different keys */
  return put(k, family == AF_INET ? '4' : '6', a, n + 1);
}

/* Build the request's key. Returns 0, API_RATE_SKIP, or an error. */
static int build_key(const limiter *lim, api_req *req, keybuf *k) {
  k->len = 0;
  int rc = put(k, 'N', lim->name, strlen(lim->name));
  bool addr = lim->key_by & API_RATE_KEY_ADDR;
  if (!rc && (lim->key_by & API_RATE_KEY_HEADER)) {
    const char *v = api_req_header(req, lim->key_header);
    if (v && *v) {
      /* the raw key never enters the store: only its digest */
      unsigned char digest[32];
      if (EVP_Digest(v, strlen(v), digest, NULL, EVP_sha256(), NULL) != 1) return API_EINTERNAL;
      rc = put(k, 'H', digest, sizeof(digest));
    } else {
      addr = true; /* no API key: limit the client by its address instead */
    }
  }
  if (!rc && addr) rc = put_addr(k, lim, api_req_client_addr(req));
  if (!rc && (lim->key_by & API_RATE_KEY_USER)) {
    char user[USER_KEY_CAP];
    user[sizeof(user) - 1] = '\0';
    rc = lim->key_fn(req, user, sizeof(user), lim->key_user_data);
    if (rc == API_RATE_SKIP) return API_RATE_SKIP;
    if (rc > 0) rc = API_EINTERNAL;
    if (!rc) {
      size_t n = strnlen(user, sizeof(user));
      if (n == sizeof(user)) return API_EINTERNAL; /* not terminated: a bug in key_fn */
      rc = put(k, 'U', user, n);
    }
  }
  if (!rc && (lim->key_by & API_RATE_KEY_ROUTE)) {
    const char *route = api_req_route(req), *method = api_req_method(req);
    rc = put(k, 'M', method, strlen(method));
    if (!rc) rc = route ? put(k, 'R', route, strlen(route)) : put(k, 'X', "", 0);
  }
  return rc;
}

/* ---- the hooks ---- */

static int verdict(const limiter *lim, record *rec, int rc) {
  if (rc < 0) return lim->fail_closed ? API_EUNAVAILABLE : API_NEXT;
  rec->answered = true;
  return rec->result.allowed ? API_NEXT : API_ERATELIMIT;
}

/* An asynchronous store's answer: on any thread, with the request suspended. */
static void take_done(void *done_data, int rc, const api_rate_result *result) {
  record *rec = done_data;
  if (rc == 0 && result)
    rec->result = *result;
  else if (rc == 0)
    rc = API_EINTERNAL;
  api_req_resume_with(rec->req, verdict(rec->lim, rec, rc));
}

static bool allowed_addr(const limiter *lim, api_req *req) {
  if (!lim->nallow) return false;
  int family;
  unsigned char a[16];
  if (!parse_addr(api_req_client_addr(req), &family, a)) return false;
  for (size_t i = 0; i < lim->nallow; i++)
    if (in_cidr(&lim->allow[i], family, a)) return true;
  return false;
}

static int limit_hook(api_req *req, api_res *res, void *user_data) {
  (void)res;
  const limiter *lim = user_data;
  /* registered at several levels for one request: count it once */
  if (find_record(req, lim)) return API_NEXT;
  if (lim->skip && lim->skip(req, lim->skip_user_data)) return API_NEXT;
  if (allowed_addr(lim, req)) return API_NEXT;
  unsigned cost = lim->cost_fn ? lim->cost_fn(req, lim->cost_user_data) : lim->cost;
  if (!cost) return API_NEXT;
  keybuf k;
  int rc = build_key(lim, req, &k);
  if (rc == API_RATE_SKIP) return API_NEXT;
  if (rc) return rc;
  record *rec = api_req_alloc(req, sizeof(*rec));
  if (!rec) return API_ENOMEM;
  *rec = (record){.lim = lim, .req = req};
  if (api_req_set_local(req, lim, rec) != 0) return API_ENOMEM;
  api_rate_take t = {.size = sizeof(t),
                     .key = k.b,
                     .key_len = k.len,
                     .cost = cost,
                     .now_ms = lim->now_ms(lim->clock_user_data),
                     .params = &lim->params,
                     .done = take_done,
                     .done_data = rec};
  rc = lim->store->take(lim->store, &t, &rec->result);
  if (rc == API_ASYNC) return API_ASYNC;
  return verdict(lim, rec, rc);
}

static unsigned long long seconds_up(unsigned long long ms) { return ms / 1000 + (ms % 1000 != 0); }

static int send_hook(api_req *req, api_res *res, void *user_data) {
  const limiter *lim = user_data;
  record *rec = find_record(req, lim);
  if (!rec || !rec->answered) return API_NEXT;
  const api_rate_result *r = &rec->result;
  /* several limiters: the fields describe the one closest to its limit (and the one that
   * refused, when one did) */
  const char *other = api_res_get_header(res, "RateLimit-Remaining");
  if (other && r->allowed && api_res_get_header(res, "Retry-After")) return API_NEXT;
  if (other && r->allowed && strtoull(other, NULL, 10) <= r->remaining) return API_NEXT;
  char lim_s[24], rem_s[24], reset_s[24], retry_s[24];
  snprintf(lim_s, sizeof(lim_s), "%llu", r->limit);
  snprintf(rem_s, sizeof(rem_s), "%llu", r->remaining);
  snprintf(reset_s, sizeof(reset_s), "%llu", seconds_up(r->reset_ms));
  unsigned long long retry = seconds_up(r->retry_after_ms);
  snprintf(retry_s, sizeof(retry_s), "%llu", retry ? retry : 1);
  int rc = api_res_header(res, "RateLimit-Limit", lim_s);
  if (!rc) rc = api_res_header(res, "RateLimit-Remaining", rem_s);
  if (!rc) rc = api_res_header(res, "RateLimit-Reset", reset_s);
  if (!rc) rc = api_res_header(res, "RateLimit-Policy", lim->policy);
  if (!rc && !r->allowed) rc = api_res_header(res, "Retry-After", retry_s);
  return rc;
}

/* ---- construction ---- */

static void limiter_free(void *user_data) {
  limiter *lim = user_data;
  if (lim->own_store) api_rate_store_free(lim->store);
  api__free(lim->key_header);
  api__free(lim->allow);
  api__free(lim);
}

static int check(const api_rate_limit_options *o) {
  if (o->algorithm != API_RATE_TOKEN_BUCKET && o->algorithm != API_RATE_SLIDING_WINDOW)
    return api__fail(API_EINVAL, "rate limit: unknown algorithm %d", (int)o->algorithm);
  if (o->limit > API__RATE_MAX_LIMIT)
    return api__fail(API_EINVAL, "rate limit: limit %llu is above 1e9", o->limit);
  if (o->window_ms > API__RATE_MAX_WINDOW_MS)
    return api__fail(API_EINVAL, "rate limit: window_ms %llu is above 1e9", o->window_ms);
  if (o->burst > API__RATE_MAX_LIMIT)
    return api__fail(API_EINVAL, "rate limit: burst %llu is above 1e9", o->burst);
  if (o->key_by &
      ~(unsigned)(API_RATE_KEY_ADDR | API_RATE_KEY_HEADER | API_RATE_KEY_USER | API_RATE_KEY_ROUTE))
    return api__fail(API_EINVAL, "rate limit: key_by has unknown bits 0x%x", o->key_by);
  if ((o->key_by & API_RATE_KEY_HEADER) &&
      (!o->key_header || !api__is_token(o->key_header, strlen(o->key_header))))
    return api__fail(API_EINVAL, "rate limit: key_header must be a header name with KEY_HEADER");
  if (!(o->key_by & API_RATE_KEY_HEADER) && o->key_header)
    return api__fail(API_EINVAL, "rate limit: key_header is set without API_RATE_KEY_HEADER");
  if ((o->key_by & API_RATE_KEY_USER) && !o->key_fn)
    return api__fail(API_EINVAL, "rate limit: key_fn is required with API_RATE_KEY_USER");
  if (!(o->key_by & API_RATE_KEY_USER) && o->key_fn)
    return api__fail(API_EINVAL, "rate limit: key_fn is set without API_RATE_KEY_USER");
  if (o->ipv4_prefix > 32)
    return api__fail(API_EINVAL, "rate limit: ipv4_prefix %u is above 32", o->ipv4_prefix);
  if (o->ipv6_prefix > 128)
    return api__fail(API_EINVAL, "rate limit: ipv6_prefix %u is above 128", o->ipv6_prefix);
  if (o->name && strlen(o->name) > MAX_NAME)
    return api__fail(API_EINVAL, "rate limit: name is longer than %d bytes", MAX_NAME);
  if (o->phase != API_RATE_ON_REQUEST && o->phase != API_RATE_PRE_HANDLER)
    return api__fail(API_EINVAL, "rate limit: unknown phase %d", (int)o->phase);
  if (o->store && (!o->store->take || o->store->size == 0))
    return api__fail(API_EINVAL, "rate limit: store has no take function");
  return 0;
}

int api_mw_rate_limit(api_app *app, const api_rate_limit_options *opts, api_middleware *out) {
  if (!app || !out) return api__fail(API_EINVAL, "rate limit: app and out are required");
  api_rate_limit_options o = {0};
  if (opts) memcpy(&o, opts, opts->size && opts->size < sizeof(o) ? opts->size : sizeof(o));
  int rc = check(&o);
  if (rc) return rc;
  api_rate_params p = {
      .algorithm = o.algorithm,
      .limit = o.limit ? o.limit : 100,
      .window_ms = o.window_ms ? o.window_ms : 60000,
  };
  p.burst = o.burst ? o.burst : p.limit;
  unsigned cost = o.cost ? o.cost : 1;
  unsigned long long most = p.algorithm == API_RATE_TOKEN_BUCKET ? p.burst : p.limit;
  if (cost > most)
    return api__fail(API_EINVAL, "rate limit: cost %u is above the limit %llu, never allowed", cost,
                     most);

  limiter *lim = api__calloc(1, sizeof(*lim));
  if (!lim) return API_ENOMEM;
  *lim = (limiter){
      .params = p,
      .key_by = o.key_by ? o.key_by : API_RATE_KEY_ADDR,
      .key_fn = o.key_fn,
      .key_user_data = o.key_user_data,
      .ipv4_prefix = o.ipv4_prefix ? o.ipv4_prefix : 32,
      .ipv6_prefix = o.ipv6_prefix ? o.ipv6_prefix : 128,
      .skip = o.skip,
      .skip_user_data = o.skip_user_data,
      .cost = cost,
      .cost_fn = o.cost_fn,
      .cost_user_data = o.cost_user_data,
      .store = o.store,
      .fail_closed = o.fail_closed != 0,
      .now_ms = o.now_ms ? o.now_ms : monotonic_ms,
      .clock_user_data = o.clock_user_data,
  };
  if (o.name) memcpy(lim->name, o.name, strlen(o.name) + 1);
  if (p.algorithm == API_RATE_TOKEN_BUCKET && p.burst != p.limit)
    snprintf(lim->policy, sizeof(lim->policy), "%llu;w=%llu;burst=%llu", p.limit,
             seconds_up(p.window_ms), p.burst);
  else
    snprintf(lim->policy, sizeof(lim->policy), "%llu;w=%llu", p.limit, seconds_up(p.window_ms));

  if (o.key_header && !(lim->key_header = api__strdup(o.key_header))) rc = API_ENOMEM;
  size_t n = 0;
  while (o.allow && o.allow[n]) n++;
  if (!rc && n && !(lim->allow = api__calloc(n, sizeof(cidr)))) rc = API_ENOMEM;
  for (size_t i = 0; !rc && i < n; i++) {
    if (parse_cidr(o.allow[i], &lim->allow[i]) != 0)
      rc = api__fail(API_EINVAL,
                     "rate limit: allow entry \"%.64s\" is not an address or CIDR "
                     "range",
                     o.allow[i]);
  }
  lim->nallow = n;
  if (!rc && !lim->store) {
    rc = api_rate_store_mem_new(&lim->store, API_RATE_MEM_OPTIONS(.max_keys = o.max_keys));
    lim->own_store = rc == 0;
  }
  if (rc) {
    limiter_free(lim);
    return rc;
  }
  if ((rc = api_app_on_free(app, limiter_free, lim)) != 0) return rc;
  *out = (api_middleware){
      .size = sizeof(api_middleware), .name = "rate_limit", .on_send = send_hook, .user_data = lim};
  if (o.phase == API_RATE_PRE_HANDLER)
    out->pre_handler = limit_hook;
  else
    out->on_request = limit_hook;
  return 0;
}

/* Conditional requests: generated and handler ETags, If-None-Match (lists, "*", weak comparison,
 * junk), If-Modified-Since, 304 responses as written on the wire, the interplay with the
 * compression middleware in both orders, api_req_preconditions() for unsafe methods, the
 * caching helpers and the HTTP-date parser. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mw/cache_internal.h"
#include "support/client.h"

/* ---- HTTP dates ---- */

Test(http_date, three_formats_and_refusals) {
  time_t t;
  cr_assert(api__http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
  cr_assert_eq(t, 784111777);
  cr_assert(api__http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
  cr_assert_eq(t, 784111777);
  cr_assert(api__http_date_parse("Sun Nov  6 08:49:37 1994", &t));
  cr_assert_eq(t, 784111777);
  cr_assert(api__http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &t));
  cr_assert_eq(t, 0);
  cr_assert(api__http_date_parse("Fri, 31 Dec 9999 23:59:59 GMT", &t));
  char buf[30];
  cr_assert(api__http_date_format(784111777, buf));
  cr_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
  cr_assert(!api__http_date_format(-1, buf));
  cr_assert(!api__http_date_format((time_t)253402300800LL, buf));
  const char *bad[] = {
      "",
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 06 Nov 1994 08:49:37 GMT ",
      " Sun, 06 Nov 1994 08:49:37 GMT",
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT",
      "Sun, 06 Nox 1994 08:49:37 GMT",
      "Xyz, 06 Nov 1994 08:49:37 GMT",
      "Sun, 30 Feb 1994 08:49:37 GMT",
      "Sun, 31 Apr 1994 08:49:37 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 06 Nov 1994 08:49:60 GMT",
      "Sun, 06 Nov 1994 08-49-37 GMT",
      "Sun, 06 Nov 1a94 08:49:37 GMT",
      "Sun, 06 Nov 0001 08:49:37 GMT",
      "Sun, +6 Nov 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 UTC",
      "Sunday, 6-Nov-94 08:49:37 GMT",
      "Sundae, 06-Nov-94 08:49:37 GMT",
      "Sunday, 06-Nov-1994 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",
      "Sun Nov  6 08:49:37 94",
      "Sun Nov 32 08:49:37 1994",
      "yesterday",
      "784111777",
      "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert(!api__http_date_parse(bad[i], &t), "\"%s\" parsed", bad[i]);
  cr_assert(!api__http_date_parse(NULL, &t));
}

/* ---- the middleware ---- */

#define LM_TIME 1000000000 /* Sun, 09 Sep 2001 01:46:40 GMT */
#define LM_TEXT "Sun, 09 Sep 2001 01:46:40 GMT"

static char doc_body[600];

static int h_doc(api_req *req, api_res *res, void *ud) {
  (void)ud;
  const char *n = api_req_param(req, "n");
  snprintf(doc_body, sizeof(doc_body), "{\"doc\":%s,\"pad\":\"%0500d\"}", n ? n : "0", 0);
  api_res_cache_control(res, API_CACHE_OPTIONS(.scope = API_CACHE_PRIVATE, .max_age = 60));
  api_res_header(res, "Vary", "Accept-Language");
  api_res_cookie(res, "seen", "1", NULL);
  return api_res_body(res, "application/json", doc_body, strlen(doc_body));
}
static int h_tagged(api_req *req, api_res *res, void *ud) {
  (void)req;
  api_res_etag(res, "v2", ud != NULL);
  return api_res_text(res, 200, "tagged by the handler, long enough to be compressed? no.");
}
static int h_lm(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  api_res_last_modified(res, LM_TIME);
  return api_res_text(res, 200, "last modified in 2001");
}
static int h_empty(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  return api_res_status(res, 200);
}
static int h_missing(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)res;
  (void)ud;
  return API_ENOTFOUND;
}
static int h_post(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  return api_res_text(res, 200, "posted");
}

/* A resource at version "v1", modified at LM_TIME, updated with preconditions. */
static int h_resource(api_req *req, api_res *res, void *ud) {
  (void)ud;
  int rc = api_req_preconditions(req, res, "\"v1\"", LM_TIME);
  if (rc == API_DONE) return API_NEXT;
  if (rc) return rc;
  return api_res_text(res, 200, strcmp(api_req_method(req), "GET") == 0 ? "read" : "updated");
}
/* One that does not exist: PUT with If-None-Match: * creates it. */
static int h_absent(api_req *req, api_res *res, void *ud) {
  (void)ud;
  int rc = api_req_preconditions(req, res, NULL, 0);
  if (rc == API_DONE) return API_NEXT;
  if (rc) return rc;
  return api_res_text(res, 201, "created");
}

static api_app *app;
static api_test *t;

static void routes(api_app *a) {
  cr_assert_eq(api_app_get(a, "/doc/:n", h_doc, NULL), 0);
  cr_assert_eq(api_app_get(a, "/tagged", h_tagged, NULL), 0);
  cr_assert_eq(api_app_get(a, "/weak-tagged", h_tagged, (void *)1), 0);
  cr_assert_eq(api_app_get(a, "/lm", h_lm, NULL), 0);
  cr_assert_eq(api_app_get(a, "/empty", h_empty, NULL), 0);
  cr_assert_eq(api_app_get(a, "/missing", h_missing, NULL), 0);
  cr_assert_eq(api_app_post(a, "/post", h_post, NULL), 0);
  cr_assert_eq(api_app_get(a, "/res", h_resource, NULL), 0);
  cr_assert_eq(api_app_put(a, "/res", h_resource, NULL), 0);
  cr_assert_eq(api_app_put(a, "/absent", h_absent, NULL), 0);
}

static void start(const api_conditional_options *o) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_etag(app, o, &mw), 0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  routes(app);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void stop(void) {
  api_test_free(t);
  api_app_free(app);
  t = NULL;
  app = NULL;
}

TestSuite(conditional, .fini = stop, .timeout = 60);

static api_test_res *req_h(const char *method, const char *target, const char *h1, const char *h2) {
  api_test_res *r = NULL;
  cr_assert_eq(api_test_request(t,
                                API_TEST_REQ(.method = method, .target = target,
                                             .headers = (const char *[]){h1, h2, NULL}),
                                &r),
               0);
  return r;
}

static api_test_res *inm(const char *target, const char *value) {
  char h[20000];
  size_t n = strlen(value);
  cr_assert_lt(n, sizeof(h) - 16);
  memcpy(h, "If-None-Match: ", 15);
  memcpy(h + 15, value, n + 1);
  return req_h("GET", target, h, NULL);
}

static char *etag_of(const char *target) {
  api_test_res *r = req_h("GET", target, NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  const char *e = api_test_res_header(r, "ETag");
  cr_assert_not_null(e, "%s has no ETag", target);
  char *copy = strdup(e);
  api_test_res_free(r);
  return copy;
}

/* A 304 as written: no body, no Content-Length, no Content-Type, and the validators kept. */
static void assert_304(api_test_res *r, const char *etag) {
  cr_assert_eq(api_test_res_status(r), 304);
  size_t len, raw_len;
  api_test_res_body(r, &len);
  cr_assert_eq(len, 0);
  const char *raw = api_test_res_raw(r, &raw_len);
  cr_assert_str_eq(raw + raw_len - 4, "\r\n\r\n", "bytes after the head of a 304:\n%s", raw);
  cr_assert_null(api_test_res_header(r, "Content-Length"));
  cr_assert_null(api_test_res_header(r, "Content-Type"));
  cr_assert_null(api_test_res_header(r, "Transfer-Encoding"));
  cr_assert_not_null(api_test_res_header(r, "Date"));
  if (etag) cr_assert_str_eq(api_test_res_header(r, "ETag"), etag);
}

Test(conditional, generated_etags_follow_the_body) {
  start(API_CONDITIONAL_OPTIONS());
  char *a = etag_of("/doc/1"), *a2 = etag_of("/doc/1"), *b = etag_of("/doc/2");
  cr_assert_str_eq(a, a2);
  cr_assert_str_neq(a, b);
  cr_assert_eq(a[0], '"', "strong by default: %s", a);
  /* "<length in hex>-<16 hex digits>" */
  char want_prefix[32];
  snprintf(want_prefix, sizeof(want_prefix), "\"%zx-", strlen(doc_body));
  cr_assert_eq(strncmp(a, want_prefix, strlen(want_prefix)), 0, "%s", a);
  cr_assert_eq(strlen(a), strlen(want_prefix) + 17);
  free(a);
  free(a2);
  free(b);
  /* The handler's tag is kept; nothing for an empty body, an error, or a POST. */
  char *h = etag_of("/tagged");
  cr_assert_str_eq(h, "\"v2\"");
  free(h);
  api_test_res *r = req_h("GET", "/empty", NULL, NULL);
  cr_assert_null(api_test_res_header(r, "ETag"));
  api_test_res_free(r);
  r = req_h("GET", "/missing", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 404);
  cr_assert_null(api_test_res_header(r, "ETag"));
  api_test_res_free(r);
  r = req_h("POST", "/post", NULL, NULL);
  cr_assert_null(api_test_res_header(r, "ETag"));
  api_test_res_free(r);
}

Test(conditional, if_none_match_gives_a_bare_304) {
  start(API_CONDITIONAL_OPTIONS());
  char *tag = etag_of("/doc/7");
  api_test_res *r = inm("/doc/7", tag);
  assert_304(r, tag);
  cr_assert_str_eq(api_test_res_header(r, "Cache-Control"), "private, max-age=60");
  cr_assert_str_eq(api_test_res_header(r, "Vary"), "Accept-Language");
  cr_assert_not_null(api_test_res_header(r, "Set-Cookie"));
  api_test_res_free(r);
  /* HEAD too. */
  char h[200];
  snprintf(h, sizeof(h), "If-None-Match: %s", tag);
  r = req_h("HEAD", "/doc/7", h, NULL);
  assert_304(r, tag);
  api_test_res_free(r);
  /* Another version: a full 200. */
  r = inm("/doc/8", tag);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_body(r, NULL), doc_body);
  api_test_res_free(r);
  free(tag);
}

Test(conditional, lists_star_weak_comparison_and_junk) {
  start(API_CONDITIONAL_OPTIONS());
  char *tag = etag_of("/doc/3");
  char v[20000];
  struct {
    const char *fmt; /* %s is the current tag without its quotes */
    int status;
  } cases[] = {
      {"\"%s\"", 304},
      {"W/\"%s\"", 304}, /* weak comparison */
      {"\"nope\", \"%s\"", 304},
      {"\"nope\",W/\"%s\" , \"other\"", 304},
      {"junk, \"%s\"", 304},
      {"\"a\" junk, ,,, \"%s\"", 304},
      {"*", 304},
      {" * ", 304},
      {"\"nope\"", 200},
      {"%s", 200},        /* no quotes */
      {"w/\"%s\"", 200},  /* lower-case w */
      {"W/ \"%s\"", 200}, /* space in W/ "..." */
      {"\"%s", 200},      /* unterminated */
      {"\"%s\"x", 200},   /* something after the tag */
      {"\"\"", 200},
      {",,,,", 200},
      {"", 200},
      {"**", 200},
      {"\"%s-extra\"", 200},
      {"\"%s-gzip\"", 304}, /* the compression middleware's tag for it */
      {"W/\"%s-gzip\"", 200},
  };
  size_t tl = strlen(tag);
  char bare[64];
  memcpy(bare, tag + 1, tl - 2);
  bare[tl - 2] = '\0';
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(v, sizeof(v), cases[i].fmt, bare);
    api_test_res *r = inm("/doc/3", v);
    cr_assert_eq(api_test_res_status(r), cases[i].status, "If-None-Match: %s", v);
    api_test_res_free(r);
  }
  /* A 304 for the coded form says the coded tag (what the client has). */
  snprintf(v, sizeof(v), "\"%s-gzip\"", bare);
  api_test_res *r = inm("/doc/3", v);
  assert_304(r, v);
  api_test_res_free(r);
  /* A thousand tags of junk and the right one last; then without it. */
  size_t n = 0;
  for (int i = 0; i < 1000; i++) n += (size_t)sprintf(v + n, "\"x%d\", ", i);
  sprintf(v + n, "%s", tag);
  r = inm("/doc/3", v);
  cr_assert_eq(api_test_res_status(r), 304);
  api_test_res_free(r);
  v[n] = '\0';
  r = inm("/doc/3", v);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  /* Two If-None-Match fields: both count. */
  char h[200];
  snprintf(h, sizeof(h), "If-None-Match: %s", tag);
  r = req_h("GET", "/doc/3", "If-None-Match: \"nope\"", h);
  cr_assert_eq(api_test_res_status(r), 304);
  api_test_res_free(r);
  free(tag);
}

Test(conditional, weak_option_and_handler_tags) {
  start(API_CONDITIONAL_OPTIONS(.weak = true));
  char *tag = etag_of("/doc/4");
  cr_assert_eq(strncmp(tag, "W/\"", 3), 0, "%s", tag);
  api_test_res *r = inm("/doc/4", tag + 2); /* the strong form matches weakly */
  assert_304(r, tag);
  api_test_res_free(r);
  free(tag);
  r = inm("/weak-tagged", "\"v2\"");
  assert_304(r, "W/\"v2\"");
  api_test_res_free(r);
  r = inm("/tagged", "W/\"v2\"");
  assert_304(r, "\"v2\"");
  api_test_res_free(r);
}

Test(conditional, if_modified_since) {
  start(API_CONDITIONAL_OPTIONS(.no_etag = true));
  api_test_res *r = req_h("GET", "/lm", NULL, NULL);
  cr_assert_str_eq(api_test_res_header(r, "Last-Modified"), LM_TEXT);
  cr_assert_null(api_test_res_header(r, "ETag"), "no_etag");
  api_test_res_free(r);
  struct {
    const char *ims;
    int status;
  } cases[] = {
      {"If-Modified-Since: " LM_TEXT, 304},
      {"If-Modified-Since: Sunday, 09-Sep-01 01:46:40 GMT", 304},
      {"If-Modified-Since: Sun Sep  9 01:46:40 2001", 304},
      {"If-Modified-Since: Mon, 10 Sep 2001 00:00:00 GMT", 304},
      {"If-Modified-Since: Sun, 09 Sep 2001 01:46:39 GMT", 200},
      {"If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT", 200},
      {"If-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT", 200}, /* in the future: ignored */
      {"If-Modified-Since: yesterday", 200},
      {"If-Modified-Since: Sun, 31 Feb 2001 01:46:40 GMT", 200},
      {"If-Modified-Since: " LM_TEXT "x", 200},
      {"If-Modified-Since: ", 200},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    r = req_h("GET", "/lm", cases[i].ims, NULL);
    cr_assert_eq(api_test_res_status(r), cases[i].status, "%s", cases[i].ims);
    if (cases[i].status == 304) {
      assert_304(r, NULL);
      cr_assert_str_eq(api_test_res_header(r, "Last-Modified"), LM_TEXT);
    }
    api_test_res_free(r);
  }
  /* Two fields: ignored. If-None-Match present: If-Modified-Since is not looked at. */
  r = req_h("GET", "/lm", "If-Modified-Since: " LM_TEXT, "If-Modified-Since: " LM_TEXT);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  r = req_h("GET", "/lm", "If-Modified-Since: " LM_TEXT, "If-None-Match: \"x\"");
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  /* Not for POST, nor without Last-Modified. */
  r = req_h("POST", "/post", "If-Modified-Since: " LM_TEXT, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  r = req_h("GET", "/tagged", "If-Modified-Since: " LM_TEXT, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
}

Test(conditional, unsafe_methods_and_preconditions) {
  start(API_CONDITIONAL_OPTIONS());
  struct {
    const char *method, *target, *h1, *h2;
    int status;
  } cases[] = {
      {"PUT", "/res", "If-Match: \"v1\"", NULL, 200},
      {"PUT", "/res", "If-Match: \"v0\", \"v1\"", NULL, 200},
      {"PUT", "/res", "If-Match: *", NULL, 200},
      {"PUT", "/res", "If-Match: \"v0\"", NULL, 412},
      {"PUT", "/res", "If-Match: W/\"v1\"", NULL, 412}, /* strong comparison */
      {"PUT", "/res", "If-Match: junk", NULL, 412},
      {"PUT", "/res", "If-Match: \"v1\"", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
       200}, /* If-Match wins */
      {"PUT", "/res", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT", NULL, 412},
      {"PUT", "/res", "If-Unmodified-Since: " LM_TEXT, NULL, 200},
      {"PUT", "/res", "If-Unmodified-Since: garbage", NULL, 200},
      {"PUT", "/res", "If-None-Match: *", NULL, 412},
      {"PUT", "/res", "If-None-Match: \"v1\"", NULL, 412},
      {"PUT", "/res", "If-None-Match: \"v0\"", NULL, 200},
      {"PUT", "/res", "If-Modified-Since: " LM_TEXT, NULL, 200}, /* GET/HEAD only */
      {"GET", "/res", "If-None-Match: \"v1\"", NULL, 304},
      {"GET", "/res", "If-Modified-Since: " LM_TEXT, NULL, 304},
      {"GET", "/res", "If-Match: \"v0\"", NULL, 412},
      {"PUT", "/absent", "If-None-Match: *", NULL, 201},
      {"PUT", "/absent", "If-Match: *", NULL, 412},
      {"PUT", "/absent", NULL, NULL, 201},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    api_test_res *r = req_h(cases[i].method, cases[i].target, cases[i].h1, cases[i].h2);
    cr_assert_eq(api_test_res_status(r), cases[i].status, "%s %s %s %s: %d", cases[i].method,
                 cases[i].target, cases[i].h1, cases[i].h2 ? cases[i].h2 : "",
                 api_test_res_status(r));
    if (cases[i].status == 412) {
      json_t *j = api_test_res_json(r);
      cr_assert_not_null(j);
      cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                       "PRECONDITION_FAILED");
    }
    if (cases[i].status == 304) {
      assert_304(r, "\"v1\"");
      cr_assert_str_eq(api_test_res_header(r, "Last-Modified"), LM_TEXT);
    }
    api_test_res_free(r);
  }
}

/* ---- with the compression middleware ---- */

static int h_big(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  static char body[3000];
  for (size_t i = 0; i + 1 < sizeof(body); i++) body[i] = (char)('a' + i % 13);
  return api_res_body_ref(res, "text/plain", body, sizeof(body) - 1);
}

static void start_both(bool etag_first) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware e, c;
  cr_assert_eq(api_mw_etag(app, API_CONDITIONAL_OPTIONS(), &e), 0);
  cr_assert_eq(api_mw_compress(app, API_COMPRESS_OPTIONS(), &c), 0);
  cr_assert_eq(api_app_use(app, etag_first ? &e : &c), 0);
  cr_assert_eq(api_app_use(app, etag_first ? &c : &e), 0);
  cr_assert_eq(api_app_get(app, "/big", h_big, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

/* Revalidation works for a gzip client and an identity client, and their tags differ. */
static void revalidate_both_ways(void) {
  api_test_res *r = req_h("GET", "/big", "Accept-Encoding: gzip", NULL);
  cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), "gzip");
  char *gz_tag = strdup(api_test_res_header(r, "ETag"));
  api_test_res_free(r);
  char *plain_tag = etag_of("/big");
  cr_assert_str_neq(gz_tag, plain_tag, "one strong tag for two representations");

  char h[200];
  snprintf(h, sizeof(h), "If-None-Match: %s", gz_tag);
  r = req_h("GET", "/big", "Accept-Encoding: gzip", h);
  assert_304(r, gz_tag);
  cr_assert_null(api_test_res_header(r, "Content-Encoding"));
  cr_assert(strstr(api_test_res_header(r, "Vary"), "Accept-Encoding"));
  api_test_res_free(r);

  snprintf(h, sizeof(h), "If-None-Match: %s", plain_tag);
  r = req_h("GET", "/big", h, NULL);
  assert_304(r, plain_tag);
  api_test_res_free(r);
  free(gz_tag);
  free(plain_tag);
}

Test(conditional, with_compression_registered_after) {
  start_both(true);
  revalidate_both_ways();
  char *plain_tag = etag_of("/big");
  api_test_res *r = req_h("GET", "/big", "Accept-Encoding: gzip", NULL);
  char want[100];
  snprintf(want, sizeof(want), "%.*s-gzip\"", (int)strlen(plain_tag) - 1, plain_tag);
  cr_assert_str_eq(api_test_res_header(r, "ETag"), want);
  api_test_res_free(r);
  free(plain_tag);
}

Test(conditional, with_compression_registered_before) {
  start_both(false);
  revalidate_both_ways();
}

/* ---- helpers ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int rcs[32];

static int h_helpers(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  int i = 0;
  pthread_mutex_lock(&lock);
  rcs[i++] = api_res_cache_control(res, API_CACHE_OPTIONS(.max_age = -5));
  rcs[i++] = api_res_cache_control(res, API_CACHE_OPTIONS(.no_store = true, .max_age = 5));
  rcs[i++] = api_res_cache_control(res, API_CACHE_OPTIONS(.no_store = true, .immutable = true));
  rcs[i++] = api_res_cache_control(res, API_CACHE_OPTIONS(.scope = (api_cache_scope)7));
  rcs[i++] = api_res_cache_control(res, NULL);
  rcs[i++] = api_res_cache_control(
      res, API_CACHE_OPTIONS(.scope = API_CACHE_PUBLIC, .max_age = 31536000, .immutable = true));
  rcs[i++] = api_res_header(res, "X-CC1", api_res_get_header(res, "Cache-Control"));
  rcs[i++] = api_res_cache_control(
      res, API_CACHE_OPTIONS(.max_age = API_CACHE_AGE_ZERO, .s_maxage = 600, .no_cache = true,
                             .must_revalidate = true, .no_transform = true));
  rcs[i++] = api_res_header(res, "X-CC2", api_res_get_header(res, "Cache-Control"));
  rcs[i++] = api_res_cache_control(res, API_CACHE_OPTIONS(.no_store = true));
  rcs[i++] = api_res_etag(res, "has\"quote", false);
  rcs[i++] = api_res_etag(res, "has space", false);
  rcs[i++] = api_res_etag(res, NULL, false);
  rcs[i++] = api_res_etag(res, "caf\xc3\xa9", false);
  char long_tag[300];
  memset(long_tag, 'a', 299);
  long_tag[299] = '\0';
  rcs[i++] = api_res_etag(res, long_tag, false);
  rcs[i++] = api_res_etag(res, "", true);
  rcs[i++] = api_res_last_modified(res, -1);
  rcs[i++] = api_res_last_modified(res, LM_TIME);
  rcs[i++] = api_res_vary(res, "bad name");
  rcs[i++] = api_res_vary(res, "");
  rcs[i++] = api_res_vary(res, "Accept");
  rcs[i++] = api_res_header_add(res, "Vary", "cookie");
  rcs[i++] = api_res_vary(res, "Cookie");
  rcs[i++] = api_res_vary(res, "Origin");
  pthread_mutex_unlock(&lock);
  return api_res_text(res, 200, "helpers");
}

Test(conditional, helpers) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_app_get(app, "/h", h_helpers, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
  api_test_res *r = req_h("GET", "/h", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  pthread_mutex_lock(&lock);
  int want[] = {API_EINVAL, API_EINVAL, API_EINVAL, API_EINVAL, API_EINVAL, 0,
                0,          0,          0,          0,          API_EINVAL, API_EINVAL,
                API_EINVAL, API_EINVAL, API_EINVAL, 0,          API_EINVAL, 0,
                API_EINVAL, API_EINVAL, 0,          0,          0,          0};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    cr_assert_eq(rcs[i], want[i], "call %zu returned %d", i, rcs[i]);
  pthread_mutex_unlock(&lock);
  cr_assert_str_eq(api_test_res_header(r, "X-CC1"), "public, max-age=31536000, immutable");
  cr_assert_str_eq(api_test_res_header(r, "X-CC2"),
                   "no-cache, max-age=0, s-maxage=600, must-revalidate, no-transform");
  cr_assert_str_eq(api_test_res_header(r, "Cache-Control"), "no-store");
  cr_assert_str_eq(api_test_res_header(r, "ETag"), "W/\"\"");
  cr_assert_str_eq(api_test_res_header(r, "Last-Modified"), LM_TEXT);
  cr_assert_str_eq(api_test_res_header(r, "Vary"), "Accept, cookie, Origin");
  cr_assert_null(api_test_res_header_n(r, "Vary", 1));
  api_test_res_free(r);
}

Test(conditional, options) {
  api_app *a;
  api_middleware mw;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_mw_etag(a, NULL, &mw), API_EINVAL);
  cr_assert_eq(api_mw_etag(NULL, API_CONDITIONAL_OPTIONS(), &mw), API_EINVAL);
  cr_assert_eq(api_mw_etag(a, API_CONDITIONAL_OPTIONS(), NULL), API_EINVAL);
  cr_assert_eq(api_mw_etag(a, &(api_conditional_options){.size = 0}, &mw), API_EINVAL);
  cr_assert_eq(api_mw_etag(a, API_CONDITIONAL_OPTIONS(), &mw), 0);
  cr_assert_not_null(mw.on_send);
  api_app_free(a);
}

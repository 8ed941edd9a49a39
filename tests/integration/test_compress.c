/* Compression middleware: Accept-Encoding negotiation with hostile values, what is compressed and
 * what is not, Vary, ETags, allocation failure while compressing, and a real client (curl
 * --compressed) over a loopback server. Bodies are checked by inflating them with zlib. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http/codec.h"
#include "mw/compress_internal.h"
#include "support/client.h"
#include "util/alloc.h"

/* ---- negotiation ---- */

static int choose(const char *value, bool deflate) {
  api__accept_enc ae = API__ACCEPT_ENC_INIT;
  api__accept_enc_scan(&ae, value);
  return api__accept_enc_choose(&ae, deflate);
}

#define NONE API__ENC_NONE
#define GZIP API__ENC_GZIP
#define DEFL API__ENC_DEFLATE

Test(accept_encoding, q_values_and_preferences) {
  struct {
    const char *v;
    int want;
  } cases[] = {
      {"gzip", GZIP},
      {"deflate", DEFL},
      {"gzip, deflate", GZIP},
      {"deflate, gzip", GZIP}, /* ties go to gzip */
      {"gzip, deflate, br", GZIP},
      {"br", NONE},
      {"", NONE},
      {"GZIP", GZIP},
      {"x-gzip", GZIP},
      {"Deflate;Q=1", DEFL},
      {"deflate;q=1, gzip;q=0.5", DEFL},
      {"gzip;q=0.5, deflate;q=0.4", GZIP},
      {"gzip;q=0", NONE},
      {"gzip;q=0.000", NONE},
      {"gzip;q=0.001", GZIP},
      {"gzip;q=0, deflate", DEFL},
      {"*", GZIP},
      {"*;q=0", NONE},
      {"*;q=0.5, gzip;q=0", DEFL},
      {"*, gzip;q=0, deflate;q=0", NONE},
      {"identity", NONE},
      {"identity;q=0", NONE}, /* nothing acceptable: the body goes as it is */
      {"gzip;q=0.5, identity", NONE},
      {"gzip;q=0.5, identity;q=0.5", GZIP},
      {"gzip, identity;q=0", GZIP},
      {"  gzip  ;  q=0.8  ,deflate;q=0.9", DEFL},
      {"gzip;level=9", GZIP},       /* unknown parameters are ignored */
      {"gzip;q=0, gzip;q=1", NONE}, /* the first mention counts */
      {"gzip;q=1, gzip;q=0", GZIP},
      /* malformed q-values count as 0: a refusal never turns into a preference */
      {"gzip;q=abc", NONE},
      {"gzip;q=1.5", NONE},
      {"gzip;q=1.0001", NONE},
      {"gzip;q=1.000", GZIP},
      {"gzip;q=0.1234", NONE},
      {"gzip;q=99999999999999999999999999", NONE},
      {"gzip;q=-1", NONE},
      {"gzip;q=", NONE},
      {"gzip;q=.5", NONE},
      {"gzip;q=0x1", NONE},
      {"gzip;q=1e0", NONE},
      {"gzip;q=NaN", NONE},
      {"gzip;q= 1", GZIP},
      /* malformed elements are skipped */
      {"gzip;q", NONE},
      {"gzip;;", NONE},
      {"gzip;=1", NONE},
      {"gzip x, deflate", DEFL},
      {"\"gzip\", deflate", DEFL},
      {";q=1, gzip", GZIP},
      {",,,,,,", NONE},
      {",", NONE},
      {";", NONE},
      {"=", NONE},
      {"gzi", NONE},
      {"gzipp", NONE},
      {"gzip-x", NONE},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    cr_assert_eq(choose(cases[i].v, true), cases[i].want, "\"%s\": %d, want %d", cases[i].v,
                 choose(cases[i].v, true), cases[i].want);
  cr_assert_eq(choose("deflate", false), NONE);
  cr_assert_eq(choose("deflate, gzip;q=0.1", false), GZIP);
}

Test(accept_encoding, huge_and_random_values_terminate) {
  /* 10,000 elements, the one that counts at the end. */
  size_t cap = 10000 * 8 + 64, n = 0;
  char *v = malloc(cap);
  for (int i = 0; i < 10000; i++) n += (size_t)snprintf(v + n, cap - n, "br;q=1,");
  strcpy(v + n, "gzip;q=0.3");
  cr_assert_eq(choose(v, true), GZIP);
  /* Only commas and semicolons, only spaces, one huge token. */
  memset(v, ',', cap - 1);
  v[cap - 1] = '\0';
  cr_assert_eq(choose(v, true), NONE);
  memset(v, ';', cap - 1);
  cr_assert_eq(choose(v, true), NONE);
  memset(v, ' ', cap - 1);
  cr_assert_eq(choose(v, true), NONE);
  memset(v, 'g', cap - 1);
  cr_assert_eq(choose(v, true), NONE);
  /* Random printable junk: must end, and give one of the three answers. */
  srand(1234);
  const char alphabet[] = "gzipdeflat*;q=0.1, \t\"/xy";
  for (int round = 0; round < 2000; round++) {
    size_t len = (size_t)(rand() % 200);
    for (size_t i = 0; i < len; i++) v[i] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
    v[len] = '\0';
    int got = choose(v, true);
    cr_assert(got == NONE || got == GZIP || got == DEFL);
  }
  free(v);
}

/* ---- the middleware ---- */

static char json_body[4096 + 1];   /* compressible */
static char random_body[4096 + 1]; /* random bytes: not compressible */
static const char small_body[] = "{\"ok\":true}";

static void make_bodies(void) {
  size_t n = 0;
  n += (size_t)snprintf(json_body + n, sizeof(json_body) - n, "[");
  for (int i = 0; n < 4000; i++)
    n += (size_t)snprintf(json_body + n, sizeof(json_body) - n,
                          "%s{\"id\":%d,\"name\":\"item %d\"}", i ? "," : "", i, i % 7);
  snprintf(json_body + n, sizeof(json_body) - n, "]");
  srand(99);
  for (size_t i = 0; i < 4096; i++) random_body[i] = (char)(1 + rand() % 255);
  random_body[4096] = '\0';
}

static int h_body(api_req *req, api_res *res, void *ud) {
  (void)req;
  const char *what = ud;
  if (strcmp(what, "json") == 0)
    return api_res_body(res, "application/json", json_body, strlen(json_body));
  if (strcmp(what, "text") == 0)
    return api_res_body(res, "Text/Plain; charset=utf-8", json_body, strlen(json_body));
  if (strcmp(what, "ld") == 0)
    return api_res_body(res, "application/ld+json", json_body, strlen(json_body));
  if (strcmp(what, "svg") == 0)
    return api_res_body(res, "image/svg+xml", json_body, strlen(json_body));
  if (strcmp(what, "png") == 0) return api_res_body(res, "image/png", json_body, strlen(json_body));
  if (strcmp(what, "octet") == 0)
    return api_res_body(res, "application/octet-stream", json_body, strlen(json_body));
  if (strcmp(what, "none") == 0) return api_res_body(res, NULL, json_body, strlen(json_body));
  if (strcmp(what, "random") == 0) return api_res_body(res, "text/plain", random_body, 4096);
  if (strcmp(what, "small") == 0)
    return api_res_body(res, "application/json", small_body, strlen(small_body));
  if (strcmp(what, "medium") == 0) return api_res_body(res, "application/json", json_body, 300);
  if (strcmp(what, "encoded") == 0) {
    api_res_header(res, "Content-Encoding", "br");
    return api_res_body(res, "application/json", json_body, strlen(json_body));
  }
  if (strcmp(what, "etag") == 0 || strcmp(what, "wetag") == 0) {
    api_res_etag(res, "v1", what[0] == 'w');
    return api_res_body(res, "application/json", json_body, strlen(json_body));
  }
  if (strcmp(what, "notransform") == 0) {
    api_res_cache_control(res, API_CACHE_OPTIONS(.max_age = 60, .no_transform = true));
    return api_res_body(res, "application/json", json_body, strlen(json_body));
  }
  if (strcmp(what, "204") == 0) return api_res_status(res, 204);
  if (strcmp(what, "500") == 0) {
    api_res_status(res, 500);
    return api_res_body(res, "application/json", json_body, strlen(json_body));
  }
  return API_EINTERNAL;
}

static const char *const paths[] = {"json",        "text",   "ld",    "svg",     "png",  "octet",
                                    "none",        "random", "small", "encoded", "etag", "wetag",
                                    "notransform", "204",    "500",   "medium",  NULL};

static api_app *app;
static api_test *t;

static api_app *new_app(const api_compress_options *o) {
  make_bodies();
  api_app *a;
  api_config cfg = tc_config(2);
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_compress(a, o, &mw), 0, "%s", api_last_error());
  cr_assert_eq(api_app_use(a, &mw), 0);
  for (size_t i = 0; paths[i]; i++) {
    char p[64];
    snprintf(p, sizeof(p), "/%s", paths[i]);
    cr_assert_eq(api_app_get(a, p, h_body, (void *)paths[i]), 0);
  }
  return a;
}

static void start(const api_compress_options *o) {
  app = new_app(o);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void stop(void) {
  api_test_free(t);
  api_app_free(app);
  t = NULL;
  app = NULL;
}

TestSuite(compress, .fini = stop, .timeout = 60);

static api_test_res *get(const char *path, const char *accept) {
  char h[256];
  snprintf(h, sizeof(h), "Accept-Encoding: %s", accept ? accept : "");
  api_test_res *r = NULL;
  cr_assert_eq(
      api_test_request(
          t, API_TEST_REQ(.target = path, .headers = (const char *[]){accept ? h : NULL, NULL}),
          &r),
      0);
  return r;
}

/* Inflate (gzip when gzip, else zlib format) into a malloc'd NUL-terminated buffer. */
static char *inflate_all(const char *in, size_t len, bool gzip, size_t *out_len) {
  z_stream zs = {0};
  cr_assert_eq(inflateInit2(&zs, gzip ? 15 + 16 : 15), Z_OK);
  size_t cap = 1 << 20;
  char *out = malloc(cap);
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)len;
  zs.next_out = (Bytef *)out;
  zs.avail_out = (uInt)cap - 1;
  int rc = inflate(&zs, Z_FINISH);
  cr_assert_eq(rc, Z_STREAM_END, "inflate: %d", rc);
  cr_assert_eq(zs.avail_in, 0, "bytes after the compressed stream");
  *out_len = zs.total_out;
  out[zs.total_out] = '\0';
  inflateEnd(&zs);
  return out;
}

static bool has_token(const api_test_res *r, const char *field, const char *token) {
  for (size_t i = 0; api_test_res_header_n(r, field, i); i++)
    if (api__header_has_token(api_test_res_header_n(r, field, i), token)) return true;
  return false;
}

/* The response is compressed with coding and inflates to want. */
static void assert_compressed(api_test_res *r, const char *coding, const char *want) {
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), coding);
  cr_assert(has_token(r, "Vary", "Accept-Encoding"));
  size_t len, n;
  const char *body = api_test_res_body(r, &len);
  char cl[32];
  snprintf(cl, sizeof(cl), "%zu", len);
  cr_assert_str_eq(api_test_res_header(r, "Content-Length"), cl);
  cr_assert_lt(len, strlen(want));
  char *plain = inflate_all(body, len, strcmp(coding, "gzip") == 0, &n);
  cr_assert_eq(n, strlen(want));
  cr_assert_str_eq(plain, want);
  free(plain);
}

static void assert_plain(api_test_res *r, const char *want, bool vary, const char *what) {
  cr_assert_null(api_test_res_header(r, "Content-Encoding"), "%s", what);
  size_t len;
  const char *body = api_test_res_body(r, &len);
  if (want) {
    cr_assert_eq(len, strlen(want), "%s", what);
    cr_assert_eq(memcmp(body, want, len), 0, "%s", what);
  }
  cr_assert_eq(has_token(r, "Vary", "Accept-Encoding"), vary, "%s: Vary", what);
}

Test(compress, gzip_and_deflate_bodies_inflate_to_the_original) {
  start(API_COMPRESS_OPTIONS());
  api_test_res *r = get("/json", "gzip, deflate");
  assert_compressed(r, "gzip", json_body);
  api_test_res_free(r);
  r = get("/json", "deflate");
  assert_compressed(r, "deflate", json_body);
  api_test_res_free(r);
  const char *types[] = {"/text", "/ld", "/svg", "/500"};
  for (size_t i = 0; i < 4; i++) {
    r = get(types[i], "gzip");
    cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), "gzip", "%s", types[i]);
    api_test_res_free(r);
  }
}

Test(compress, what_is_not_compressed) {
  start(API_COMPRESS_OPTIONS());
  /* The decision depended on Accept-Encoding: Vary. */
  api_test_res *r = get("/json", NULL);
  assert_plain(r, json_body, true, "no Accept-Encoding");
  api_test_res_free(r);
  r = get("/json", "identity");
  assert_plain(r, json_body, true, "identity");
  api_test_res_free(r);
  r = get("/json", "gzip;q=0, deflate;q=0");
  assert_plain(r, json_body, true, "refused");
  api_test_res_free(r);
  r = get("/json", "gzip;q=abc");
  assert_plain(r, json_body, true, "q=abc");
  api_test_res_free(r);
  r = get("/random", "gzip");
  assert_plain(r, random_body, true, "no gain");
  api_test_res_free(r);
  /* It did not: no Vary. */
  const char *never[] = {"/png", "/octet", "/none", "/small"};
  for (size_t i = 0; i < 4; i++) {
    r = get(never[i], "gzip");
    assert_plain(r, never[i][1] == 's' ? small_body : json_body, false, never[i]);
    api_test_res_free(r);
  }
  r = get("/encoded", "gzip");
  cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), "br");
  cr_assert_str_eq(api_test_res_body(r, NULL), json_body);
  cr_assert(!has_token(r, "Vary", "Accept-Encoding"));
  api_test_res_free(r);
  r = get("/notransform", "gzip");
  assert_plain(r, json_body, false, "no-transform");
  api_test_res_free(r);
  r = get("/medium", "gzip");
  assert_plain(r, NULL, false, "300 bytes, under the default 1024");
  api_test_res_free(r);
  r = get("/204", "gzip");
  cr_assert_eq(api_test_res_status(r), 204);
  assert_plain(r, "", false, "204");
  api_test_res_free(r);
}

Test(compress, head_is_not_compressed_but_varies) {
  start(API_COMPRESS_OPTIONS());
  api_test_res *r = NULL;
  cr_assert_eq(
      api_test_request(t,
                       API_TEST_REQ(.method = "HEAD", .target = "/json",
                                    .headers = (const char *[]){"Accept-Encoding: gzip", NULL}),
                       &r),
      0);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_null(api_test_res_header(r, "Content-Encoding"));
  cr_assert(has_token(r, "Vary", "Accept-Encoding"));
  char cl[32];
  snprintf(cl, sizeof(cl), "%zu", strlen(json_body));
  cr_assert_str_eq(api_test_res_header(r, "Content-Length"), cl);
  api_test_res_free(r);
}

Test(compress, hostile_accept_encoding_over_the_wire) {
  start(API_COMPRESS_OPTIONS());
  /* About 7,000 elements in one field (under the 16 KiB header limit), then two fields. */
  char *big = malloc(60000);
  size_t n = (size_t)sprintf(big, "Accept-Encoding: ");
  for (int i = 0; i < 1400; i++) n += (size_t)sprintf(big + n, "a,b,c,");
  strcpy(big + n, "gzip;q=0.2");
  api_test_res *r = NULL;
  cr_assert_eq(api_test_request(
                   t, API_TEST_REQ(.target = "/json", .headers = (const char *[]){big, NULL}), &r),
               0);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), "gzip");
  api_test_res_free(r);
  free(big);
  cr_assert_eq(
      api_test_request(t,
                       API_TEST_REQ(.target = "/json",
                                    .headers = (const char *[]){"Accept-Encoding: br",
                                                                "Accept-Encoding: deflate", NULL}),
                       &r),
      0);
  cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), "deflate");
  api_test_res_free(r);
  const char *junk[] = {",,,,,,,,", "gzip;q=1.5", "gzip;q=99999999999999999999", ";;;;",
                        "\"gzip\""};
  for (size_t i = 0; i < 5; i++) {
    r = get("/json", junk[i]);
    assert_plain(r, json_body, true, junk[i]);
    api_test_res_free(r);
  }
}

Test(compress, strong_etags_change_weak_ones_stay) {
  start(API_COMPRESS_OPTIONS());
  api_test_res *r = get("/etag", "gzip");
  assert_compressed(r, "gzip", json_body);
  cr_assert_str_eq(api_test_res_header(r, "ETag"), "\"v1-gzip\"");
  api_test_res_free(r);
  r = get("/etag", "deflate");
  cr_assert_str_eq(api_test_res_header(r, "ETag"), "\"v1-deflate\"");
  api_test_res_free(r);
  r = get("/etag", NULL);
  cr_assert_str_eq(api_test_res_header(r, "ETag"), "\"v1\"");
  api_test_res_free(r);
  r = get("/wetag", "gzip");
  cr_assert_str_eq(api_test_res_header(r, "Content-Encoding"), "gzip");
  cr_assert_str_eq(api_test_res_header(r, "ETag"), "W/\"v1\"");
  api_test_res_free(r);
}

Test(compress, options) {
  api_app *a;
  api_middleware mw;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_mw_compress(a, API_COMPRESS_OPTIONS(.level = 10), &mw), API_EINVAL);
  cr_assert(strstr(api_last_error(), "level"));
  cr_assert_eq(api_mw_compress(a, API_COMPRESS_OPTIONS(.level = -1), &mw), API_EINVAL);
  cr_assert_eq(api_mw_compress(a, NULL, &mw), API_EINVAL);
  cr_assert_eq(api_mw_compress(NULL, API_COMPRESS_OPTIONS(), &mw), API_EINVAL);
  cr_assert_eq(api_mw_compress(a, API_COMPRESS_OPTIONS(), NULL), API_EINVAL);
  const char *bad[] = {"",           "text", "text/",  "/json", "text/*/x",
                       "text/ html", "+",    "+js on", "*/*",   "text/h*"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_eq(
        api_mw_compress(a, API_COMPRESS_OPTIONS(.types = (const char *[]){bad[i], NULL}), &mw),
        API_EINVAL, "type \"%s\"", bad[i]);
    cr_assert(strstr(api_last_error(), "types"));
  }
  cr_assert_eq(api_mw_compress(a, API_COMPRESS_OPTIONS(.types = (const char *[]){NULL}), &mw),
               API_EINVAL);
  api_app_free(a);

  /* min_size, level, a type list, gzip only. */
  start(API_COMPRESS_OPTIONS(.min_size = 200, .level = 9, .no_deflate = true,
                             .types = (const char *[]){"application/json", "image/*", NULL}));
  char medium[301];
  memcpy(medium, json_body, 300);
  medium[300] = '\0';
  api_test_res *r = get("/medium", "gzip");
  assert_compressed(r, "gzip", medium);
  api_test_res_free(r);
  r = get("/small", "gzip");
  assert_plain(r, small_body, false, "under min_size");
  api_test_res_free(r);
  r = get("/png", "gzip");
  assert_compressed(r, "gzip", json_body);
  api_test_res_free(r);
  r = get("/svg", "gzip");
  assert_compressed(r, "gzip", json_body);
  api_test_res_free(r);
  r = get("/text", "gzip");
  assert_plain(r, json_body, false, "text not listed");
  api_test_res_free(r);
  r = get("/ld", "gzip");
  assert_plain(r, json_body, false, "+json not listed");
  api_test_res_free(r);
  r = get("/json", "deflate");
  assert_plain(r, json_body, true, "deflate off");
  api_test_res_free(r);
}

/* Allocations failing while the body is compressed: the body goes uncompressed (and whole). */
static int fail_from_here(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)res;
  long n = *(const long *)ud;
  api__alloc_fail_nth(n);
  return API_NEXT;
}
static int fail_no_more(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)res;
  (void)ud;
  api__alloc_fail_nth(-1);
  return API_NEXT;
}

Test(compress, allocation_failure_sends_the_body_as_it_is) {
  static long nth;
  make_bodies();
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_compress(app, API_COMPRESS_OPTIONS(), &mw), 0);
  cr_assert_eq(api_app_use(app, API_MIDDLEWARE(.on_send = fail_from_here, .user_data = &nth)), 0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_app_use(app, API_MIDDLEWARE(.on_send = fail_no_more)), 0);
  cr_assert_eq(api_app_get(app, "/json", h_body, "json"), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
  int plain = 0, compressed = 0;
  for (nth = 0; nth < 12; nth++) {
    api_test_res *r = get("/json", "gzip");
    cr_assert_eq(api_test_res_status(r), 200);
    if (api_test_res_header(r, "Content-Encoding")) {
      assert_compressed(r, "gzip", json_body);
      compressed++;
    } else {
      assert_plain(r, json_body, api_test_res_header(r, "Vary") != NULL, "failed allocation");
      plain++;
    }
    api_test_res_free(r);
  }
  cr_assert_gt(plain, 0, "no allocation failure made a difference");
  cr_assert_gt(compressed, 0, "compression never worked");
}

/* A real client: curl --compressed decodes the body, and says which coding it got. */
Test(compress, curl_compressed_decodes) {
  int rc;
  char *v = tc_run("curl --version 2>/dev/null", &rc);
  free(v);
  if (rc != 0) cr_skip_test("curl is not installed");
  app = new_app(API_COMPRESS_OPTIONS());
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "curl -sS --compressed http://127.0.0.1:%d/json",
           api_server_port(srv));
  char *out = tc_run(cmd, &rc);
  cr_assert_eq(rc, 0);
  cr_assert_str_eq(out, json_body);
  free(out);
  snprintf(cmd, sizeof(cmd), "curl -sS --compressed -o /dev/null -D - http://127.0.0.1:%d/json",
           api_server_port(srv));
  out = tc_run(cmd, &rc);
  cr_assert_eq(rc, 0);
  cr_assert(
      strcasestr(out, "content-encoding: gzip") || strcasestr(out, "content-encoding: deflate"),
      "%s", out);
  free(out);
  tc_stop(srv, app);
  app = NULL;
}

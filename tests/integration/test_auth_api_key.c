/* API key middleware through the in-process client: the right key, a wrong secret behind a valid
 * prefix, unknown prefixes, malformed and oversized keys, duplicated fields, the query parameter
 * only when enabled, peppered hashes, and keys never reaching the logs. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

static api_app *app;
static api_test *t;
static char *key1, *hash1, *key2, *hash2;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[1 << 16];
static size_t loglen;

static void sink(api_log_level level, const char *line, size_t len, void *ud) {
  (void)level;
  (void)ud;
  pthread_mutex_lock(&lock);
  if (loglen + len < sizeof(logbuf)) {
    memcpy(logbuf + loglen, line, len);
    loglen += len;
    logbuf[loglen] = '\0';
  }
  pthread_mutex_unlock(&lock);
}

static int h_me(api_req *req, api_res *res, void *ud) {
  (void)ud;
  const api_principal *p = api_req_principal(req);
  if (!p) return api_res_text(res, 200, "anonymous");
  char buf[512];
  snprintf(buf, sizeof(buf), "%s|%s|%s|%s|%d|%d", p->subject, p->key_id, p->rate_limit_key,
           api_req_user(req), api_req_has_role(req, "admin"), api_req_has_scope(req, "read"));
  return api_res_text(res, 200, buf);
}

static void start_with(const char *query, const void *pepper, int optional) {
  cr_assert_eq(api_api_key_generate("ak1", &key1, &hash1), 0);
  cr_assert_eq(api_api_key_generate(NULL, &key2, &hash2), 0);
  if (pepper) {
    api_auth_string_free(hash1);
    api_auth_string_free(hash2);
    cr_assert_eq(api_api_key_hash(&hash1, key1, pepper, 32), 0);
    cr_assert_eq(api_api_key_hash(&hash2, key2, pepper, 32), 0);
  }
  char prefix2[64];
  size_t pl = (size_t)(strchr(key2, '_') - key2);
  memcpy(prefix2, key2, pl);
  prefix2[pl] = '\0';
  api_api_key_record recs[] = {
      {.id = "rec-1",
       .prefix = "ak1",
       .hash = hash1,
       .subject = "svc-billing",
       .roles = (const char *[]){"admin", NULL},
       .scopes = (const char *[]){"read", NULL}},
      {.id = "rec-2", .prefix = prefix2, .hash = hash2, .rate_limit_key = "tenant-9"},
  };
  api_logger *log;
  cr_assert_eq(api_logger_new(
                   &log, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = sink,
                                        .sync = true, .ignore_env = true, .level = API_LOG_TRACE)),
               0);
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_app_set_logger(app, log), 0);
  api_middleware acc, mw, guard;
  cr_assert_eq(api_mw_access_log(app, NULL, &acc), 0);
  cr_assert_eq(api_app_use(app, &acc), 0);
  cr_assert_eq(
      api_mw_api_key(app,
                     API_API_KEY_OPTIONS(.records = recs, .nrecords = 2, .query_param = query,
                                         .pepper = pepper, .pepper_len = pepper ? 32 : 0,
                                         .optional = optional),
                     &mw),
      0, "%s", api_last_error());
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_mw_require(app, API_REQUIRE(.roles = (const char *[]){"admin", NULL}), &guard),
               0);
  cr_assert_eq(api_app_get(app, "/me", h_me, NULL), 0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "GET", .path = "/admin", .handler = h_me,
                                   .middleware = (const api_middleware *[]){&guard, NULL})),
      0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void stop(void) {
  api_test_free(t);
  api_app_free(app);
  api_auth_string_free(key1);
  api_auth_string_free(hash1);
  api_auth_string_free(key2);
  api_auth_string_free(hash2);
  t = NULL;
  app = NULL;
  key1 = hash1 = key2 = hash2 = NULL;
  loglen = 0;
}

TestSuite(auth_api_key, .fini = stop, .timeout = 60);

static api_test_res *get_key(const char *target, const char *key) {
  static char h[4096];
  snprintf(h, sizeof(h), "X-API-Key: %s", key);
  api_test_res *r = NULL;
  cr_assert_eq(
      api_test_request(t, API_TEST_REQ(.target = target, .headers = (const char *[]){h, NULL}), &r),
      0);
  return r;
}

static void expect(api_test_res *r, int status, const char *body) {
  cr_assert_eq(api_test_res_status(r), status, "got %d: %s", api_test_res_status(r),
               api_test_res_body(r, NULL));
  if (body) cr_assert_str_eq(api_test_res_body(r, NULL), body);
  if (status == 401)
    cr_assert_str_eq(api_test_res_header(r, "WWW-Authenticate"), "ApiKey realm=\"api\"");
  api_test_res_free(r);
}

Test(auth_api_key, right_keys) {
  start_with(NULL, NULL, 0);
  cr_assert_eq(strncmp(key1, "ak1_", 4), 0);
  cr_assert_eq(strlen(key1), 4 + 43);
  cr_assert_eq(strlen(hash1), 64);
  expect(get_key("/me", key1), 200, "svc-billing|rec-1|key:rec-1|svc-billing|1|1");
  expect(get_key("/me", key2), 200, "rec-2|rec-2|tenant-9|rec-2|0|0");
  expect(get_key("/admin", key1), 200, NULL);
  expect(get_key("/admin", key2), 403, NULL);
}

Test(auth_api_key, wrong_keys_all_look_alike) {
  start_with(NULL, NULL, 0);
  char bad[256];
  /* valid prefix, wrong secret (one character changed) */
  snprintf(bad, sizeof(bad), "%s", key1);
  bad[10] = bad[10] == 'A' ? 'B' : 'A';
  api_test_res *r1 = get_key("/me", bad);
  /* unknown prefix, a real secret */
  snprintf(bad, sizeof(bad), "zz9%s", key1 + 3);
  api_test_res *r2 = get_key("/me", bad);
  cr_assert_eq(api_test_res_status(r1), 401);
  cr_assert_eq(api_test_res_status(r2), 401);
  /* the bodies differ only by the request id */
  json_t *b1 = json_object_get(api_test_res_json(r1), "error");
  json_t *b2 = json_object_get(api_test_res_json(r2), "error");
  cr_assert(json_equal(b1, b2), "same error for a bad secret and an unknown prefix");
  api_test_res_free(r1);
  api_test_res_free(r2);
  const char *hostile[] = {"ak1",
                           "ak1_",
                           "_secret",
                           "ak1__",
                           "a k1_x",
                           "ak1_\"x\"",
                           "x",
                           "ak1_"
                           "\xc3\xa9"};
  for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
    expect(get_key("/me", hostile[i]), 401, NULL);
  /* the key with something appended, or a prefix of it */
  snprintf(bad, sizeof(bad), "%sx", key1);
  expect(get_key("/me", bad), 401, NULL);
  snprintf(bad, sizeof(bad), "%.*s", (int)strlen(key1) - 1, key1);
  expect(get_key("/me", bad), 401, NULL);
  /* over 512 bytes */
  static char big[3000];
  memcpy(big, "ak1_", 4);
  memset(big + 4, 'a', 2000);
  big[2004] = '\0';
  expect(get_key("/me", big), 401, NULL);
  /* missing */
  api_test_res *r = NULL;
  cr_assert_eq(api_test_get(t, "/me", &r), 0);
  expect(r, 401, NULL);
  /* two fields, even both right */
  char h1[256], h2[256];
  snprintf(h1, sizeof(h1), "X-API-Key: %s", key1);
  snprintf(h2, sizeof(h2), "x-api-key: %s", key1);
  cr_assert_eq(api_test_request(
                   t, API_TEST_REQ(.target = "/me", .headers = (const char *[]){h1, h2, NULL}), &r),
               0);
  expect(r, 401, NULL);
}

Test(auth_api_key, query_param_only_when_enabled) {
  start_with(NULL, NULL, 0);
  char target[256];
  snprintf(target, sizeof(target), "/me?api_key=%s", key1);
  api_test_res *r = NULL;
  cr_assert_eq(api_test_get(t, target, &r), 0);
  expect(r, 401, NULL);
  api_test_free(t);
  api_app_free(app);
  t = NULL;
  app = NULL;
  api_auth_string_free(key1);
  api_auth_string_free(hash1);
  api_auth_string_free(key2);
  api_auth_string_free(hash2);
  start_with("api_key", NULL, 0);
  snprintf(target, sizeof(target), "/me?api_key=%s", key1);
  cr_assert_eq(api_test_get(t, target, &r), 0);
  expect(r, 200, "svc-billing|rec-1|key:rec-1|svc-billing|1|1");
  snprintf(target, sizeof(target), "/me?api_key=%s&api_key=%s", key1, key1);
  cr_assert_eq(api_test_get(t, target, &r), 0);
  expect(r, 401, NULL);
}

Test(auth_api_key, pepper) {
  static const unsigned char pepper[32] = "0123456789abcdef0123456789abcdef";
  start_with(NULL, pepper, 0);
  expect(get_key("/me", key1), 200, NULL);
  char *plain;
  cr_assert_eq(api_api_key_hash(&plain, key1, NULL, 0), 0);
  cr_assert_str_neq(plain, hash1, "the pepper changes the hash");
  api_auth_string_free(plain);
}

Test(auth_api_key, optional) {
  start_with(NULL, NULL, 1);
  api_test_res *r = NULL;
  cr_assert_eq(api_test_get(t, "/me", &r), 0);
  expect(r, 200, "anonymous");
  cr_assert_eq(api_test_get(t, "/admin", &r), 0);
  expect(r, 401, NULL);
  expect(get_key("/me", "ak1_wrong"), 401, NULL);
}

Test(auth_api_key, keys_never_logged) {
  start_with("api_key", NULL, 0);
  expect(get_key("/me", key1), 200, NULL);
  char target[256];
  snprintf(target, sizeof(target), "/me?api_key=%s", key2);
  api_test_res *r = NULL;
  cr_assert_eq(api_test_get(t, target, &r), 0);
  expect(r, 200, NULL);
  expect(get_key("/me", "ak1_notthekeyatall"), 401, NULL);
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&lock);
    bool done = strstr(logbuf, "\"status\":401") != NULL;
    pthread_mutex_unlock(&lock);
    if (done) break;
    usleep(10000);
  }
  pthread_mutex_lock(&lock);
  cr_assert_not_null(strstr(logbuf, "\"user\":\"svc-billing\""), "%s", logbuf);
  cr_assert_null(strstr(logbuf, key1 + 4), "%s", logbuf);
  cr_assert_null(strstr(logbuf, key2 + 13), "%s", logbuf);
  cr_assert_null(strstr(logbuf, "notthekeyatall"), "%s", logbuf);
  pthread_mutex_unlock(&lock);
}

Test(auth_api_key, bad_options) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  const char *h = "0000000000000000000000000000000000000000000000000000000000000000";
  cr_assert_eq(api_mw_api_key(app, NULL, &mw), API_EINVAL);
  cr_assert_eq(
      api_mw_api_key(
          app,
          API_API_KEY_OPTIONS(.records =
                                  (api_api_key_record[]){{.id = "a", .prefix = "p_q", .hash = h}},
                              .nrecords = 1),
          &mw),
      API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "prefix"));
  cr_assert_eq(
      api_mw_api_key(
          app,
          API_API_KEY_OPTIONS(.records =
                                  (api_api_key_record[]){{.id = "a", .prefix = "p", .hash = "abc"}},
                              .nrecords = 1),
          &mw),
      API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "hash"));
  cr_assert_eq(api_mw_api_key(app,
                              API_API_KEY_OPTIONS(.records =
                                                      (api_api_key_record[]){
                                                          {.id = "a", .prefix = "p", .hash = h},
                                                          {.id = "b", .prefix = "p", .hash = h}},
                                                  .nrecords = 2),
                              &mw),
               API_EINVAL);
  cr_assert_not_null(strstr(api_last_error(), "twice"));
  cr_assert_eq(api_mw_api_key(app, API_API_KEY_OPTIONS(.pepper = "short", .pepper_len = 5), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_api_key(app, API_API_KEY_OPTIONS(.header = "X Key"), &mw), API_EINVAL);
  char *k, *hh;
  cr_assert_eq(api_api_key_generate("bad_prefix", &k, &hh), API_EINVAL);
  cr_assert_eq(api_api_key_generate(NULL, NULL, &hh), API_EINVAL);
  cr_assert_eq(api_mw_api_key(app, API_API_KEY_OPTIONS(0), &mw), 0);
}

/* Cookie sessions (api_mw_session, the in-memory store) and CSRF (api_mw_csrf) through the
 * in-process client: cookie attributes, data round trips, fixation, forged and garbage cookies,
 * idle and absolute expiry, logout, the store's bounds, CSRF tokens and cross-site requests. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libapi/api.h>

#include "support/session_app.h"
#include "util/alloc.h"

static api_app *app;
static api_test *t;
static api_session_memstore *ms;
static void build_with(size_t max_records, const api_csrf_options *copts) {
  ts_now = 1700000000;
  cr_assert_eq(api_session_memstore_new(&ms, max_records, 0), 0);
  api_session_store st;
  api_session_memstore_store(ms, &st);
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware sm, cm;
  cr_assert_eq(api_mw_session(app,
                              API_SESSION_OPTIONS(.store = &st, .idle_timeout = 600,
                                                  .absolute_timeout = 3600, .clock = ts_clock),
                              &sm),
               0, "%s", api_last_error());
  cr_assert_eq(api_mw_csrf(app, copts, &cm), 0, "%s", api_last_error());
  cr_assert_eq(api_app_use(app, &sm), 0);
  cr_assert_eq(api_app_use(app, &cm), 0);
  cr_assert_eq(ts_session_routes(app), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void build(void) {
  build_with(100, API_CSRF_OPTIONS(.secret = ts_csrf_secret, .secret_len = 32));
}

static void teardown(void) {
  api_test_free(t);
  api_app_free(app);
  api_session_memstore_free(ms);
  t = NULL;
  app = NULL;
  ms = NULL;
}

TestSuite(session, .init = build, .fini = teardown, .timeout = 60);

typedef struct resp {
  int status;
  char cookie[2048]; /* the Set-Cookie field, "" if none */
  char sid[128];     /* the cookie's value */
  json_t *json;
} resp;

/* Sends method target with the extra header lines (NULL-terminated, may be NULL) and body. */
static resp *send_req(const char *method, const char *target, const char *const *headers,
                      const char *body) {
  static resp r;
  json_decref(r.json);
  memset(&r, 0, sizeof(r));
  api_test_res *res = NULL;
  cr_assert_eq(
      api_test_request(
          t, API_TEST_REQ(.method = method, .target = target, .headers = headers, .body = body),
          &res),
      0);
  r.status = api_test_res_status(res);
  const char *sc = api_test_res_header(res, "Set-Cookie");
  cr_assert_null(api_test_res_header_n(res, "Set-Cookie", 1), "two Set-Cookie fields");
  if (sc) {
    snprintf(r.cookie, sizeof(r.cookie), "%s", sc);
    const char *eq = strchr(sc, '=');
    const char *semi = strchr(sc, ';');
    cr_assert(eq && semi && eq < semi);
    snprintf(r.sid, sizeof(r.sid), "%.*s", (int)(semi - eq - 1), eq + 1);
  }
  json_t *j = api_test_res_json(res);
  r.json = j ? json_incref(j) : NULL;
  api_test_res_free(res);
  return &r;
}

static char cookie_hdr[4096];
static const char *const *with_cookie(const char *sid, const char *extra1, const char *extra2) {
  static const char *h[4];
  snprintf(cookie_hdr, sizeof(cookie_hdr), "Cookie: __Host-sid=%s", sid);
  h[0] = cookie_hdr;
  h[1] = extra1;
  h[2] = extra1 ? extra2 : NULL;
  h[3] = NULL;
  return h;
}

static const char *user_of(resp *r) {
  cr_assert_eq(r->status, 200);
  return json_string_value(json_object_get(r->json, "user"));
}

/* Logs in as user; returns the new session id and stores the CSRF token in csrf. */
static void login(const char *user, char sid[128], char csrf[64]) {
  char target[128];
  snprintf(target, sizeof(target), "/login?user=%s", user);
  resp *r = send_req("POST", target, NULL, NULL);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(strlen(r->sid), API_SESSION_ID_LEN, "%s", r->cookie);
  strcpy(sid, r->sid);
  const char *tok = json_string_value(json_object_get(r->json, "csrf"));
  cr_assert_not_null(tok);
  cr_assert_eq(strlen(tok), API_CSRF_TOKEN_LEN);
  strcpy(csrf, tok);
}

Test(session, login_sets_a_safe_cookie_and_data_round_trips) {
  char sid[128], csrf[64];
  login("alice", sid, csrf);
  resp *r = send_req("GET", "/me", NULL, NULL);
  cr_assert_str_eq(r->cookie, "", "anonymous GET set a cookie: %s", r->cookie);
  cr_assert_null(user_of(r));
  r = send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL);
  cr_assert_str_eq(user_of(r), "alice");
  cr_assert_str_eq(r->sid, sid);
  cr_assert(strstr(r->cookie, "HttpOnly"), "%s", r->cookie);
  cr_assert(strstr(r->cookie, "Secure"), "%s", r->cookie);
  cr_assert(strstr(r->cookie, "SameSite=Lax"), "%s", r->cookie);
  cr_assert(strstr(r->cookie, "Path=/"), "%s", r->cookie);
  cr_assert(strstr(r->cookie, "Max-Age=600"), "%s", r->cookie);
  cr_assert_null(strstr(r->cookie, "Domain"), "%s", r->cookie);
  cr_assert_eq(api_session_memstore_count(ms), 1);
  /* data persists across requests */
  for (int i = 1; i <= 3; i++) {
    r = send_req("POST", "/count", with_cookie(sid, "X-CSRF-Token: ", NULL), NULL);
    cr_assert_eq(r->status, 403);
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf);
    r = send_req("POST", "/count", with_cookie(sid, hdr, NULL), NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "n")), i);
  }
  /* two users get two different sessions */
  char sid2[128], csrf2[64];
  login("bob", sid2, csrf2);
  cr_assert_str_neq(sid, sid2);
  cr_assert_str_neq(csrf, csrf2);
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(sid2, NULL, NULL), NULL)), "bob");
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL)), "alice");
  cr_assert_eq(api_session_memstore_count(ms), 2);
}

Test(session, anonymous_traffic_creates_no_sessions) {
  for (int i = 0; i < 20; i++) {
    resp *r = send_req("GET", "/me", NULL, NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->cookie, "");
  }
  cr_assert_eq(api_session_memstore_count(ms), 0);
}

Test(session, fixation_attempts_fail) {
  /* An id the attacker made up is never adopted: the server issues its own. */
  const char *planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  cr_assert_eq(strlen(planted), API_SESSION_ID_LEN);
  resp *r = send_req("POST", "/login", with_cookie(planted, NULL, NULL), NULL);
  cr_assert_eq(r->status, 200);
  cr_assert_eq(strlen(r->sid), API_SESSION_ID_LEN);
  cr_assert_str_neq(r->sid, planted);
  cr_assert_null(user_of(send_req("GET", "/me", with_cookie(planted, NULL, NULL), NULL)));
  /* An anonymous session the attacker obtained (and could plant) is rotated away at login. */
  r = send_req("POST", "/count", NULL, NULL);
  cr_assert_eq(r->status, 200);
  char pre[128];
  strcpy(pre, r->sid);
  cr_assert_eq(strlen(pre), API_SESSION_ID_LEN);
  const char *tok = NULL;
  r = send_req("GET", "/token", with_cookie(pre, NULL, NULL), NULL);
  tok = json_string_value(json_object_get(r->json, "csrf"));
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", tok);
  r = send_req("POST", "/login?user=victim", with_cookie(pre, hdr, NULL), NULL);
  cr_assert_eq(r->status, 200);
  cr_assert_str_neq(r->sid, pre);
  char post[128];
  strcpy(post, r->sid);
  /* the old id is worthless, the new one carries the login and the data from before */
  r = send_req("GET", "/me", with_cookie(pre, NULL, NULL), NULL);
  cr_assert_null(user_of(r));
  cr_assert(strstr(r->cookie, "Max-Age=0"), "stale cookie not cleared: %s", r->cookie);
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(post, NULL, NULL), NULL)), "victim");
  cr_assert_eq(api_session_memstore_count(ms), 2); /* the planted login's and the victim's */
}

Test(session, forged_and_garbage_cookies_are_ignored) {
  char sid[128], csrf[64];
  login("alice", sid, csrf);
  char flipped[128];
  strcpy(flipped, sid);
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  char longer[160];
  snprintf(longer, sizeof(longer), "%.100sA", sid);
  char shorter[128];
  snprintf(shorter, sizeof(shorter), "%.42s", sid);
  char *huge = malloc(6000);
  memset(huge, 'A', 5999);
  huge[5999] = 0;
  const char *bad[] = {flipped,
                       longer,
                       shorter,
                       "",
                       "%00%00",
                       "../../etc/passwd",
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                       huge};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    resp *r = send_req("GET", "/me", with_cookie(bad[i], NULL, NULL), NULL);
    cr_assert_eq(r->status, 200, "cookie %zu", i);
    cr_assert_null(json_string_value(json_object_get(r->json, "user")), "cookie %zu", i);
    cr_assert(!json_is_true(json_object_get(r->json, "exists")));
    cr_assert(strstr(r->cookie, "Max-Age=0"), "cookie %zu: %s", i, r->cookie);
  }
  free(huge);
  /* the real session twice (a tossed cookie with the same name) makes the request sessionless */
  char two[512];
  snprintf(two, sizeof(two), "Cookie: __Host-sid=%s; __Host-sid=%s", flipped, sid);
  resp *r = send_req("GET", "/me", (const char *[]){two, NULL}, NULL);
  cr_assert_null(json_string_value(json_object_get(r->json, "user")));
  snprintf(two, sizeof(two), "Cookie: __Host-sid=%s", sid);
  r = send_req("GET", "/me", (const char *[]){two, "Cookie: __Host-sid=x", NULL}, NULL);
  cr_assert_null(json_string_value(json_object_get(r->json, "user")));
  /* another cookie name is not the session */
  snprintf(two, sizeof(two), "Cookie: sid=%s; __Host-sidx=%s", sid, sid);
  r = send_req("GET", "/me", (const char *[]){two, NULL}, NULL);
  cr_assert_null(json_string_value(json_object_get(r->json, "user")));
  cr_assert_str_eq(r->cookie, "");
  /* and the real one still works */
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL)), "alice");
}

Test(session, idle_and_absolute_expiry) {
  char sid[128], csrf[64];
  login("alice", sid, csrf);
  ts_now += 599;
  resp *r = send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL);
  cr_assert_str_eq(user_of(r), "alice");
  cr_assert(strstr(r->cookie, "Max-Age=600"), "%s", r->cookie); /* idle window restarts */
  ts_now += 600;                                                /* idle too long */
  r = send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL);
  cr_assert_null(user_of(r));
  cr_assert(strstr(r->cookie, "Max-Age=0"), "%s", r->cookie);
  cr_assert_eq(api_session_memstore_count(ms), 0);
  /* absolute: active every 500 s, the session still ends 3600 s after login */
  login("bob", sid, csrf);
  long long start = ts_now;
  while (ts_now + 500 < start + 3600) {
    ts_now += 500;
    r = send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL);
    cr_assert_str_eq(user_of(r), "bob");
    long long left = start + 3600 - ts_now;
    char want[64];
    snprintf(want, sizeof(want), "Max-Age=%lld", left < 600 ? left : 600);
    cr_assert(strstr(r->cookie, want), "%s wants %s", r->cookie, want);
  }
  ts_now = start + 3600;
  cr_assert_null(user_of(send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL)));
}

Test(session, logout_destroys) {
  char sid[128], csrf[64];
  login("alice", sid, csrf);
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf);
  resp *r = send_req("POST", "/logout", with_cookie(sid, hdr, NULL), NULL);
  cr_assert_eq(r->status, 200);
  cr_assert(json_is_true(json_object_get(r->json, "closed")), "data after destroy is refused");
  cr_assert(strstr(r->cookie, "Max-Age=0"), "%s", r->cookie);
  cr_assert_eq(api_session_memstore_count(ms), 0);
  cr_assert_null(user_of(send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL)));
}

Test(session, oversized_data_is_refused) {
  resp *r = send_req("POST", "/fill?n=65545", NULL, NULL);
  cr_assert_eq(r->status, 500);
  cr_assert_eq(api_session_memstore_count(ms), 0);
}

Test(session, store_is_bounded) {
  teardown();
  build_with(4, API_CSRF_OPTIONS(.secret = ts_csrf_secret, .secret_len = 32));
  char sids[10][128], csrf[64];
  for (int i = 0; i < 10; i++) {
    char user[16];
    snprintf(user, sizeof(user), "u%d", i);
    login(user, sids[i], csrf);
    cr_assert_leq(api_session_memstore_count(ms), 4);
  }
  cr_assert_eq(api_session_memstore_count(ms), 4);
  /* the oldest were evicted; the newest survive */
  cr_assert_null(user_of(send_req("GET", "/me", with_cookie(sids[0], NULL, NULL), NULL)));
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(sids[9], NULL, NULL), NULL)), "u9");
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(sids[6], NULL, NULL), NULL)), "u6");
}

Test(session, csrf_token_required_with_a_session_cookie) {
  char sid[128], csrf[64], sid2[128], csrf2[64];
  login("alice", sid, csrf);
  login("bob", sid2, csrf2);
  char good[128], other[128], bad[128], lower[128];
  snprintf(good, sizeof(good), "X-CSRF-Token: %s", csrf);
  snprintf(other, sizeof(other), "X-CSRF-Token: %s", csrf2);
  snprintf(bad, sizeof(bad), "X-CSRF-Token: %.42s%c", csrf, csrf[42] == 'A' ? 'B' : 'A');
  snprintf(lower, sizeof(lower), "x-csrf-token: %s", csrf);
  struct {
    const char *h1, *h2;
    const char *body;
    int status;
  } cases[] = {
      {NULL, NULL, NULL, 403},
      {good, NULL, NULL, 200},
      {lower, NULL, NULL, 200},
      {other, NULL, NULL, 403}, /* bob's token on alice's session */
      {bad, NULL, NULL, 403},
      {"X-CSRF-Token: ", NULL, NULL, 403},
      {"X-CSRF-Token: garbage", NULL, NULL, 403},
      {good, good, NULL, 403}, /* two token fields */
      {good, "Origin: https://evil.example", NULL, 403},
      {good, "Origin: null", NULL, 403},
      {good, "Origin: http://test", NULL, 200},
      {good, "Origin: https://TEST:443", NULL, 200},
      {good, "Origin: http://test.evil.example", NULL, 403},
      {good, "Origin: http://test:8080", NULL, 403},
      {good, "Sec-Fetch-Site: cross-site", NULL, 403},
      {good, "Sec-Fetch-Site: same-site", NULL, 403},
      {good, "Sec-Fetch-Site: same-origin", NULL, 200},
      {"Content-Type: application/x-www-form-urlencoded", NULL, "a=1&_csrf=", 403},
      {"Content-Type: application/x-www-form-urlencoded", NULL, "a=1&_csrf=%zz", 403},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    resp *r =
        send_req("POST", "/transfer", with_cookie(sid, cases[i].h1, cases[i].h2), cases[i].body);
    cr_assert_eq(r->status, cases[i].status, "case %zu: %d", i, r->status);
    if (cases[i].status == 403) {
      json_t *e = json_object_get(r->json, "error");
      cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "FORBIDDEN", "case %zu", i);
    }
  }
  /* the token in a form field, alone, twice, percent-encoded */
  char body[256];
  const char *form = "Content-Type: application/x-www-form-urlencoded";
  snprintf(body, sizeof(body), "amount=10&_csrf=%s", csrf);
  cr_assert_eq(send_req("POST", "/transfer", with_cookie(sid, form, NULL), body)->status, 200);
  snprintf(body, sizeof(body), "_csrf=%s&_csrf=%s", csrf, csrf);
  cr_assert_eq(send_req("POST", "/transfer", with_cookie(sid, form, NULL), body)->status, 403);
  snprintf(body, sizeof(body), "%%5Fcsrf=%s", csrf);
  cr_assert_eq(send_req("POST", "/transfer", with_cookie(sid, form, NULL), body)->status, 200);
  /* a JSON body is not a form */
  snprintf(body, sizeof(body), "_csrf=%s", csrf);
  cr_assert_eq(
      send_req("POST", "/transfer", with_cookie(sid, "Content-Type: text/plain", NULL), body)
          ->status,
      403);
  /* after logout and a new login the old token is dead */
  cr_assert_eq(send_req("POST", "/login?user=alice", with_cookie(sid, good, NULL), NULL)->status,
               200);
}

Test(session, cross_site_requests_without_a_session) {
  /* no session cookie: no token needed, but cross-site unsafe requests (login CSRF) are refused */
  cr_assert_eq(send_req("POST", "/transfer", NULL, NULL)->status, 200);
  cr_assert_eq(
      send_req("POST", "/login", (const char *[]){"Origin: https://evil.example", NULL}, NULL)
          ->status,
      403);
  cr_assert_eq(
      send_req("POST", "/login", (const char *[]){"Sec-Fetch-Site: cross-site", NULL}, NULL)
          ->status,
      403);
  cr_assert_eq(api_session_memstore_count(ms), 0);
  /* safe methods pass whatever their origin */
  cr_assert_eq(
      send_req("GET", "/me",
               (const char *[]){"Origin: https://evil.example", "Sec-Fetch-Site: cross-site", NULL},
               NULL)
          ->status,
      200);
}

Test(session, trusted_origins_and_same_site) {
  static const char *const origins[] = {"https://app.example", NULL};
  teardown();
  build_with(100, API_CSRF_OPTIONS(.secret = ts_csrf_secret, .secret_len = 32, .origins = origins,
                                   .allow_same_site = 1));
  cr_assert_eq(
      send_req("POST", "/transfer", (const char *[]){"Origin: https://app.example", NULL}, NULL)
          ->status,
      200);
  cr_assert_eq(
      send_req("POST", "/transfer", (const char *[]){"Origin: http://app.example", NULL}, NULL)
          ->status,
      403);
  cr_assert_eq(
      send_req("POST", "/transfer", (const char *[]){"Origin: http://test", NULL}, NULL)->status,
      403);
  cr_assert_eq(
      send_req("POST", "/transfer", (const char *[]){"Sec-Fetch-Site: same-site", NULL}, NULL)
          ->status,
      200);
  /* without require_origin a request with neither header passes; with it, it does not */
  cr_assert_eq(send_req("POST", "/transfer", NULL, NULL)->status, 200);
  teardown();
  build_with(100, API_CSRF_OPTIONS(.require_origin = 1));
  cr_assert_eq(send_req("POST", "/transfer", NULL, NULL)->status, 403);
  cr_assert_eq(send_req("GET", "/me", NULL, NULL)->status, 200);
  cr_assert_eq(
      send_req("POST", "/transfer", (const char *[]){"Origin: http://test", NULL}, NULL)->status,
      200);
  cr_assert_eq(
      send_req("POST", "/transfer", (const char *[]){"Sec-Fetch-Site: same-origin", NULL}, NULL)
          ->status,
      200);
}

Test(session, bad_options) {
  api_middleware mw;
  api_session_store st;
  api_session_memstore_store(ms, &st);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(0), &mw), API_EINVAL);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .path = "x"), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .path = "/a;b"), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .cookie_name = "a b"), &mw),
               API_EINVAL);
  cr_assert_eq(
      api_mw_session(
          app, API_SESSION_OPTIONS(.store = &st, .cookie_name = "__Host-x", .insecure = 1), &mw),
      API_EINVAL);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .idle_timeout = -1), &mw),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "idle_timeout"), "%s", api_last_error());
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .insecure = 1), &mw), 0);
  cr_assert_eq(api_mw_csrf(app, API_CSRF_OPTIONS(.secret = "short", .secret_len = 5), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_csrf(app, API_CSRF_OPTIONS(.header = "bad header"), &mw), API_EINVAL);
  cr_assert_eq(api_mw_csrf(app, API_CSRF_OPTIONS(.origins = (const char *[]){"evil", NULL}), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_csrf(app, API_CSRF_OPTIONS(0), &mw), 0);
  api_session_memstore *m2;
  cr_assert_eq(api_session_memstore_new(&m2, 10, 100), API_EINVAL);
}

/* Every allocation of the constructors may fail: API_ENOMEM, nothing leaks (ASan checks), and a
 * later attempt succeeds. */
Test(session, constructors_under_allocation_failure) {
  api_session_store st;
  api_session_memstore_store(ms, &st);
  static const char *const origins[] = {"https://a.example", "https://b.example", NULL};
  for (int which = 0; which < 3; which++) {
    int ok = 0;
    for (long n = 0; n < 40 && !ok; n++) {
      api_middleware mw;
      api_session_memstore *m2 = NULL;
      api__alloc_fail_nth(n);
      int rc;
      switch (which) {
        case 0:
          rc = api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .domain = "a.example"), &mw);
          break;
        case 1:
          rc = api_mw_csrf(app, API_CSRF_OPTIONS(.origins = origins), &mw);
          break;
        default:
          rc = api_session_memstore_new(&m2, 10, 0);
      }
      api__alloc_fail_nth(-1);
      cr_assert(rc == 0 || rc == API_ENOMEM, "constructor %d, allocation %ld: %d", which, n, rc);
      ok = rc == 0;
      api_session_memstore_free(m2);
    }
    cr_assert(ok, "constructor %d eventually succeeds", which);
  }
}

static void *counted_json_malloc(size_t n) { return api__malloc(n); }

/* Memory running out while a request loads its session is a 503 for that request: the session
 * stays in the store and the next request has it (it is never dropped as if it were corrupt). */
Test(session, allocation_failure_while_loading_keeps_the_session) {
  char sid[128], csrf[64];
  login("alice", sid, csrf);
  json_set_alloc_funcs(counted_json_malloc, api__free);
  int answered = 0, refused = 0;
  for (long n = 0; n < 200 && answered < 3; n++) {
    api__alloc_fail_nth(n);
    api_test_res *res = NULL;
    int rc = api_test_request(
        t, API_TEST_REQ(.method = "GET", .target = "/me", .headers = with_cookie(sid, NULL, NULL)),
        &res);
    api__alloc_fail_nth(-1);
    if (rc == 0) {
      int st = api_test_res_status(res);
      json_t *j = api_test_res_json(res);
      const char *user = json_string_value(json_object_get(j, "user"));
      cr_assert(st == 503 || (st == 200 && user && strcmp(user, "alice") == 0),
                "allocation %ld: status %d, user %s", n, st, user ? user : "(none)");
      if (st == 200) answered++;
      if (st == 503) refused++;
    }
    api_test_res_free(res);
    cr_assert_eq(api_session_memstore_count(ms), 1, "allocation %ld: the session is kept", n);
  }
  json_set_alloc_funcs(malloc, free);
  cr_assert_gt(refused, 0);
  cr_assert_eq(answered, 3);
  cr_assert_str_eq(user_of(send_req("GET", "/me", with_cookie(sid, NULL, NULL), NULL)), "alice");
}

/* The store on its own: expiry at load, byte bound, replacement, allocation failure. */
Test(session, memstore_direct) {
  api_session_memstore *m;
  cr_assert_eq(api_session_memstore_new(&m, 100, API_SESSION_MAX_DATA * 2), 0);
  api_session_store st;
  api_session_memstore_store(m, &st);
  char key[API_SESSION_ID_LEN + 1];
  memset(key, 'k', API_SESSION_ID_LEN);
  key[API_SESSION_ID_LEN] = 0;
  api_session_record rec = {.data = "{}", .len = 2, .created = 10, .last_seen = 10, .expires = 20};
  cr_assert_eq(st.save(st.user_data, key, &rec), 0);
  api_session_record out = {0};
  cr_assert_eq(st.load(st.user_data, key, 19, &out), 0);
  cr_assert_str_eq(out.data, "{}");
  cr_assert_eq(out.created, 10);
  free(out.data);
  cr_assert_eq(st.load(st.user_data, key, 20, &out), API_ENOTFOUND);
  cr_assert_eq(api_session_memstore_count(m), 0);
  cr_assert_eq(st.load(st.user_data, "short", 0, &out), API_EINVAL);
  cr_assert_eq(st.save(st.user_data, key, &(api_session_record){.data = "x", .len = 1}), 0);
  cr_assert_eq(st.save(st.user_data, key, &(api_session_record){.data = "yy", .len = 2}), 0);
  cr_assert_eq(api_session_memstore_count(m), 1);
  /* three big records in a store of twice API_SESSION_MAX_DATA bytes: the oldest goes */
  char *big = malloc(API_SESSION_MAX_DATA);
  memset(big, 'b', API_SESSION_MAX_DATA);
  for (int i = 0; i < 3; i++) {
    key[0] = (char)('A' + i);
    cr_assert_eq(st.save(st.user_data, key,
                         &(api_session_record){
                             .data = big, .len = API_SESSION_MAX_DATA - 10, .expires = 1LL << 40}),
                 0);
  }
  cr_assert_eq(api_session_memstore_count(m), 2);
  key[0] = 'A';
  cr_assert_eq(st.load(st.user_data, key, 0, &out), API_ENOTFOUND);
  key[0] = 'C';
  cr_assert_eq(st.load(st.user_data, key, 0, &out), 0);
  cr_assert_eq(out.len, API_SESSION_MAX_DATA - 10);
  free(out.data);
  cr_assert_eq(st.save(st.user_data, key,
                       &(api_session_record){.data = big, .len = API_SESSION_MAX_DATA + 1}),
               API_EINVAL);
  free(big);
  /* allocation failure on save and load: an error, the store unchanged */
  key[0] = 'Z';
  for (long n = 0; n < 3; n++) {
    api__alloc_fail_nth(n);
    int rc =
        st.save(st.user_data, key, &(api_session_record){.data = "{}", .len = 2, .expires = 9});
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM);
    if (rc == 0) break;
    cr_assert_eq(api_session_memstore_count(m), 2);
  }
  api__alloc_fail_nth(0);
  int rc = st.load(st.user_data, key, 0, &out);
  api__alloc_fail_nth(-1);
  cr_assert_eq(rc, API_ENOMEM);
  cr_assert_eq(st.remove(st.user_data, key), 0);
  cr_assert_eq(st.remove(st.user_data, key), 0);
  cr_assert_eq(api_session_memstore_count(m), 2);
  api_session_memstore_free(m);
}

/* Threads saving, loading and removing overlapping keys in a small store: the bound holds and
 * nothing breaks (run under ASan by CI). */
static void *store_worker(void *arg) {
  api_session_store *st = arg;
  char key[API_SESSION_ID_LEN + 1];
  memset(key, 'q', API_SESSION_ID_LEN);
  key[API_SESSION_ID_LEN] = 0;
  for (int i = 0; i < 20000; i++) {
    key[0] = (char)('A' + (i * 7) % 26);
    key[1] = (char)('A' + (i / 26) % 3);
    api_session_record out;
    switch (i % 3) {
      case 0:
        st->save(st->user_data, key,
                 &(api_session_record){.data = "{\"a\":1}", .len = 7, .expires = 1LL << 40});
        break;
      case 1:
        if (st->load(st->user_data, key, 0, &out) == 0) {
          cr_assert_str_eq(out.data, "{\"a\":1}");
          free(out.data);
        }
        break;
      default:
        st->remove(st->user_data, key);
    }
  }
  return NULL;
}

Test(session, memstore_threads) {
  api_session_memstore *m;
  cr_assert_eq(api_session_memstore_new(&m, 8, 0), 0);
  api_session_store st;
  api_session_memstore_store(m, &st);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&th[i], NULL, store_worker, &st), 0);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  cr_assert_leq(api_session_memstore_count(m), 8);
  api_session_memstore_free(m);
}

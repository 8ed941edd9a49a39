/* Encrypted-cookie sessions (api_mw_session with a key ring) through the in-process client: round
 * trips, tampering, key rotation, cookie-name binding, expiry and the rewrite throttle, size
 * limit, garbage values, logout, regeneration, CSRF, options and key decoding. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libapi/api.h>

#include "support/client.h"
#include "support/session_app.h"
#include "util/alloc.h"

typedef struct env {
  api_app *app;
  api_test *t;
  const char *name;
} env;

static api_session_key K1, K2, K3;
static env E; /* the default: keys {K1}, cookie __Host-sid */

static void make_app(env *e, const api_session_key *keys, size_t nkeys, const char *cookie_name,
                     const api_config *cfg) {
  cr_assert_eq(api_app_new(&e->app, cfg), 0);
  api_middleware sm, cm;
  cr_assert_eq(api_mw_session(e->app,
                              API_SESSION_OPTIONS(.keys = keys, .nkeys = nkeys,
                                                  .cookie_name = cookie_name, .idle_timeout = 600,
                                                  .absolute_timeout = 3600, .clock = ts_clock),
                              &sm),
               0, "%s", api_last_error());
  cr_assert_eq(
      api_mw_csrf(e->app, API_CSRF_OPTIONS(.secret = ts_csrf_secret, .secret_len = 32), &cm), 0);
  cr_assert_eq(api_app_use(e->app, &sm), 0);
  cr_assert_eq(api_app_use(e->app, &cm), 0);
  cr_assert_eq(ts_session_routes(e->app), 0);
  e->name = cookie_name ? cookie_name : "__Host-sid";
}

static void make(env *e, const api_session_key *keys, size_t nkeys, const char *cookie_name) {
  make_app(e, keys, nkeys, cookie_name, NULL);
  cr_assert_eq(api_test_new(&e->t, e->app), 0);
}

static void unmake(env *e) {
  api_test_free(e->t);
  api_app_free(e->app);
  memset(e, 0, sizeof(*e));
}

static void setup(void) {
  ts_now = 1700000000;
  for (int i = 0; i < API_SESSION_KEY_LEN; i++) {
    K1.bytes[i] = (unsigned char)(i + 1);
    K2.bytes[i] = (unsigned char)(0xa0 + i);
    K3.bytes[i] = (unsigned char)(0x40 ^ i);
  }
  make(&E, &K1, 1, NULL);
}

static void teardown(void) { unmake(&E); }

TestSuite(session_cookie, .init = setup, .fini = teardown, .timeout = 60);

typedef struct resp {
  int status;
  char cookie[8192]; /* the Set-Cookie field, "" if none */
  char value[8192];  /* the cookie's value */
  json_t *json;
} resp;

static resp R;

/* Sends method target to e with the cookie header line (may be NULL) and one more header line. */
static resp *send_to(env *e, const char *method, const char *target, const char *cookie_line,
                     const char *extra) {
  json_decref(R.json);
  memset(&R, 0, sizeof(R));
  const char *h[3] = {cookie_line, cookie_line ? extra : NULL, NULL};
  api_test_res *res = NULL;
  cr_assert_eq(
      api_test_request(e->t, API_TEST_REQ(.method = method, .target = target, .headers = h), &res),
      0);
  R.status = api_test_res_status(res);
  const char *sc = api_test_res_header(res, "Set-Cookie");
  cr_assert_null(api_test_res_header_n(res, "Set-Cookie", 1), "two Set-Cookie fields");
  if (sc) {
    snprintf(R.cookie, sizeof(R.cookie), "%s", sc);
    const char *eq = strchr(sc, '='), *semi = strchr(sc, ';');
    cr_assert(eq && semi && eq < semi);
    snprintf(R.value, sizeof(R.value), "%.*s", (int)(semi - eq - 1), eq + 1);
  }
  json_t *j = api_test_res_json(res);
  R.json = j ? json_incref(j) : NULL;
  api_test_res_free(res);
  return &R;
}

static char line[16384];
static const char *cookie(env *e, const char *value) {
  snprintf(line, sizeof(line), "Cookie: %s=%s", e->name, value);
  return line;
}

/* GET /me on e with the cookie value: the user name, or NULL when there is no session. */
static const char *me(env *e, const char *value) {
  resp *r = send_to(e, "GET", "/me", cookie(e, value), NULL);
  cr_assert_eq(r->status, 200, "%d %s", r->status, r->json ? json_dumps(r->json, 0) : "");
  json_t *u = json_object_get(r->json, "user");
  cr_assert_eq(json_is_true(json_object_get(r->json, "exists")), json_is_string(u));
  return json_string_value(u);
}

static void login(env *e, const char *user, char *value, char *csrf) {
  char target[64];
  snprintf(target, sizeof(target), "/login?user=%s", user);
  resp *r = send_to(e, "POST", target, NULL, NULL);
  cr_assert_eq(r->status, 200);
  cr_assert_gt(strlen(r->value), 100, "%s", r->cookie);
  strcpy(value, r->value);
  if (csrf) strcpy(csrf, json_string_value(json_object_get(r->json, "csrf")));
}

Test(session_cookie, round_trip_and_cookie_attributes) {
  char v[4096], csrf[64];
  login(&E, "alice", v, csrf);
  cr_assert(strstr(R.cookie, "HttpOnly") && strstr(R.cookie, "Secure") &&
                strstr(R.cookie, "SameSite=Lax") && strstr(R.cookie, "Path=/") &&
                strstr(R.cookie, "Max-Age=600"),
            "%s", R.cookie);
  cr_assert_null(strstr(v, "alice"), "the data is not in clear");
  cr_assert_str_eq(me(&E, v), "alice");
  cr_assert_str_eq(R.cookie, "", "an unchanged session within the throttle is not rewritten");
  char v2[4096];
  login(&E, "bob", v2, NULL);
  cr_assert_str_neq(v, v2);
  cr_assert_str_eq(me(&E, v2), "bob");
  cr_assert_str_eq(me(&E, v), "alice");
  /* anonymous traffic gets no cookie */
  cr_assert_eq(send_to(&E, "GET", "/me", NULL, NULL)->status, 200);
  cr_assert_str_eq(R.cookie, "");
}

Test(session_cookie, any_tampered_character_is_no_session) {
  char v[4096];
  login(&E, "alice", v, NULL);
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++) {
    char t[4096];
    strcpy(t, v);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    cr_assert_null(me(&E, t), "byte %zu changed and still accepted", i);
    cr_assert(strstr(R.cookie, "Max-Age=0"), "a bad cookie is cleared: %s", R.cookie);
  }
  cr_assert_str_eq(me(&E, v), "alice");
}

Test(session_cookie, key_rotation) {
  char v1[4096];
  login(&E, "alice", v1, NULL); /* sealed with K1 */
  env rot, only2, other;
  const api_session_key ring[] = {K2, K1};
  make(&rot, ring, 2, NULL);
  make(&only2, &K2, 1, NULL);
  make(&other, &K3, 1, NULL);
  cr_assert_str_eq(me(&rot, v1), "alice", "an old key still decrypts");
  cr_assert_null(me(&only2, v1), "a retired key no longer decrypts");
  cr_assert_null(me(&other, v1), "a wrong key does not decrypt");
  /* a write through the rotated ring seals with keys[0] = K2 */
  resp *r = send_to(&rot, "POST", "/regen", cookie(&rot, v1), NULL);
  cr_assert_eq(r->status, 403, "CSRF still applies");
  char v2[4096];
  login(&rot, "bob", v2, NULL);
  cr_assert_str_eq(me(&only2, v2), "bob");
  cr_assert_null(me(&E, v2), "K1 alone cannot open what K2 sealed");
  /* the refresh of an old-key cookie after the throttle re-seals it with the new key */
  ts_now += 120;
  cr_assert_str_eq(me(&rot, v1), "alice");
  cr_assert_neq(R.value[0], 0, "refreshed after 120 s: %s", R.cookie);
  char v3[4096];
  strcpy(v3, R.value);
  cr_assert_str_eq(me(&only2, v3), "alice");
  unmake(&rot);
  unmake(&only2);
  unmake(&other);
}

Test(session_cookie, bound_to_the_cookie_name) {
  char v[4096];
  login(&E, "alice", v, NULL);
  env named;
  make(&named, &K1, 1, "app_session");
  cr_assert_null(me(&named, v), "a value from __Host-sid opened as app_session");
  char v2[4096];
  login(&named, "bob", v2, NULL);
  cr_assert(!strncmp(R.cookie, "app_session=", 12), "%s", R.cookie);
  cr_assert_str_eq(me(&named, v2), "bob");
  cr_assert_null(me(&E, v2));
  unmake(&named);
}

Test(session_cookie, idle_timeout_and_refresh_throttle) {
  char v[4096];
  login(&E, "alice", v, NULL);
  ts_now += 59;
  cr_assert_str_eq(me(&E, v), "alice");
  cr_assert_str_eq(R.cookie, "", "rewritten before the 60 s throttle: %s", R.cookie);
  ts_now += 1;
  cr_assert_str_eq(me(&E, v), "alice");
  cr_assert(strstr(R.cookie, "Max-Age=600"), "not refreshed at 60 s: %s", R.cookie);
  char v2[4096];
  strcpy(v2, R.value);
  cr_assert_str_neq(v, v2);
  /* the idle timeout counts from the last rewrite */
  ts_now += 599;
  cr_assert_null(me(&E, v), "the old value is idle");
  cr_assert_str_eq(me(&E, v2), "alice");
  strcpy(v2, R.value);
  ts_now += 600;
  cr_assert_null(me(&E, v2), "idle 600 s");
  cr_assert(strstr(R.cookie, "Max-Age=0"), "%s", R.cookie);
}

Test(session_cookie, absolute_timeout) {
  char v[4096];
  login(&E, "alice", v, NULL);
  for (int i = 0; i < 7; i++) { /* a request every 500 s keeps it from idling */
    ts_now += 500;
    cr_assert_str_eq(me(&E, v), "alice", "at %d s", (i + 1) * 500);
    cr_assert_neq(R.value[0], 0);
    strcpy(v, R.value);
  }
  cr_assert(strstr(R.cookie, "Max-Age=100"), "Max-Age is the time left: %s", R.cookie);
  ts_now += 100; /* 3600 s after login */
  cr_assert_null(me(&E, v));
  /* a clock far behind the cookie's creation time (a forged future session) is refused too */
  login(&E, "bob", v, NULL);
  ts_now -= 3600;
  cr_assert_null(me(&E, v));
}

Test(session_cookie, oversized_data_is_a_500_without_a_cookie) {
  char v[4096];
  login(&E, "alice", v, NULL);
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s",
           json_string_value(json_object_get(R.json, "csrf")));
  resp *r = send_to(&E, "POST", "/fill?n=2000", cookie(&E, v), hdr);
  cr_assert_eq(r->status, 200);
  cr_assert_gt(strlen(r->value), 2000);
  cr_assert_leq(strlen("__Host-sid=") + strlen(r->value), API_SESSION_COOKIE_MAX);
  r = send_to(&E, "POST", "/fill?n=3200", cookie(&E, v), hdr);
  cr_assert_eq(r->status, 500);
  cr_assert_str_eq(r->cookie, "", "an oversized cookie was sent: %.80s", r->cookie);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "error"), "code")),
                   "INTERNAL");
  char *body = json_dumps(r->json, 0);
  cr_assert_null(strstr(body, "cookie"), "the 500 leaks internals: %s", body);
  free(body);
  cr_assert_str_eq(me(&E, v), "alice", "the session is as it was");
}

Test(session_cookie, garbage_truncated_huge_and_repeated_values) {
  char v[4096];
  login(&E, "alice", v, NULL);
  char trunc[4096], huge[6000];
  snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(v) - 4, v);
  memset(huge, 'A', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = 0;
  const char *bad[] = {
      "",
      "x",
      "garbage!",
      "====",
      trunc,
      huge,
      "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_null(me(&E, bad[i]), "value %zu accepted", i);
    cr_assert(strstr(R.cookie, "Max-Age=0"), "value %zu: %s", i, R.cookie);
  }
  /* the valid value with a prefix or suffix */
  char more[4200];
  snprintf(more, sizeof(more), "%sA", v);
  cr_assert_null(me(&E, more));
  snprintf(more, sizeof(more), "A%s", v);
  cr_assert_null(me(&E, more));
  /* the cookie twice (cookie tossing): no session even when both copies are valid */
  char two[9000];
  snprintf(two, sizeof(two), "Cookie: __Host-sid=%s; __Host-sid=%s", v, v);
  resp *r = send_to(&E, "GET", "/me", two, NULL);
  cr_assert(json_is_null(json_object_get(r->json, "user")));
  char other[4096];
  login(&E, "mallory", other, NULL);
  snprintf(two, sizeof(two), "Cookie: __Host-sid=%s", v);
  snprintf(more, sizeof(more), "Cookie: __Host-sid=%s", other);
  r = send_to(&E, "GET", "/me", two, more);
  cr_assert(json_is_null(json_object_get(r->json, "user")));
  cr_assert_str_eq(me(&E, v), "alice");
}

Test(session_cookie, logout_clears_but_cannot_revoke_a_copy) {
  char v[4096], csrf[64], hdr[128];
  login(&E, "alice", v, csrf);
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf);
  resp *r = send_to(&E, "POST", "/logout", cookie(&E, v), hdr);
  cr_assert_eq(r->status, 200);
  cr_assert(json_is_true(json_object_get(r->json, "closed")), "data after destroy is refused");
  cr_assert(strstr(r->cookie, "Max-Age=0"), "%s", r->cookie);
  cr_assert_str_eq(r->value, "");
  /* The documented limit of cookie sessions: a copy of the value kept by an attacker stays valid
   * until it expires (idle or absolute timeout); only a key change revokes it. */
  cr_assert_str_eq(me(&E, v), "alice");
  ts_now += 601;
  cr_assert_null(me(&E, v));
}

Test(session_cookie, regenerate_changes_value_id_and_csrf_token) {
  char v[4096], csrf[64], hdr[128];
  login(&E, "alice", v, csrf);
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf);
  resp *r = send_to(&E, "POST", "/regen", cookie(&E, v), hdr);
  cr_assert_eq(r->status, 200);
  char v2[4096], csrf2[64];
  strcpy(v2, r->value);
  strcpy(csrf2, json_string_value(json_object_get(r->json, "csrf")));
  cr_assert_str_neq(v, v2);
  cr_assert_str_neq(csrf, csrf2, "the id inside the cookie changed");
  cr_assert_str_eq(me(&E, v2), "alice");
  /* the old token does not fit the new session, the new one does */
  cr_assert_eq(send_to(&E, "POST", "/transfer", cookie(&E, v2), hdr)->status, 403);
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf2);
  cr_assert_eq(send_to(&E, "POST", "/transfer", cookie(&E, v2), hdr)->status, 200);
}

Test(session_cookie, csrf_with_cookie_sessions) {
  char v[4096], csrf[64], csrf2[64], v2[4096], hdr[128];
  login(&E, "alice", v, csrf);
  login(&E, "bob", v2, csrf2);
  cr_assert_eq(send_to(&E, "POST", "/transfer", cookie(&E, v), NULL)->status, 403);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(R.json, "error"), "code")),
                   "FORBIDDEN");
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf2);
  cr_assert_eq(send_to(&E, "POST", "/transfer", cookie(&E, v), hdr)->status, 403,
               "another session's token");
  snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", csrf);
  cr_assert_eq(send_to(&E, "POST", "/transfer", cookie(&E, v), hdr)->status, 200);
  cr_assert_eq(
      send_to(&E, "POST", "/transfer", cookie(&E, v), "Origin: https://evil.example")->status, 403);
}

Test(session_cookie, bad_options) {
  api_app *app;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  api_session_memstore *ms;
  cr_assert_eq(api_session_memstore_new(&ms, 0, 0), 0);
  api_session_store st;
  api_session_memstore_store(ms, &st);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.store = &st, .keys = &K1, .nkeys = 1), &mw),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "exactly one of store and keys"), "%s", api_last_error());
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(0), &mw), API_EINVAL);
  cr_assert(strstr(api_last_error(), "exactly one of store and keys"), "%s", api_last_error());
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.keys = &K1), &mw), API_EINVAL);
  cr_assert(strstr(api_last_error(), "nkeys"), "%s", api_last_error());
  api_session_key many[API_SESSION_MAX_KEYS + 1];
  for (int i = 0; i <= API_SESSION_MAX_KEYS; i++) memset(many[i].bytes, i + 1, API_SESSION_KEY_LEN);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.keys = many, .nkeys = 17), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.keys = many, .nkeys = 16), &mw), 0);
  api_session_key zero = {{0}};
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.keys = &zero, .nkeys = 1), &mw),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "keys[0]: all zero"), "%s", api_last_error());
  const api_session_key dup[] = {K1, K2, K1};
  cr_assert_eq(api_mw_session(app, API_SESSION_OPTIONS(.keys = dup, .nkeys = 3), &mw), API_EINVAL);
  cr_assert(strstr(api_last_error(), "keys[2]: the same key as keys[0]"), "%s", api_last_error());
  /* options from a program built before keys existed: the members past its size are not read */
  api_session_options old = {.size = offsetof(api_session_options, keys), .store = &st};
  old.keys = &zero;
  old.nkeys = 99;
  cr_assert_eq(api_mw_session(app, &old, &mw), 0, "%s", api_last_error());
  old.size--;
  cr_assert_eq(api_mw_session(app, &old, &mw), API_EINVAL);
  api_app_free(app);
  api_session_memstore_free(ms);
}

Test(session_cookie, constructor_and_requests_under_allocation_failure) {
  const api_session_key ring[] = {K2, K1};
  int ok = 0;
  for (long n = 0; n < 40 && !ok; n++) {
    api_middleware mw;
    api__alloc_fail_nth(n);
    int rc = api_mw_session(E.app, API_SESSION_OPTIONS(.keys = ring, .nkeys = 2), &mw);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM, "allocation %ld: %d", n, rc);
    ok = rc == 0;
  }
  cr_assert(ok);
  /* failing allocations while a session is opened and sealed (over a real socket: the raw
   * client does not allocate through the library): an answer or a closed connection, never a
   * crash, a leak, or another session than the one sent. As in test_alloc_fail.c, one worker,
   * and each connection is accepted and warmed up before the failures start. */
  char v[4096];
  login(&E, "alice", v, NULL);
  ts_now += 100; /* so that reading also rewrites the cookie */
  env x;
  api_config cfg = tc_config(1);
  make_app(&x, &K1, 1, NULL, &cfg);
  api_server *srv = tc_start(x.app);
  cr_assert_not_null(srv);
  char raw[4600];
  snprintf(raw, sizeof(raw), "GET /me HTTP/1.1\r\nHost: x\r\nCookie: __Host-sid=%s\r\n\r\n", v);
  int answered = 0, alice = 0;
  for (long n = 0; n < 80; n++) {
    tc_conn *c = tc_connect(api_server_port(srv));
    cr_assert_not_null(c);
    tc_response r;
    cr_assert_eq(tc_send_str(c, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(tc_read(c, &r, false), 0);
    tc_response_free(&r);
    api__alloc_fail_nth(n);
    tc_send_str(c, raw);
    int rc = tc_read(c, &r, false);
    api__alloc_fail_nth(-1);
    tc_close(c);
    if (rc != 0) continue;
    answered++;
    cr_assert(r.status == 200 || r.status == 503, "%d after failing allocation %ld: %s", r.status,
              n, r.body);
    if (r.status == 200 && strstr(r.body, "\"user\":\"")) {
      cr_assert(strstr(r.body, "\"user\":\"alice\""), "%s", r.body);
      alice++;
    }
    tc_response_free(&r);
  }
  cr_assert_gt(answered, 0);
  cr_assert_gt(alice, 0, "requests succeed once enough allocations succeed");
  tc_response r;
  cr_assert_eq(tc_exchange(api_server_port(srv), raw, &r), 0);
  cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
  cr_assert(strstr(r.body, "\"alice\""), "%s", r.body);
  tc_response_free(&r);
  tc_stop(srv, x.app);
}

Test(session_cookie, key_decode) {
  api_session_key k;
  /* base64 of the bytes 0xfb 0xff ... as `openssl rand -base64 32` would print them */
  unsigned char want[32];
  for (int i = 0; i < 32; i++) want[i] = (unsigned char)(0xfb + i);
  const char *b64 = "+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";
  cr_assert_eq(api_session_key_decode(&k, b64), 0, "%s", api_last_error());
  cr_assert_arr_eq(k.bytes, want, 32);
  char withnl[64];
  snprintf(withnl, sizeof(withnl), "  %s\n", b64);
  memset(&k, 0, sizeof(k));
  cr_assert_eq(api_session_key_decode(&k, withnl), 0);
  cr_assert_arr_eq(k.bytes, want, 32);
  cr_assert_eq(api_session_key_decode(&k, "-_z9_v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo"), 0);
  cr_assert_arr_eq(k.bytes, want, 32);
  const char *bad[] = {"",
                       "abc",
                       "+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGR==",
                       "+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRoA",
                       "+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGR!=",
                       "+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRp=", /* non-zero spare bits */
                       "+/z9/v8AAQIDBAUGBwgJ CgsMDQ4PEBESExQVFhcYGRo="};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(api_session_key_decode(&k, bad[i]), API_EINVAL, "accepted \"%s\"", bad[i]);
  cr_assert_eq(api_session_key_decode(NULL, b64), API_EINVAL);
  cr_assert_eq(api_session_key_decode(&k, NULL), API_EINVAL);
}

/* Sessions with a real client: curl's cookie jar keeps the session across requests, sends the
 * CSRF token, and forgets the cookie when logout clears it; with a store and with encrypted
 * cookies. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

static int h_login(api_req *req, api_res *res, void *ud) {
  (void)ud;
  int rc = api_session_regenerate(req);
  if (!rc) rc = api_session_set(req, "user", json_string("alice"));
  if (rc) return rc;
  return api_res_text(res, 200, api_csrf_token(req));
}

static int h_me(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *u = api_session_get(req, "user");
  return api_res_text(res, 200, json_is_string(u) ? json_string_value(u) : "-");
}

static int h_logout(api_req *req, api_res *res, void *ud) {
  (void)ud;
  api_session_destroy(req);
  return api_res_text(res, 200, "bye");
}

static char *run(const char *fmt, int port, const char *jar, const char *extra, int *rc) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), fmt, jar, jar, extra, port);
  return tc_run(cmd, rc);
}

/* Logs in, reads, logs out (refused without the CSRF token) through curl with a cookie jar. */
static void jar_flow(const api_session_options *opts) {
  int rc;
  api_app *app;
  api_config cfg = tc_config(2);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  api_middleware sm, cm;
  cr_assert_eq(api_mw_session(app, opts, &sm), 0, "%s", api_last_error());
  cr_assert_eq(api_mw_csrf(app, API_CSRF_OPTIONS(0), &cm), 0);
  cr_assert_eq(api_app_use(app, &sm), 0);
  cr_assert_eq(api_app_use(app, &cm), 0);
  cr_assert_eq(api_app_post(app, "/login", h_login, NULL), 0);
  cr_assert_eq(api_app_get(app, "/me", h_me, NULL), 0);
  cr_assert_eq(api_app_post(app, "/logout", h_logout, NULL), 0);
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  int port = api_server_port(srv);
  char jar[64];
  snprintf(jar, sizeof(jar), "/tmp/libapi-jar-%d", (int)getpid());
  unlink(jar); /* a jar left by an earlier run that failed half-way must not be read */
  const char *get = "curl -sS -c %s -b %s %s http://127.0.0.1:%d/me";
  char *out = run("curl -sS -c %s -b %s -X POST %s http://127.0.0.1:%d/login", port, jar, "", &rc);
  cr_assert_eq(rc, 0);
  cr_assert_eq(strlen(out), API_CSRF_TOKEN_LEN, "%s", out);
  char token[64], hdr[128];
  strcpy(token, out);
  free(out);
  out = run(get, port, jar, "", &rc);
  cr_assert_str_eq(out, "alice");
  free(out);
  /* logout without the token is refused, with it the cookie goes */
  out =
      run("curl -sS -o /dev/null -w '%%{http_code}' -c %s -b %s -X POST %s "
          "http://127.0.0.1:%d/logout",
          port, jar, "", &rc);
  cr_assert_str_eq(out, "403");
  free(out);
  snprintf(hdr, sizeof(hdr), "-H 'X-CSRF-Token: %s'", token);
  out = run("curl -sS -c %s -b %s -X POST %s http://127.0.0.1:%d/logout", port, jar, hdr, &rc);
  cr_assert_str_eq(out, "bye");
  free(out);
  out = run(get, port, jar, "", &rc);
  cr_assert_str_eq(out, "-");
  free(out);
  unlink(jar);
  tc_stop(srv, app);
}

static void need_curl(void) {
  int rc;
  char *v = tc_run("curl --version 2>/dev/null", &rc);
  free(v);
  if (rc != 0) cr_skip_test("curl is not installed");
}

Test(session_curl, cookie_jar_round_trip, .timeout = 60) {
  need_curl();
  api_session_memstore *ms;
  cr_assert_eq(api_session_memstore_new(&ms, 0, 0), 0);
  api_session_store st;
  api_session_memstore_store(ms, &st);
  jar_flow(API_SESSION_OPTIONS(.store = &st, .insecure = 1));
  cr_assert_eq(api_session_memstore_count(ms), 0);
  api_session_memstore_free(ms);
}

Test(session_curl, encrypted_cookie_jar_round_trip, .timeout = 60) {
  need_curl();
  api_session_key key;
  cr_assert_eq(api_session_key_decode(&key, "q83vEjRWeJASNFZ4kKvN7xI0VniQq83vEjRWeJCrze8="), 0);
  jar_flow(API_SESSION_OPTIONS(.keys = &key, .nkeys = 1, .insecure = 1));
}

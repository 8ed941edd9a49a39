#include "support/session_app.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char ts_csrf_secret[] = "0123456789abcdef0123456789abcdef";
long long ts_now = 1700000000;

long long ts_clock(void *user_data) {
  (void)user_data;
  return ts_now;
}

static int csrf_answer(api_res *res, api_req *req) {
  return api_res_json_new(res, 200, json_pack("{s:s?}", "csrf", api_csrf_token(req)));
}

static int ok_answer(api_res *res) {
  return api_res_json_new(res, 200, json_pack("{s:b}", "ok", 1));
}

static int h_login(api_req *req, api_res *res, void *ud) {
  (void)ud;
  int rc = api_session_regenerate(req);
  if (rc) return rc;
  const char *user = api_req_query(req, "user");
  if ((rc = api_session_set(req, "user", json_string(user ? user : "alice"))) != 0) return rc;
  return csrf_answer(res, req);
}

static int h_me(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *u = api_session_get(req, "user");
  return api_res_json_new(res, 200,
                          json_pack("{s:O?,s:b}", "user", u, "exists", api_session_exists(req)));
}

static int h_count(api_req *req, api_res *res, void *ud) {
  (void)ud;
  json_t *c = api_session_get(req, "n");
  json_int_t n = c ? json_integer_value(c) + 1 : 1;
  int rc = api_session_set(req, "n", json_integer(n));
  if (rc) return rc;
  return api_res_json_new(res, 200, json_pack("{s:I}", "n", n));
}

static int h_token(api_req *req, api_res *res, void *ud) {
  (void)ud;
  return csrf_answer(res, req);
}

static int h_regen(api_req *req, api_res *res, void *ud) {
  (void)ud;
  int rc = api_session_regenerate(req);
  return rc ? rc : csrf_answer(res, req);
}

static int h_logout(api_req *req, api_res *res, void *ud) {
  (void)ud;
  int rc = api_session_destroy(req);
  if (rc) return rc;
  bool closed =
      api_session_set(req, "x", json_true()) == API_ESTATE && api_session_get(req, "user") == NULL;
  return api_res_json_new(res, 200, json_pack("{s:b,s:b}", "ok", 1, "closed", closed));
}

static int h_transfer(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  return ok_answer(res);
}

static int h_fill(api_req *req, api_res *res, void *ud) {
  (void)ud;
  const char *q = api_req_query(req, "n");
  size_t n = q ? strtoul(q, NULL, 10) : 0;
  char *s = malloc(n + 1);
  if (!s) return API_ENOMEM;
  memset(s, 'x', n);
  s[n] = 0;
  int rc = api_session_set(req, "fill", json_string(s));
  free(s);
  return rc ? rc : ok_answer(res);
}

int ts_session_routes(api_app *app) {
  int rc = api_app_post(app, "/login", h_login, NULL);
  if (!rc) rc = api_app_get(app, "/me", h_me, NULL);
  if (!rc) rc = api_app_post(app, "/count", h_count, NULL);
  if (!rc) rc = api_app_get(app, "/token", h_token, NULL);
  if (!rc) rc = api_app_post(app, "/regen", h_regen, NULL);
  if (!rc) rc = api_app_post(app, "/logout", h_logout, NULL);
  if (!rc) rc = api_app_post(app, "/transfer", h_transfer, NULL);
  if (!rc) rc = api_app_post(app, "/fill", h_fill, NULL);
  return rc;
}

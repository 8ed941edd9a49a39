/* Passwords off the event loop, over loopback: api_password_* refuse to run on a worker thread,
 * still run on the offload pool, and api_req_password_verify/hash answer logins (right, wrong,
 * unknown user, malformed hash, hostile lengths) and hash requests from a handler. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/client.h"

static char *ada_hash; /* "correct horse" at cost 4, hashed on the test's own thread */
static const char *const BROKEN = "$2b$04$not-a-hash";

/* POST /sync: the blocking calls made straight from a handler. */
static int h_sync(api_req *req, api_res *res, void *ud) {
  (void)ud;
  char *h = (char *)"untouched";
  int hrc = api_password_hash(&h, "pw", 4);
  char msg[256];
  snprintf(msg, sizeof(msg), "%s", api_last_error());
  int vrc = api_password_verify("correct horse", ada_hash);
  return api_res_json_new(res, 200,
                          json_pack("{s:i,s:i,s:s,s:s,s:b}", "hash", hrc, "verify", vrc, "msg", msg,
                                    "vmsg", api_last_error(), "out_null", h == NULL));
}

/* GET /offload: the same call in api_offload's work function is allowed. */
typedef struct {
  int rc;
} off;

static void off_work(void *ud) {
  off *o = ud;
  o->rc = api_password_verify("correct horse", ada_hash);
}

static int off_done(api_req *req, api_res *res, void *ud) {
  (void)req;
  off *o = ud;
  return api_res_json_new(res, 200, json_pack("{s:i}", "rc", o->rc));
}

static int h_offload(api_req *req, api_res *res, void *ud) {
  (void)res;
  (void)ud;
  off *o = api_req_alloc(req, sizeof(*o));
  if (!o) return API_ENOMEM;
  return api_offload(req, off_work, off_done, o);
}

static int login_done(api_req *req, api_res *res, int rc, const char *hash, void *ud) {
  (void)req;
  cr_assert_null(hash);
  cr_assert_str_eq(ud, "ctx");
  if (rc == 0) return api_res_json_new(res, 200, json_pack("{s:b}", "ok", 1));
  return api_res_error(res, 401, "UNAUTHORIZED", api_last_error(), NULL);
}

/* POST /login?user=U&pw=P */
static int h_login(api_req *req, api_res *res, void *ud) {
  (void)res;
  (void)ud;
  const char *user = api_req_query(req, "user"), *pw = api_req_query(req, "pw");
  const char *hash = NULL;
  if (user && !strcmp(user, "ada")) hash = ada_hash;
  if (user && !strcmp(user, "broken")) hash = BROKEN;
  /* the helper copies its inputs: pass a copy that is gone when the work runs */
  char *copy = strdup(pw ? pw : "");
  int rc = api_req_password_verify(req, copy, hash, login_done, "ctx");
  memset(copy, 'z', strlen(copy));
  free(copy);
  return rc;
}

static int hash_done(api_req *req, api_res *res, int rc, const char *hash, void *ud) {
  (void)req;
  (void)ud;
  if (rc) return rc;
  return api_res_json_new(res, 201, json_pack("{s:s}", "hash", hash));
}

/* POST /hash?pw=P&cost=C */
static int h_hash(api_req *req, api_res *res, void *ud) {
  (void)ud;
  const char *pw = api_req_query(req, "pw"), *cost = api_req_query(req, "cost");
  int rc = api_req_password_hash(req, pw ? pw : "", cost ? atoi(cost) : 4, hash_done, NULL);
  if (rc == API_EINVAL) return api_res_error(res, 400, "BAD_REQUEST", api_last_error(), NULL);
  return rc;
}

static api_app *app;
static api_server *srv;
static int port;

static void setup(void) {
  cr_assert_eq(api_password_hash(&ada_hash, "correct horse", 4), 0, "%s", api_last_error());
  api_config cfg = tc_config(2);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_post(app, "/sync", h_sync, NULL), 0);
  cr_assert_eq(api_app_get(app, "/offload", h_offload, NULL), 0);
  cr_assert_eq(api_app_post(app, "/login", h_login, NULL), 0);
  cr_assert_eq(api_app_post(app, "/hash", h_hash, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void teardown(void) {
  tc_stop(srv, app);
  api_auth_string_free(ada_hash);
  ada_hash = NULL;
}

TestSuite(password_async, .init = setup, .fini = teardown, .timeout = 60);

static json_t *post(const char *target, int *status) {
  char raw[2048];
  snprintf(raw, sizeof(raw), "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", target);
  tc_response r;
  cr_assert_eq(tc_exchange(port, raw, &r), 0, "%s", target);
  *status = r.status;
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s: %s", target, r.body);
  tc_response_free(&r);
  return j;
}

static const char *err_message(json_t *j) {
  return json_string_value(json_object_get(json_object_get(j, "error"), "message"));
}

Test(password_async, blocking_calls_refuse_the_event_loop) {
  int st;
  json_t *j = post("/sync", &st);
  cr_assert_eq(st, 200);
  cr_assert_eq(json_integer_value(json_object_get(j, "hash")), API_ESTATE);
  cr_assert_eq(json_integer_value(json_object_get(j, "verify")), API_ESTATE);
  cr_assert(json_is_true(json_object_get(j, "out_null")), "*out is set to NULL");
  const char *msg = json_string_value(json_object_get(j, "msg"));
  cr_assert(strstr(msg, "worker (event-loop) thread") && strstr(msg, "api_req_password_hash"), "%s",
            msg);
  msg = json_string_value(json_object_get(j, "vmsg"));
  cr_assert(strstr(msg, "api_req_password_verify"), "%s", msg);
  json_decref(j);
  /* on the offload pool they run */
  char raw[] = "GET /offload HTTP/1.1\r\nHost: x\r\n\r\n";
  tc_response r;
  cr_assert_eq(tc_exchange(port, raw, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert(strstr(r.body, "\"rc\":0") || strstr(r.body, "\"rc\": 0"), "%s", r.body);
  tc_response_free(&r);
  /* and on this (non-worker) thread */
  cr_assert_eq(api_password_verify("correct horse", ada_hash), 0);
}

Test(password_async, verify_right_wrong_unknown_and_hostile) {
  int st;
  json_t *j = post("/login?user=ada&pw=correct%20horse", &st);
  cr_assert_eq(st, 200);
  json_decref(j);
  j = post("/login?user=ada&pw=correct%20horsf", &st);
  cr_assert_eq(st, 401);
  cr_assert_str_eq(err_message(j), "wrong password");
  json_decref(j);
  /* unknown user: a full check against the dummy hash, and a 401 whatever the password */
  j = post("/login?user=nobody&pw=correct%20horse", &st);
  cr_assert_eq(st, 401);
  cr_assert_str_eq(err_message(j), "unknown user");
  json_decref(j);
  j = post("/login?user=nobody&pw=", &st);
  cr_assert_eq(st, 401);
  json_decref(j);
  /* a malformed stored hash is a "no" too */
  j = post("/login?user=broken&pw=x", &st);
  cr_assert_eq(st, 401);
  cr_assert_str_eq(err_message(j), "not a bcrypt hash");
  json_decref(j);
  /* a 73-byte password is refused, not truncated to the right 72 */
  char target[512], pw[80];
  memset(pw, 'a', 73);
  pw[73] = 0;
  snprintf(target, sizeof(target), "/login?user=ada&pw=%s", pw);
  j = post(target, &st);
  cr_assert_eq(st, 401);
  json_decref(j);
  /* a 1000-byte one as well */
  char big[1200];
  memset(big, 'b', 1000);
  big[1000] = 0;
  char t2[1300];
  snprintf(t2, sizeof(t2), "/login?user=ada&pw=%s", big);
  j = post(t2, &st);
  cr_assert_eq(st, 401);
  json_decref(j);
}

Test(password_async, hash_on_the_pool) {
  int st;
  json_t *j = post("/hash?pw=s3cret&cost=4", &st);
  cr_assert_eq(st, 201);
  const char *h = json_string_value(json_object_get(j, "hash"));
  cr_assert_not_null(h);
  cr_assert_eq(strncmp(h, "$2b$04$", 7), 0, "%s", h);
  cr_assert_eq(api_password_verify("s3cret", h), 0);
  cr_assert_eq(api_password_verify("s3creT", h), API_EUNAUTHORIZED);
  json_decref(j);
  /* refusals happen before any work: bad cost, too long */
  j = post("/hash?pw=x&cost=3", &st);
  cr_assert_eq(st, 400);
  cr_assert(strstr(err_message(j), "cost 3"), "%s", err_message(j));
  json_decref(j);
  char target[256], pw[80];
  memset(pw, 'a', 73);
  pw[73] = 0;
  snprintf(target, sizeof(target), "/hash?pw=%s&cost=4", pw);
  j = post(target, &st);
  cr_assert_eq(st, 400);
  json_decref(j);
}

Test(password_async, concurrent_logins) {
  /* several checks at once on the pool, each answered on its own connection */
  tc_conn *c[6];
  for (int i = 0; i < 6; i++) {
    c[i] = tc_connect(port);
    cr_assert_not_null(c[i]);
    char raw[256];
    snprintf(raw, sizeof(raw),
             "POST /login?user=%s&pw=correct%%20horse HTTP/1.1\r\nHost: x\r\nContent-Length: "
             "0\r\n\r\n",
             i % 2 ? "ada" : "eve");
    cr_assert_eq(tc_send_str(c[i], raw), 0);
  }
  for (int i = 0; i < 6; i++) {
    tc_response r;
    cr_assert_eq(tc_read(c[i], &r, false), 0);
    cr_assert_eq(r.status, i % 2 ? 200 : 401, "connection %d: %d", i, r.status);
    tc_response_free(&r);
    tc_close(c[i]);
  }
}

Test(password_async, bad_arguments) {
  cr_assert_eq(api_req_password_verify(NULL, "x", NULL, login_done, NULL), API_EINVAL);
  cr_assert_eq(api_req_password_hash(NULL, "x", 4, hash_done, NULL), API_EINVAL);
}

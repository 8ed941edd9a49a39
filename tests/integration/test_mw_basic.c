/* Built-in middleware: request ids and trace context, security headers, and the client address
 * behind trusted proxies — hostile values included. */
#include <criterion/criterion.h>
#include <string.h>

#include "support/client.h"

static int echo(api_req *req, api_res *res, void *ud) {
  const char *tid = api_req_trace_id(req);
  return api_res_json_new(res, 200,
                          json_pack("{s:s, s:s?, s:s?, s:s, s:s}", "id", api_req_id(req), "trace",
                                    tid, "traceparent", api_req_traceparent(req), "client",
                                    api_req_client_addr(req), "peer", api_req_peer_addr(req)));
}
static int fail(api_req *req, api_res *res, void *ud) { return API_ECONFLICT; }

static api_app *app;
static api_test *t;

static void start(const api_config *cfg, const api_middleware *mw) {
  cr_assert_eq(api_app_new(&app, cfg), 0);
  if (mw) cr_assert_eq(api_app_use(app, mw), 0);
  cr_assert_eq(api_app_get(app, "/echo", echo, NULL), 0);
  cr_assert_eq(api_app_get(app, "/fail", fail, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void stop(void) {
  api_test_free(t);
  api_app_free(app);
  t = NULL;
  app = NULL;
}

static json_t *get_json(const char *const *headers, api_test_res **r, const char *client) {
  cr_assert_eq(
      api_test_request(
          t, API_TEST_REQ(.target = "/echo", .headers = headers, .client_addr = client), r),
      0);
  cr_assert_eq(api_test_res_status(*r), 200);
  return api_test_res_json(*r);
}

static const char *str(json_t *j, const char *k) {
  return json_string_value(json_object_get(j, k));
}

static void with_request_id(void) {
  api_middleware mw;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_mw_request_id(app, NULL, &mw), 0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_app_get(app, "/echo", echo, NULL), 0);
  cr_assert_eq(api_app_get(app, "/fail", fail, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

TestSuite(request_id, .init = with_request_id, .fini = stop, .timeout = 30);

Test(request_id, a_sane_incoming_id_is_kept_and_echoed) {
  api_test_res *r;
  json_t *j = get_json((const char *[]){"X-Request-ID: abc-123_x.y:z", NULL}, &r, NULL);
  cr_assert_str_eq(str(j, "id"), "abc-123_x.y:z");
  cr_assert_str_eq(api_test_res_header(r, "X-Request-ID"), "abc-123_x.y:z");
  api_test_res_free(r);
}

Test(request_id, hostile_ids_are_replaced) {
  const char *bad[] = {
      "X-Request-ID: has space", "X-Request-ID: quote\"d",     "X-Request-ID: \x1b[31mred",
      "X-Request-ID: tab\there", "X-Request-ID: {\"json\":1}", "X-Request-ID: caf\xc3\xa9",
      "X-Request-ID: a/b",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    api_test_res *r;
    cr_assert_eq(
        api_test_request(
            t, API_TEST_REQ(.target = "/echo", .headers = (const char *[]){bad[i], NULL}), &r),
        0);
    int status = api_test_res_status(r);
    if (status == 200) {
      const char *id = str(api_test_res_json(r), "id");
      cr_assert(strchr(bad[i], ':') && strstr(bad[i] + 14, id) == NULL, "kept %s", bad[i]);
      cr_assert_str_eq(api_test_res_header(r, "X-Request-ID"), id);
    } else {
      cr_assert_eq(status, 400, "the parser refuses control characters itself");
    }
    api_test_res_free(r);
  }
}

Test(request_id, oversized_ids_are_replaced) {
  char h[400] = "X-Request-ID: ";
  memset(h + strlen(h), 'a', 200);
  api_test_res *r;
  json_t *j = get_json((const char *[]){h, NULL}, &r, NULL);
  cr_assert_lt(strlen(str(j, "id")), 64);
  api_test_res_free(r);
  h[14 + 128] = '\0'; /* exactly the limit */
  j = get_json((const char *[]){h, NULL}, &r, NULL);
  cr_assert_eq(strlen(str(j, "id")), 128);
  api_test_res_free(r);
}

Test(request_id, generated_ids_differ_and_errors_carry_them) {
  api_test_res *a, *b;
  cr_assert_eq(api_test_get(t, "/fail", &a), 0);
  cr_assert_eq(api_test_get(t, "/fail", &b), 0);
  const char *ida = api_test_res_header(a, "X-Request-ID");
  cr_assert_not_null(ida);
  cr_assert_str_neq(ida, api_test_res_header(b, "X-Request-ID"));
  cr_assert_str_eq(str(api_test_res_json(a), "request_id"), ida, "the error body has the same id");
  api_test_res_free(a);
  api_test_res_free(b);
}

Test(request_id, traceparent_is_continued_with_a_new_span) {
  api_test_res *r;
  json_t *j = get_json(
      (const char *[]){"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       NULL},
      &r, NULL);
  cr_assert_str_eq(str(j, "trace"), "4bf92f3577b34da6a3ce929d0e0e4736");
  const char *tp = str(j, "traceparent");
  cr_assert_eq(strlen(tp), 55);
  cr_assert_eq(strncmp(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36), 0);
  cr_assert_str_neq(tp + 36, "00f067aa0ba902b7-01", "a new span id for this request");
  cr_assert_str_eq(tp + 52, "-01", "the flags are kept");
  api_test_res_free(r);
}

Test(request_id, invalid_traceparents_start_a_new_trace) {
  const char *bad[] = {
      "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace */
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero span */
      "traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version ff */
      "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", /* short */
      "traceparent: garbage",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    api_test_res *r;
    json_t *j = get_json((const char *[]){bad[i], NULL}, &r, NULL);
    const char *trace = str(j, "trace");
    cr_assert_eq(strlen(trace), 32);
    cr_assert_str_neq(trace, "4bf92f3577b34da6a3ce929d0e0e4736", "%s", bad[i]);
    cr_assert_neq(strspn(trace, "0"), 32);
    api_test_res_free(r);
  }
  /* A future version with extra fields is accepted (its first fields are version 00's). */
  api_test_res *r;
  json_t *j = get_json(
      (const char *[]){"traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
                       NULL},
      &r, NULL);
  cr_assert_str_eq(str(j, "trace"), "4bf92f3577b34da6a3ce929d0e0e4736");
  api_test_res_free(r);
}

Test(request_id, bad_options_are_refused) {
  api_middleware mw;
  cr_assert_eq(api_mw_request_id(app, API_REQUEST_ID_OPTIONS(.header = "Bad Header"), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_request_id(app, API_REQUEST_ID_OPTIONS(.max_len = 1000), &mw), API_EINVAL);
}

/* ---- security headers ---- */

static int own_frame(api_req *req, api_res *res, void *ud) {
  api_res_header(res, "X-Frame-Options", "SAMEORIGIN");
  return api_res_text(res, 200, "x");
}

Test(security, defaults_on_success_and_error_responses) {
  api_middleware mw;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_mw_security_headers(app, NULL, &mw), 0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_app_get(app, "/own", own_frame, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/missing", &r), 0);
  cr_assert_eq(api_test_res_status(r), 404);
  cr_assert_str_eq(api_test_res_header(r, "X-Content-Type-Options"), "nosniff");
  cr_assert_str_eq(api_test_res_header(r, "X-Frame-Options"), "DENY");
  cr_assert_str_eq(api_test_res_header(r, "Referrer-Policy"), "no-referrer");
  cr_assert_not_null(api_test_res_header(r, "Content-Security-Policy"));
  cr_assert_null(api_test_res_header(r, "Strict-Transport-Security"), "HSTS is opt-in");
  api_test_res_free(r);
  cr_assert_eq(api_test_get(t, "/own", &r), 0);
  cr_assert_str_eq(api_test_res_header(r, "X-Frame-Options"), "SAMEORIGIN");
  cr_assert_null(api_test_res_header_n(r, "X-Frame-Options", 1));
  api_test_res_free(r);
  stop();
}

Test(security, hsts_and_switches) {
  api_middleware mw;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_mw_security_headers(
                   app,
                   API_SECURITY_OPTIONS(.hsts_max_age = 63072000, .hsts_include_subdomains = 1,
                                        .hsts_preload = 1, .frame_options = "",
                                        .referrer_policy = "same-origin"),
                   &mw),
               0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/", &r), 0);
  cr_assert_str_eq(api_test_res_header(r, "Strict-Transport-Security"),
                   "max-age=63072000; includeSubDomains; preload");
  cr_assert_null(api_test_res_header(r, "X-Frame-Options"));
  cr_assert_str_eq(api_test_res_header(r, "Referrer-Policy"), "same-origin");
  api_test_res_free(r);
  stop();
}

Test(security, bad_options_are_refused) {
  api_middleware mw;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  cr_assert_eq(api_mw_security_headers(
                   app, API_SECURITY_OPTIONS(.hsts_max_age = 100, .hsts_preload = 1), &mw),
               API_EINVAL);
  cr_assert_eq(api_mw_security_headers(
                   app, API_SECURITY_OPTIONS(.content_security_policy = "a\r\nInjected: 1"), &mw),
               API_EINVAL);
  api_app_free(app);
}

/* ---- trusted proxies ---- */

#define PROXIES API_CONFIG(.trusted_proxies = "10.0.0.0/8, 192.168.1.1, fd00::/8")

Test(proxy, forwarding_headers_from_an_untrusted_peer_are_ignored) {
  start(PROXIES, NULL);
  api_test_res *r;
  json_t *j = get_json((const char *[]){"X-Forwarded-For: 1.2.3.4", "Forwarded: for=5.6.7.8", NULL},
                       &r, "203.0.113.9");
  cr_assert_str_eq(str(j, "client"), "203.0.113.9");
  api_test_res_free(r);
  stop();
}

Test(proxy, without_configured_proxies_nothing_is_believed) {
  start(NULL, NULL);
  api_test_res *r;
  json_t *j = get_json((const char *[]){"X-Forwarded-For: 1.2.3.4", NULL}, &r, "10.0.0.1");
  cr_assert_str_eq(str(j, "client"), "10.0.0.1");
  api_test_res_free(r);
  stop();
}

Test(proxy, the_chain_is_walked_from_the_right_while_trusted) {
  start(PROXIES, NULL);
  api_test_res *r;
  /* The client forged "6.6.6.6"; the proxies appended the real hops. */
  json_t *j = get_json((const char *[]){"X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.1.1", NULL},
                       &r, "10.0.0.1");
  cr_assert_str_eq(str(j, "client"), "198.51.100.7");
  cr_assert_str_eq(str(j, "peer"), "10.0.0.1");
  api_test_res_free(r);
  /* Several header fields form one list. */
  j = get_json(
      (const char *[]){"X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 198.51.100.8:5555", NULL}, &r,
      "192.168.1.1");
  cr_assert_str_eq(str(j, "client"), "198.51.100.8");
  api_test_res_free(r);
  stop();
}

Test(proxy, forwarded_is_preferred_and_parsed) {
  start(PROXIES, NULL);
  api_test_res *r;
  json_t *j = get_json(
      (const char *[]){"Forwarded: for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
                       "X-Forwarded-For: 7.7.7.7", NULL},
      &r, "fd00::1");
  cr_assert_str_eq(str(j, "client"), "2001:db8:cafe::17");
  api_test_res_free(r);
  stop();
}

Test(proxy, malformed_entries_stop_the_walk) {
  start(PROXIES, NULL);
  const char *cases[][2] = {
      {"X-Forwarded-For: 1.2.3.4, not-an-ip", "10.0.0.1"},
      {"X-Forwarded-For: 1.2.3.4, 10.0.0.300", "10.0.0.1"},
      {"X-Forwarded-For: ", "10.0.0.1"},
      {"X-Forwarded-For: ,,,,", "10.0.0.1"},
      {"Forwarded: for=unknown", "10.0.0.1"},
      {"Forwarded: for=_hidden, for=10.9.9.9", "10.9.9.9"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    api_test_res *r;
    json_t *j = get_json((const char *[]){cases[i][0], NULL}, &r, "10.0.0.1");
    cr_assert_str_eq(str(j, "client"), cases[i][1], "%s", cases[i][0]);
    api_test_res_free(r);
  }
  stop();
}

Test(proxy, a_huge_forwarding_list_is_bounded) {
  start(PROXIES, NULL);
  static char h[12000];
  strcpy(h, "X-Forwarded-For: 198.51.100.1");
  while (strlen(h) < sizeof(h) - 20) strcat(h, ", 10.0.0.2");
  api_test_res *r;
  json_t *j = get_json((const char *[]){h, NULL}, &r, "10.0.0.1");
  /* Only the last 32 hops are looked at: all trusted, so the leftmost of them is the answer. */
  cr_assert_str_eq(str(j, "client"), "10.0.0.2");
  api_test_res_free(r);
  stop();
}

Test(proxy, bad_proxy_lists_are_refused) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, API_CONFIG(.trusted_proxies = "10.0.0.0/33")), API_EINVAL);
  cr_assert_eq(api_app_new(&a, API_CONFIG(.trusted_proxies = "example.com")), API_EINVAL);
  cr_assert_eq(api_app_new(&a, API_CONFIG(.trusted_proxies = "10.0.0.0/")), API_EINVAL);
  cr_assert_eq(api_app_new(&a, API_CONFIG(.trusted_proxies = "::1/129")), API_EINVAL);
  cr_assert_eq(api_app_new(&a, API_CONFIG(.trusted_proxies = "127.0.0.1, ::1/128, 0.0.0.0/0")), 0);
  api_app_free(a);
}

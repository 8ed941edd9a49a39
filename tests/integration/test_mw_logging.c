/* The app's logger, per-request loggers and the access log, read back from a callback sink:
 * fields, levels, every response logged once, and hostile values that must not forge lines. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char lines[64][4096];
static int nlines;

static void sink(api_log_level level, const char *line, size_t len, void *ud) {
  pthread_mutex_lock(&lock);
  if (nlines < 64) {
    size_t n = len < sizeof(lines[0]) - 1 ? len : sizeof(lines[0]) - 1;
    memcpy(lines[nlines], line, n);
    lines[nlines][n] = '\0';
    nlines++;
  }
  pthread_mutex_unlock(&lock);
}

/* The idx-th line whose msg is msg, parsed (decref it), waiting a moment for on_response. */
static json_t *line_with(const char *msg, int idx) {
  for (int tries = 0; tries < 200; tries++) {
    pthread_mutex_lock(&lock);
    int seen = 0;
    json_t *found = NULL;
    for (int i = 0; i < nlines && !found; i++) {
      json_t *j = json_loads(lines[i], 0, NULL);
      cr_assert_not_null(j, "every line is one JSON object: %s", lines[i]);
      cr_assert_eq(strchr(lines[i], '\n'), lines[i] + strlen(lines[i]) - 1, "one line: %s",
                   lines[i]);
      if (strcmp(json_string_value(json_object_get(j, "msg")), msg) == 0 && seen++ == idx) {
        found = j;
      } else {
        json_decref(j);
      }
    }
    pthread_mutex_unlock(&lock);
    if (found) return found;
    usleep(5000);
  }
  return NULL;
}

static int count_msg(const char *msg) {
  int n = 0;
  while (true) {
    json_t *j = line_with(msg, n);
    if (!j) return n;
    json_decref(j);
    n++;
  }
}

static const char *s(json_t *j, const char *k) { return json_string_value(json_object_get(j, k)); }

static int hello(api_req *req, api_res *res, void *ud) {
  api_req_set_user(req, "ada");
  api_log(api_req_log(req), API_LOG_INFO, "handler says\n{\"level\":\"fatal\"}",
          API_LOG_STR("password", "hunter2"), API_LOG_STR("note", "\x1b[31mred\r\nnext"));
  return api_res_text(res, 200, "hi");
}
static int boom(api_req *req, api_res *res, void *ud) { return API_EINTERNAL; }

static api_app *app;
static api_test *t;

static void setup(void) {
  nlines = 0;
  api_logger *log;
  cr_assert_eq(api_logger_new(
                   &log, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = sink,
                                        .sync = true, .ignore_env = true, .level = API_LOG_DEBUG)),
               0);
  cr_assert_eq(api_app_new(&app, API_CONFIG(.trusted_proxies = "10.0.0.0/8")), 0);
  cr_assert_eq(api_app_set_logger(app, log), 0);
  api_middleware rid, acc;
  cr_assert_eq(api_mw_request_id(app, NULL, &rid), 0);
  cr_assert_eq(api_mw_access_log(app, NULL, &acc), 0);
  cr_assert_eq(api_app_use(app, &rid), 0);
  cr_assert_eq(api_app_use(app, &acc), 0);
  cr_assert_eq(api_app_get(app, "/users/:id", hello, NULL), 0);
  cr_assert_eq(api_app_get(app, "/boom", boom, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void teardown(void) {
  api_test_free(t);
  api_app_free(app);
}

TestSuite(logging, .init = setup, .fini = teardown, .timeout = 30);

Test(logging, access_line_has_the_documented_fields) {
  api_test_res *r;
  cr_assert_eq(
      api_test_request(t,
                       API_TEST_REQ(.target = "/users/42?x=1",
                                    .headers = (const char *[]){"User-Agent: curl/8.0",
                                                                "X-Forwarded-For: 198.51.100.4",
                                                                "Authorization: Bearer secret",
                                                                "X-Request-ID: req-1", NULL},
                                    .client_addr = "10.0.0.1"),
                       &r),
      0);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *j = line_with("request completed", 0);
  cr_assert_not_null(j);
  cr_assert_str_eq(s(j, "level"), "info");
  cr_assert_str_eq(s(j, "request_id"), "req-1");
  cr_assert_eq(strlen(s(j, "trace_id")), 32);
  cr_assert_str_eq(s(j, "method"), "GET");
  cr_assert_str_eq(s(j, "route"), "/users/:id");
  cr_assert_str_eq(s(j, "path"), "/users/42");
  cr_assert_eq(json_integer_value(json_object_get(j, "status")), 200);
  size_t raw_len;
  api_test_res_raw(r, &raw_len);
  cr_assert_eq(json_integer_value(json_object_get(j, "bytes")), (json_int_t)raw_len);
  cr_assert(json_is_number(json_object_get(j, "duration_ms")));
  cr_assert_geq(json_number_value(json_object_get(j, "duration_ms")), 0);
  cr_assert_str_eq(s(j, "client"), "198.51.100.4");
  cr_assert_str_eq(s(j, "user_agent"), "curl/8.0");
  cr_assert_str_eq(s(j, "user"), "ada");
  cr_assert_not_null(json_object_get(j, "time"));
  for (int i = 0; i < nlines; i++) cr_assert_null(strstr(lines[i], "Bearer secret"));
  json_decref(j);
  api_test_res_free(r);
}

Test(logging, request_logger_binds_request_fields_and_defuses_hostile_values) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/users/7", &r), 0);
  json_t *j = line_with("handler says\n{\"level\":\"fatal\"}", 0);
  cr_assert_not_null(j, "the message survives intact, escaped");
  cr_assert_str_eq(s(j, "level"), "info");
  cr_assert_str_eq(s(j, "route"), "/users/:id");
  cr_assert_str_eq(s(j, "user"), "ada");
  cr_assert_str_eq(s(j, "request_id"), api_test_res_header(r, "X-Request-ID"));
  cr_assert_str_eq(s(j, "password"), "[REDACTED]");
  cr_assert_str_eq(s(j, "note"), "\x1b[31mred\r\nnext");
  for (int i = 0; i < nlines; i++) {
    cr_assert_null(strchr(lines[i], '\x1b'), "no raw escape character in a line");
    cr_assert_null(strstr(lines[i], "hunter2"));
  }
  json_decref(j);
  api_test_res_free(r);
}

Test(logging, errors_and_parser_failures_are_logged_once_with_their_level) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/boom", &r), 0);
  api_test_res_free(r);
  cr_assert_eq(api_test_get(t, "/nowhere", &r), 0);
  api_test_res_free(r);
  cr_assert_eq(
      api_test_request(t, API_TEST_REQ(.raw = "GET / HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n"), &r),
      0);
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
  json_t *a = line_with("request completed", 0), *b = line_with("request completed", 1),
         *c = line_with("request completed", 2);
  cr_assert(a && b && c);
  cr_assert_eq(json_integer_value(json_object_get(a, "status")), 500);
  cr_assert_str_eq(s(a, "level"), "error");
  cr_assert_eq(json_integer_value(json_object_get(b, "status")), 404);
  cr_assert_str_eq(s(b, "level"), "warn");
  cr_assert(json_is_null(json_object_get(b, "route")));
  cr_assert_eq(json_integer_value(json_object_get(c, "status")), 400);
  cr_assert_str_eq(s(c, "method"), "", "the half-parsed head is not trusted");
  cr_assert_eq(count_msg("request completed"), 3);
  json_decref(a);
  json_decref(b);
  json_decref(c);
}

Test(logging, encoded_control_characters_in_the_path_stay_encoded) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/users/%0a%1b%22", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  json_t *j = line_with("request completed", 0);
  cr_assert_str_eq(s(j, "path"), "/users/%0a%1b%22");
  json_decref(j);
}

Test(logging, bad_access_log_options_are_refused) {
  api_middleware mw;
  cr_assert_eq(api_mw_access_log(app, API_ACCESS_LOG_OPTIONS(.level = 42), &mw), API_EINVAL);
  cr_assert_eq(api_app_set_logger(app, NULL), API_ESTATE);
}

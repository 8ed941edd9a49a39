/* Health/readiness checks: passing, failing and hanging checks, the JSON body and status,
 * draining, validation, a registry freed while a check still runs, memory failure. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libapi/metrics.h"
#include "util/alloc.h"

static api_health *hr;

static void setup(void) { cr_assert_eq(api_health_new(&hr), 0); }
static void teardown(void) {
  api_health_free(hr);
  hr = NULL;
}

TestSuite(health, .init = setup, .fini = teardown);

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* Run the checks; returns the parsed body (asserting it is valid JSON and matches *len). */
static json_t *run(int *status, double *elapsed_ms) {
  char *body;
  size_t len;
  double t0 = now_ms();
  cr_assert_eq(api_health_run(hr, status, &body, &len), 0);
  if (elapsed_ms) *elapsed_ms = now_ms() - t0;
  cr_assert_eq(strlen(body), len);
  json_error_t err;
  json_t *j = json_loadb(body, len, 0, &err);
  cr_assert_not_null(j, "not JSON (%s): %s", err.text, body);
  api_metrics_text_free(body);
  return j;
}

static const char *check_field(json_t *j, const char *check, const char *field) {
  json_t *v = json_object_get(json_object_get(json_object_get(j, "checks"), check), field);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static double check_ms(json_t *j, const char *check) {
  json_t *v = json_object_get(json_object_get(json_object_get(j, "checks"), check), "duration_ms");
  cr_assert(json_is_number(v), "%s has no duration_ms", check);
  return json_number_value(v);
}

static int healthy(char *msg, size_t size, void *ud) { return 0; }

static int failing(char *msg, size_t size, void *ud) {
  snprintf(msg, size, "%s", (const char *)ud);
  return -1;
}

static int failing_silently(char *msg, size_t size, void *ud) { return API_EUNAVAILABLE; }
static int minus_one(char *msg, size_t size, void *ud) { return -1; }

static int slow_ok(char *msg, size_t size, void *ud) {
  sleep_ms(*(int *)ud);
  return 0;
}

typedef struct {
  int sleep_ms;
  atomic_int started, finished;
} hang_t;

static int hanging(char *msg, size_t size, void *ud) {
  hang_t *h = ud;
  atomic_fetch_add(&h->started, 1);
  sleep_ms(h->sleep_ms);
  snprintf(msg, size, "finished late");
  atomic_fetch_add(&h->finished, 1);
  return -1;
}

/* Wait for the hanging check's threads, so that nothing of ours runs past the test. */
static void wait_finished(hang_t *h, int n) {
  for (int i = 0; i < 500 && atomic_load(&h->finished) < n; i++) sleep_ms(10);
  cr_assert_eq(atomic_load(&h->finished), n);
  sleep_ms(20); /* the thread's last steps after the function returned */
}

Test(health, no_checks_is_ok) {
  int status = 0;
  char *body;
  size_t len;
  cr_assert_eq(api_health_run(hr, &status, &body, &len), 0);
  cr_assert_eq(status, 200);
  cr_assert_str_eq(body, "{\"status\":\"ok\",\"checks\":{}}");
  api_metrics_text_free(body);
}

Test(health, ok_and_failing) {
  int ms = 30;
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "db", .fn = slow_ok, .user_data = &ms)),
               0);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "cache", .fn = healthy)), 0);
  int status;
  json_t *j = run(&status, NULL);
  cr_assert_eq(status, 200);
  cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
  cr_assert_str_eq(check_field(j, "db", "status"), "ok");
  cr_assert_str_eq(check_field(j, "cache", "status"), "ok");
  cr_assert_null(check_field(j, "db", "error"));
  cr_assert_geq(check_ms(j, "db"), ms - 1);
  cr_assert_lt(check_ms(j, "cache"), ms);
  /* Order: as added. */
  cr_assert_str_eq(json_object_iter_key(json_object_iter(json_object_get(j, "checks"))), "db");
  json_decref(j);

  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "queue", .fn = failing,
                                                   .user_data = "broker unreachable")),
               0);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "disk", .fn = failing_silently)), 0);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "bare", .fn = minus_one)), 0);
  j = run(&status, NULL);
  cr_assert_eq(status, 503);
  cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "fail");
  cr_assert_str_eq(check_field(j, "db", "status"), "ok");
  cr_assert_str_eq(check_field(j, "queue", "status"), "fail");
  cr_assert_str_eq(check_field(j, "queue", "error"), "broker unreachable");
  cr_assert_str_eq(check_field(j, "disk", "error"), api_strerror(API_EUNAVAILABLE));
  cr_assert_str_eq(check_field(j, "bare", "error"), "failed");
  cr_assert_eq(json_object_size(json_object_get(j, "checks")), 5);
  json_decref(j);
}

Test(health, exact_body) {
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "a", .fn = failing, .user_data = "x")),
               0);
  char *body;
  size_t len;
  int status;
  cr_assert_eq(api_health_run(hr, &status, &body, &len), 0);
  /* The duration varies; everything around it does not. */
  const char *d = strstr(body, "\"duration_ms\":");
  cr_assert_not_null(d);
  cr_assert_eq(strncmp(body, "{\"status\":\"fail\",\"checks\":{\"a\":{\"status\":\"fail\",", 48), 0,
               "%s", body);
  char *end;
  strtod(d + 14, &end);
  cr_assert_str_eq(end, ",\"error\":\"x\"}}}");
  api_metrics_text_free(body);
}

Test(health, hostile_messages_stay_json) {
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "m", .fn = failing,
                                                   .user_data = "q\"uo\\te\n\x01\xff\xc3 é")),
               0);
  int status;
  json_t *j = run(&status, NULL);
  cr_assert_str_eq(check_field(j, "m", "error"), "q\"uo\\te\n\x01\xef\xbf\xbd\xef\xbf\xbd é");
  json_decref(j);
}

Test(health, timeout_is_failing) {
  hang_t h = {.sleep_ms = 400};
  int fast = 1;
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "slow", .fn = hanging, .user_data = &h,
                                                   .timeout_ms = 50)),
               0);
  cr_assert_eq(
      api_health_add(hr, API_HEALTH_CHECK(.name = "fast", .fn = slow_ok, .user_data = &fast)), 0);
  int status;
  double elapsed;
  json_t *j = run(&status, &elapsed);
  cr_assert_eq(status, 503);
  cr_assert_str_eq(check_field(j, "slow", "status"), "fail");
  cr_assert_str_eq(check_field(j, "slow", "error"), "timeout");
  cr_assert_str_eq(check_field(j, "fast", "status"), "ok");
  cr_assert_geq(check_ms(j, "slow"), 49);
  cr_assert_geq(elapsed, 49);
  cr_assert_lt(elapsed, 300, "the runner waited %f ms", elapsed);
  json_decref(j);
  /* The next run finds it still going: no second thread; it waits for the same run. */
  j = run(&status, &elapsed);
  cr_assert_str_eq(check_field(j, "slow", "error"), "timeout");
  cr_assert_eq(atomic_load(&h.started), 1);
  json_decref(j);
  /* Once it has returned, its late result is not reported, and a new run starts. */
  wait_finished(&h, 1);
  j = run(&status, &elapsed);
  cr_assert_eq(atomic_load(&h.started), 2);
  cr_assert_str_eq(check_field(j, "slow", "error"), "timeout");
  json_decref(j);
  wait_finished(&h, 2);
}

Test(health, earlier_run_that_finishes_in_time_is_reported) {
  hang_t h = {.sleep_ms = 150};
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "s", .fn = hanging, .user_data = &h,
                                                   .timeout_ms = 100)),
               0);
  int status;
  json_t *j = run(&status, NULL);
  cr_assert_str_eq(check_field(j, "s", "error"), "timeout");
  json_decref(j);
  /* The second run waits up to 100 ms more: the first run ends ~50 ms in. */
  j = run(&status, NULL);
  cr_assert_str_eq(check_field(j, "s", "error"), "finished late");
  cr_assert_geq(check_ms(j, "s"), 149);
  cr_assert_eq(atomic_load(&h.started), 1);
  json_decref(j);
  wait_finished(&h, 1);
}

Test(health, free_while_a_check_runs) {
  hang_t h = {.sleep_ms = 200};
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "s", .fn = hanging, .user_data = &h,
                                                   .timeout_ms = 20)),
               0);
  int status;
  json_t *j = run(&status, NULL);
  json_decref(j);
  api_health_free(hr);
  hr = NULL;
  wait_finished(&h, 1); /* ASan: the thread touches nothing freed */
}

Test(health, draining) {
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "db", .fn = healthy)), 0);
  api_health_set_draining(hr, 1);
  int status;
  char *body;
  cr_assert_eq(api_health_run(hr, &status, &body, NULL), 0);
  cr_assert_eq(status, 503);
  cr_assert_str_eq(body, "{\"status\":\"fail\",\"draining\":true,\"checks\":{}}");
  api_metrics_text_free(body);
  api_health_set_draining(hr, 0);
  json_t *j = run(&status, NULL);
  cr_assert_eq(status, 200);
  json_decref(j);
}

Test(health, validation) {
  const char *bad[] = {
      "",    "a b", "a\"b",
      "x/y", "é",   "0123456789012345678901234567890123456789012345678901234567890123456789"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = bad[i], .fn = healthy)), API_EINVAL,
                 "%s", bad[i]);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = NULL, .fn = healthy)), API_EINVAL);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "x")), API_EINVAL);
  cr_assert_eq(api_health_add(hr, NULL), API_EINVAL);
  cr_assert_eq(api_health_add(hr, &(api_health_check){.name = "x", .fn = healthy}), API_EINVAL);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "db-1.main_x", .fn = healthy)), 0);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "db-1.main_x", .fn = healthy)),
               API_EEXIST);
  cr_assert(strstr(api_last_error(), "db-1.main_x"));
  cr_assert_eq(api_health_add(NULL, API_HEALTH_CHECK(.name = "y", .fn = healthy)), API_EINVAL);
  char *body = (char *)1;
  int st = 0;
  cr_assert_eq(api_health_run(NULL, &st, &body, NULL), API_EINVAL);
  cr_assert_null(body);
  api_health_set_draining(NULL, 1);
  api_health_free(NULL);
  int status;
  json_t *j = run(&status, NULL);
  cr_assert_eq(json_object_size(json_object_get(j, "checks")), 1);
  json_decref(j);
}

Test(health, allocation_failure) {
  int ms = 1;
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "a", .fn = slow_ok, .user_data = &ms)),
               0);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "b", .fn = failing, .user_data = "no")),
               0);
  int enomem = 0, degraded = 0;
  for (long n = 0;; n++) {
    int status = 0;
    char *body = (char *)1;
    api__alloc_fail_nth(n);
    int rc = api_health_run(hr, &status, &body, NULL);
    api__alloc_fail_nth(-1);
    if (rc) {
      cr_assert_eq(rc, API_ENOMEM);
      cr_assert_null(body);
      enomem++;
      continue;
    }
    cr_assert_eq(status, 503, "check b always fails");
    json_t *j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "%s", body);
    const char *a = check_field(j, "a", "status");
    if (strcmp(a, "fail") == 0) { /* its job could not be allocated */
      cr_assert_str_eq(check_field(j, "a", "error"), "out of memory");
      degraded++;
    } else if (strcmp(check_field(j, "b", "error"), "no") == 0) {
      json_decref(j);
      api_metrics_text_free(body);
      break;
    }
    json_decref(j);
    api_metrics_text_free(body);
    cr_assert_lt(n, 100);
  }
  cr_assert_gt(enomem, 0);
  cr_assert_gt(degraded, 0);
  /* Adding under memory failure. */
  api__alloc_fail_after(0);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "c", .fn = healthy)), API_ENOMEM);
  api__alloc_fail_after(1);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "c", .fn = healthy)), API_ENOMEM);
  api__alloc_fail_after(-1);
  cr_assert_eq(api_health_add(hr, API_HEALTH_CHECK(.name = "c", .fn = healthy)), 0);
  api_health *h2 = (api_health *)1;
  api__alloc_fail_after(0);
  cr_assert_eq(api_health_new(&h2), API_ENOMEM);
  api__alloc_fail_after(-1);
  cr_assert_null(h2);
}

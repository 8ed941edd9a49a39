/* The standard HTTP metrics the request pipeline records: names, values, and label values
 * normalized so that hostile methods, statuses and unmatched paths cannot create series. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/http_metrics.h"
#include "obs/obs_internal.h"
#include "util/alloc.h"

static size_t count_lines(const char *text, const char *prefix) {
  size_t n = 0, len = strlen(prefix);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, prefix, len) == 0) n++;
  return n;
}

static char *render(api_metrics *m) {
  char *text;
  cr_assert_eq(api_metrics_render(m, &text, NULL), 0);
  return text;
}

Test(http_metrics, records_a_request) {
  api_metrics *m;
  api__http_metrics hm;
  cr_assert_eq(api_metrics_new(&m), 0);
  cr_assert_eq(api__http_metrics_init(&hm, m), 0);
  api__http_metrics_record(&hm, "GET", "/users/:id", 200, 0.003, 0, 120);
  api__http_metrics_record(&hm, "GET", "/users/:id", 200, 0.2, 0, 80);
  api__http_metrics_record(&hm, "POST", "/users", 201, 0.01, 64, 10);
  api__http_metrics_record(&hm, "GET", NULL, 404, 0.0001, 0, 0);
  char *text = render(m);
  static const char *want[] = {
      "\nhttp_requests_total{method=\"GET\",route=\"/users/:id\",status=\"200\"} 2\n",
      "\nhttp_requests_total{method=\"POST\",route=\"/users\",status=\"201\"} 1\n",
      "\nhttp_requests_total{method=\"GET\",route=\"(unmatched)\",status=\"404\"} 1\n",
      "\nhttp_request_duration_seconds_bucket{method=\"GET\",route=\"/users/:id\",le=\"0.005\"} "
      "1\n",
      "\nhttp_request_duration_seconds_bucket{method=\"GET\",route=\"/users/:id\",le=\"0.25\"} "
      "2\n",
      "\nhttp_request_duration_seconds_count{method=\"GET\",route=\"(unmatched)\"} 1\n",
      "\nhttp_request_bytes_total 64\n",
      "\nhttp_response_bytes_total 210\n",
      "\n# TYPE http_request_duration_seconds histogram\n",
      NULL};
  for (size_t i = 0; want[i]; i++) cr_assert_not_null(strstr(text, want[i]), "%s", want[i]);
  api_metrics_text_free(text);
  /* A second set in the same registry clashes. */
  api__http_metrics again;
  cr_assert_eq(api__http_metrics_init(&again, m), API_EEXIST);
  cr_assert_null(again.requests);
  api_metrics_free(m);
}

Test(http_metrics, hostile_values_cannot_add_series) {
  api_metrics *m;
  api__http_metrics hm;
  cr_assert_eq(api_metrics_new(&m), 0);
  cr_assert_eq(api__http_metrics_init(&hm, m), 0);
  cr_assert_str_eq(api__http_metrics_method("get"), "OTHER");
  cr_assert_str_eq(api__http_metrics_method(NULL), "OTHER");
  cr_assert_str_eq(api__http_metrics_method("PATCH"), "PATCH");
  cr_assert_str_eq(api__http_metrics_method("GETX"), "OTHER");
  char method[32];
  srand(3);
  for (int i = 0; i < 20000; i++) {
    snprintf(method, sizeof(method), "M%08x", (unsigned)rand());
    int status = rand() % 2000 - 500; /* mostly invalid */
    api__http_metrics_record(&hm, i % 2 ? method : "DELETE", NULL, status, 0.001, 1, 1);
  }
  char *text = render(m);
  /* Methods: DELETE and OTHER; statuses: the 500 valid ones and "other". */
  size_t series = count_lines(text, "http_requests_total{");
  cr_assert_leq(series, 2 * 501);
  cr_assert_eq(count_lines(text, "http_request_duration_seconds_count{"), 2);
  cr_assert_not_null(strstr(text, "method=\"OTHER\",route=\"(unmatched)\",status=\"other\"}"));
  cr_assert_null(strstr(text, "method=\"M"));
  cr_assert_not_null(strstr(text, "\nhttp_request_bytes_total 20000\n"));
  cr_assert_eq(api__metrics_dropped(m), 0, "nothing had to be dropped");
  api_metrics_text_free(text);
  api_metrics_free(m);
}

Test(http_metrics, allocation_failure) {
  for (long n = 0;; n++) {
    api_metrics *m;
    api__http_metrics hm;
    cr_assert_eq(api_metrics_new(&m), 0);
    api__alloc_fail_after(n);
    int rc = api__http_metrics_init(&hm, m);
    api__alloc_fail_after(-1);
    if (rc == 0) {
      api__http_metrics_record(&hm, "GET", "/", 200, 0.1, 1, 1);
      api_metrics_free(m);
      break;
    }
    cr_assert_eq(rc, API_ENOMEM);
    cr_assert_null(hm.requests);
    api_metrics_free(m);
    cr_assert_lt(n, 200);
  }
}

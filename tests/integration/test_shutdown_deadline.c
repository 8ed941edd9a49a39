/* A request still suspended at the shutdown deadline: its client sees the connection close, the
 * server waits for the request to come back (never freeing memory another thread holds), runs its
 * after-callback, and then stops. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "support/client.h"

static atomic_int after_ran;

static void slow_work(void *ud) { usleep(1200 * 1000); }

static int slow_after(api_req *req, api_res *res, void *ud) {
  after_ran = 1;
  return api_res_text(res, 200, "late");
}

static int slow(api_req *req, api_res *res, void *ud) {
  return api_offload(req, slow_work, slow_after, NULL);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(shutdown, request_suspended_past_the_deadline, .timeout = 30) {
  api_app *app;
  api_config cfg = tc_config(1);
  cfg.shutdown_timeout_ms = 200;
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/slow", slow, NULL), 0);
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  tc_conn *c = tc_connect(api_server_port(srv));
  cr_assert_eq(tc_send_str(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  usleep(100 * 1000); /* the job is running */
  double t0 = now_s();
  api_server_stop(srv);
  cr_assert(tc_wait_closed(c, 3000), "the client's connection is closed at the deadline");
  double closed_at = now_s() - t0;
  cr_assert_lt(closed_at, 1.0, "closed at the deadline (%.2fs), not when the job ended", closed_at);
  cr_assert_eq(after_ran, 0);
  api_server_wait(srv);
  cr_assert_eq(after_ran, 1, "the after-callback ran before the server stopped");
  cr_assert_geq(now_s() - t0, 0.9, "the server waited for the suspended request");
  tc_close(c);
  tc_stop(srv, app);
}

/* Test support: the routes the session suites share, and a settable clock for the session
 * middleware's idle and absolute timeouts. */
#ifndef TESTS_SUPPORT_SESSION_APP_H
#define TESTS_SUPPORT_SESSION_APP_H

#include <libapi/api.h>

/* A 32-byte CSRF secret for api_mw_csrf. */
extern const char ts_csrf_secret[];

/* The time ts_clock returns, in seconds; tests move it forward. */
extern long long ts_now;
/* For api_session_options.clock. */
long long ts_clock(void *user_data);

/*
 * Registers on app:
 *   POST /login?user=U  regenerate the session, store "user" (default "alice"); {"csrf": token}
 *   GET  /me            {"user": the stored user or absent, "exists": api_session_exists()}
 *   POST /count         increment "n" in the session; {"n": n}
 *   GET  /token         {"csrf": the session's token or absent}
 *   POST /regen         regenerate the session; {"csrf": the new token}
 *   POST /logout        destroy the session; {"ok": true, "closed": true when setting and
 *                       getting data afterwards is refused, as it must be}
 *   POST /transfer      {"ok": true} (an unsafe request for the CSRF checks)
 *   POST /fill?n=N      store a string of N bytes; {"ok": true}
 * Returns 0 or the first registration error.
 */
int ts_session_routes(api_app *app);

#endif

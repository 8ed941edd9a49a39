/* Test support: a raw-socket HTTP/1.1 client, so tests can send exactly the bytes they mean
 * (malformed, split, pipelined, slow), and a fixture that runs an app on an ephemeral port. */
#ifndef TESTS_SUPPORT_CLIENT_H
#define TESTS_SUPPORT_CLIENT_H

#include <libapi/api.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tc_conn {
  int fd;
  char buf[1 << 16];
  size_t len;
} tc_conn;

typedef struct tc_response {
  int status;
  char head[16384]; /* status line and headers, NUL-terminated */
  char *body;       /* malloc'd, NUL-terminated; free with tc_response_free */
  size_t body_len;
} tc_response;

/* Connect to 127.0.0.1:port with a 5 s receive timeout. Returns NULL on failure. */
tc_conn *tc_connect(int port);
void tc_close(tc_conn *c);
/* A plain blocking socket connected to 127.0.0.1:port with a 4 KiB receive buffer, so that a large
 * answer cannot all leave the server while the test reads nothing. Returns the fd, or -1. */
int tc_connect_small_window(int port);
/* Send all bytes. Returns 0 or -1. */
int tc_send(tc_conn *c, const void *data, size_t len);
int tc_send_str(tc_conn *c, const char *s);
/* Read one response (Content-Length or no body; head_request: no body even with a length).
 * Returns 0, or -1 on EOF/timeout/garbage. */
int tc_read(tc_conn *c, tc_response *r, bool head_request);
/* True when the server closes the connection within timeout_ms (EOF or reset). */
bool tc_wait_closed(tc_conn *c, int timeout_ms);
/* The value of a response header (case-insensitive), copied into a static buffer, or NULL. */
const char *tc_header(const tc_response *r, const char *name);
void tc_response_free(tc_response *r);
/* connect + send + read one response + close. */
int tc_exchange(int port, const char *raw, tc_response *r);

/* Run app on an ephemeral loopback port; returns the server (port via api_server_port). */
api_server *tc_start(api_app *app);
/* Stop, wait for and free the server, then free the app. */
void tc_stop(api_server *srv, api_app *app);
/* A config for tests: ephemeral port, given workers, short timeouts where useful. */
api_config tc_config(int workers);

/* ---- helpers for the integration tests ---- */

/* Seconds on the monotonic clock. */
double tc_now(void);
/* Connect like tc_connect, with TCP_NODELAY, so that each tc_send leaves as its own segment. */
tc_conn *tc_connect_nodelay(int port);
/* Change the receive timeout of tc_read (default 5000 ms). */
void tc_set_timeout(tc_conn *c, int timeout_ms);
/* Send len bytes one at a time, sleeping gap_us microseconds after each. Returns 0 or -1. */
int tc_send_slowly(tc_conn *c, const void *data, size_t len, int gap_us);
/* True when bytes (or EOF) are ready to read within timeout_ms, counting bytes already buffered. */
bool tc_readable(tc_conn *c, int timeout_ms);
/* Read everything until the server closes (buffered bytes first) into out[0..cap), NUL-terminated.
 * Returns the byte count, or -1 if the connection was still open after timeout_ms. */
long tc_read_until_closed(tc_conn *c, char *out, size_t cap, int timeout_ms);
/* The idx-th (from 0) response header called name, copied into a static buffer, or NULL. */
const char *tc_header_n(const tc_response *r, const char *name, int idx);
/* The local port of the client's socket. */
int tc_local_port(const tc_conn *c);
/* Run a shell command and return its standard output (malloc'd, NUL-terminated; free() it), or
 * NULL. *exit_status gets its exit status when not NULL. */
char *tc_run(const char *cmd, int *exit_status);
/* The resident set size of this process in bytes, or 0 if unknown. */
size_t tc_rss_bytes(void);

/* ---- a scratch directory, for tests that run programs on files ---- */

/* Create a fresh directory under /tmp (a suite's .init); tc_scratch_remove deletes it (.fini). */
void tc_scratch_new(void);
void tc_scratch_remove(void);
/* Its path. */
const char *tc_scratch_dir(void);
/* Write text to the file name in it. */
void tc_scratch_put(const char *name, const char *text);
/* The file name in it, NUL-terminated, in a static buffer (64 KiB at most). */
char *tc_scratch_read(const char *name);

#endif

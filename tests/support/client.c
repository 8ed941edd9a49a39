#include "support/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

tc_conn *tc_connect(int port) {
  tc_conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (c->fd >= 0) close(c->fd);
    free(c);
    return NULL;
  }
  return c;
}

int tc_connect_small_window(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void tc_close(tc_conn *c) {
  if (!c) return;
  close(c->fd);
  free(c);
}

int tc_send(tc_conn *c, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int tc_send_str(tc_conn *c, const char *s) { return tc_send(c, s, strlen(s)); }

static int fill(tc_conn *c) {
  if (c->len == sizeof(c->buf)) return -1;
  ssize_t n;
  do n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;
  c->len += (size_t)n;
  return 0;
}

static void consume(tc_conn *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

const char *tc_header(const tc_response *r, const char *name) {
  static _Thread_local char value[4096];
  size_t n = strlen(name);
  const char *line = strstr(r->head, "\r\n");
  while (line && line[2]) {
    line += 2;
    const char *end = strstr(line, "\r\n");
    if (!end) break;
    if ((size_t)(end - line) > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
      const char *v = line + n + 1;
      while (*v == ' ') v++;
      size_t vl = (size_t)(end - v);
      if (vl >= sizeof(value)) vl = sizeof(value) - 1;
      memcpy(value, v, vl);
      value[vl] = '\0';
      return value;
    }
    line = end;
  }
  return NULL;
}

int tc_read(tc_conn *c, tc_response *r, bool head_request) {
  memset(r, 0, sizeof(*r));
  char *end;
  while (!(c->len && (end = memmem(c->buf, c->len, "\r\n\r\n", 4))))
    if (fill(c)) return -1;
  size_t head_len = (size_t)(end - c->buf) + 4;
  if (head_len >= sizeof(r->head)) return -1;
  memcpy(r->head, c->buf, head_len);
  r->head[head_len] = '\0';
  consume(c, head_len);
  if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) return -1;
  const char *cl = tc_header(r, "content-length");
  size_t len = cl && !head_request ? strtoul(cl, NULL, 10) : 0;
  r->body = malloc(len + 1);
  if (!r->body) return -1;
  while (c->len < len) {
    size_t take = c->len;
    memcpy(r->body + r->body_len, c->buf, take);
    r->body_len += take;
    len -= take;
    c->len = 0;
    if (fill(c)) return -1;
  }
  memcpy(r->body + r->body_len, c->buf, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  consume(c, len);
  return 0;
}

bool tc_wait_closed(tc_conn *c, int timeout_ms) {
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  for (;;) {
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char b[4096];
    ssize_t n = recv(c->fd, b, sizeof(b), 0);
    if (n <= 0) return true; /* EOF or reset */
  }
}

void tc_response_free(tc_response *r) {
  free(r->body);
  r->body = NULL;
}

int tc_exchange(int port, const char *raw, tc_response *r) {
  tc_conn *c = tc_connect(port);
  if (!c) return -1;
  int rc = tc_send_str(c, raw) ? -1 : tc_read(c, r, strncmp(raw, "HEAD ", 5) == 0);
  tc_close(c);
  return rc;
}

api_config tc_config(int workers) {
  return (api_config){
      .size = sizeof(api_config), .port = API_PORT_ANY, .workers = workers, .host = "127.0.0.1"};
}

api_server *tc_start(api_app *app) {
  api_server *srv = NULL;
  /* A fixed port (8080 by default) would be shared with whatever else runs tests on this machine
   * at the same time: every test server gets a port of its own from the kernel. */
  if (api_app_config(app)->port != API_PORT_ANY) {
    fprintf(stderr, "tc_start: test servers listen on API_PORT_ANY (use tc_config())\n");
    return NULL;
  }
  if (api_server_start(&srv, app) != 0) {
    fprintf(stderr, "tc_start: %s\n", api_last_error());
    return NULL;
  }
  return srv;
}

void tc_stop(api_server *srv, api_app *app) {
  if (srv) {
    api_server_stop(srv);
    api_server_wait(srv);
    api_server_free(srv);
  }
  api_app_free(app);
}

double tc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

tc_conn *tc_connect_nodelay(int port) {
  tc_conn *c = tc_connect(port);
  int one = 1;
  if (c) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return c;
}

void tc_set_timeout(tc_conn *c, int timeout_ms) {
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int tc_send_slowly(tc_conn *c, const void *data, size_t len, int gap_us) {
  const char *p = data;
  for (size_t i = 0; i < len; i++) {
    if (tc_send(c, p + i, 1)) return -1;
    if (gap_us > 0) usleep((useconds_t)gap_us);
  }
  return 0;
}

bool tc_readable(tc_conn *c, int timeout_ms) {
  if (c->len) return true;
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  int n;
  do n = poll(&p, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  return n > 0;
}

long tc_read_until_closed(tc_conn *c, char *out, size_t cap, int timeout_ms) {
  size_t n = 0;
  if (cap == 0) return -1;
  size_t take = c->len < cap - 1 ? c->len : cap - 1;
  memcpy(out, c->buf, take);
  n = take;
  consume(c, c->len); /* whatever did not fit is dropped */
  double deadline = tc_now() + timeout_ms / 1000.0;
  for (;;) {
    int left = (int)((deadline - tc_now()) * 1000);
    if (left < 0) left = 0;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&p, 1, left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      out[n] = '\0';
      return -1;
    }
    char b[4096];
    ssize_t r = recv(c->fd, b, sizeof(b), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* EOF or reset */
    size_t k = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
    memcpy(out + n, b, k);
    n += k;
  }
  out[n] = '\0';
  return (long)n;
}

const char *tc_header_n(const tc_response *r, const char *name, int idx) {
  static _Thread_local char value[4096];
  size_t n = strlen(name);
  const char *line = strstr(r->head, "\r\n");
  while (line && line[2]) {
    line += 2;
    const char *end = strstr(line, "\r\n");
    if (!end) break;
    if ((size_t)(end - line) > n && line[n] == ':' && strncasecmp(line, name, n) == 0 &&
        idx-- == 0) {
      const char *v = line + n + 1;
      while (*v == ' ') v++;
      size_t vl = (size_t)(end - v);
      if (vl >= sizeof(value)) vl = sizeof(value) - 1;
      memcpy(value, v, vl);
      value[vl] = '\0';
      return value;
    }
    line = end;
  }
  return NULL;
}

int tc_local_port(const tc_conn *c) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  if (getsockname(c->fd, (struct sockaddr *)&sa, &len) != 0) return -1;
  return ntohs(sa.sin_port);
}

char *tc_run(const char *cmd, int *exit_status) {
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  size_t cap = 4096, n = 0;
  char *out = malloc(cap);
  while (out) {
    if (cap - n < 2048) {
      char *bigger = realloc(out, cap * 2);
      if (!bigger) {
        free(out);
        out = NULL;
        break;
      }
      out = bigger;
      cap *= 2;
    }
    size_t r = fread(out + n, 1, cap - n - 1, p);
    n += r;
    if (r == 0) break;
  }
  int st = pclose(p);
  if (exit_status) *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (out) out[n] = '\0';
  return out;
}

size_t tc_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, rss = 0;
  int got = fscanf(f, "%lu %lu", &size, &rss);
  fclose(f);
  return got == 2 ? (size_t)rss * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static char scratch[64];

/* The scratch helpers are set-up code: a failure there ends the test run loudly. */
static void scratch_fail(const char *what, const char *path) {
  fprintf(stderr, "tc_scratch: %s %s\n", what, path);
  abort();
}

void tc_scratch_new(void) {
  strcpy(scratch, "/tmp/libapi-test-XXXXXX");
  if (!mkdtemp(scratch)) scratch_fail("mkdtemp", scratch);
}

void tc_scratch_remove(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
  if (system(cmd) != 0) scratch_fail("rm -rf", scratch);
}

const char *tc_scratch_dir(void) { return scratch; }

void tc_scratch_put(const char *name, const char *text) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", scratch, name);
  FILE *f = fopen(path, "w");
  if (!f) scratch_fail("cannot write", path);
  fputs(text, f);
  fclose(f);
}

char *tc_scratch_read(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", scratch, name);
  FILE *f = fopen(path, "r");
  if (!f) scratch_fail("cannot read", path);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

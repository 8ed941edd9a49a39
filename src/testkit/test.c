/*
 * The in-process test client: a server with no listener, fed over socket pairs. Using the real
 * connection code (rather than a second, socket-free path through the pipeline) means a test sees
 * exactly what a network client would: limits, hooks, async completion and the writer included.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libapi/server.h"
#include "libapi/test.h"
#include "net/net.h"
#include "util/alloc.h"
#include "util/buf.h"

struct api_test {
  api_server *srv;
};

typedef struct header {
  const char *name, *value;
} header;

struct api_test_res {
  char *raw; /* as received, then cut in place into lines */
  size_t raw_len;
  char *copy; /* the untouched bytes, for api_test_res_raw */
  int status;
  header *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  json_t *json;
  bool json_parsed;
};

int api_test_new(api_test **out, api_app *app) {
  *out = NULL;
  api_test *t = api__calloc(1, sizeof(*t));
  if (!t) return API_ENOMEM;
  int rc = api__server_start(&t->srv, app, false);
  if (rc) {
    api__free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void api_test_free(api_test *t) {
  if (!t) return;
  api_server_free(t->srv);
  api__free(t);
}

static bool append_str(api__buf *b, const char *s) { return api__buf_append(b, s, strlen(s)); }

static int build_request(api__buf *b, const api_test_req *r) {
  if (r->raw)
    return api__buf_append(b, r->raw, r->raw_len ? r->raw_len : strlen(r->raw)) ? 0 : API_ENOMEM;
  const void *body = r->json ? r->json : r->body;
  size_t body_len = r->json ? strlen(r->json) : r->body_len ? r->body_len : body ? strlen(body) : 0;
  char line[64];
  bool ok = append_str(b, r->method ? r->method : "GET") && append_str(b, " ") &&
            append_str(b, r->target ? r->target : "/") &&
            append_str(b, " HTTP/1.1\r\nHost: test\r\n");
  for (size_t i = 0; ok && r->headers && r->headers[i]; i++)
    ok = append_str(b, r->headers[i]) && append_str(b, "\r\n");
  if (ok && r->json) ok = append_str(b, "Content-Type: application/json\r\n");
  if (ok && body) {
    snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body_len);
    ok = append_str(b, line);
  }
  ok = ok && append_str(b, "\r\n") && (!body || api__buf_append(b, body, body_len));
  return ok ? 0 : API_ENOMEM;
}

/* The peer address the server will see. */
static int peer_of(const char *addr, struct sockaddr_storage *ss, unsigned *len) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (!addr) addr = "127.0.0.1";
  if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(40000);
    *len = sizeof(*a4);
    return 0;
  }
  if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(40000);
    *len = sizeof(*a6);
    return 0;
  }
  return API_EINVAL;
}

static bool no_body(int status, const char *method) {
  return (status >= 100 && status < 200) || status == 204 || status == 304 ||
         (method && strcmp(method, "HEAD") == 0);
}

/* Parse what has arrived. Returns 1 when a whole final response is in, 0 when more is needed, or
 * API_EBADREQ. 1xx responses in front are skipped. */
static int parse_response(api_test_res *res, const char *method, bool cut) {
  char *p = res->raw, *end = res->raw + res->raw_len;
  for (;;) {
    char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!hend) return 0;
    int status = 0;
    if (end - p < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0 || sscanf(p + 9, "%3d", &status) != 1)
      return API_EBADREQ;
    if (status >= 100 && status < 200) {
      p = hend + 4;
      continue;
    }
    long long cl = -1;
    for (char *l = memmem(p, (size_t)(hend - p), "\r\n", 2) + 2; l < hend + 2;) {
      char *eol = memmem(l, (size_t)(hend + 2 - l), "\r\n", 2);
      if (strncasecmp(l, "content-length:", 15) == 0) cl = strtoll(l + 15, NULL, 10);
      l = eol + 2;
    }
    size_t have = (size_t)(end - hend - 4);
    size_t want = no_body(status, method) ? 0 : cl < 0 ? have : (size_t)cl;
    if (have < want) return 0;
    if (!cut) return 1;
    res->status = status;
    /* Cut the head into NUL-terminated pieces. */
    size_t max = 1;
    for (char *q = p; q < hend; q++) max += *q == '\n';
    res->headers = api__calloc(max, sizeof(header));
    if (!res->headers) return API_ENOMEM;
    char *l = memmem(p, (size_t)(hend - p), "\r\n", 2) + 2;
    hend[2] = '\0';
    while (l < hend + 2) {
      char *eol = strstr(l, "\r\n");
      *eol = '\0';
      char *colon = strchr(l, ':');
      if (!colon) return API_EBADREQ;
      *colon = '\0';
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      res->headers[res->nheaders++] = (header){l, v};
      l = eol + 2;
    }
    res->body = hend + 4;
    res->body_len = want;
    hend[4 + want] = '\0';
    return 1;
  }
}

static int wait_response(int fd, api_test_res *res, const char *method, unsigned timeout_ms) {
  api__buf in = {0};
  uint64_t deadline = api__now_ms() + timeout_ms;
  int rc = 0;
  for (;;) {
    if (!api__buf_reserve(&in, 4096)) {
      rc = API_ENOMEM;
      break;
    }
    uint64_t now = api__now_ms();
    if (now >= deadline) {
      rc = API_ETIMEOUT;
      break;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr = poll(&pfd, 1, (int)(deadline - now));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      rc = API_ETIMEOUT;
      break;
    }
    ssize_t n = read(fd, in.data + in.len, in.cap - in.len - 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      rc = API_ESYS;
      break;
    }
    in.len += (size_t)n;
    in.data[in.len] = '\0';
    res->raw = in.data;
    res->raw_len = in.len;
    if ((rc = parse_response(res, method, false))) break;
  }
  res->raw = in.data;
  res->raw_len = in.len;
  if (rc != 1) return rc ? rc : API_ESYS;
  if (!(res->copy = api__malloc(in.len + 1))) return API_ENOMEM;
  memcpy(res->copy, in.data, in.len + 1);
  rc = parse_response(res, method, true);
  return rc == 1 ? 0 : rc ? rc : API_EBADREQ;
}

int api_test_request(api_test *t, const api_test_req *r, api_test_res **out) {
  *out = NULL;
  api_test_req req = {0};
  memcpy(&req, r, r->size < sizeof(req) ? r->size : sizeof(req));
  struct sockaddr_storage ss;
  unsigned sslen;
  if (peer_of(req.client_addr, &ss, &sslen)) return API_EINVAL;
  api__buf wire = {0};
  int rc = build_request(&wire, &req);
  int sv[2] = {-1, -1};
  if (!rc && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) rc = API_ESYS;
  if (!rc) {
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    rc = api__server_inject(t->srv, sv[1], &ss, sslen); /* takes sv[1] */
  }
  api_test_res *res = rc ? NULL : api__calloc(1, sizeof(*res));
  if (!rc && !res) rc = API_ENOMEM;
  /* Write everything (the server reads as we go), then collect the answer. */
  for (size_t off = 0; !rc && off < wire.len;) {
    ssize_t n = send(sv[0], wire.data + off, wire.len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* the server may answer and close before reading it all */
    off += (size_t)n;
  }
  api__buf_free(&wire);
  if (!rc)
    rc = wait_response(sv[0], res, req.raw ? NULL : req.method,
                       req.timeout_ms ? req.timeout_ms : 10000);
  if (sv[0] >= 0) close(sv[0]);
  if (rc) {
    api_test_res_free(res);
    return rc;
  }
  *out = res;
  return 0;
}

int api_test_get(api_test *t, const char *target, api_test_res **out) {
  return api_test_request(t, API_TEST_REQ(.target = target), out);
}

int api_test_res_status(const api_test_res *res) { return res->status; }

const char *api_test_res_header_n(const api_test_res *res, const char *name, size_t idx) {
  for (size_t i = 0; i < res->nheaders; i++)
    if (strcasecmp(res->headers[i].name, name) == 0 && idx-- == 0) return res->headers[i].value;
  return NULL;
}

const char *api_test_res_header(const api_test_res *res, const char *name) {
  return api_test_res_header_n(res, name, 0);
}

const char *api_test_res_body(const api_test_res *res, size_t *len) {
  if (len) *len = res->body_len;
  return res->body;
}

json_t *api_test_res_json(api_test_res *res) {
  if (!res->json_parsed) {
    res->json_parsed = true;
    res->json = json_loadb(res->body, res->body_len, 0, NULL);
  }
  return res->json;
}

const char *api_test_res_raw(const api_test_res *res, size_t *len) {
  if (len) *len = res->raw_len;
  return res->copy;
}

void api_test_res_free(api_test_res *res) {
  if (!res) return;
  json_decref(res->json);
  api__free(res->headers);
  api__free(res->raw);
  api__free(res->copy);
  api__free(res);
}

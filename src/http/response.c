/* Response builders. Everything is copied into the request's arena. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/chars.h"
#include "http/message.h"

void api__res_reset(api_res *res) {
  memset(res, 0, sizeof(*res));
  res->status = 200;
  res->tail = &res->headers;
}

static api_req *req_of(api_res *res) { return (api_req *)((char *)res - offsetof(api_req, res)); }

int api_res_status(api_res *res, int status) {
  if (status < 200 || status > 599) return API_EINVAL;
  res->status = status;
  res->touched = true;
  return 0;
}

static bool framework_header(const char *name, size_t n) {
  static const char *const owned[] = {"content-length", "transfer-encoding", "connection", "date"};
  for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
    if (strlen(owned[i]) == n && strncasecmp(owned[i], name, n) == 0) return true;
  return false;
}

static int add_header(api_res *res, const char *name, const char *value, bool replace) {
  size_t nl = name ? strlen(name) : 0, vl = value ? strlen(value) : 0;
  if (!api__is_token(name, nl) || !value || !api__is_field_value(value, vl) ||
      framework_header(name, nl))
    return API_EINVAL;
  api_req *req = req_of(res);
  if (nl == 12 && strncasecmp(name, "content-type", 12) == 0) {
    const char *v = api__arena_strndup(&req->arena, value, vl);
    if (!v) return API_ENOMEM;
    res->content_type = v;
    res->touched = true;
    return 0;
  }
  if (replace) api_res_header_remove(res, name);
  api__out_header *h = api__arena_alloc(&req->arena, sizeof(*h));
  char *n = api__arena_strndup(&req->arena, name, nl);
  char *v = api__arena_strndup(&req->arena, value, vl);
  if (!h || !n || !v) return API_ENOMEM;
  *h =
      (api__out_header){.name = n, .value = v, .name_len = (uint32_t)nl, .value_len = (uint32_t)vl};
  *res->tail = h;
  res->tail = &h->next;
  res->touched = true;
  return 0;
}

int api__res_header_trusted(api_res *res, const char *name, uint32_t name_len, const char *value,
                            uint32_t value_len) {
  api__out_header *h = api__arena_alloc(&req_of(res)->arena, sizeof(*h));
  if (!h) return API_ENOMEM;
  *h =
      (api__out_header){.name = name, .value = value, .name_len = name_len, .value_len = value_len};
  *res->tail = h;
  res->tail = &h->next;
  res->touched = true;
  return 0;
}

int api_res_header(api_res *res, const char *name, const char *value) {
  return add_header(res, name, value, true);
}

int api_res_header_add(api_res *res, const char *name, const char *value) {
  return add_header(res, name, value, false);
}

int api_res_cookie(api_res *res, const char *name, const char *value, const api_cookie_opts *opts) {
  char buf[512];
  size_t len = 0;
  int rc = api__set_cookie_format(buf, sizeof(buf), name, value, opts, &len);
  if (rc == API_ENOMEM && len >= sizeof(buf)) {
    char *big = api__arena_alloc(&req_of(res)->arena, len + 1);
    if (!big) return API_ENOMEM;
    rc = api__set_cookie_format(big, len + 1, name, value, opts, &len);
    if (!rc) rc = add_header(res, "Set-Cookie", big, false);
    return rc;
  }
  return rc ? rc : add_header(res, "Set-Cookie", buf, false);
}

static int set_body(api_res *res, const char *content_type, const void *data, size_t len,
                    bool copy) {
  api_req *req = req_of(res);
  if (content_type) {
    size_t n = strlen(content_type);
    if (!api__is_field_value(content_type, n)) return API_EINVAL;
    if (!(res->content_type = api__arena_strndup(&req->arena, content_type, n))) return API_ENOMEM;
  }
  if (copy && len) {
    char *p = api__arena_alloc(&req->arena, len);
    if (!p) return API_ENOMEM;
    memcpy(p, data, len);
    data = p;
  }
  res->body = len ? data : NULL;
  res->body_len = len;
  res->touched = true;
  return 0;
}

int api_res_body(api_res *res, const char *content_type, const void *data, size_t len) {
  return set_body(res, content_type, data, len, true);
}

int api_res_body_ref(api_res *res, const char *content_type, const void *data, size_t len) {
  return set_body(res, content_type, data, len, false);
}

int api_res_text(api_res *res, int status, const char *text) {
  int rc = api_res_status(res, status);
  return rc ? rc : set_body(res, "text/plain; charset=utf-8", text, strlen(text), true);
}

/* Serialize JSON straight into the arena: a buffer that doubles as needed. */
typedef struct {
  api__arena *arena;
  char *p;
  size_t len, cap;
} json_out;

static int json_out_cb(const char *s, size_t n, void *data) {
  json_out *o = data;
  if (o->cap - o->len < n) {
    size_t cap = o->cap ? o->cap * 2 : 256;
    while (cap - o->len < n) cap *= 2;
    char *p = api__arena_alloc(o->arena, cap);
    if (!p) return -1;
    if (o->len) memcpy(p, o->p, o->len);
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  return 0;
}

int api_res_json(api_res *res, int status, const json_t *value) {
  if (!value) return API_EINVAL;
  int rc = api_res_status(res, status);
  if (rc) return rc;
  json_out o = {.arena = &req_of(res)->arena};
  if (json_dump_callback(value, json_out_cb, &o, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
    return API_ENOMEM;
  return set_body(res, "application/json", o.p, o.len, false);
}

int api_res_json_new(api_res *res, int status, json_t *value) {
  int rc = value ? api_res_json(res, status, value) : API_ENOMEM;
  json_decref(value);
  return rc;
}

int api_res_data(api_res *res, int status, json_t *data, json_t *meta) {
  if (!data) { /* a failed constructor: json_pack(...) returned NULL */
    json_decref(meta);
    return API_ENOMEM;
  }
  /* "o" steals its reference even when packing fails; "o*" omits a NULL meta. */
  return api_res_json_new(res, status, json_pack("{s:o,s:o*}", "data", data, "meta", meta));
}

static const char *default_code(int status) {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "FORBIDDEN";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 408:
      return "REQUEST_TIMEOUT";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 414:
      return "URI_TOO_LONG";
    case 415:
      return "UNSUPPORTED_MEDIA_TYPE";
    case 422:
      return "VALIDATION_FAILED";
    case 429:
      return "RATE_LIMITED";
    case 431:
      return "HEADERS_TOO_LARGE";
    case 501:
      return "NOT_IMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "TIMEOUT";
    case 505:
      return "HTTP_VERSION_NOT_SUPPORTED";
  }
  return status >= 500 ? "INTERNAL" : "ERROR";
}

int api_res_error(api_res *res, int status, const char *code, const char *message,
                  json_t *details) {
  const char *id = api_req_id(req_of(res));
  return api_res_json_new(
      res, status,
      json_pack("{s:{s:s,s:s,s:o*},s:s}", "error", "code", code ? code : default_code(status),
                "message", message ? message : "", "details", details, "request_id", id));
}

/* What a 5xx says, whatever caused it: nothing about the inside. */
static const char *server_error_message(int status) {
  switch (status) {
    case 501:
      return "not implemented";
    case 503:
      return "service unavailable";
    case 504:
      return "handler timed out";
    case 505:
      return "HTTP version not supported";
  }
  return "internal server error";
}

int api__res_std_error(api_req *req, int err, const char *message) {
  int status = api_err_status(err);
  api__res_reset(&req->res);
  if (status >= 500) message = server_error_message(status);
  if (!message) message = api_strerror(err);
  return api_res_error(&req->res, status, api_err_code(err), message, NULL);
}

int api_res_get_status(const api_res *res) { return res->status; }

const char *api_res_get_header(const api_res *res, const char *name) {
  if (strcasecmp(name, "content-type") == 0) return res->content_type;
  size_t n = strlen(name);
  for (const api__out_header *h = res->headers; h; h = h->next)
    if (h->name_len == n && strncasecmp(h->name, name, n) == 0) return h->value;
  return NULL;
}

const void *api_res_get_body(const api_res *res, size_t *len) {
  if (len) *len = res->body_len;
  return res->body;
}

int api_res_header_remove(api_res *res, const char *name) {
  size_t n = strlen(name);
  if (n == 12 && strcasecmp(name, "content-type") == 0) {
    res->content_type = NULL;
    return 0;
  }
  for (api__out_header **p = &res->headers; *p;) {
    if ((*p)->name_len == n && strncasecmp((*p)->name, name, n) == 0) {
      *p = (*p)->next;
    } else {
      p = &(*p)->next;
    }
  }
  res->tail = &res->headers;
  while (*res->tail) res->tail = &(*res->tail)->next;
  return 0;
}

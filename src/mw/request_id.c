/* Request ids (kept when sane, else generated) and W3C Trace Context (traceparent). */
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"
#include "http/chars.h"
#include "http/message.h"
#include "util/alloc.h"
#include "util/rand.h"

typedef struct rid {
  char *header;
  uint32_t header_len;
  size_t max_len;
  bool ignore_incoming;
  bool ignore_traceparent;
} rid;

static bool sane_id(const char *s, size_t max_len) {
  size_t n = 0;
  for (; s[n]; n++) {
    unsigned char c = (unsigned char)s[n];
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok || n >= max_len) return false;
  }
  return n > 0;
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* Lower-case hex and not all zeros: a valid trace or span id. */
static bool valid_id(const char *s, size_t n) { return is_hex(s, n) && strspn(s, "0") < n; }

/* traceparent: version "-" 32 hex trace id "-" 16 hex parent id "-" 2 hex flags (W3C Trace
 * Context level 1). Version ff is invalid; 00 has exactly these fields; a later version may
 * append fields after a '-'. */
static bool parse_traceparent(const char *v, char trace[33], char flags[3]) {
  size_t n = strlen(v);
  if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  if (!is_hex(v, 2) || memcmp(v, "ff", 2) == 0) return false;
  if (memcmp(v, "00", 2) == 0 ? n != 55 : n > 55 && v[55] != '-') return false;
  if (!valid_id(v + 3, 32) || !valid_id(v + 36, 16) || !is_hex(v + 53, 2)) return false;
  memcpy(trace, v + 3, 32);
  trace[32] = '\0';
  memcpy(flags, v + 53, 2);
  flags[2] = '\0';
  return true;
}

static void hex(char *out, const unsigned char *in, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

/* n random bytes as hex, never all zero (an all-zero id is invalid in Trace Context). */
static void random_hex(char *out, size_t n) {
  unsigned char b[16];
  do {
    api__rand_fill(b, n);
    hex(out, b, n);
  } while (!valid_id(out, 2 * n));
}

static int on_request(api_req *req, api_res *res, void *ud) {
  const rid *r = ud;
  if (!r->ignore_incoming) {
    const char *in = api_req_header(req, r->header);
    if (in && sane_id(in, r->max_len) && !(req->id = api_req_strdup(req, in))) return API_ENOMEM;
  }
  if (r->ignore_traceparent) return API_NEXT;
  struct trace {
    char trace[33], span[17], parent[56];
  } *t = api_req_alloc(req, sizeof(*t));
  if (!t) return API_ENOMEM;
  char flags[3] = "00";
  const char *in = api_req_header(req, "traceparent");
  if (!in || !parse_traceparent(in, t->trace, flags)) random_hex(t->trace, 16);
  random_hex(t->span, 8);
  char *p = t->parent; /* "00-<trace>-<span>-<flags>" */
  memcpy(p, "00-", 3);
  memcpy(p + 3, t->trace, 32);
  p[35] = '-';
  memcpy(p + 36, t->span, 16);
  p[52] = '-';
  memcpy(p + 53, flags, 3);
  req->trace_id = t->trace;
  req->span_id = t->span;
  req->traceparent = t->parent;
  return API_NEXT;
}

static int on_send(api_req *req, api_res *res, void *ud) {
  const rid *r = ud;
  const char *id = api_req_id(req); /* sane or generated: a valid field value, in request memory */
  return api__res_header_trusted(res, r->header, r->header_len, id, (uint32_t)strlen(id));
}

static void rid_free(void *p) {
  rid *r = p;
  api__free(r->header);
  api__free(r);
}

int api_mw_request_id(api_app *app, const api_request_id_options *opts, api_middleware *out) {
  api_request_id_options o = {0};
  if (opts) memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
  if (!o.header) o.header = "X-Request-ID";
  if (!o.max_len) o.max_len = 128;
  if (o.max_len > 256) return api__fail(API_EINVAL, "request id: max_len must be 1..256");
  if (!api__is_token(o.header, strlen(o.header)))
    return api__fail(API_EINVAL, "request id: header \"%s\" is not a header name", o.header);
  rid *r = api__calloc(1, sizeof(*r));
  if (!r || !(r->header = api__strdup(o.header))) {
    api__free(r);
    return API_ENOMEM;
  }
  r->max_len = o.max_len;
  r->header_len = (uint32_t)strlen(r->header);
  r->ignore_incoming = o.ignore_incoming;
  r->ignore_traceparent = o.ignore_traceparent;
  int rc = api_app_on_free(app, rid_free, r);
  if (rc) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "request_id",
                          .on_request = on_request,
                          .on_send = on_send,
                          .user_data = r};
  return 0;
}

const char *api_req_trace_id(const api_req *req) { return req->trace_id; }
const char *api_req_span_id(const api_req *req) { return req->span_id; }
const char *api_req_traceparent(const api_req *req) { return req->traceparent; }

/*
 * Conditional requests (RFC 9110 section 13): ETags for GET/HEAD responses and the 304 answers to
 * If-None-Match / If-Modified-Since in on_send, plus api_req_preconditions() for handlers that
 * must decide before they act (If-Match, If-Unmodified-Since on unsafe methods).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"
#include "mw/cache_internal.h"
#include "util/alloc.h"

typedef struct conditional {
  bool weak;
  bool no_etag;
} conditional;

/* 64-bit FNV-1a: fast and good enough to tell versions of a body apart, not to resist someone
 * crafting collisions. The length goes into the tag as well. */
static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static int set_generated_etag(api_res *res, bool weak, const void *body, size_t len) {
  char tag[48];
  snprintf(tag, sizeof(tag), "%zx-%016llx", len, (unsigned long long)fnv1a(body, len));
  return api_res_etag(res, tag, weak);
}

/* The ETag a 304 carries: the matched tag when it was a coded form of the current one. */
static int keep_matched_etag(api_res *res, const api__etag *cur, const api__etag *m) {
  if (!cur || !m->opaque || m->len == cur->len) return 0;
  char buf[API__ETAG_MAX + 16];
  if (m->len > API__ETAG_MAX + 8) return 0;
  buf[0] = '"';
  memcpy(buf + 1, m->opaque, m->len);
  buf[1 + m->len] = '"';
  buf[2 + m->len] = '\0';
  return api_res_header(res, "ETag", buf);
}

static int conditional_on_send(api_req *req, api_res *res, void *ud) {
  const conditional *c = ud;
  if (api_res_get_status(res) != 200 || !api__method_is_get_or_head(api_req_method(req)))
    return API_NEXT;
  int rc;
  size_t len;
  const void *body = api_res_get_body(res, &len);
  if (!api_res_get_header(res, "ETag") && !c->no_etag && len > 0 &&
      (rc = set_generated_etag(res, c->weak, body, len)))
    return rc;
  api__etag cur;
  bool has_tag = api__etag_parse(api_res_get_header(res, "ETag"), &cur);
  const char *inm = api_req_header(req, "If-None-Match");
  if (inm) {
    const char *v;
    api__etag m;
    for (size_t i = 0; (v = api_req_header_n(req, "If-None-Match", i)); i++) {
      if (api__etag_list_match(v, has_tag ? &cur : NULL, true, false, true, &m)) {
        if ((rc = keep_matched_etag(res, has_tag ? &cur : NULL, &m))) return rc;
        api__res_not_modified(res);
        return API_NEXT;
      }
    }
    return API_NEXT; /* If-Modified-Since is not looked at (RFC 9110 13.1.3) */
  }
  time_t lm, ims;
  if (api__http_date_parse(api_res_get_header(res, "Last-Modified"), &lm) &&
      !api_req_header_n(req, "If-Modified-Since", 1) &&
      api__http_date_parse(api_req_header(req, "If-Modified-Since"), &ims) && lm <= ims &&
      ims <= time(NULL)) /* a date in the future is not one the client got from us */
    api__res_not_modified(res);
  return API_NEXT;
}

int api_mw_etag(api_app *app, const api_conditional_options *opts, api_middleware *out) {
  api_conditional_options o;
  if (!app || !out || !API__COPY_OPTIONS(&o, opts))
    return api__fail(API_EINVAL,
                     "api_mw_etag: app, options (API_CONDITIONAL_OPTIONS) and out are "
                     "required");
  conditional *c = api__calloc(1, sizeof(*c));
  if (!c) return API_ENOMEM;
  c->weak = o.weak;
  c->no_etag = o.no_etag;
  int rc = api_app_on_free(app, api__free, c);
  if (rc) return rc;
  *out = (api_middleware){
      .size = sizeof(*out), .name = "conditional", .on_send = conditional_on_send, .user_data = c};
  return 0;
}

static int precondition_failed(api_res *res) {
  int rc = api_res_error(res, 412, "PRECONDITION_FAILED",
                         "the resource does not match the request's preconditions", NULL);
  return rc ? rc : API_DONE;
}

int api_req_preconditions(api_req *req, api_res *res, const char *etag, time_t last_modified) {
  if (!req || !res) return API_EINVAL;
  api__etag cur;
  if (etag && !api__etag_parse(etag, &cur)) return API_EINVAL;
  const api__etag *curp = etag ? &cur : NULL;
  bool exists = etag || last_modified;
  bool safe = api__method_is_get_or_head(api_req_method(req));
  const char *v;
  time_t t;
  if (api_req_header(req, "If-Match")) {
    bool ok = false;
    for (size_t i = 0; !ok && (v = api_req_header_n(req, "If-Match", i)); i++)
      ok = api__etag_list_match(v, curp, exists, true, false, NULL);
    if (!ok) return precondition_failed(res);
  } else if (last_modified && !api_req_header_n(req, "If-Unmodified-Since", 1) &&
             api__http_date_parse(api_req_header(req, "If-Unmodified-Since"), &t) &&
             last_modified > t) {
    return precondition_failed(res);
  }
  bool not_modified = false;
  if (api_req_header(req, "If-None-Match")) {
    bool match = false;
    for (size_t i = 0; !match && (v = api_req_header_n(req, "If-None-Match", i)); i++)
      match = api__etag_list_match(v, curp, exists, false, false, NULL);
    if (!match) return API_NEXT;
    if (!safe) return precondition_failed(res);
    not_modified = true;
  } else if (safe && last_modified && !api_req_header_n(req, "If-Modified-Since", 1) &&
             api__http_date_parse(api_req_header(req, "If-Modified-Since"), &t) &&
             last_modified <= t) {
    not_modified = true;
  }
  if (!not_modified) return API_NEXT;
  int rc = 0;
  api__res_not_modified(res);
  if ((etag && (rc = api_res_header(res, "ETag", etag))) ||
      (last_modified && (rc = api_res_last_modified(res, last_modified))))
    return rc;
  return API_DONE;
}

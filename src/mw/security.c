/* Security headers for API responses, added in on_send so error responses carry them too. */
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"
#include "http/chars.h"
#include "http/message.h"
#include "util/alloc.h"

enum { MAX_HEADERS = 8 };

typedef struct sec {
  const char *names[MAX_HEADERS];
  char *values[MAX_HEADERS];
  uint32_t name_lens[MAX_HEADERS], value_lens[MAX_HEADERS];
  int n;
} sec;

static int on_send(api_req *req, api_res *res, void *ud) {
  const sec *s = ud;
  /* Checked and copied once, at construction: only a lookup and a link per header here. */
  for (int i = 0; i < s->n; i++) {
    if (res->headers && api_res_get_header(res, s->names[i])) continue; /* the handler's wins */
    int rc =
        api__res_header_trusted(res, s->names[i], s->name_lens[i], s->values[i], s->value_lens[i]);
    if (rc) return rc;
  }
  return API_NEXT;
}

static void sec_free(void *p) {
  sec *s = p;
  for (int i = 0; i < s->n; i++) api__free(s->values[i]);
  api__free(s);
}

/* Add a header unless value is "" (turned off). */
static int add(sec *s, const char *name, const char *value) {
  if (!*value) return 0;
  if (!api__is_field_value(value, strlen(value)))
    return api__fail(API_EINVAL, "security headers: the value for %s has a control character",
                     name);
  s->names[s->n] = name;
  s->name_lens[s->n] = (uint32_t)strlen(name);
  s->value_lens[s->n] = (uint32_t)strlen(value);
  if (!(s->values[s->n] = api__strdup(value))) return API_ENOMEM;
  s->n++;
  return 0;
}

int api_mw_security_headers(api_app *app, const api_security_options *opts, api_middleware *out) {
  api_security_options o = {0};
  if (opts) memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
  if (o.hsts_preload && (!o.hsts_include_subdomains || o.hsts_max_age < 31536000))
    return api__fail(API_EINVAL,
                     "security headers: HSTS preload needs include_subdomains and a max-age of "
                     "at least one year (31536000)");
  sec *s = api__calloc(1, sizeof(*s));
  if (!s) return API_ENOMEM;
  char hsts[96] = "";
  if (o.hsts_max_age)
    snprintf(hsts, sizeof(hsts), "max-age=%lu%s%s", o.hsts_max_age,
             o.hsts_include_subdomains ? "; includeSubDomains" : "",
             o.hsts_preload ? "; preload" : "");
  int rc = add(s, "X-Content-Type-Options", o.no_sniff_off ? "" : "nosniff");
  if (!rc) rc = add(s, "X-Frame-Options", o.frame_options ? o.frame_options : "DENY");
  if (!rc) rc = add(s, "Referrer-Policy", o.referrer_policy ? o.referrer_policy : "no-referrer");
  if (!rc)
    rc = add(s, "Content-Security-Policy",
             o.content_security_policy ? o.content_security_policy
                                       : "default-src 'none'; frame-ancestors 'none'");
  if (!rc)
    rc = add(s, "Cross-Origin-Opener-Policy",
             o.cross_origin_opener_policy ? o.cross_origin_opener_policy : "same-origin");
  if (!rc)
    rc = add(s, "Cross-Origin-Resource-Policy",
             o.cross_origin_resource_policy ? o.cross_origin_resource_policy : "same-origin");
  if (!rc) rc = add(s, "Strict-Transport-Security", hsts);
  if (rc) {
    sec_free(s);
    return rc;
  }
  if ((rc = api_app_on_free(app, sec_free, s))) return rc;
  *out = (api_middleware){
      .size = sizeof(*out), .name = "security_headers", .on_send = on_send, .user_data = s};
  return 0;
}

/* What the OpenAPI document is built from besides the routes: each route's copied documentation
 * members, and the security schemes registered on the app. */
#include <stdio.h>
#include <string.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"
#include "util/json.h"

static void strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++) api__free(v[i]);
  api__free(v);
}

void api__route_doc_free(api__route *r) {
  api__free(r->description);
  api__free(r->operation_id);
  strv_free(r->tags);
  for (size_t i = 0; r->responses && r->responses[i].status; i++)
    api__free((char *)r->responses[i].description);
  api__free(r->responses);
  r->description = r->operation_id = NULL;
  r->tags = NULL;
  r->responses = NULL;
}

/* Copy s into *dst (NULL stays NULL). Returns false when out of memory. */
static bool dup_opt(char **dst, const char *s) {
  *dst = s ? api__strdup(s) : NULL;
  return !s || *dst;
}

int api__route_doc_copy(api__route *r, char *msg, size_t cap) {
  api_route *d = &r->desc;
  const char *description = d->description, *operation_id = d->operation_id;
  const char *const *tags = d->tags;
  const api_response_doc *resp = d->responses;
  d->description = d->operation_id = NULL;
  d->tags = NULL;
  d->responses = NULL;
  size_t ntags = 0, nresp = 0;
  for (; tags && tags[ntags]; ntags++) {
    if (!*tags[ntags]) {
      snprintf(msg, cap, "tags[%zu] is empty", ntags);
      return API_EINVAL;
    }
  }
  for (; resp && resp[nresp].status; nresp++) {
    if (resp[nresp].status < 100 || resp[nresp].status > 599) {
      snprintf(msg, cap, "responses[%zu]: status %d is not in 100..599", nresp, resp[nresp].status);
      return API_EINVAL;
    }
  }
  if (operation_id && !*operation_id) {
    snprintf(msg, cap, "operation_id is empty");
    return API_EINVAL;
  }
  if (!dup_opt(&r->description, description) || !dup_opt(&r->operation_id, operation_id))
    return API_ENOMEM;
  if (ntags) {
    if (!(r->tags = api__calloc(ntags + 1, sizeof(*r->tags)))) return API_ENOMEM;
    for (size_t i = 0; i < ntags; i++)
      if (!(r->tags[i] = api__strdup(tags[i]))) return API_ENOMEM;
  }
  if (nresp) {
    if (!(r->responses = api__calloc(nresp + 1, sizeof(*r->responses)))) return API_ENOMEM;
    for (size_t i = 0; i < nresp; i++) {
      char *desc;
      if (!dup_opt(&desc, resp[i].description)) return API_ENOMEM;
      r->responses[i] = (api_response_doc){resp[i].status, desc, resp[i].schema};
    }
  }
  d->description = r->description;
  d->operation_id = r->operation_id;
  d->tags = (const char *const *)r->tags;
  d->responses = r->responses;
  return 0;
}

/* Security scheme names are components keys: ^[a-zA-Z0-9.\-_]+$. */
static bool valid_name(const char *s) {
  if (!s || !*s || strlen(s) > 128) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '.' || *s == '-' || *s == '_'))
      return false;
  return true;
}

static api__scheme *find_scheme(api_app *app, const char *name) {
  for (api__scheme *s = app->schemes; s; s = s->next)
    if (strcmp(s->name, name) == 0) return s;
  return NULL;
}

/* Add (name, scheme) to the app, stealing scheme. Returns 0, API_EEXIST, API_ENOMEM. */
static int add_scheme(api_app *app, const char *name, json_t *scheme) {
  api__scheme *old = find_scheme(app, name);
  if (old) {
    int equal = json_equal(old->scheme, scheme);
    json_decref(scheme);
    return equal ? 0 : API_EEXIST;
  }
  api__scheme *s = api__calloc(1, sizeof(*s));
  if (!s || !(s->name = api__strdup(name))) {
    api__free(s);
    json_decref(scheme);
    return API_ENOMEM;
  }
  s->scheme = scheme;
  s->next = app->schemes;
  app->schemes = s;
  return 0;
}

int api_app_security_scheme(api_app *app, const char *name, const char *scheme_json) {
  if (!app || !scheme_json) return api__fail(API_EINVAL, "api_app_security_scheme: NULL argument");
  if (app->frozen)
    return api__fail(API_ESTATE,
                     "api_app_security_scheme: not allowed once a server has started for the app");
  if (!valid_name(name))
    return api__fail(API_EINVAL, "api_app_security_scheme: name \"%.64s\": [A-Za-z0-9._-]+ only",
                     name ? name : "(null)");
  api__json_error err;
  json_t *v = api__json_parse(scheme_json, strlen(scheme_json), 0, &err);
  if (!v && err.enomem) return api__fail(API_ENOMEM, "out of memory");
  if (!v)
    return api__fail(API_EINVAL, "api_app_security_scheme: %s: invalid JSON at column %d: %s", name,
                     err.column, err.message);
  const char *type = json_string_value(json_object_get(v, "type"));
  static const char *const types[] = {"apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"};
  bool known = false;
  for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
    known = known || strcmp(type, types[i]) == 0;
  if (!json_is_object(v) || !known) {
    json_decref(v);
    return api__fail(API_EINVAL,
                     "api_app_security_scheme: %s: not a JSON object with a \"type\" of apiKey, "
                     "http, mutualTLS, oauth2 or openIdConnect",
                     name);
  }
  int rc = add_scheme(app, name, v);
  if (rc == API_EEXIST)
    return api__fail(rc, "api_app_security_scheme: %s is registered with a different scheme", name);
  return rc;
}

const char *api__security_scheme_auto(api_app *app, const char *base, json_t *scheme) {
  if (!scheme) return NULL;
  char name[160];
  snprintf(name, sizeof(name), "%s", base);
  for (unsigned n = 2; n < 10000; n++) {
    api__scheme *old = find_scheme(app, name);
    if (!old || json_equal(old->scheme, scheme)) {
      if (add_scheme(app, name, json_incref(scheme))) break;
      json_decref(scheme);
      return find_scheme(app, name)->name;
    }
    snprintf(name, sizeof(name), "%s%u", base, n);
  }
  json_decref(scheme);
  return NULL;
}

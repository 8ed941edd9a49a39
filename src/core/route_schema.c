/*
 * Schemas on routes: the path parameters, query and headers are coerced from strings into one
 * JSON object per part, then every part (the JSON body too) is validated, and all violations go
 * into one 422. Runs before pre_handler, so auth guards and handlers see only valid input. The
 * coerced objects are request locals, released with the request.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/app_internal.h"
#include "http/codec.h"
#include "http/message.h"
#include "libapi/log.h"
#include "net/net.h"
#include "util/json.h"

/* At most this many violations in one 422 (every part together). */
enum { MAX_DETAILS = 100 };

/* Request-local keys of the coerced objects. */
static const char key_params, key_query, key_headers;

/* ---- registration ---- */

/* A params/query/headers schema must let the object built from the strings through. */
static bool allows_object(const json_t *schema) {
  const json_t *t = json_is_object(schema) ? json_object_get(schema, "type") : NULL;
  if (!t) return true;
  if (json_is_string(t)) return strcmp(json_string_value(t), "object") == 0;
  size_t i;
  const json_t *v;
  json_array_foreach(
      t, i, v) if (json_is_string(v) && strcmp(json_string_value(v), "object") == 0) return true;
  return false;
}

/* Whether pattern has a ":name" or "*name" segment. */
static bool pattern_has_param(const char *pattern, const char *name) {
  size_t n = strlen(name);
  for (const char *p = strchr(pattern, '/'); p; p = strchr(p + 1, '/')) {
    if (p[1] != ':' && p[1] != '*') continue;
    const char *s = p + 2, *e = strchr(s, '/');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == n && memcmp(s, name, n) == 0) return true;
  }
  return false;
}

int api__route_check_schemas(const api_route *r, char *msg, size_t cap) {
  const struct {
    const char *name;
    const api_schema *s;
  } parts[] = {{"params_schema", r->params_schema},
               {"query_schema", r->query_schema},
               {"headers_schema", r->headers_schema}};
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
    if (parts[i].s && !allows_object(api_schema_json(parts[i].s))) {
      snprintf(msg, cap, "%s /type: must allow \"object\" (the %s are gathered into an object)",
               parts[i].name, parts[i].name[0] == 'p' ? "path parameters" : "values");
      return API_EINVAL;
    }
  }
  if (r->params_schema) {
    const json_t *req = json_object_get(api_schema_json(r->params_schema), "required");
    size_t i;
    const json_t *v;
    json_array_foreach(req, i, v) {
      if (json_is_string(v) && !pattern_has_param(r->path, json_string_value(v))) {
        snprintf(msg, cap, "params_schema /required/%zu: \"%s\" is not a parameter of the path", i,
                 json_string_value(v));
        return API_EINVAL;
      }
    }
  }
  return 0;
}

/* ---- requests ---- */

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
static bool utf8_valid(const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  while (*s) {
    unsigned c = *s;
    if (c < 0x80) {
      s++;
      continue;
    }
    size_t n = c >= 0xC2 && c <= 0xDF   ? 1
               : c >= 0xE0 && c <= 0xEF ? 2
               : c >= 0xF0 && c <= 0xF4 ? 3
                                        : 0;
    if (!n) return false;
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (s[1] < lo || s[1] > hi) return false;
    for (size_t k = 2; k <= n; k++)
      if ((s[k] & 0xC0) != 0x80) return false;
    s += n + 1;
  }
  return true;
}

typedef struct vstate {
  api_req *req;
  const api_route *route;
  json_t *details;
  bool truncated;
  api_schema_result res;
} vstate;

/* Answer 400 naming what was not UTF-8. Returns API__VALIDATE_ANSWERED, or API_ENOMEM. */
static int not_utf8(api_req *req, const char *where) {
  char msg[96];
  snprintf(msg, sizeof(msg), "%s: names and values must be valid UTF-8", where);
  return api__res_std_error(req, API_EBADREQ, msg) ? API_ENOMEM : API__VALIDATE_ANSWERED;
}

/* Set obj[name] from n strings, coerced with the part's subschema for name. A value that does not
 * coerce is kept as its string(s), so that the validator reports it with the schema's words. */
static int put(json_t *obj, const api_schema *part, const char *name, const char *const *vals,
               size_t n) {
  const api_schema *sub = api_schema_property(part, name);
  json_t *val = NULL;
  int rc = sub ? api_schema_coerce(sub, NULL, vals, n, &val, NULL) : API_EVALIDATION;
  if (rc == API_ENOMEM) return rc;
  if (rc && n == 1) {
    val = json_string(vals[0]);
  } else if (rc) { /* repeated: an array of the strings */
    val = json_array();
    for (size_t i = 0; val && i < n; i++) {
      if (json_array_append_new(val, json_string(vals[i]))) {
        json_decref(val);
        val = NULL;
      }
    }
  }
  if (!val || json_object_set_new(obj, name, val)) return API_ENOMEM;
  return 0;
}

/* Append res's errors to details, with their paths under where. Returns 0 or API_ENOMEM. */
static int append_details(json_t *details, const api_schema_result *res, const char *where) {
  for (size_t i = 0; i < res->count; i++) {
    const api_schema_error *e = &res->errors[i];
    json_t *d = json_pack("{s:s+,s:s,s:s,s:O}", "path", where, e->path, "keyword", e->keyword,
                          "message", e->message, "params", e->params);
    if (json_array_append_new(details, d)) return API_ENOMEM;
  }
  return 0;
}

/* Validate doc against s; append its errors with their paths under where. */
static int check(vstate *v, const api_schema *s, json_t *doc, const char *where) {
  if ((v->route->schema_flags & API_ROUTE_APPLY_DEFAULTS) && api_schema_apply_defaults(s, doc))
    return API_ENOMEM;
  size_t used = json_array_size(v->details);
  if (used >= MAX_DETAILS) {
    if (api_schema_validate(s, doc, NULL) == API_EVALIDATION) v->truncated = true;
    return 0;
  }
  v->res.max_errors = MAX_DETAILS - used;
  int rc = api_schema_validate(s, doc, &v->res);
  if (rc == 0) return 0;
  if (rc != API_EVALIDATION) return rc;
  if (v->res.truncated) v->truncated = true;
  return append_details(v->details, &v->res, where);
}

static void decref_cb(void *p) { json_decref(p); }

/* Keep obj as the request local key (released with the request); steals obj. */
static int keep(api_req *req, const void *key, json_t *obj) {
  if (api_req_on_free(req, decref_cb, obj)) {
    json_decref(obj);
    return API_ENOMEM;
  }
  return api_req_set_local(req, key, obj);
}

static int params_part(vstate *v) {
  api_req *req = v->req;
  json_t *obj = json_object();
  if (keep(req, &key_params, obj) || !obj) return API_ENOMEM;
  for (unsigned i = 0; i < req->match.nparams; i++) {
    const api__param *p = &req->match.params[i];
    char *name = api__arena_strndup(&req->arena, p->name, p->name_len);
    if (!name) return API_ENOMEM;
    if (!utf8_valid(req->param_values[i])) return not_utf8(req, "path parameter");
    int rc = put(obj, v->route->params_schema, name, &req->param_values[i], 1);
    if (rc) return rc;
  }
  return check(v, v->route->params_schema, obj, "/params");
}

static int query_part(vstate *v) {
  api_req *req = v->req;
  json_t *obj = json_object();
  if (keep(req, &key_query, obj) || !obj) return API_ENOMEM;
  const char **vals = NULL;
  if (req->nquery && !(vals = api__arena_alloc(&req->arena, req->nquery * sizeof(*vals))))
    return API_ENOMEM;
  for (size_t i = 0; i < req->nquery; i++) {
    const char *key = req->query[i].key;
    if (json_object_get(obj, key)) continue; /* gathered with its first occurrence */
    if (!utf8_valid(key)) return not_utf8(req, "query");
    size_t n = 0;
    for (size_t j = i; j < req->nquery; j++) {
      if (strcmp(req->query[j].key, key) != 0) continue;
      if (!utf8_valid(req->query[j].value)) return not_utf8(req, "query");
      vals[n++] = req->query[j].value;
    }
    int rc = put(obj, v->route->query_schema, key, vals, n);
    if (rc) return rc;
  }
  return check(v, v->route->query_schema, obj, "/query");
}

/* Only the headers the schema names (its top-level "properties") are gathered. */
static int headers_part(vstate *v) {
  api_req *req = v->req;
  json_t *obj = json_object();
  if (keep(req, &key_headers, obj) || !obj) return API_ENOMEM;
  const json_t *props = json_object_get(api_schema_json(v->route->headers_schema), "properties");
  size_t nmax = req->head.nheaders;
  const char **vals = NULL;
  if (nmax && !(vals = api__arena_alloc(&req->arena, nmax * sizeof(*vals)))) return API_ENOMEM;
  for (void *it = json_object_iter((json_t *)props); it;
       it = json_object_iter_next((json_t *)props, it)) {
    const char *name = json_object_iter_key(it);
    size_t n = 0;
    for (const char *val; n < nmax && (val = api_req_header_n(req, name, n));) {
      if (!utf8_valid(val)) return not_utf8(req, "header");
      vals[n++] = val;
    }
    if (!n) continue;
    int rc = put(obj, v->route->headers_schema, name, vals, n);
    if (rc) return rc;
  }
  return check(v, v->route->headers_schema, obj, "/headers");
}

static int validate(vstate *v) {
  const api_route *r = v->route;
  int rc = 0;
  if (r->params_schema && (rc = params_part(v))) return rc;
  if (r->query_schema && (rc = query_part(v))) return rc;
  if (r->headers_schema && (rc = headers_part(v))) return rc;
  if (r->body_schema) {
    json_t *doc;
    if ((rc = api_req_json(v->req, &doc))) return rc;
    if ((rc = check(v, r->body_schema, doc, "/body"))) return rc;
  }
  if (!json_array_size(v->details)) return 0;
  char msg[96];
  snprintf(
      msg, sizeof(msg),
      v->truncated ? "the request is not valid (first %d violations)" : "the request is not valid",
      MAX_DETAILS);
  api__res_reset(&v->req->res);
  json_t *details = v->details;
  v->details = NULL;
  if (api_res_error(&v->req->res, api_err_status(API_EVALIDATION), api_err_code(API_EVALIDATION),
                    msg, details))
    return API_ENOMEM;
  return API__VALIDATE_ANSWERED;
}

int api__route_validate_request(api_req *req) {
  if (req->route_rc != 0 || !req->route) return 0;
  const api_route *r = &req->route->desc;
  if (!r->params_schema && !r->query_schema && !r->headers_schema && !r->body_schema) return 0;
  vstate v = {.req = req, .route = r, .res = API_SCHEMA_RESULT_INIT};
  if (!(v.details = json_array())) return API_ENOMEM;
  int rc = validate(&v);
  json_decref(v.details);
  api_schema_result_free(&v.res);
  return rc;
}

int api_res_validation_error(api_res *res, const api_schema_result *result, const char *where) {
  if (!res || !result) return API_EINVAL;
  json_t *details = json_array();
  if (!details || append_details(details, result, where ? where : "")) {
    json_decref(details);
    return API_ENOMEM;
  }
  return api_res_error(res, api_err_status(API_EVALIDATION), api_err_code(API_EVALIDATION),
                       result->truncated ? "the request is not valid (more violations not shown)"
                                         : "the request is not valid",
                       details);
}

json_t *api_req_params_json(const api_req *req) { return api_req_local(req, &key_params); }
json_t *api_req_query_json(const api_req *req) { return api_req_local(req, &key_query); }
json_t *api_req_headers_json(const api_req *req) { return api_req_local(req, &key_headers); }

/* ---- responses ---- */

int api__route_validate_response(api_req *req) {
  if (req->route_rc != 0 || !req->route || !req->worker->app->cfg.validate_responses) return 0;
  const api__route *route = req->route;
  const api_schema *s = route->desc.response_schema;
  int status = req->res.status;
  if (!s || status < 200 || status > 299 || (status == 204 && !req->res.body_len)) return 0;
  json_t *doc = NULL;
  const char *why = NULL;
  char where[128];
  if (!api__is_json_media_type(req->res.content_type)) {
    why = "the response is not JSON";
  } else {
    api__json_error err;
    doc = api__json_parse(req->res.body, req->res.body_len, API__JSON_ALLOW_NUL, &err);
    if (!doc && err.enomem) {
      why = "out of memory while parsing the response";
    } else if (!doc) {
      snprintf(where, sizeof(where), "the response body is not valid JSON: line %d, column %d: %s",
               err.line, err.column, err.message);
      why = where;
    }
  }
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  res.max_errors = 20;
  int rc = doc ? api_schema_validate(s, doc, &res) : API_EVALIDATION;
  if (rc != 0) {
    json_t *details = rc == API_EVALIDATION && doc ? api_schema_result_details(&res) : NULL;
    if (!details && !why) why = "out of memory while validating the response";
    api_log(api_req_log(req), API_LOG_ERROR, "response violates the route's response_schema",
            API_LOG_INT("status", status),
            details ? API_LOG_JSON("details", details) : API_LOG_STR("reason", why));
    json_decref(details);
  }
  api_schema_result_free(&res);
  json_decref(doc);
  return rc ? API_EINTERNAL : 0;
}

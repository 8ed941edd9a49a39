/*
 * The OpenAPI 3.1 document, built from the routes in registration order. Route schemas (JSON
 * Schema 2020-12, which OpenAPI 3.1 takes as-is) go to components.schemas, one entry per distinct
 * schema, and operations $ref them: a schema is written once however many routes share it. A
 * component that has '#' references of its own ("#/$defs/x") and no $id gets a unique
 * "$id": "urn:libapi:schema:<Name>", which makes it its own resource, so those references keep
 * resolving inside it rather than against the root of the OpenAPI document.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "http/message.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"

/* The shared error responses, as components.responses: bit, key, status, description, schema. */
#define ERR_RESPONSES(X)                                                                          \
  X(0, "BadRequest", 400, "Malformed request: bad JSON, query or encoding", "Error")              \
  X(1, "Unauthorized", 401, "Authentication required, or the credentials are not valid", "Error") \
  X(2, "Forbidden", 403, "Authenticated, but not allowed", "Error")                               \
  X(3, "PayloadTooLarge", 413, "The request body is too large", "Error")                          \
  X(4, "UnsupportedMediaType", 415, "The body is not application/json", "Error")                  \
  X(5, "ValidationFailed", 422, "The request does not match the route's schemas",                 \
    "ValidationError")                                                                            \
  X(6, "Error", 0, "Any other error: the shared JSON error body", "Error")

typedef struct gen {
  api_app *app;
  json_t *doc, *paths, *schemas, *tags;
  json_t *op_ids;          /* operationId -> "METHOD pattern", to find duplicates */
  json_t *shapes;          /* a path with its parameter names dropped -> the path */
  const api_schema **seen; /* schemas already in components, parallel to seen_names */
  char **seen_names;
  size_t nseen, capseen;
  unsigned used_responses;
} gen;

/* Does v contain a "$ref" or "$dynamicRef" starting with '#'? */
static bool has_local_ref(json_t *v) {
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (has_local_ref(x)) return true;
  } else if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
      if ((strcmp(k, "$ref") == 0 || strcmp(k, "$dynamicRef") == 0) && json_is_string(x) &&
          json_string_value(x)[0] == '#')
        return true;
      if (has_local_ref(x)) return true;
    }
  }
  return false;
}

/* The component name for a schema: its "title" when that is a valid key, else fallback. */
static void base_name(json_t *js, const char *fallback, char *out, size_t cap) {
  const char *title = json_string_value(json_object_get(js, "title"));
  size_t n = 0;
  if (title && *title && strlen(title) < cap) {
    for (; title[n]; n++) {
      char c = title[n];
      if (!isalnum((unsigned char)c) && c != '.' && c != '-' && c != '_') break;
    }
    if (!title[n]) {
      snprintf(out, cap, "%s", title);
      return;
    }
  }
  snprintf(out, cap, "%s", fallback);
}

/* The components.schemas name for s, adding it on first use; a schema equal to one already
 * there (the same text compiled twice) shares its entry. NULL when out of memory. */
static const char *component(gen *g, const api_schema *s, const char *fallback) {
  json_t *js = api_schema_json(s);
  for (size_t i = 0; i < g->nseen; i++)
    if (g->seen[i] == s || json_equal(api_schema_json(g->seen[i]), js)) return g->seen_names[i];
  if (g->nseen == g->capseen) {
    size_t cap = g->capseen ? 2 * g->capseen : 16;
    const api_schema **s2 = api__realloc(g->seen, cap * sizeof(*s2));
    if (!s2) return NULL;
    g->seen = s2;
    char **n2 = api__realloc(g->seen_names, cap * sizeof(*n2));
    if (!n2) return NULL;
    g->seen_names = n2;
    g->capseen = cap;
  }
  char base[128], name[160];
  base_name(js, fallback, base, sizeof(base));
  snprintf(name, sizeof(name), "%s", base);
  for (unsigned n = 2; json_object_get(g->schemas, name); n++)
    snprintf(name, sizeof(name), "%s%u", base, n);
  char *owned = api__strdup(name);
  json_t *copy = owned ? json_deep_copy(js) : NULL;
  if (copy && json_is_object(copy) && !json_object_get(copy, "$id") && has_local_ref(copy)) {
    char id[200];
    snprintf(id, sizeof(id), "urn:libapi:schema:%s", name);
    if (json_object_set_new(copy, "$id", json_string(id))) {
      json_decref(copy);
      copy = NULL;
    }
  }
  if (!copy || json_object_set_new(g->schemas, name, copy)) {
    api__free(owned);
    return NULL;
  }
  g->seen[g->nseen] = s;
  g->seen_names[g->nseen++] = owned;
  return owned;
}

/* {"$ref": "#/components/schemas/<name><suffix>"}; suffix is a JSON Pointer tail or "". */
static json_t *schema_ref(const char *name, const char *suffix) {
  if (!name) return NULL;
  return json_pack("{s:s++}", "$ref", "#/components/schemas/", name, suffix);
}

/* The schema for a property of an object schema: its own JSON, or a $ref into the component of
 * the whole object schema when it has '#' references that only resolve there. */
static json_t *property_schema(gen *g, const api_schema *obj, const char *name, json_t *prop,
                               const char *fallback) {
  if (!has_local_ref(prop)) return json_deep_copy(prop);
  char ptr[400];
  size_t n = (size_t)snprintf(ptr, sizeof(ptr), "/properties/");
  for (const char *p = name; *p && n + 3 < sizeof(ptr); p++) {
    if (*p == '~' || *p == '/') {
      ptr[n++] = '~';
      ptr[n++] = *p == '~' ? '0' : '1';
    } else {
      ptr[n++] = *p;
    }
  }
  ptr[n] = '\0';
  const char *comp = component(g, obj, fallback);
  if (!comp) return NULL;
  /* Canonically through the component's own $id when it has one: the pointer then stays inside
   * one schema resource. */
  const char *id = json_string_value(json_object_get(json_object_get(g->schemas, comp), "$id"));
  if (!id) return schema_ref(comp, ptr);
  json_t *ref = json_sprintf("%.*s#%s", (int)strcspn(id, "#"), id, ptr);
  return ref ? json_pack("{s:o}", "$ref", ref) : NULL;
}

static bool is_array_schema(json_t *prop) {
  json_t *type = json_object_get(prop, "type");
  if (json_is_string(type)) return strcmp(json_string_value(type), "array") == 0;
  size_t i;
  json_t *t;
  json_array_foreach(
      type, i, t) if (json_is_string(t) && strcmp(json_string_value(t), "array") == 0) return true;
  return false;
}

static bool in_list(const char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return true;
  return false;
}

/* Append the parameters of one object schema's properties ("properties" of the schema itself and
 * of its allOf members). Returns 0 or API_ENOMEM. */
static int object_params(gen *g, json_t *params, const api_schema *s, const char *in,
                         const char *fallback) {
  json_t *root = api_schema_json(s);
  const char *const *req = NULL;
  size_t nreq = api_schema_required(s, &req);
  json_t *sources[65];
  size_t nsrc = 0;
  sources[nsrc++] = root;
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(root, "allOf"), i, m) if (nsrc < 65) sources[nsrc++] = m;
  for (size_t k = 0; k < nsrc; k++) {
    const char *name;
    json_t *prop;
    json_object_foreach(json_object_get(sources[k], "properties"), name, prop) {
      bool dup = false;
      json_t *p;
      json_array_foreach(params, i, p) {
        dup = dup || (strcmp(json_string_value(json_object_get(p, "in")), in) == 0 &&
                      strcmp(json_string_value(json_object_get(p, "name")), name) == 0);
      }
      if (dup) continue;
      json_t *ps = property_schema(g, s, name, prop, fallback);
      json_t *param =
          ps ? json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", in, "required",
                         in_list(req, nreq, name) || strcmp(in, "path") == 0, "schema", ps)
             : NULL;
      if (!param) return API_ENOMEM;
      json_t *desc = json_object_get(prop, "description");
      if (json_is_string(desc)) json_object_set(param, "description", desc);
      if (json_is_true(json_object_get(prop, "deprecated")))
        json_object_set_new(param, "deprecated", json_true());
      if (strcmp(in, "query") == 0 && is_array_schema(prop)) {
        json_object_set_new(param, "style", json_string("form"));
        json_object_set_new(param, "explode", json_true());
      }
      if (json_array_append_new(params, param)) return API_ENOMEM;
    }
  }
  return 0;
}

/* The path parameters of pattern, in order, with their schemas from params_schema. */
static int path_params(gen *g, json_t *params, const api__route *r, const char *fallback) {
  const api_schema *ps = r->desc.params_schema;
  for (const char *p = strchr(r->pattern, '/'); p; p = strchr(p + 1, '/')) {
    if (p[1] != ':' && p[1] != '*') continue;
    p++;
    const char *name = p + 1;
    size_t n = strcspn(name, "/");
    char nm[128];
    snprintf(nm, sizeof(nm), "%.*s", (int)(n < 127 ? n : 127), name);
    json_t *prop =
        ps ? json_object_get(json_object_get(api_schema_json(ps), "properties"), nm) : NULL;
    json_t *schema =
        prop ? property_schema(g, ps, nm, prop, fallback) : json_pack("{s:s}", "type", "string");
    json_t *param = schema ? json_pack("{s:s,s:s,s:b,s:o}", "name", nm, "in", "path", "required", 1,
                                       "schema", schema)
                           : NULL;
    if (!param) return API_ENOMEM;
    if (*p == '*')
      json_object_set_new(param, "description",
                          json_string("The rest of the path (may be empty and contain '/')."));
    else if (prop && json_is_string(json_object_get(prop, "description")))
      json_object_set(param, "description", json_object_get(prop, "description"));
    if (json_array_append_new(params, param)) return API_ENOMEM;
  }
  return 0;
}

/* Parameter segments ":id" become "{id}", a final wildcard "*rest" becomes "{rest}". */
static char *openapi_path(const char *pattern) {
  size_t n = strlen(pattern);
  char *out = api__malloc(2 * n + 1);
  if (!out) return NULL;
  size_t k = 0;
  bool open = false;
  for (size_t i = 0; i < n; i++) {
    char c = pattern[i];
    if ((c == ':' || c == '*') && i > 0 && pattern[i - 1] == '/') {
      out[k++] = '{';
      open = true;
      continue;
    }
    if (c == '/' && open) {
      out[k++] = '}';
      open = false;
    }
    out[k++] = c;
  }
  if (open) out[k++] = '}';
  out[k] = '\0';
  return out;
}

/*
 * OpenAPI holds "/users/{id}" and "/users/{name}" to be one path that must not be written twice
 * (3.1, "Paths Object"), while the router lets routes of different methods name a parameter
 * differently. Such a pair is refused: API_EINVAL naming both.
 */
static int check_shape(gen *g, const char *path) {
  size_t n = strlen(path), k = 0;
  char *shape = api__malloc(n + 1);
  if (!shape) return API_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    shape[k++] = path[i];
    if (path[i] == '{')
      while (i + 1 < n && path[i + 1] != '}') i++;
  }
  shape[k] = '\0';
  int rc = 0;
  json_t *seen = json_object_get(g->shapes, shape);
  if (seen && strcmp(json_string_value(seen), path) != 0)
    rc = api__fail(API_EINVAL,
                   "OpenAPI: paths %s and %s differ only in parameter names, which OpenAPI "
                   "does not allow: give the parameter one name in both routes",
                   json_string_value(seen), path);
  else if (!seen && json_object_set_new(g->shapes, shape, json_string(path)))
    rc = API_ENOMEM;
  api__free(shape);
  return rc;
}

/* "GET" "/users/:id/files" -> "getUsersByIdFiles". */
static void default_op_id(const api__route *r, char *out, size_t cap) {
  size_t k = 0;
  for (const char *m = r->method; *m && k + 1 < cap; m++)
    out[k++] = (char)tolower((unsigned char)*m);
  bool upper = true;
  for (const char *p = r->pattern; *p && k + 3 < cap; p++) {
    if (*p == '/') {
      upper = true;
      if (p[1] == ':' || p[1] == '*') {
        out[k++] = 'B';
        out[k++] = 'y';
        p++;
      }
      continue;
    }
    if (!isalnum((unsigned char)*p)) {
      upper = true;
      continue;
    }
    out[k++] = upper ? (char)toupper((unsigned char)*p) : *p;
    upper = false;
  }
  out[k] = '\0';
}

/* A response's default description: its reason phrase, or its class for an unusual status. */
static const char *reason(int status) {
  const char *r = api__http_reason(status);
  if (r) return r;
  return status < 300 ? "Success" : status < 400 ? "Redirection" : "Error";
}

static json_t *response_obj(gen *g, const char *desc, const api_schema *s, const char *fallback) {
  json_t *resp = json_pack("{s:s}", "description", desc);
  if (resp && s) {
    json_t *ref = schema_ref(component(g, s, fallback), "");
    if (!ref || json_object_set_new(resp, "content",
                                    json_pack("{s:{s:o}}", "application/json", "schema", ref))) {
      json_decref(resp);
      return NULL;
    }
  }
  return resp;
}

/* Add the shared error response `bit` under status unless the operation documents it. */
static int add_err(gen *g, json_t *responses, int bit) {
  static const struct {
    const char *key;
    int status;
  } tab[] = {
#define ROW(bit, key, status, desc, schema) {key, status},
      ERR_RESPONSES(ROW)
#undef ROW
  };
  char st[8];
  if (tab[bit].status)
    snprintf(st, sizeof(st), "%d", tab[bit].status);
  else
    snprintf(st, sizeof(st), "default");
  if (json_object_get(responses, st)) return 0;
  g->used_responses |= 1u << bit;
  json_t *ref = json_pack("{s:s+}", "$ref", "#/components/responses/", tab[bit].key);
  return !ref || json_object_set_new(responses, st, ref) ? API_ENOMEM : 0;
}

/* Append the string v to the array a unless it is there. Returns 0 or API_ENOMEM. */
static int append_unique(json_t *a, const char *v) {
  size_t k;
  json_t *x;
  json_array_foreach(a, k, x) if (strcmp(json_string_value(x), v) == 0) return 0;
  return json_array_append_new(a, json_string(v)) ? API_ENOMEM : 0;
}

/* The "security" of a route, from the middleware it runs (app, groups from the outermost,
 * route): its schemes in order of appearance, each with the scopes its guards require, as
 * alternatives, plus {} when anonymous requests get through (every scheme optional, no guard).
 * json_null() when it has no scheme; NULL when out of memory. */
static json_t *route_security(const api_app *app, const api__route *r, bool *anonymous) {
  const api__mw *lists[66];
  const api_group *chain[64];
  int n = 0, depth = 0;
  for (const api_group *gr = r->group; gr && depth < 64; gr = gr->parent) chain[depth++] = gr;
  lists[n++] = app->mws;
  for (int i = depth - 1; i >= 0; i--) lists[n++] = chain[i]->mws;
  lists[n++] = r->mws;
  json_t *names = json_array(), *scopes = json_array();
  json_t *sec = NULL;
  bool guarded = false, all_optional = true;
  if (!names || !scopes) goto out;
  for (int i = 0; i < n; i++)
    for (const api__mw *m = lists[i]; m; m = m->next) {
      if (m->desc.security) {
        all_optional = all_optional && m->desc.security_optional;
        if (append_unique(names, m->desc.security)) goto out;
        if (m->desc.security_also && append_unique(names, m->desc.security_also)) goto out;
      }
      guarded = guarded || m->desc.security_scopes;
      for (size_t s = 0; m->desc.security_scopes && m->desc.security_scopes[s]; s++)
        if (append_unique(scopes, m->desc.security_scopes[s])) goto out;
    }
  *anonymous = all_optional && !guarded;
  if (!json_array_size(names)) {
    sec = json_null();
    goto out;
  }
  sec = json_array();
  size_t k;
  json_t *x;
  json_array_foreach(names, k, x) {
    json_t *req = json_pack("{s:O}", json_string_value(x), scopes);
    if (!req || json_array_append_new(sec, req)) goto fail;
  }
  if (*anonymous && json_array_append_new(sec, json_object())) goto fail;
  goto out;
fail:
  json_decref(sec);
  sec = NULL;
out:
  json_decref(names);
  json_decref(scopes);
  return sec;
}

static int add_tags(gen *g, const api__route *r) {
  for (size_t i = 0; r->tags && r->tags[i]; i++) {
    bool dup = false;
    size_t k;
    json_t *t;
    json_array_foreach(g->tags, k, t) dup =
        dup || strcmp(json_string_value(json_object_get(t, "name")), r->tags[i]) == 0;
    if (!dup && json_array_append_new(g->tags, json_pack("{s:s}", "name", r->tags[i])))
      return API_ENOMEM;
  }
  return 0;
}

static bool documented(const api__route *r);

static int operation(gen *g, const api__route *r) {
  if (!documented(r)) return 0;
  const api_route *d = &r->desc;
  /* Given ids were reserved by reserve_op_ids(); a generated one avoids every taken id. */
  char gen_id[256];
  const char *op_id = d->operation_id;
  if (!op_id) {
    char base[200];
    default_op_id(r, base, sizeof(base));
    snprintf(gen_id, sizeof(gen_id), "%s", base);
    for (unsigned n = 2; json_object_get(g->op_ids, gen_id); n++)
      snprintf(gen_id, sizeof(gen_id), "%s_%u", base, n);
    if (json_object_set_new(g->op_ids, gen_id, json_true())) return API_ENOMEM;
    op_id = gen_id;
  }

  int rc = API_ENOMEM;
  char *path = openapi_path(r->pattern);
  json_t *op = json_pack("{s:s}", "operationId", op_id);
  json_t *params = json_array(), *responses = json_object();
  char fb[300];
  if (!path || !op || !params || !responses) goto out;
  if (d->summary && json_object_set_new(op, "summary", json_string(d->summary))) goto out;
  if (d->description && json_object_set_new(op, "description", json_string(d->description)))
    goto out;
  if (r->tags) {
    json_t *tags = json_array();
    if (!tags || json_object_set_new(op, "tags", tags)) goto out;
    for (size_t i = 0; r->tags[i]; i++)
      if (json_array_append_new(tags, json_string(r->tags[i]))) goto out;
    if (add_tags(g, r)) goto out;
  }
  if (d->deprecated && json_object_set_new(op, "deprecated", json_true())) goto out;

  snprintf(fb, sizeof(fb), "%sParams", op_id);
  if (path_params(g, params, r, fb)) goto out;
  snprintf(fb, sizeof(fb), "%sQuery", op_id);
  if (d->query_schema && object_params(g, params, d->query_schema, "query", fb)) goto out;
  snprintf(fb, sizeof(fb), "%sHeaders", op_id);
  if (d->headers_schema && object_params(g, params, d->headers_schema, "header", fb)) goto out;
  if (json_array_size(params) && json_object_set(op, "parameters", params)) goto out;

  if (d->body_schema) {
    snprintf(fb, sizeof(fb), "%sBody", op_id);
    json_t *ref = schema_ref(component(g, d->body_schema, fb), "");
    if (!ref || json_object_set_new(op, "requestBody",
                                    json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                              "application/json", "schema", ref)))
      goto out;
  }

  /* The success response: the first documented 2xx, else 200 with response_schema. */
  const api_response_doc *ok = NULL;
  for (size_t i = 0; r->responses && r->responses[i].status; i++)
    if (r->responses[i].status / 100 == 2 && !ok) ok = &r->responses[i];
  snprintf(fb, sizeof(fb), "%sResponse", op_id);
  {
    int st = ok ? ok->status : 200;
    const api_schema *s = ok && ok->schema ? ok->schema : d->response_schema;
    char key[8];
    snprintf(key, sizeof(key), "%d", st);
    json_t *resp = response_obj(g, ok && ok->description ? ok->description : reason(st), s, fb);
    if (!resp || json_object_set_new(responses, key, resp)) goto out;
  }
  for (size_t i = 0; r->responses && r->responses[i].status; i++) {
    const api_response_doc *e = &r->responses[i];
    char key[8];
    snprintf(key, sizeof(key), "%d", e->status);
    if (e == ok || json_object_get(responses, key)) continue;
    snprintf(fb, sizeof(fb), "%s%d", op_id, e->status);
    json_t *resp =
        response_obj(g, e->description ? e->description : reason(e->status), e->schema, fb);
    if (!resp || json_object_set_new(responses, key, resp)) goto out;
  }
  bool anonymous = true;
  json_t *sec = route_security(g->app, r, &anonymous);
  if (!sec) goto out;
  bool secured = json_is_array(sec) && !anonymous;
  if (json_is_array(sec) && json_object_set_new(op, "security", sec)) goto out;
  bool validates = d->params_schema || d->query_schema || d->headers_schema || d->body_schema;
  /* The shared error responses the route can give, in status order (bits of ERR_RESPONSES). */
  bool errs[] = {validates, secured, secured, d->body_schema, d->body_schema, validates};
  for (int b = 0; b < (int)(sizeof(errs) / sizeof(errs[0])); b++)
    if (errs[b] && add_err(g, responses, b)) goto out;
  if (add_err(g, responses, 6) || json_object_set(op, "responses", responses)) goto out;

  if ((rc = check_shape(g, path)) != 0) goto out;
  rc = API_ENOMEM;
  json_t *item = json_object_get(g->paths, path);
  if (!item) {
    item = json_object();
    if (!item || json_object_set_new(g->paths, path, item)) goto out;
  }
  char lower[16];
  size_t k = 0;
  for (; r->method[k] && k < sizeof(lower) - 1; k++)
    lower[k] = (char)tolower((unsigned char)r->method[k]);
  lower[k] = '\0';
  if (json_object_set(item, lower, op)) goto out;
  rc = 0;
out:
  api__free(path);
  json_decref(op);
  json_decref(params);
  json_decref(responses);
  return rc;
}

/* components.schemas.Error and .ValidationError: the body api_res_error() writes. */
static int error_schemas(gen *g) {
  json_t *err = json_pack(
      "{s:s,s:s,s:[s],s:{s:{s:s,s:[s,s],s:{s:{s:s,s:s,s:[s,s]},s:{s:s,s:s},s:{s:s}}},"
      "s:{s:s,s:s}}}",
      "type", "object", "description",
      "The body of every error response, whoever produced it (the framework, a middleware or a "
      "handler).",
      "required", "error", "properties", "error", "type", "object", "required", "code", "message",
      "properties", "code", "type", "string", "description",
      "Stable machine-readable code, e.g. NOT_FOUND, VALIDATION_FAILED, UNAUTHORIZED", "examples",
      "NOT_FOUND", "VALIDATION_FAILED", "message", "type", "string", "description",
      "English text for people; 5xx messages never describe internals", "details", "description",
      "Extra information, when there is any (an array for VALIDATION_FAILED)", "request_id", "type",
      "string", "description",
      "The request's id, as in the X-Request-ID response header when request ids are on");
  json_t *verr = json_pack(
      "{s:s,s:[{s:s}],s:{s:{s:{s:{s:s,s:i,s:{s:s,s:[s,s,s,s],s:{s:{s:s,s:s},s:{s:s},s:{s:s},"
      "s:{s:s}}}}}}}}",
      "description", "A 422 body: every violation found (up to 100) in details.", "allOf", "$ref",
      "#/components/schemas/Error", "properties", "error", "properties", "details", "type", "array",
      "maxItems", 100, "items", "type", "object", "required", "path", "keyword", "message",
      "params", "properties", "path", "type", "string", "description",
      "JSON Pointer of the value, starting with /params, /query, /headers or /body", "keyword",
      "type", "string", "message", "type", "string", "params", "type", "object");
  if (!err || !verr) {
    json_decref(err);
    json_decref(verr);
    return API_ENOMEM;
  }
  /* A route schema titled "Error" would have taken the name: ours keep theirs, the route's
   * moves aside (component() skips taken names), so add these first. */
  if (json_object_set_new(g->schemas, "Error", err) ||
      json_object_set_new(g->schemas, "ValidationError", verr))
    return API_ENOMEM;
  return 0;
}

static int error_responses(gen *g, json_t *components) {
  static const struct {
    const char *key, *desc, *schema;
  } tab[] = {
#define ROW(bit, key, status, desc, schema) {key, desc, schema},
      ERR_RESPONSES(ROW)
#undef ROW
  };
  if (!g->used_responses) return 0;
  json_t *resps = json_object();
  if (!resps || json_object_set_new(components, "responses", resps)) return API_ENOMEM;
  for (unsigned b = 0; b < sizeof(tab) / sizeof(tab[0]); b++) {
    if (!(g->used_responses & (1u << b))) continue;
    json_t *r =
        json_pack("{s:s,s:{s:{s:{s:s+}}}}", "description", tab[b].desc, "content",
                  "application/json", "schema", "$ref", "#/components/schemas/", tab[b].schema);
    if (!r || json_object_set_new(resps, tab[b].key, r)) return API_ENOMEM;
  }
  return 0;
}

static bool documented(const api__route *r) {
  static const char *const methods[] = {"GET",     "PUT",  "POST",  "DELETE",
                                        "OPTIONS", "HEAD", "PATCH", "TRACE"};
  if (r->desc.hidden) return false;
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
    if (strcmp(r->method, methods[i]) == 0) return true;
  return false; /* OpenAPI 3.1 path items have only those methods */
}

/* Take the operation ids routes give before generating any. API_EINVAL for one given twice. */
static int reserve_op_ids(gen *g, const api__route *const *routes, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const api__route *r = routes[i];
    if (!documented(r) || !r->desc.operation_id) continue;
    json_t *other = json_object_get(g->op_ids, r->desc.operation_id);
    if (other)
      return api__fail(API_EINVAL, "OpenAPI: routes %s and %s %s have the same operation_id \"%s\"",
                       json_string_value(other), r->method, r->pattern, r->desc.operation_id);
    if (json_object_set_new(g->op_ids, r->desc.operation_id,
                            json_sprintf("%s %s", r->method, r->pattern)))
      return API_ENOMEM;
  }
  return 0;
}

int api__openapi_build(api_app *app, json_t **out) {
  *out = NULL;
  const api__openapi *o = app->openapi;
  gen g = {.app = app};
  int rc = API_ENOMEM;
  g.doc = json_pack("{s:s,s:{s:s,s:s}}", "openapi", "3.1.0", "info", "title",
                    o && o->title ? o->title : "API", "version",
                    o && o->version ? o->version : "0.0.0");
  g.paths = json_object();
  g.schemas = json_object();
  g.tags = json_array();
  g.op_ids = json_object();
  g.shapes = json_object();
  json_t *components = json_object();
  size_t n = 0;
  const api__route **routes = NULL;
  if (!g.doc || !g.paths || !g.schemas || !g.tags || !g.op_ids || !g.shapes || !components)
    goto out;
  if (o && o->description &&
      json_object_set_new(json_object_get(g.doc, "info"), "description",
                          json_string(o->description)))
    goto out;
  if (o && o->servers) {
    json_t *servers = json_array();
    if (!servers || json_object_set_new(g.doc, "servers", servers)) goto out;
    for (size_t i = 0; o->servers[i]; i++)
      if (json_array_append_new(servers, json_pack("{s:s}", "url", o->servers[i]))) goto out;
  }
  if (error_schemas(&g)) goto out;
  for (const api__route *r = app->routes; r; r = r->next) n++;
  if (n && !(routes = api__calloc(n, sizeof(*routes)))) goto out;
  size_t i = n;
  for (const api__route *r = app->routes; r; r = r->next) routes[--i] = r; /* oldest first */
  if ((rc = reserve_op_ids(&g, routes, n)) != 0) goto out;
  for (i = 0; i < n; i++)
    if ((rc = operation(&g, routes[i])) != 0) goto out;
  rc = API_ENOMEM;
  if (json_object_set(g.doc, "paths", g.paths)) goto out;
  if (json_object_set(components, "schemas", g.schemas) || error_responses(&g, components))
    goto out;
  if (app->schemes) {
    json_t *ss = json_object();
    if (!ss || json_object_set_new(components, "securitySchemes", ss)) goto out;
    size_t ns = 0;
    for (const api__scheme *s = app->schemes; s; s = s->next) ns++;
    for (size_t k = ns; k > 0; k--) { /* oldest first */
      const api__scheme *s = app->schemes;
      for (size_t j = 1; j < k; j++) s = s->next;
      if (json_object_set(ss, s->name, s->scheme)) goto out;
    }
  }
  if (json_object_set(g.doc, "components", components)) goto out;
  if (json_array_size(g.tags) && json_object_set(g.doc, "tags", g.tags)) goto out;
  *out = json_incref(g.doc);
  rc = 0;
out:
  api__free(routes);
  for (size_t k = 0; k < g.nseen; k++) api__free(g.seen_names[k]);
  api__free(g.seen);
  api__free(g.seen_names);
  json_decref(components);
  json_decref(g.doc);
  json_decref(g.paths);
  json_decref(g.schemas);
  json_decref(g.tags);
  json_decref(g.op_ids);
  json_decref(g.shapes);
  return rc;
}

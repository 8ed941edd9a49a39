/* Seams for the request pipeline: typing URL/header strings by a schema, walking an object
 * schema's properties, and inserting defaults. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "schema/schema_internal.h"
#include "util/alloc.h"

/* The "type" mask that applies to s, following $ref and allOf (0: unconstrained). */
static unsigned types_of(const api_schema *s, int depth) {
  if (!s || depth > 32 || s->boolean >= 0) return 0;
  if (s->kw & KW_TYPE) return s->types;
  unsigned t = types_of(s->ref, depth + 1);
  for (size_t i = 0; !t && i < s->n_all_of; i++) t = types_of(s->all_of[i], depth + 1);
  return t;
}

static const api_schema *items_of(const api_schema *s, size_t i, int depth) {
  if (!s || depth > 32 || s->boolean >= 0) return NULL;
  if (i < s->n_prefix_items) return s->prefix_items[i];
  if (s->items) return s->items;
  const api_schema *r = items_of(s->ref, i, depth + 1);
  for (size_t j = 0; !r && j < s->n_all_of; j++) r = items_of(s->all_of[j], i, depth + 1);
  return r;
}

/* The parsers return false when v does not have their syntax; otherwise true and *out, which is
 * NULL when out of memory (so that an allocation failure is never taken for a type error). */
static bool parse_integer(const char *v, json_t **out) {
  const char *p = v;
  if (*p == '-') p++;
  if (!*p) return false;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return false;
  if (p[0] == '0' && p[1]) return false; /* no leading zeros */
  errno = 0;
  long long x = strtoll(v, NULL, 10);
  if (errno == ERANGE) return false;
  *out = json_integer(x);
  return true;
}

static bool parse_number(const char *v, json_t **out) {
  /* JSON number syntax only: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
  const char *p = v;
  if (*p == '-') p++;
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9')
    while (*p >= '0' && *p <= '9') p++;
  else
    return false;
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9')) return false;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return false;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p) return false;
  double d = strtod(v, NULL);
  if (!isfinite(d)) return false;
  if (!parse_integer(v, out)) *out = json_real(d);
  return true;
}

/* One scalar; *bad set when no allowed type accepts the string. */
static json_t *coerce_one(unsigned t, const char *v, bool *bad) {
  *bad = false;
  if (!t) return json_string(v);
  json_t *r;
  if ((t & SCH_INTEGER) && parse_integer(v, &r)) return r;
  if ((t & SCH_NUMBER) && parse_number(v, &r)) return r;
  if (t & SCH_BOOLEAN) {
    if (!strcmp(v, "true")) return json_true();
    if (!strcmp(v, "false")) return json_false();
  }
  if ((t & SCH_NULL) && (!*v || !strcmp(v, "null"))) return json_null();
  if (t & SCH_STRING) return json_string(v);
  *bad = true;
  return NULL;
}

static int type_fail(api_schema_result *res, const char *path, unsigned t, const char *value,
                     const char *message) {
  if (!res) return API_EVALIDATION;
  api__result_reset(res);
  static const char *const names[] = {"null",   "boolean", "object", "array",
                                      "number", "string",  "integer"};
  json_t *types = json_array();
  char msg[160] = "must be ";
  size_t at = strlen(msg);
  for (int i = 0; i < 7 && types; i++)
    if (t & (1u << i)) {
      json_array_append_new(types, json_string(names[i]));
      at += (size_t)snprintf(msg + at, sizeof msg - at, "%s%s", at > 8 ? " or " : "", names[i]);
    }
  json_t *params = json_object();
  size_t vlen = strlen(value) > 200 ? 200 : strlen(value);
  while (vlen > 0 && (value[vlen] & 0xc0) == 0x80) vlen--; /* cut at a character boundary */
  json_t *jv = json_stringn(value, vlen);
  if (!jv) jv = json_string("(invalid UTF-8)");
  if (params && (!types || json_object_set_new_nocheck(params, "type", types) ||
                 json_object_set_new_nocheck(params, "value", jv))) {
    json_decref(params);
    params = NULL;
  } else if (!params) {
    json_decref(types);
    json_decref(jv);
  }
  if (api__result_add(res, path ? path : "", "type", message ? message : msg, params))
    return API_ENOMEM;
  return API_EVALIDATION;
}

int api_schema_coerce(const api_schema *schema, const char *path, const char *const *values,
                      size_t n, json_t **out, api_schema_result *res) {
  if (!out) return api__fail(API_EINVAL, "api_schema_coerce: out is NULL");
  *out = NULL;
  if (!schema || (n && !values)) return api__fail(API_EINVAL, "api_schema_coerce: NULL argument");
  if (res) api__result_reset(res);
  if (n == 0) return 0;
  unsigned t = types_of(schema, 0);
  bool bad;
  if ((t & SCH_ARRAY) && (n > 1 || !(t & ~SCH_ARRAY))) {
    json_t *arr = json_array();
    if (!arr) return api__fail(API_ENOMEM, "coerce: out of memory");
    for (size_t i = 0; i < n; i++) {
      if (!values[i]) {
        json_decref(arr);
        return api__fail(API_EINVAL, "api_schema_coerce: NULL value");
      }
      unsigned it = types_of(items_of(schema, i, 0), 0);
      json_t *v = coerce_one(it, values[i], &bad);
      if (bad) {
        json_decref(arr);
        char p[512];
        snprintf(p, sizeof p, "%s/%zu", path ? path : "", i);
        return type_fail(res, p, it, values[i], NULL);
      }
      if (!v || json_array_append_new(arr, v)) {
        json_decref(arr);
        return api__fail(API_ENOMEM, "coerce: out of memory");
      }
    }
    *out = arr;
    return 0;
  }
  if (!values[0]) return api__fail(API_EINVAL, "api_schema_coerce: NULL value");
  if (n > 1) return type_fail(res, path, t ? t : SCH_STRING, values[0], "must be a single value");
  json_t *v = coerce_one(t, values[0], &bad);
  if (bad) return type_fail(res, path, t, values[0], NULL);
  if (!v) return api__fail(API_ENOMEM, "coerce: out of memory");
  *out = v;
  return 0;
}

static const api_schema *property_of(const api_schema *s, const char *name, size_t len, int depth) {
  if (!s || depth > 32 || s->boolean >= 0) return NULL;
  for (size_t i = 0; i < s->n_props; i++)
    if (s->props[i].len == len && !memcmp(s->props[i].name, name, len)) return s->props[i].schema;
  for (size_t i = 0; i < s->n_pattern_props; i++)
    if (api__regex_search(&s->pattern_props[i].re, s->doc->mctx, name, len) == 1)
      return s->pattern_props[i].schema;
  const api_schema *r = property_of(s->ref, name, len, depth + 1);
  for (size_t i = 0; !r && i < s->n_all_of; i++)
    r = property_of(s->all_of[i], name, len, depth + 1);
  if (!r && s->additional && s->additional->boolean < 0) r = s->additional;
  return r;
}

const api_schema *api_schema_property(const api_schema *schema, const char *name) {
  if (!schema || !name) return NULL;
  return property_of(schema, name, strlen(name), 0);
}

size_t api_schema_required(const api_schema *schema, const char *const **names) {
  const api_schema *s = schema;
  for (int depth = 0; s && depth < 32; depth++) {
    if (s->n_required) {
      if (names) *names = (const char *const *)s->required;
      return s->n_required;
    }
    const api_schema *next = s->ref;
    for (size_t i = 0; !next && i < s->n_all_of; i++)
      if (s->all_of[i]->n_required || s->all_of[i]->ref) next = s->all_of[i];
    s = next;
  }
  if (names) *names = NULL;
  return 0;
}

static int defaults(const api_schema *s, json_t *inst, int depth) {
  if (!s || s->boolean >= 0 || depth > 64) return 0;
  if (s->ref && defaults(s->ref, inst, depth + 1)) return API_ENOMEM;
  for (size_t i = 0; i < s->n_all_of; i++)
    if (defaults(s->all_of[i], inst, depth + 1)) return API_ENOMEM;
  if (!json_is_object(inst)) return 0;
  for (size_t i = 0; i < s->n_props; i++) {
    const api_schema *p = s->props[i].schema;
    json_t *v = json_object_getn(inst, s->props[i].name, s->props[i].len);
    if (!v && p->boolean < 0) {
      const api_schema *d = p;
      for (int k = 0; d && !d->default_value && k < 32; k++) d = d->ref;
      if (d && d->default_value) {
        json_t *copy = json_deep_copy(d->default_value);
        if (!copy || json_object_setn_new(inst, s->props[i].name, s->props[i].len, copy))
          return API_ENOMEM;
        v = copy;
      }
    }
    if (v && defaults(p, v, depth + 1)) return API_ENOMEM;
  }
  return 0;
}

int api_schema_apply_defaults(const api_schema *schema, json_t *instance) {
  if (!schema || !instance)
    return api__fail(API_EINVAL, "api_schema_apply_defaults: NULL argument");
  if (defaults(schema, instance, 0)) return api__fail(API_ENOMEM, "defaults: out of memory");
  return 0;
}

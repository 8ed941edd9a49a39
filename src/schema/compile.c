/* Schema compilation: resources and anchors are registered first (so $ref can point forward and
 * into embedded resources), then each subschema becomes one node; $ref targets are resolved to
 * node pointers, cycles included, so validation never looks at the schema JSON again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "schema/schema_internal.h"
#include "schema/uri.h"
#include "util/alloc.h"
#include "util/json.h"

#define DEFAULT_BASE "urn:libapi:schema"

/* A json_t* -> (node, resource) map used only while compiling. */
typedef struct map_entry {
  const json_t *key;
  api_schema *node;
  sch_resource *res;
} map_entry;

typedef struct sch_static_anchor {
  char *uri; /* resource uri + "#" + name */
  json_t *target;
  struct sch_static_anchor *next;
} sch_static_anchor;

typedef struct cctx {
  sch_doc *doc;
  map_entry *map;
  size_t map_cap, map_len;
  sch_static_anchor *anchors;
  char *ptr; /* JSON Pointer of the keyword being compiled, for messages */
  size_t ptr_len, ptr_cap;
  int err;
  unsigned depth;
} cctx;

static int oom(cctx *c) {
  if (!c->err) c->err = api__fail(API_ENOMEM, "schema: out of memory");
  return c->err;
}

static int bad(cctx *c, const char *kw, const char *msg) {
  if (!c->err)
    c->err = api__fail(API_EINVAL, "schema %.150s/%s: %s", c->ptr ? c->ptr : "", kw, msg);
  return c->err;
}

/* ---- the pointer map ---- */

static size_t hash_ptr(const void *p, size_t mask) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x & mask;
}

static map_entry *map_find(cctx *c, const json_t *key, bool insert) {
  if (insert && (c->map_len + 1) * 2 > c->map_cap) {
    size_t cap = c->map_cap ? c->map_cap * 2 : 64;
    map_entry *m = api__calloc(cap, sizeof(*m));
    if (!m) return NULL;
    for (size_t i = 0; i < c->map_cap; i++) {
      if (!c->map[i].key) continue;
      size_t j = hash_ptr(c->map[i].key, cap - 1);
      while (m[j].key) j = (j + 1) & (cap - 1);
      m[j] = c->map[i];
    }
    api__free(c->map);
    c->map = m;
    c->map_cap = cap;
  }
  if (!c->map_cap) return NULL;
  size_t j = hash_ptr(key, c->map_cap - 1);
  while (c->map[j].key) {
    if (c->map[j].key == key) return &c->map[j];
    j = (j + 1) & (c->map_cap - 1);
  }
  if (!insert) return NULL;
  c->map[j].key = key;
  c->map_len++;
  return &c->map[j];
}

/* ---- the JSON Pointer of the current keyword, for messages ---- */

static size_t ptr_push(cctx *c, const char *seg) {
  size_t old = c->ptr_len;
  size_t need = c->ptr_len + 2 * strlen(seg) + 2;
  if (need > c->ptr_cap) {
    size_t cap = c->ptr_cap ? c->ptr_cap : 128;
    while (cap < need) cap *= 2;
    char *p = api__realloc(c->ptr, cap);
    if (!p) {
      oom(c);
      return old;
    }
    c->ptr = p;
    c->ptr_cap = cap;
  }
  c->ptr[c->ptr_len++] = '/';
  for (const char *s = seg; *s; s++) {
    if (*s == '~' || *s == '/') {
      c->ptr[c->ptr_len++] = '~';
      c->ptr[c->ptr_len++] = *s == '~' ? '0' : '1';
    } else {
      c->ptr[c->ptr_len++] = *s;
    }
  }
  c->ptr[c->ptr_len] = 0;
  return old;
}

static void ptr_pop(cctx *c, size_t old) {
  if (!c->ptr) return;
  c->ptr_len = old;
  c->ptr[old] = 0;
}

/* ---- registering resources and anchors ---- */

static sch_resource *resource_find(cctx *c, const char *uri) {
  for (sch_resource *r = c->doc->resources; r; r = r->next)
    if (!strcmp(r->uri, uri)) return r;
  return NULL;
}

static sch_resource *resource_add(cctx *c, char *uri, json_t *root) {
  sch_resource *r = api__calloc(1, sizeof(*r));
  if (!r) {
    api__free(uri);
    oom(c);
    return NULL;
  }
  r->uri = uri;
  r->root = root;
  r->next = c->doc->resources;
  c->doc->resources = r;
  return r;
}

static char *strip_empty_fragment(char *uri) {
  size_t n = strlen(uri);
  if (n && uri[n - 1] == '#') uri[n - 1] = 0;
  return uri;
}

static bool valid_anchor_name(const char *s) {
  if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
  for (s++; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '-' || *s == '_' || *s == '.'))
      return false;
  return true;
}

static int anchor_add(cctx *c, sch_resource *res, const char *name, json_t *target) {
  size_t n = strlen(res->uri) + strlen(name) + 2;
  sch_static_anchor *a = api__calloc(1, sizeof(*a));
  char *uri = api__malloc(n);
  if (!a || !uri) {
    api__free(a);
    api__free(uri);
    return oom(c);
  }
  snprintf(uri, n, "%s#%s", res->uri, name);
  a->uri = uri;
  a->target = target;
  a->next = c->anchors;
  c->anchors = a;
  return 0;
}

static const char *const SCHEMA_OBJECT_KWS[] = {"properties",  "patternProperties", "$defs",
                                                "definitions", "dependentSchemas",  NULL};
static const char *const SCHEMA_ARRAY_KWS[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
static const char *const SCHEMA_KWS[] = {"items",
                                         "additionalProperties",
                                         "unevaluatedProperties",
                                         "unevaluatedItems",
                                         "contains",
                                         "propertyNames",
                                         "not",
                                         "if",
                                         "then",
                                         "else",
                                         "contentSchema",
                                         NULL};

/* Walk the subschemas of s, registering $id resources and anchors. */
static int scan(cctx *c, json_t *s, sch_resource *res, unsigned depth) {
  if (c->err) return c->err;
  if (depth > 1000) return bad(c, "", "schema nested too deeply");
  if (!json_is_object(s)) return 0;
  json_t *id = json_object_get(s, "$id");
  if (json_is_string(id) && res->root != s) {
    const char *ids = json_string_value(id);
    char *uri = api__uri_resolve(res->uri, ids);
    if (!uri) return oom(c);
    strip_empty_fragment(uri);
    if (strchr(uri, '#')) {
      api__free(uri);
      return bad(c, "$id", "must not contain a non-empty fragment");
    }
    if (resource_find(c, uri)) {
      sch_resource *prev = resource_find(c, uri);
      api__free(uri);
      if (prev->root != s) return bad(c, "$id", "duplicate $id in one document");
      return 0;
    }
    res = resource_add(c, uri, s);
    if (!res) return c->err;
  }
  map_entry *e = map_find(c, s, true);
  if (!e) return oom(c);
  if (!e->res) e->res = res;
  json_t *anchor = json_object_get(s, "$anchor");
  if (anchor) {
    if (!json_is_string(anchor) || !valid_anchor_name(json_string_value(anchor)))
      return bad(c, "$anchor", "must be a valid anchor name");
    if (anchor_add(c, res, json_string_value(anchor), s)) return c->err;
  }
  json_t *dyn = json_object_get(s, "$dynamicAnchor");
  if (dyn) {
    if (!json_is_string(dyn) || !valid_anchor_name(json_string_value(dyn)))
      return bad(c, "$dynamicAnchor", "must be a valid anchor name");
    if (anchor_add(c, res, json_string_value(dyn), s)) return c->err;
    sch_anchor *a = api__realloc(res->dynamic, (res->n_dynamic + 1) * sizeof(*a));
    if (!a) return oom(c);
    res->dynamic = a;
    a[res->n_dynamic].name = json_string_value(dyn);
    a[res->n_dynamic].schema = (api_schema *)s; /* compiled into a node after the walk */
    res->n_dynamic++;
  }
  for (int i = 0; SCHEMA_OBJECT_KWS[i]; i++) {
    json_t *o = json_object_get(s, SCHEMA_OBJECT_KWS[i]);
    const char *k;
    json_t *v;
    if (json_is_object(o)) json_object_foreach(o, k, v) {
        if (scan(c, v, res, depth + 1)) return c->err;
      }
  }
  for (int i = 0; SCHEMA_ARRAY_KWS[i]; i++) {
    json_t *a = json_object_get(s, SCHEMA_ARRAY_KWS[i]);
    size_t j;
    json_t *v;
    if (json_is_array(a)) json_array_foreach(a, j, v) {
        if (scan(c, v, res, depth + 1)) return c->err;
      }
  }
  for (int i = 0; SCHEMA_KWS[i]; i++)
    if (scan(c, json_object_get(s, SCHEMA_KWS[i]), res, depth + 1)) return c->err;
  return 0;
}

/* Register a document (the user's or a bundled meta-schema) under base. */
static sch_resource *register_document(cctx *c, json_t *root, const char *base) {
  char *uri = NULL;
  json_t *id = json_object_get(root, "$id");
  if (json_is_object(root) && id) {
    if (!json_is_string(id)) {
      bad(c, "$id", "must be a string");
      return NULL;
    }
    uri = api__uri_resolve(base, json_string_value(id));
  } else {
    uri = api__strdup(base);
  }
  if (!uri) {
    oom(c);
    return NULL;
  }
  strip_empty_fragment(uri);
  if (strchr(uri, '#')) {
    api__free(uri);
    bad(c, "$id", "must not contain a non-empty fragment");
    return NULL;
  }
  sch_resource *res = resource_add(c, uri, root);
  if (!res) return NULL;
  if (scan(c, root, res, 0)) return NULL;
  return res;
}

/* ---- $ref resolution ---- */

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decode s in place; false on a bad escape. */
static bool pct_decode(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (*p == '%') {
      int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
      if (h < 0 || l < 0) return false;
      *o++ = (char)(h * 16 + l);
      p += 2;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
  return true;
}

/* Follow a JSON Pointer (already percent-decoded) from root. Tracks the resource of the target:
 * the innermost registered resource along the way. */
static json_t *follow_pointer(cctx *c, json_t *root, const char *ptr, sch_resource **res) {
  json_t *cur = root;
  const char *p = ptr;
  char tok[512];
  while (*p) {
    if (*p != '/') return NULL;
    p++;
    size_t n = 0;
    while (*p && *p != '/') {
      if (n + 1 >= sizeof(tok)) return NULL;
      if (*p == '~') {
        if (p[1] == '0')
          tok[n++] = '~';
        else if (p[1] == '1')
          tok[n++] = '/';
        else
          return NULL;
        p += 2;
      } else {
        tok[n++] = *p++;
      }
    }
    tok[n] = 0;
    if (json_is_object(cur)) {
      cur = json_object_getn(cur, tok, n);
    } else if (json_is_array(cur)) {
      char *end;
      if (n == 0 || (n > 1 && tok[0] == '0')) return NULL;
      unsigned long i = strtoul(tok, &end, 10);
      if (*end || tok[0] < '0' || tok[0] > '9') return NULL;
      cur = json_array_get(cur, i);
    } else {
      return NULL;
    }
    if (!cur) return NULL;
    map_entry *e = map_find(c, cur, false);
    if (e && e->res) *res = e->res;
  }
  return cur;
}

static const api__metaschema *metaschema_for(const char *uri) {
  for (const api__metaschema *m = api__metaschemas; m->uri; m++)
    if (!strcmp(m->uri, uri)) return m;
  return NULL;
}

static api_schema *compile_node(cctx *c, json_t *s, sch_resource *res);

/* Resolve the reference ref written in a schema of resource res to a node. */
static api_schema *resolve_ref(cctx *c, sch_resource *res, const char *kw, const char *ref,
                               const char **anchor_name) {
  char *abs = api__uri_resolve(res->uri, ref);
  if (!abs) {
    oom(c);
    return NULL;
  }
  char *hash = strchr(abs, '#');
  char *frag = NULL;
  if (hash) {
    *hash = 0;
    frag = hash + 1;
  }
  json_t *target = NULL;
  sch_resource *tres = resource_find(c, abs);
  if (!tres) {
    const api__metaschema *m = metaschema_for(abs);
    if (m) {
      json_error_t jerr;
      json_t *j = json_loads(m->text, 0, &jerr);
      if (!j || json_array_append_new(c->doc->metas, j)) {
        api__free(abs);
        oom(c);
        return NULL;
      }
      tres = register_document(c, j, m->uri);
      if (!tres) {
        api__free(abs);
        return NULL;
      }
    }
  }
  if (!tres) {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot resolve %.250s", ref);
    api__free(abs);
    bad(c, kw, msg);
    return NULL;
  }
  if (!frag || !*frag) {
    target = tres->root;
  } else if (frag[0] == '/') {
    if (!pct_decode(frag)) {
      api__free(abs);
      bad(c, kw, "bad percent-encoding in the fragment");
      return NULL;
    }
    target = follow_pointer(c, tres->root, frag, &tres);
  } else {
    if (hash) *hash = '#';
    for (sch_static_anchor *a = c->anchors; a; a = a->next)
      if (!strcmp(a->uri, abs)) {
        target = a->target;
        break;
      }
    if (target) {
      map_entry *e = map_find(c, target, false);
      if (e && e->res) tres = e->res;
      if (anchor_name) {
        /* A $dynamicRef resolves dynamically only when its static target has the same
         * $dynamicAnchor ("bookending"). */
        json_t *dyn = json_object_get(target, "$dynamicAnchor");
        if (json_is_string(dyn) && !strcmp(json_string_value(dyn), frag))
          *anchor_name = json_string_value(dyn);
      }
    }
  }
  if (!target) {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot resolve %.250s", ref);
    api__free(abs);
    bad(c, kw, msg);
    return NULL;
  }
  api__free(abs);
  return compile_node(c, target, tres);
}

/* ---- keywords ---- */

static bool get_count(json_t *v, size_t *out) {
  if (json_is_integer(v)) {
    if (json_integer_value(v) < 0) return false;
    *out = (size_t)json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d < 0 || d != floor(d)) return false;
    *out = d >= 1.8e19 ? (size_t)-1 : (size_t)d;
    return true;
  }
  return false;
}

static bool get_number(json_t *v, double *out) {
  if (!json_is_number(v)) return false;
  *out = json_number_value(v);
  return true;
}

static unsigned type_bit(const char *name) {
  static const struct {
    const char *name;
    unsigned bit;
  } t[] = {{"null", SCH_NULL},      {"boolean", SCH_BOOLEAN}, {"object", SCH_OBJECT},
           {"array", SCH_ARRAY},    {"number", SCH_NUMBER},   {"string", SCH_STRING},
           {"integer", SCH_INTEGER}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(name, t[i].name)) return t[i].bit;
  return 0;
}

static api_schema *sub(cctx *c, json_t *v, sch_resource *res, const char *kw) {
  size_t old = ptr_push(c, kw);
  api_schema *n = compile_node(c, v, res);
  ptr_pop(c, old);
  return n;
}

static api_schema **sub_array(cctx *c, json_t *v, sch_resource *res, const char *kw, size_t *n,
                              bool allow_empty) {
  if (!json_is_array(v) || (!allow_empty && json_array_size(v) == 0)) {
    bad(c, kw, "must be a non-empty array of schemas");
    return NULL;
  }
  size_t len = json_array_size(v);
  api_schema **arr = api__calloc(len ? len : 1, sizeof(*arr));
  if (!arr) {
    oom(c);
    return NULL;
  }
  size_t old = ptr_push(c, kw);
  for (size_t i = 0; i < len; i++) {
    char idx[24];
    snprintf(idx, sizeof idx, "%zu", i);
    arr[i] = sub(c, json_array_get(v, i), res, idx);
    if (!arr[i]) break;
  }
  ptr_pop(c, old);
  *n = len;
  return arr;
}

static int compile_regex(cctx *c, sch_regex *re, json_t *v, const char *kw) {
  char err[160];
  if (!json_is_string(v)) return bad(c, kw, "must be a string");
  int rc = api__regex_compile(re, json_string_value(v), json_string_length(v), err, sizeof err);
  if (rc == API_ENOMEM) return oom(c);
  if (rc) return bad(c, kw, err);
  return 0;
}

static int compile_props(cctx *c, api_schema *n, json_t *v, sch_resource *res) {
  if (!json_is_object(v)) return bad(c, "properties", "must be an object");
  size_t len = json_object_size(v);
  n->props = api__calloc(len ? len : 1, sizeof(*n->props));
  if (!n->props) return oom(c);
  size_t old = ptr_push(c, "properties");
  void *it = json_object_iter(v);
  for (; it && !c->err; it = json_object_iter_next(v, it)) {
    sch_prop *p = &n->props[n->n_props++];
    p->name = json_object_iter_key(it);
    p->len = json_object_iter_key_len(it);
    p->schema = sub(c, json_object_iter_value(it), res, p->name);
  }
  ptr_pop(c, old);
  if (c->err) return c->err;
  if (n->n_props > 8) {
    uint32_t cap = 16;
    while (cap < n->n_props * 2) cap *= 2;
    n->prop_table = api__malloc(cap * sizeof(uint32_t));
    if (!n->prop_table) return oom(c);
    memset(n->prop_table, 0xff, cap * sizeof(uint32_t));
    n->prop_mask = cap - 1;
    for (uint32_t i = 0; i < n->n_props; i++) {
      uint32_t j = (uint32_t)api__str_hash(n->props[i].name, n->props[i].len) & n->prop_mask;
      while (n->prop_table[j] != UINT32_MAX) j = (j + 1) & n->prop_mask;
      n->prop_table[j] = i;
    }
  }
  return 0;
}

static int value_cmp(const void *a, const void *b) {
  const sch_value *x = a, *y = b;
  return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int compile_keywords(cctx *c, api_schema *n, json_t *s, sch_resource *res) {
  const char *k;
  json_t *v;
  json_object_foreach(s, k, v) {
    if (c->err) break;
    if (!strcmp(k, "type")) {
      n->kw |= KW_TYPE;
      if (json_is_string(v)) {
        n->types = type_bit(json_string_value(v));
        if (!n->types) return bad(c, k, "unknown type");
      } else if (json_is_array(v)) {
        if (json_array_size(v) == 0) return bad(c, k, "must not be an empty array");
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t) {
          unsigned b = json_is_string(t) ? type_bit(json_string_value(t)) : 0;
          if (!b || (n->types & b)) return bad(c, k, "must be an array of unique type names");
          n->types |= b;
        }
      } else {
        return bad(c, k, "must be a string or an array");
      }
    } else if (!strcmp(k, "enum")) {
      if (!json_is_array(v)) return bad(c, k, "must be an array");
      n->kw |= KW_ENUM;
      n->n_enum = json_array_size(v);
      n->enum_values = api__calloc(n->n_enum ? n->n_enum : 1, sizeof(sch_value));
      if (!n->enum_values) return oom(c);
      for (size_t i = 0; i < n->n_enum; i++) {
        n->enum_values[i].value = json_array_get(v, i);
        n->enum_values[i].hash = api__json_hash(n->enum_values[i].value);
      }
      qsort(n->enum_values, n->n_enum, sizeof(sch_value), value_cmp);
    } else if (!strcmp(k, "const")) {
      n->kw |= KW_CONST;
      n->const_value.value = v;
      n->const_value.hash = api__json_hash(v);
    } else if (!strcmp(k, "minimum") || !strcmp(k, "maximum") || !strcmp(k, "exclusiveMinimum") ||
               !strcmp(k, "exclusiveMaximum") || !strcmp(k, "multipleOf")) {
      double d;
      if (!get_number(v, &d)) return bad(c, k, "must be a number");
      if (k[0] == 'm' && k[1] == 'i') {
        n->kw |= KW_MINIMUM, n->minimum = d, n->minimum_json = v;
      } else if (k[0] == 'm' && k[1] == 'a') {
        n->kw |= KW_MAXIMUM, n->maximum = d, n->maximum_json = v;
      } else if (k[0] == 'm') {
        if (!(d > 0)) return bad(c, k, "must be a number > 0");
        n->kw |= KW_MULTIPLE, n->multiple_of = d, n->multiple_json = v;
      } else if (k[9] == 'M' && k[10] == 'i') {
        n->kw |= KW_XMINIMUM, n->xminimum = d, n->xminimum_json = v;
      } else {
        n->kw |= KW_XMAXIMUM, n->xmaximum = d, n->xmaximum_json = v;
      }
    } else if (!strcmp(k, "minLength") || !strcmp(k, "maxLength") || !strcmp(k, "minItems") ||
               !strcmp(k, "maxItems") || !strcmp(k, "minProperties") ||
               !strcmp(k, "maxProperties") || !strcmp(k, "minContains") ||
               !strcmp(k, "maxContains")) {
      size_t x;
      if (!get_count(v, &x)) return bad(c, k, "must be a non-negative integer");
      static const struct {
        const char *name;
        uint32_t bit;
        size_t off;
      } t[] = {{"minLength", KW_MINLEN, offsetof(api_schema, min_length)},
               {"maxLength", KW_MAXLEN, offsetof(api_schema, max_length)},
               {"minItems", KW_MINITEMS, offsetof(api_schema, min_items)},
               {"maxItems", KW_MAXITEMS, offsetof(api_schema, max_items)},
               {"minProperties", KW_MINPROPS, offsetof(api_schema, min_props)},
               {"maxProperties", KW_MAXPROPS, offsetof(api_schema, max_props)},
               {"minContains", KW_MINCONTAINS, offsetof(api_schema, min_contains)},
               {"maxContains", KW_MAXCONTAINS, offsetof(api_schema, max_contains)}};
      for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(k, t[i].name)) {
          n->kw |= t[i].bit;
          *(size_t *)((char *)n + t[i].off) = x;
        }
    } else if (!strcmp(k, "uniqueItems")) {
      if (!json_is_boolean(v)) return bad(c, k, "must be a boolean");
      if (json_is_true(v)) n->kw |= KW_UNIQUE;
    } else if (!strcmp(k, "pattern")) {
      if (compile_regex(c, &n->pattern, v, k)) return c->err;
      n->kw |= KW_PATTERN;
    } else if (!strcmp(k, "format")) {
      if (!json_is_string(v)) return bad(c, k, "must be a string");
      n->format_name = json_string_value(v);
      n->format = api__format_lookup(n->format_name);
      if (!n->format && (c->doc->flags & API_SCHEMA_FORMAT_STRICT))
        return bad(c, k, "unknown format");
      if (n->format && !(c->doc->flags & API_SCHEMA_FORMAT_ANNOTATION)) n->kw |= KW_FORMAT;
    } else if (!strcmp(k, "required")) {
      if (!json_is_array(v)) return bad(c, k, "must be an array of strings");
      n->n_required = json_array_size(v);
      n->required = api__calloc(n->n_required ? n->n_required : 1, sizeof(char *));
      if (!n->required) return oom(c);
      for (size_t i = 0; i < n->n_required; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) return bad(c, k, "must be an array of strings");
        n->required[i] = json_string_value(e);
      }
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "properties")) {
      if (compile_props(c, n, v, res)) return c->err;
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "patternProperties")) {
      if (!json_is_object(v)) return bad(c, k, "must be an object");
      size_t len = json_object_size(v);
      n->pattern_props = api__calloc(len ? len : 1, sizeof(sch_pattern_prop));
      if (!n->pattern_props) return oom(c);
      size_t old = ptr_push(c, k);
      const char *pk;
      json_t *pv;
      json_object_foreach(v, pk, pv) {
        sch_pattern_prop *pp = &n->pattern_props[n->n_pattern_props++];
        char err[160];
        int rc = api__regex_compile(&pp->re, pk, strlen(pk), err, sizeof err);
        if (rc == API_ENOMEM) return oom(c);
        if (rc) return bad(c, pk, err);
        pp->schema = sub(c, pv, res, pk);
        if (!pp->schema) break;
      }
      ptr_pop(c, old);
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "additionalProperties")) {
      n->additional = sub(c, v, res, k);
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "propertyNames")) {
      n->property_names = sub(c, v, res, k);
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "unevaluatedProperties")) {
      n->unevaluated_props = sub(c, v, res, k);
      n->track_props = true;
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "dependentRequired")) {
      if (!json_is_object(v)) return bad(c, k, "must be an object");
      size_t len = json_object_size(v);
      n->dep_required = api__calloc(len ? len : 1, sizeof(sch_dep_required));
      if (!n->dep_required) return oom(c);
      void *it = json_object_iter(v);
      for (; it; it = json_object_iter_next(v, it)) {
        sch_dep_required *d = &n->dep_required[n->n_dep_required++];
        json_t *arr = json_object_iter_value(it);
        d->name = json_object_iter_key(it);
        d->len = json_object_iter_key_len(it);
        if (!json_is_array(arr)) return bad(c, k, "must be an object of string arrays");
        d->n = json_array_size(arr);
        d->names = api__calloc(d->n ? d->n : 1, sizeof(char *));
        if (!d->names) return oom(c);
        for (size_t i = 0; i < d->n; i++) {
          json_t *e = json_array_get(arr, i);
          if (!json_is_string(e)) return bad(c, k, "must be an object of string arrays");
          d->names[i] = json_string_value(e);
        }
      }
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "dependentSchemas")) {
      if (!json_is_object(v)) return bad(c, k, "must be an object");
      size_t len = json_object_size(v);
      n->dep_schemas = api__calloc(len ? len : 1, sizeof(sch_dep_schema));
      if (!n->dep_schemas) return oom(c);
      size_t old = ptr_push(c, k);
      void *it = json_object_iter(v);
      for (; it && !c->err; it = json_object_iter_next(v, it)) {
        sch_dep_schema *d = &n->dep_schemas[n->n_dep_schemas++];
        d->name = json_object_iter_key(it);
        d->len = json_object_iter_key_len(it);
        d->schema = sub(c, json_object_iter_value(it), res, d->name);
      }
      ptr_pop(c, old);
      n->kw |= KW_OBJECT;
    } else if (!strcmp(k, "prefixItems")) {
      n->prefix_items = sub_array(c, v, res, k, &n->n_prefix_items, false);
      n->kw |= KW_ARRAY;
    } else if (!strcmp(k, "items")) {
      n->items = sub(c, v, res, k);
      n->kw |= KW_ARRAY;
    } else if (!strcmp(k, "contains")) {
      n->contains = sub(c, v, res, k);
      n->kw |= KW_ARRAY;
    } else if (!strcmp(k, "unevaluatedItems")) {
      n->unevaluated_items = sub(c, v, res, k);
      n->track_items = true;
      n->kw |= KW_ARRAY;
    } else if (!strcmp(k, "allOf")) {
      n->all_of = sub_array(c, v, res, k, &n->n_all_of, false);
    } else if (!strcmp(k, "anyOf")) {
      n->any_of = sub_array(c, v, res, k, &n->n_any_of, false);
    } else if (!strcmp(k, "oneOf")) {
      n->one_of = sub_array(c, v, res, k, &n->n_one_of, false);
    } else if (!strcmp(k, "not")) {
      n->not_ = sub(c, v, res, k);
    } else if (!strcmp(k, "if")) {
      n->if_ = sub(c, v, res, k);
    } else if (!strcmp(k, "then")) {
      n->then_ = sub(c, v, res, k);
    } else if (!strcmp(k, "else")) {
      n->else_ = sub(c, v, res, k);
    } else if (!strcmp(k, "$ref")) {
      if (!json_is_string(v)) return bad(c, k, "must be a string");
      n->ref = resolve_ref(c, res, k, json_string_value(v), NULL);
    } else if (!strcmp(k, "$dynamicRef")) {
      if (!json_is_string(v)) return bad(c, k, "must be a string");
      n->dynamic_ref = resolve_ref(c, res, k, json_string_value(v), &n->dynamic_name);
    } else if (!strcmp(k, "$defs") || !strcmp(k, "definitions")) {
      if (!json_is_object(v)) return bad(c, k, "must be an object");
      size_t old = ptr_push(c, k);
      const char *dk;
      json_t *dv;
      json_object_foreach(v, dk, dv) {
        if (!sub(c, dv, res, dk)) break;
      }
      ptr_pop(c, old);
    } else if (!strcmp(k, "default")) {
      n->default_value = v;
      n->kw |= KW_DEFAULT;
    } else if (!strcmp(k, "$id") || !strcmp(k, "$schema") || !strcmp(k, "$comment") ||
               !strcmp(k, "$vocabulary")) {
      if (strcmp(k, "$vocabulary") && !json_is_string(v)) return bad(c, k, "must be a string");
    }
    /* Anything else is an annotation or an unknown keyword, and is ignored. */
  }
  if (!c->err && (n->kw & KW_MINCONTAINS) && !n->contains) n->kw &= ~KW_MINCONTAINS;
  if (!c->err && (n->kw & KW_MAXCONTAINS) && !n->contains) n->kw &= ~KW_MAXCONTAINS;
  return c->err;
}

/* Error params and messages that depend only on the schema, so that reporting an error costs no
 * formatting. */
static int prepare_errors(cctx *c, api_schema *n) {
  char num[48], msg[300];
  static const struct {
    uint32_t bit;
    int kwi;
    const char *comparison, *fmt;
  } limits[] = {{KW_MINIMUM, KWI_MINIMUM, ">=", "must be >= %s"},
                {KW_MAXIMUM, KWI_MAXIMUM, "<=", "must be <= %s"},
                {KW_XMINIMUM, KWI_XMINIMUM, ">", "must be > %s"},
                {KW_XMAXIMUM, KWI_XMAXIMUM, "<", "must be < %s"}};
  json_t *const limit_json[] = {n->minimum_json, n->maximum_json, n->xminimum_json,
                                n->xmaximum_json};
  for (size_t i = 0; i < 4; i++) {
    if (!(n->kw & limits[i].bit)) continue;
    api__fmt_number(limit_json[i], num, sizeof num);
    snprintf(msg, sizeof msg, limits[i].fmt, num);
    n->kw_msg[limits[i].kwi] = api__strdup(msg);
    n->kw_params[limits[i].kwi] =
        json_pack("{sssO}", "comparison", limits[i].comparison, "limit", limit_json[i]);
  }
  if (n->kw & KW_MULTIPLE) {
    api__fmt_number(n->multiple_json, num, sizeof num);
    snprintf(msg, sizeof msg, "must be multiple of %s", num);
    n->kw_msg[KWI_MULTIPLE] = api__strdup(msg);
    n->kw_params[KWI_MULTIPLE] = json_pack("{sO}", "multipleOf", n->multiple_json);
  }
  static const struct {
    uint32_t bit;
    int kwi;
    size_t off;
    const char *fmt;
  } counts[] = {
      {KW_MINLEN, KWI_MINLEN, offsetof(api_schema, min_length),
       "must NOT have fewer than %zu characters"},
      {KW_MAXLEN, KWI_MAXLEN, offsetof(api_schema, max_length),
       "must NOT have more than %zu characters"},
      {KW_MINITEMS, KWI_MINITEMS, offsetof(api_schema, min_items),
       "must NOT have fewer than %zu items"},
      {KW_MAXITEMS, KWI_MAXITEMS, offsetof(api_schema, max_items),
       "must NOT have more than %zu items"},
      {KW_MINPROPS, KWI_MINPROPS, offsetof(api_schema, min_props),
       "must NOT have fewer than %zu properties"},
      {KW_MAXPROPS, KWI_MAXPROPS, offsetof(api_schema, max_props),
       "must NOT have more than %zu properties"},
  };
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    if (!(n->kw & counts[i].bit)) continue;
    size_t v = *(size_t *)((char *)n + counts[i].off);
    snprintf(msg, sizeof msg, counts[i].fmt, v);
    n->kw_msg[counts[i].kwi] = api__strdup(msg);
    n->kw_params[counts[i].kwi] = json_pack("{sI}", "limit", (json_int_t)v);
  }
  if (n->kw & KW_PATTERN) {
    snprintf(msg, sizeof msg, "must match pattern \"%.200s\"", n->pattern.source);
    n->kw_msg[KWI_PATTERN] = api__strdup(msg);
    n->kw_params[KWI_PATTERN] = json_pack("{ss}", "pattern", n->pattern.source);
  }
  if (n->kw & KW_FORMAT) {
    snprintf(msg, sizeof msg, "must match format \"%.100s\"", n->format_name);
    n->kw_msg[KWI_FORMAT] = api__strdup(msg);
    n->kw_params[KWI_FORMAT] = json_pack("{ss}", "format", n->format_name);
  }
  if (n->kw & KW_TYPE) {
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t at = (size_t)snprintf(msg, sizeof msg, "must be ");
    bool first = true;
    for (int i = 0; i < 7; i++)
      if (n->types & (1u << i)) {
        at += (size_t)snprintf(msg + at, sizeof msg - at, "%s%s", first ? "" : " or ", names[i]);
        first = false;
      }
    n->kw_msg[KWI_TYPE] = api__strdup(msg);
    n->kw_params[KWI_TYPE] = json_pack("{sO}", "type", json_object_get(n->json, "type"));
  }
  if (n->kw & KW_CONST) {
    n->kw_msg[KWI_CONST] = api__strdup("must be equal to constant");
    n->kw_params[KWI_CONST] = json_pack("{sO}", "allowedValue", n->const_value.value);
  }
  if (n->kw & KW_ENUM) {
    n->kw_msg[KWI_ENUM] = api__strdup("must be equal to one of the allowed values");
    n->kw_params[KWI_ENUM] = json_pack("{sO}", "allowedValues", json_object_get(n->json, "enum"));
  }
  if (n->contains) {
    size_t min = (n->kw & KW_MINCONTAINS) ? n->min_contains : 1;
    snprintf(msg, sizeof msg, "must contain at least %zu valid item(s)", min);
    n->kw_msg[KWI_CONTAINS] = api__strdup(msg);
    n->kw_params[KWI_CONTAINS] = json_pack("{sI}", "minContains", (json_int_t)min);
    if (n->kw & KW_MAXCONTAINS) {
      snprintf(msg, sizeof msg, "must contain at most %zu valid item(s)", n->max_contains);
      n->kw_msg[KWI_MAXCONTAINS] = api__strdup(msg);
      n->kw_params[KWI_MAXCONTAINS] = json_pack("{sI}", "maxContains", (json_int_t)n->max_contains);
    }
  }
  for (int i = 0; i < KWI_COUNT; i++)
    if ((n->kw_msg[i] != NULL) != (n->kw_params[i] != NULL)) return oom(c);
  if (n->n_required) {
    n->req_params = api__calloc(n->n_required, sizeof(json_t *));
    n->req_msg = api__calloc(n->n_required, sizeof(char *));
    if (!n->req_params || !n->req_msg) return oom(c);
    for (size_t i = 0; i < n->n_required; i++) {
      snprintf(msg, sizeof msg, "must have required property '%.200s'", n->required[i]);
      n->req_msg[i] = api__strdup(msg);
      n->req_params[i] = json_pack("{ss}", "missingProperty", n->required[i]);
      if (!n->req_msg[i] || !n->req_params[i]) return oom(c);
    }
  }
  return 0;
}

static api_schema *compile_node(cctx *c, json_t *s, sch_resource *res) {
  if (c->err) return NULL;
  if (!json_is_object(s) && !json_is_boolean(s)) {
    bad(c, "", "a schema must be an object or a boolean");
    return NULL;
  }
  map_entry *e = map_find(c, s, true);
  if (!e) {
    oom(c);
    return NULL;
  }
  if (e->node) return e->node;
  if (e->res)
    res = e->res;
  else
    e->res = res;
  if (++c->depth > 1000) {
    bad(c, "", "schema nested too deeply");
    return NULL;
  }
  api_schema *n = api__calloc(1, sizeof(*n));
  if (!n) {
    oom(c);
    return NULL;
  }
  n->doc = c->doc;
  n->json = s;
  n->res = res;
  n->next_node = c->doc->nodes;
  c->doc->nodes = n;
  e->node = n; /* before the keywords, so that cycles find it */
  if (json_is_boolean(s)) {
    n->boolean = json_is_true(s);
  } else {
    n->boolean = -1;
    if (!compile_keywords(c, n, s, res)) prepare_errors(c, n);
  }
  c->depth--;
  return c->err ? NULL : n;
}

/* Compile every $dynamicAnchor of every resource, until no new resource appears. */
static int compile_dynamic_anchors(cctx *c) {
  bool again = true;
  while (again && !c->err) {
    again = false;
    for (sch_resource *r = c->doc->resources; r && !c->err; r = r->next) {
      for (size_t i = 0; i < r->n_dynamic; i++) {
        json_t *j = (json_t *)r->dynamic[i].schema;
        map_entry *e = map_find(c, j, false);
        if (e && e->node == r->dynamic[i].schema) continue; /* already a node */
        if (e && e->node) {
          r->dynamic[i].schema = e->node;
          continue;
        }
        ptr_pop(c, 0);
        api_schema *n = compile_node(c, j, r);
        if (!n) return c->err;
        r->dynamic[i].schema = n;
        again = true;
      }
    }
  }
  return c->err;
}

static void doc_free(sch_doc *d) {
  if (!d) return;
  for (api_schema *n = d->nodes, *next; n; n = next) {
    next = n->next_node;
    api__regex_free(&n->pattern);
    for (size_t i = 0; i < n->n_pattern_props; i++) api__regex_free(&n->pattern_props[i].re);
    api__free(n->pattern_props);
    api__free(n->enum_values);
    api__free(n->props);
    api__free(n->prop_table);
    api__free(n->required);
    for (size_t i = 0; i < n->n_dep_required; i++) api__free(n->dep_required[i].names);
    api__free(n->dep_required);
    api__free(n->dep_schemas);
    api__free(n->prefix_items);
    api__free(n->all_of);
    api__free(n->any_of);
    api__free(n->one_of);
    for (int i = 0; i < KWI_COUNT; i++) {
      json_decref(n->kw_params[i]);
      api__free(n->kw_msg[i]);
    }
    for (size_t i = 0; n->req_params && i < n->n_required; i++) json_decref(n->req_params[i]);
    for (size_t i = 0; n->req_msg && i < n->n_required; i++) api__free(n->req_msg[i]);
    api__free(n->req_params);
    api__free(n->req_msg);
    api__free(n);
  }
  for (sch_resource *r = d->resources, *next; r; r = next) {
    next = r->next;
    api__free(r->uri);
    api__free(r->dynamic);
    api__free(r);
  }
  if (d->mctx) pcre2_match_context_free(d->mctx);
  json_decref(d->metas);
  json_decref(d->root_json);
  api__free(d);
}

int api_schema_compile(api_schema **out, json_t *root, const api_schema_options *opts) {
  if (!out) return api__fail(API_EINVAL, "api_schema_compile: out is NULL");
  *out = NULL;
  if (!root) return api__fail(API_EINVAL, "api_schema_compile: root is NULL");
  if (opts && opts->size < sizeof(size_t))
    return api__fail(API_EINVAL, "api_schema_compile: options without size (API_SCHEMA_OPTIONS)");
  sch_doc *d = api__calloc(1, sizeof(*d));
  if (!d) return api__fail(API_ENOMEM, "schema: out of memory");
  d->root_json = json_incref(root);
  d->flags = opts ? opts->flags : 0;
  d->max_depth = opts && opts->max_depth ? opts->max_depth : 256;
  if (d->max_depth > 4096) d->max_depth = 4096; /* each level costs C stack */
  d->match_limit = opts && opts->match_limit ? opts->match_limit : 100000;
  d->metas = json_array();
  d->mctx = pcre2_match_context_create(NULL);
  if (!d->metas || !d->mctx) {
    doc_free(d);
    return api__fail(API_ENOMEM, "schema: out of memory");
  }
  pcre2_set_match_limit(d->mctx,
                        (uint32_t)(d->match_limit > UINT32_MAX ? UINT32_MAX : d->match_limit));
  pcre2_set_depth_limit(d->mctx, 10000);
  cctx c = {.doc = d};
  ptr_push(&c, "");
  ptr_pop(&c, 0);
  const char *base = opts && opts->base_uri ? opts->base_uri : DEFAULT_BASE;
  if (!json_is_object(root) && !json_is_boolean(root)) {
    bad(&c, "", "a schema must be an object or a boolean");
  } else {
    sch_resource *res = register_document(&c, root, base);
    if (res) d->root = compile_node(&c, root, res);
    if (!c.err) compile_dynamic_anchors(&c);
  }
  for (sch_static_anchor *a = c.anchors, *next; a; a = next) {
    next = a->next;
    api__free(a->uri);
    api__free(a);
  }
  api__free(c.map);
  api__free(c.ptr);
  if (c.err) {
    doc_free(d);
    return c.err;
  }
  *out = d->root;
  return 0;
}

int api_schema_parse(api_schema **out, const char *json_text, size_t len,
                     const api_schema_options *opts) {
  if (!out) return api__fail(API_EINVAL, "api_schema_parse: out is NULL");
  *out = NULL;
  if (!json_text) return api__fail(API_EINVAL, "api_schema_parse: text is NULL");
  api__json_error jerr;
  json_t *root = api__json_parse(json_text, len, API__JSON_ALLOW_NUL, &jerr);
  if (!root && jerr.enomem) return api__fail(API_ENOMEM, "out of memory");
  if (!root)
    return api__fail(API_EBADJSON, "schema: invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.message);
  int rc = api_schema_compile(out, root, opts);
  json_decref(root);
  return rc;
}

void api_schema_free(api_schema *schema) {
  if (!schema || schema->doc->root != schema) return;
  doc_free(schema->doc);
}

json_t *api_schema_json(const api_schema *schema) { return schema ? schema->json : NULL; }

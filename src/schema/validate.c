/* Validation: a recursive walk of the compiled nodes over the instance.
 *
 * Bounds: evaluation nesting is limited by the schema's max_depth and the total work by a step
 * budget, so hostile schemas or instances end with an error instead of exhausting the stack or
 * the CPU. Paths are kept as a chain of stack frames and turned into JSON Pointers only when an
 * error is recorded, so a valid instance costs no allocation (except for unevaluated* bookkeeping
 * on large objects/arrays, uniqueItems on large arrays and propertyNames).
 *
 * Annotations: unevaluatedProperties/unevaluatedItems need to know which members or items the
 * other keywords of the same instance location evaluated successfully. A node that has one of
 * them passes a bit set (indexed by the member's iteration position, or the item's index) down
 * to the applicators of the same location; a subschema that fails contributes nothing. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "schema/schema_internal.h"
#include "util/alloc.h"

#define STEP_BUDGET 20000000u
#define EV_INLINE_WORDS 4

typedef struct pseg {
  const struct pseg *up;
  const char *key; /* NULL for an array index */
  size_t len;      /* key length, or the index */
} pseg;

typedef struct scope_frame {
  const struct scope_frame *up;
  const sch_resource *res;
} scope_frame;

typedef struct evset {
  uint64_t *bits;
  size_t n;
  uint64_t inline_bits[EV_INLINE_WORDS];
} evset;

typedef struct vctx {
  const sch_doc *doc;
  api_schema_result *res;
  size_t max_errors;
  unsigned silent; /* > 0: record nothing and stop at the first failure */
  bool halt;       /* stop everything: error bound reached, depth or budget exceeded, no memory */
  bool oom;
  unsigned depth;
  unsigned long steps;
  const scope_frame *scope;
} vctx;

#define FAST(c) ((c)->silent || (c)->halt)

/* ---- annotation bit sets ---- */

static bool ev_init(vctx *c, evset *e, size_t n) {
  e->n = n;
  size_t words = (n + 63) / 64;
  if (words <= EV_INLINE_WORDS) {
    e->bits = e->inline_bits;
    memset(e->inline_bits, 0, sizeof e->inline_bits);
    return true;
  }
  e->bits = api__calloc(words, sizeof(uint64_t));
  if (!e->bits) {
    c->oom = c->halt = true;
    return false;
  }
  return true;
}

static void ev_free(evset *e) {
  if (e->bits && e->bits != e->inline_bits) api__free(e->bits);
  e->bits = NULL;
}

static inline void ev_set(evset *e, size_t i) {
  if (e && i < e->n) e->bits[i / 64] |= 1ull << (i % 64);
}

static inline bool ev_get(const evset *e, size_t i) { return (e->bits[i / 64] >> (i % 64)) & 1; }

static void ev_merge(evset *into, const evset *from) {
  if (!into) return;
  size_t words = (into->n + 63) / 64;
  for (size_t i = 0; i < words; i++) into->bits[i] |= from->bits[i];
}

/* ---- errors ----
 * A result keeps its error array and a chain of string chunks between validations, so reporting
 * errors into a reused result allocates nothing once it has grown. Paths and per-instance
 * messages are written into the chunks; fixed messages and params come prepared from the node. */

typedef struct str_chunk {
  struct str_chunk *next;
  size_t size;
  char data[];
} str_chunk;

#define SPARE_MAX 16

typedef struct res_store {
  size_t cap;        /* capacity of res->errors */
  str_chunk *chunks; /* newest (largest) first */
  char *ptr, *end;
  /* per-instance params objects of the previous validation that nobody else references, kept
   * for reuse by errors of the same keyword */
  json_t *spare[SPARE_MAX];
  const char *spare_kw[SPARE_MAX];
  size_t n_spare;
} res_store;

static res_store *store_of(api_schema_result *r) {
  if (!r->internal_) r->internal_ = api__calloc(1, sizeof(res_store));
  return r->internal_;
}

static char *store_alloc(res_store *st, size_t n) {
  if ((size_t)(st->end - st->ptr) < n || !st->ptr) {
    size_t size = st->chunks ? st->chunks->size * 2 : 1024;
    while (size < n) size *= 2;
    str_chunk *c = api__malloc(sizeof(str_chunk) + size);
    if (!c) return NULL;
    c->size = size;
    c->next = st->chunks;
    st->chunks = c;
    st->ptr = c->data;
    st->end = c->data + size;
  }
  char *p = st->ptr;
  st->ptr += n;
  return p;
}

/* Release the errors' references and rewind the storage, keeping its largest chunk. */
static void result_reset(api_schema_result *r) {
  res_store *st = r->internal_;
  for (size_t i = 0; i < r->count; i++) {
    json_t *p = r->errors[i].params;
    const char *kw = r->errors[i].keyword;
    if (st && st->n_spare < SPARE_MAX && p->refcount == 1 &&
        (!strcmp(kw, "additionalProperties") || !strcmp(kw, "unevaluatedProperties") ||
         !strcmp(kw, "propertyNames") || !strcmp(kw, "uniqueItems"))) {
      st->spare[st->n_spare] = p;
      st->spare_kw[st->n_spare++] = kw;
    } else {
      json_decref(p);
    }
  }
  r->count = 0;
  r->truncated = 0;
  if (!st || !st->chunks) return;
  str_chunk *keep = st->chunks, *c = keep->next;
  while (c) {
    str_chunk *next = c->next;
    api__free(c);
    c = next;
  }
  keep->next = NULL;
  st->ptr = keep->data;
  st->end = keep->data + keep->size;
}

void api__result_reset(api_schema_result *r) { result_reset(r); }

int api__result_add(api_schema_result *r, const char *path, const char *kw, const char *msg,
                    json_t *params) {
  res_store *st = store_of(r);
  if (!st || !params) goto nomem;
  if (r->count == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 8;
    api_schema_error *e = api__realloc(r->errors, cap * sizeof(*e));
    if (!e) goto nomem;
    r->errors = e;
    st->cap = cap;
  }
  size_t pl = strlen(path), ml = strlen(msg);
  char *p = store_alloc(st, pl + ml + 2);
  if (!p) goto nomem;
  memcpy(p, path, pl + 1);
  memcpy(p + pl + 1, msg, ml + 1);
  r->errors[r->count++] = (api_schema_error){p, kw, p + pl + 1, params};
  return 0;
nomem:
  json_decref(params);
  return API_ENOMEM;
}

static char *render_path(res_store *st, const pseg *p) {
  size_t len = 0;
  char num[24];
  for (const pseg *s = p; s; s = s->up) {
    if (s->key) {
      len += 1 + s->len;
      for (size_t i = 0; i < s->len; i++) len += s->key[i] == '~' || s->key[i] == '/';
    } else {
      size_t v = s->len, d = 1;
      while (v >= 10) v /= 10, d++;
      len += 1 + d;
    }
  }
  char *out = store_alloc(st, len + 1);
  if (!out) return NULL;
  out[len] = 0;
  size_t at = len;
  for (const pseg *s = p; s; s = s->up) {
    if (s->key) {
      for (size_t i = s->len; i-- > 0;) {
        char ch = s->key[i];
        if (ch == '~' || ch == '/') {
          out[--at] = ch == '~' ? '0' : '1';
          out[--at] = '~';
        } else {
          out[--at] = ch;
        }
      }
    } else {
      size_t v = s->len;
      int n = 0;
      do {
        num[n++] = (char)('0' + v % 10);
        v /= 10;
      } while (v);
      while (n) out[--at] = num[--n];
    }
    out[--at] = '/';
  }
  return out;
}

/* Append an error slot; NULL when no error may be recorded (silent, halted, bound reached). */
static api_schema_error *new_error(vctx *c, const pseg *path) {
  if (c->silent || c->halt || !c->res) return NULL;
  api_schema_result *r = c->res;
  if (r->count >= c->max_errors) {
    r->truncated = 1;
    c->halt = true;
    return NULL;
  }
  res_store *st = store_of(r);
  if (!st) goto nomem;
  if (r->count == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 8;
    api_schema_error *e = api__realloc(r->errors, cap * sizeof(*e));
    if (!e) goto nomem;
    r->errors = e;
    st->cap = cap;
  }
  api_schema_error *e = &r->errors[r->count];
  e->path = render_path(st, path);
  if (!e->path) goto nomem;
  return e;
nomem:
  c->oom = c->halt = true;
  return NULL;
}

/* Record an error whose params and message were prepared (params: a borrowed reference). */
static bool fail_fixed(vctx *c, const pseg *path, const char *kw, json_t *params, const char *msg) {
  api_schema_error *e = new_error(c, path);
  if (!e) return false;
  e->keyword = kw;
  e->message = msg;
  e->params = json_incref(params);
  c->res->count++;
  return false;
}

#define FAIL_KW(c, path, s, kwname, kwi) \
  fail_fixed(c, path, kwname, (s)->kw_params[kwi], (s)->kw_msg[kwi])

/* Record an error with params built for this instance (stolen; NULL means {}) and a formatted
 * message. Returns false, for "return fail(...)". */
static bool fail(vctx *c, const pseg *path, const char *kw, json_t *params, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static bool fail(vctx *c, const pseg *path, const char *kw, json_t *params, const char *fmt, ...) {
  api_schema_error *e = new_error(c, path);
  if (!e) {
    json_decref(params);
    return false;
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  char *m = store_alloc(c->res->internal_, (size_t)n + 1);
  if (!params) params = json_object();
  if (!m || !params) {
    json_decref(params);
    c->oom = c->halt = true;
    return false;
  }
  memcpy(m, msg, (size_t)n + 1);
  e->keyword = kw;
  e->message = m;
  e->params = params;
  c->res->count++;
  return false;
}

static json_t *take_spare(res_store *st, const char *kw) {
  for (size_t i = st->n_spare; i-- > 0;)
    if (!strcmp(st->spare_kw[i], kw)) {
      json_t *o = st->spare[i];
      st->spare[i] = st->spare[--st->n_spare];
      st->spare_kw[i] = st->spare_kw[st->n_spare];
      return o;
    }
  return NULL;
}

static json_t *key_value(const char *key, size_t klen);
static json_t *param1(const char *name, json_t *value);

/* {pname: "key"}, reusing a spare params object of the same keyword when there is one. */
static json_t *key_params(res_store *st, const char *kw, const char *pname, const char *key,
                          size_t klen) {
  json_t *o = take_spare(st, kw);
  if (o) {
    json_t *v = json_object_get(o, pname);
    if (json_object_size(o) == 1 && json_is_string(v) && v->refcount == 1) {
      if (json_string_setn(v, key, klen) && json_string_set(v, "(invalid UTF-8)")) {
        json_decref(o);
        return NULL;
      }
      return o;
    }
    json_decref(o);
  }
  return param1(pname, key_value(key, klen));
}

/* Record an error with params {pname: "key"} and the message prefix + key (at most 200 bytes) +
 * suffix, without printf: the common per-instance errors. */
static bool fail_key(vctx *c, const pseg *path, const char *kw, const char *pname,
                     const char *prefix, const char *key, size_t klen, const char *suffix) {
  api_schema_error *e = new_error(c, path);
  if (!e) return false;
  res_store *st = c->res->internal_;
  json_t *params = key_params(st, kw, pname, key, klen);
  if (klen > 200) {
    klen = 200;
    while (klen > 0 && (key[klen] & 0xc0) == 0x80) klen--; /* cut at a character boundary */
  }
  size_t pl = strlen(prefix), sl = strlen(suffix);
  char *m = store_alloc(st, pl + klen + sl + 1);
  if (!m || !params) {
    json_decref(params);
    c->oom = c->halt = true;
    return false;
  }
  memcpy(m, prefix, pl);
  memcpy(m + pl, key, klen);
  memcpy(m + pl + klen, suffix, sl + 1);
  e->keyword = kw;
  e->message = m;
  e->params = params;
  c->res->count++;
  return false;
}

/* Decimal digits of v into out (no NUL); returns their number. */
static size_t utoa(char *out, size_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

/* A property name as a JSON string for params; object keys made with the _nocheck functions may
 * not be UTF-8, and params must stay serialisable. */
static json_t *key_value(const char *key, size_t klen) {
  json_t *v = json_stringn(key, klen);
  return v ? v : json_string("(invalid UTF-8)");
}

static json_t *dep_params(const char *name, size_t len, const char *missing) {
  json_t *o = json_object();
  if (o && !json_object_set_new_nocheck(o, "property", key_value(name, len)) &&
      !json_object_set_new_nocheck(o, "missingProperty", json_string(missing)))
    return o;
  json_decref(o);
  return NULL;
}

/* The uniqueItems error: params {i, j}, reusing a spare params object when there is one. */
static bool fail_unique(vctx *c, const pseg *path, size_t di, size_t dj) {
  api_schema_error *e = new_error(c, path);
  if (!e) return false;
  res_store *st = c->res->internal_;
  json_t *o = take_spare(st, "uniqueItems");
  json_t *i = o ? json_object_get(o, "i") : NULL, *j = o ? json_object_get(o, "j") : NULL;
  if (o && json_object_size(o) == 2 && json_is_integer(i) && json_is_integer(j) &&
      i->refcount == 1 && j->refcount == 1) {
    json_integer_set(i, (json_int_t)di);
    json_integer_set(j, (json_int_t)dj);
  } else {
    json_decref(o);
    o = param1("i", json_integer((json_int_t)di));
    if (o && json_object_set_new_nocheck(o, "j", json_integer((json_int_t)dj))) {
      json_decref(o);
      o = NULL;
    }
  }
  char msg[128] = "must NOT have duplicate items (items ## ";
  size_t n = strlen(msg);
  n += utoa(msg + n, di);
  memcpy(msg + n, " and ", 5);
  n += 5;
  n += utoa(msg + n, dj);
  memcpy(msg + n, " are identical)", 16);
  n += 15;
  char *m = store_alloc(st, n + 1);
  if (!m || !o) {
    json_decref(o);
    c->oom = c->halt = true;
    return false;
  }
  memcpy(m, msg, n + 1);
  e->keyword = "uniqueItems";
  e->message = m;
  e->params = o;
  c->res->count++;
  return false;
}

/* A one-member params object {name: value(stolen)}, without json_pack's format parsing. */
static json_t *param1(const char *name, json_t *value) {
  json_t *o = json_object();
  if (o && value && !json_object_set_new_nocheck(o, name, value)) return o;
  json_decref(o);
  json_decref(value);
  return NULL;
}

/* ---- numbers ---- */

/* Compare a number instance with a limit: <0, 0, >0. Exact for int64 against int64; long double
 * keeps int64 exact against doubles. */
static int num_cmp(const json_t *inst, const json_t *limit) {
  if (json_is_integer(inst) && json_is_integer(limit)) {
    json_int_t a = json_integer_value(inst), b = json_integer_value(limit);
    return (a > b) - (a < b);
  }
  long double a = json_is_integer(inst) ? (long double)json_integer_value(inst)
                                        : (long double)json_real_value(inst);
  long double b = json_is_integer(limit) ? (long double)json_integer_value(limit)
                                         : (long double)json_real_value(limit);
  return (a > b) - (a < b);
}

static bool is_multiple(const json_t *inst, const api_schema *s) {
  if (json_is_integer(inst) && json_is_integer(s->multiple_json))
    return json_integer_value(inst) % json_integer_value(s->multiple_json) == 0;
  double x = json_number_value(inst), d = s->multiple_of;
  if (d == floor(d)) return fmod(x, d) == 0; /* exact in IEEE arithmetic */
  double q = x / d;
  if (!isfinite(q)) return false;
  double r = nearbyint(q);
  if (fabs(q) >= 9007199254740992.0) return true; /* beyond 2^53 every double quotient is whole */
  /* The quotient of decimal values is rarely exact in binary: 0.0075 / 0.0001 gives
   * 75.00000000000001. Accept a remainder within a few ulps of x. */
  return fabs(x - r * d) <= 4 * 2.220446049250313e-16 * fmax(fabs(x), fabs(r * d));
}

/* ---- enum, const, uniqueItems ---- */

static bool in_enum(const api_schema *s, const json_t *inst) {
  if (s->n_enum <= 8) {
    for (size_t i = 0; i < s->n_enum; i++)
      if (api__json_equal(s->enum_values[i].value, inst)) return true;
    return false;
  }
  uint64_t h = api__json_hash(inst);
  size_t lo = 0, hi = s->n_enum;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->enum_values[mid].hash < h)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < s->n_enum && s->enum_values[lo].hash == h; lo++)
    if (api__json_equal(s->enum_values[lo].value, inst)) return true;
  return false;
}

typedef struct hashed_item {
  uint64_t hash;
  size_t index;
} hashed_item;

static int hashed_cmp(const void *a, const void *b) {
  const hashed_item *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* Finds a duplicate pair in O(n log n): sort by hash, compare within equal-hash runs. Returns
 * true when unique; otherwise *i < *j are two equal items. */
static bool unique_items(vctx *c, const json_t *a, size_t *di, size_t *dj) {
  size_t n = json_array_size(a);
  if (n <= 16) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++)
        if (api__json_equal(json_array_get(a, i), json_array_get(a, j))) {
          *di = i, *dj = j;
          return false;
        }
    return true;
  }
  hashed_item *h = api__malloc(n * sizeof(*h));
  if (!h) {
    c->oom = c->halt = true;
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    h[i].hash = api__json_hash(json_array_get(a, i));
    h[i].index = i;
  }
  qsort(h, n, sizeof(*h), hashed_cmp);
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++)
    for (size_t j = i + 1; j < n && h[j].hash == h[i].hash && ok; j++)
      if (api__json_equal(json_array_get(a, h[i].index), json_array_get(a, h[j].index))) {
        *di = h[i].index < h[j].index ? h[i].index : h[j].index;
        *dj = h[i].index < h[j].index ? h[j].index : h[i].index;
        ok = false;
      }
  api__free(h);
  return ok;
}

/* ---- the walk ---- */

static bool v_node(vctx *c, const api_schema *s, const json_t *inst, const pseg *path, evset *ev);

static unsigned inst_types(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_NULL:
      return SCH_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
      return SCH_BOOLEAN;
    case JSON_OBJECT:
      return SCH_OBJECT;
    case JSON_ARRAY:
      return SCH_ARRAY;
    case JSON_STRING:
      return SCH_STRING;
    case JSON_INTEGER:
      return SCH_NUMBER | SCH_INTEGER;
    case JSON_REAL: {
      double d = json_real_value(v);
      return d == floor(d) && isfinite(d) ? SCH_NUMBER | SCH_INTEGER : SCH_NUMBER;
    }
  }
  return 0;
}

static bool type_error(vctx *c, const api_schema *s, const pseg *path) {
  return FAIL_KW(c, path, s, "type", KWI_TYPE);
}

static const sch_prop *find_prop(const api_schema *s, const char *key, size_t len) {
  if (!s->prop_table) {
    for (size_t i = 0; i < s->n_props; i++)
      if (s->props[i].len == len && !memcmp(s->props[i].name, key, len)) return &s->props[i];
    return NULL;
  }
  uint32_t j = (uint32_t)api__str_hash(key, len) & s->prop_mask;
  while (s->prop_table[j] != UINT32_MAX) {
    const sch_prop *p = &s->props[s->prop_table[j]];
    if (p->len == len && !memcmp(p->name, key, len)) return p;
    j = (j + 1) & s->prop_mask;
  }
  return NULL;
}

/* Evaluate s silently (no errors recorded, stop at the first failure). */
static bool v_silent(vctx *c, const api_schema *s, const json_t *inst, const pseg *path,
                     evset *ev) {
  c->silent++;
  bool ok = v_node(c, s, inst, path, ev);
  c->silent--;
  return ok;
}

static bool pattern_check(vctx *c, const api_schema *s, const json_t *inst, const pseg *path) {
  int rc = api__regex_search(&s->pattern, c->doc->mctx, json_string_value(inst),
                             json_string_length(inst));
  if (rc == 1) return true;
  if (rc == 0) return FAIL_KW(c, path, s, "pattern", KWI_PATTERN);
  if (rc == -2) {
    c->oom = c->halt = true;
    return false;
  }
  if (rc == -3)
    return fail(c, path, "pattern", json_pack("{ss}", "pattern", s->pattern.source),
                "string is not valid UTF-8");
  return fail(c, path, "pattern", json_pack("{sssb}", "pattern", s->pattern.source, "limitHit", 1),
              "regular expression match limit hit for pattern \"%.200s\"", s->pattern.source);
}

static bool v_numeric(vctx *c, const api_schema *s, const json_t *inst, const pseg *path) {
  bool ok = true;
  if ((s->kw & KW_MINIMUM) && num_cmp(inst, s->minimum_json) < 0) {
    ok = FAIL_KW(c, path, s, "minimum", KWI_MINIMUM);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_MAXIMUM) && num_cmp(inst, s->maximum_json) > 0) {
    ok = FAIL_KW(c, path, s, "maximum", KWI_MAXIMUM);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_XMINIMUM) && num_cmp(inst, s->xminimum_json) <= 0) {
    ok = FAIL_KW(c, path, s, "exclusiveMinimum", KWI_XMINIMUM);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_XMAXIMUM) && num_cmp(inst, s->xmaximum_json) >= 0) {
    ok = FAIL_KW(c, path, s, "exclusiveMaximum", KWI_XMAXIMUM);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_MULTIPLE) && !is_multiple(inst, s)) {
    ok = FAIL_KW(c, path, s, "multipleOf", KWI_MULTIPLE);
  }
  return ok;
}

static bool v_string(vctx *c, const api_schema *s, const json_t *inst, const pseg *path) {
  bool ok = true;
  const char *str = json_string_value(inst);
  size_t len = json_string_length(inst);
  if (s->kw & (KW_MINLEN | KW_MAXLEN)) {
    size_t n = (s->kw & KW_MAXLEN) && len <= s->max_length && !(s->kw & KW_MINLEN)
                   ? len /* byte length bounds the code point count */
                   : api__utf8_length(str, len);
    if ((s->kw & KW_MINLEN) && n < s->min_length) {
      ok = FAIL_KW(c, path, s, "minLength", KWI_MINLEN);
      if (FAST(c)) return false;
    }
    if ((s->kw & KW_MAXLEN) && n > s->max_length) {
      ok = FAIL_KW(c, path, s, "maxLength", KWI_MAXLEN);
      if (FAST(c)) return false;
    }
  }
  if ((s->kw & KW_PATTERN) && !pattern_check(c, s, inst, path)) {
    ok = false;
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_FORMAT) && !s->format(str, len)) ok = FAIL_KW(c, path, s, "format", KWI_FORMAT);
  return ok;
}

static bool v_array(vctx *c, const api_schema *s, const json_t *inst, const pseg *path, evset *ev) {
  bool ok = true;
  size_t n = json_array_size(inst);
  if ((s->kw & KW_MINITEMS) && n < s->min_items) {
    ok = FAIL_KW(c, path, s, "minItems", KWI_MINITEMS);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_MAXITEMS) && n > s->max_items) {
    ok = FAIL_KW(c, path, s, "maxItems", KWI_MAXITEMS);
    if (FAST(c)) return false;
  }
  size_t di, dj;
  if ((s->kw & KW_UNIQUE) && !unique_items(c, inst, &di, &dj)) {
    if (c->halt) return false;
    ok = fail_unique(c, path, di, dj);
    if (FAST(c)) return false;
  }
  if (!(s->kw & KW_ARRAY)) return ok;
  size_t np = s->n_prefix_items < n ? s->n_prefix_items : n;
  for (size_t i = 0; i < np; i++) {
    pseg seg = {path, NULL, i};
    if (!v_node(c, s->prefix_items[i], json_array_get(inst, i), &seg, NULL)) {
      ok = false;
      if (FAST(c)) return false;
    } else {
      ev_set(ev, i);
    }
  }
  if (s->items) {
    for (size_t i = s->n_prefix_items; i < n; i++) {
      pseg seg = {path, NULL, i};
      if (!v_node(c, s->items, json_array_get(inst, i), &seg, NULL)) {
        ok = false;
        if (FAST(c)) return false;
      } else {
        ev_set(ev, i);
      }
    }
  }
  if (s->contains) {
    size_t min = (s->kw & KW_MINCONTAINS) ? s->min_contains : 1, count = 0;
    bool need_all = ev || (s->kw & KW_MAXCONTAINS);
    for (size_t i = 0; i < n; i++) {
      pseg seg = {path, NULL, i};
      if (v_silent(c, s->contains, json_array_get(inst, i), &seg, NULL)) {
        count++;
        ev_set(ev, i);
        if (!need_all && count >= min) break;
      }
      if (c->halt) return false;
    }
    if (count < min) {
      ok = FAIL_KW(c, path, s, (s->kw & KW_MINCONTAINS) ? "minContains" : "contains", KWI_CONTAINS);
      if (FAST(c)) return false;
    }
    if ((s->kw & KW_MAXCONTAINS) && count > s->max_contains) {
      ok = FAIL_KW(c, path, s, "maxContains", KWI_MAXCONTAINS);
      if (FAST(c)) return false;
    }
  }
  return ok;
}

static bool v_object(vctx *c, const api_schema *s, const json_t *inst, const pseg *path,
                     evset *ev) {
  bool ok = true;
  size_t n = json_object_size(inst);
  if ((s->kw & KW_MINPROPS) && n < s->min_props) {
    ok = FAIL_KW(c, path, s, "minProperties", KWI_MINPROPS);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_MAXPROPS) && n > s->max_props) {
    ok = FAIL_KW(c, path, s, "maxProperties", KWI_MAXPROPS);
    if (FAST(c)) return false;
  }
  if (!(s->kw & KW_OBJECT)) return ok;
  for (size_t i = 0; i < s->n_required; i++) {
    if (!json_object_get(inst, s->required[i])) {
      ok = fail_fixed(c, path, "required", s->req_params[i], s->req_msg[i]);
      if (FAST(c)) return false;
    }
  }
  for (size_t i = 0; i < s->n_dep_required; i++) {
    const sch_dep_required *d = &s->dep_required[i];
    if (!json_object_getn(inst, d->name, d->len)) continue;
    for (size_t j = 0; j < d->n; j++) {
      if (json_object_get(inst, d->names[j])) continue;
      ok = fail(c, path, "dependentRequired", dep_params(d->name, d->len, d->names[j]),
                "must have property '%.200s' when property '%.200s' is present", d->names[j],
                d->name);
      if (FAST(c)) return false;
    }
  }
  if (s->n_props || s->n_pattern_props || s->additional || s->property_names) {
    size_t idx = 0;
    for (void *it = json_object_iter((json_t *)inst); it;
         it = json_object_iter_next((json_t *)inst, it), idx++) {
      const char *key = json_object_iter_key(it);
      size_t klen = json_object_iter_key_len(it);
      const json_t *val = json_object_iter_value(it);
      pseg seg = {path, key, klen};
      if (s->property_names) {
        json_t *name = json_stringn_nocheck(key, klen);
        if (!name) {
          c->oom = c->halt = true;
          return false;
        }
        bool good = v_silent(c, s->property_names, name, &seg, NULL);
        json_decref(name);
        if (c->halt) return false;
        if (!good) {
          ok = fail_key(c, path, "propertyNames", "propertyName", "property name '", key, klen,
                        "' is invalid");
          if (FAST(c)) return false;
        }
      }
      bool matched = false, good = true;
      const sch_prop *p = s->n_props ? find_prop(s, key, klen) : NULL;
      if (p) {
        matched = true;
        if (!v_node(c, p->schema, val, &seg, NULL)) {
          good = ok = false;
          if (FAST(c)) return false;
        }
      }
      for (size_t j = 0; j < s->n_pattern_props; j++) {
        int rc = api__regex_search(&s->pattern_props[j].re, c->doc->mctx, key, klen);
        if (rc == 0) continue;
        if (rc < 0) {
          if (rc == -2) {
            c->oom = c->halt = true;
            return false;
          }
          good = ok = fail(c, &seg, "patternProperties",
                           json_pack("{ss}", "pattern", s->pattern_props[j].re.source),
                           rc == -3 ? "property name is not valid UTF-8"
                                    : "regular expression match limit hit for pattern \"%.200s\"",
                           s->pattern_props[j].re.source);
          if (FAST(c)) return false;
          continue;
        }
        matched = true;
        if (!v_node(c, s->pattern_props[j].schema, val, &seg, NULL)) {
          good = ok = false;
          if (FAST(c)) return false;
        }
      }
      if (!matched && s->additional) {
        matched = true;
        if (s->additional->boolean == 0) {
          good = ok = fail_key(c, path, "additionalProperties", "additionalProperty",
                               "must NOT have additional properties ('", key, klen, "')");
          if (FAST(c)) return false;
        } else if (!v_node(c, s->additional, val, &seg, NULL)) {
          good = ok = false;
          if (FAST(c)) return false;
        }
      }
      if (matched && good) ev_set(ev, idx);
    }
  }
  for (size_t i = 0; i < s->n_dep_schemas; i++) {
    const sch_dep_schema *d = &s->dep_schemas[i];
    if (!json_object_getn(inst, d->name, d->len)) continue;
    if (!v_node(c, d->schema, inst, path, ev)) {
      ok = false;
      if (FAST(c)) return false;
    }
  }
  return ok;
}

/* Evaluate branch b silently; on success merge its annotations into ev. */
static bool branch(vctx *c, const api_schema *b, const json_t *inst, const pseg *path, evset *ev) {
  if (!ev) return v_silent(c, b, inst, path, NULL);
  evset tmp;
  if (!ev_init(c, &tmp, ev->n)) return false;
  bool good = v_silent(c, b, inst, path, &tmp);
  if (good) ev_merge(ev, &tmp);
  ev_free(&tmp);
  return good;
}

static bool v_applicators(vctx *c, const api_schema *s, const json_t *inst, const pseg *path,
                          evset *ev) {
  bool ok = true;
  for (size_t i = 0; i < s->n_all_of; i++) {
    if (!v_node(c, s->all_of[i], inst, path, ev)) {
      ok = false;
      if (FAST(c)) return false;
    }
  }
  if (s->n_any_of) {
    bool any = false;
    for (size_t i = 0; i < s->n_any_of; i++) {
      if (branch(c, s->any_of[i], inst, path, ev)) {
        any = true;
        if (!ev) break;
      }
      if (c->halt) return false;
    }
    if (!any) {
      ok = fail(c, path, "anyOf", NULL, "must match a schema in anyOf");
      if (FAST(c)) return false;
    }
  }
  if (s->n_one_of) {
    size_t count = 0, first = 0, second = 0;
    for (size_t i = 0; i < s->n_one_of && count < 2; i++) {
      evset tmp;
      if (ev && !ev_init(c, &tmp, ev->n)) return false;
      if (v_silent(c, s->one_of[i], inst, path, ev ? &tmp : NULL)) {
        if (count++ == 0) {
          first = i;
          if (ev) ev_merge(ev, &tmp);
        } else {
          second = i;
        }
      }
      if (ev) ev_free(&tmp);
      if (c->halt) return false;
    }
    if (count != 1) {
      ok =
          fail(c, path, "oneOf",
               count ? json_pack("{s[II]}", "passingSchemas", (json_int_t)first, (json_int_t)second)
                     : json_pack("{sn}", "passingSchemas"),
               "must match exactly one schema in oneOf");
      if (FAST(c)) return false;
    }
  }
  if (s->not_) {
    bool good = v_silent(c, s->not_, inst, path, NULL);
    if (c->halt) return false;
    if (good) {
      ok = fail(c, path, "not", NULL, "must NOT be valid");
      if (FAST(c)) return false;
    }
  }
  if (s->if_) {
    bool cond = branch(c, s->if_, inst, path, ev);
    if (c->halt) return false;
    const api_schema *next = cond ? s->then_ : s->else_;
    if (next && !v_node(c, next, inst, path, ev)) {
      ok = false;
      if (FAST(c)) return false;
    }
  }
  return ok;
}

static bool v_body(vctx *c, const api_schema *s, const json_t *inst, const pseg *path, evset *ev) {
  if (s->boolean >= 0)
    return s->boolean ? true : fail(c, path, "false", NULL, "no value is allowed here");
  bool ok = true;
  if (s->ref && !v_node(c, s->ref, inst, path, ev)) {
    ok = false;
    if (FAST(c)) return false;
  }
  if (s->dynamic_ref) {
    const api_schema *target = s->dynamic_ref;
    if (s->dynamic_name) {
      /* The outermost resource of the dynamic scope with this $dynamicAnchor wins. */
      for (const scope_frame *f = c->scope; f; f = f->up)
        for (size_t i = 0; i < f->res->n_dynamic; i++)
          if (!strcmp(f->res->dynamic[i].name, s->dynamic_name)) target = f->res->dynamic[i].schema;
    }
    if (!v_node(c, target, inst, path, ev)) {
      ok = false;
      if (FAST(c)) return false;
    }
  }
  unsigned t = inst_types(inst);
  if ((s->kw & KW_TYPE) && !(s->types & t)) {
    ok = type_error(c, s, path);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_CONST) && !api__json_equal(s->const_value.value, inst)) {
    ok = FAIL_KW(c, path, s, "const", KWI_CONST);
    if (FAST(c)) return false;
  }
  if ((s->kw & KW_ENUM) && !in_enum(s, inst)) {
    ok = FAIL_KW(c, path, s, "enum", KWI_ENUM);
    if (FAST(c)) return false;
  }
  bool sub_ok = true;
  if (t & SCH_NUMBER)
    sub_ok = v_numeric(c, s, inst, path);
  else if (t == SCH_STRING)
    sub_ok = v_string(c, s, inst, path);
  else if (t == SCH_ARRAY)
    sub_ok = v_array(c, s, inst, path, ev);
  else if (t == SCH_OBJECT)
    sub_ok = v_object(c, s, inst, path, ev);
  if (!sub_ok) {
    ok = false;
    if (FAST(c)) return false;
  }
  if ((s->all_of || s->any_of || s->one_of || s->not_ || s->if_) &&
      !v_applicators(c, s, inst, path, ev)) {
    ok = false;
    if (FAST(c)) return false;
  }
  return ok;
}

/* The unevaluated* keywords: run after every other keyword of the node has marked ev. */
static bool v_unevaluated(vctx *c, const api_schema *s, const json_t *inst, const pseg *path,
                          evset *mine) {
  bool ok = true;
  if (s->track_props) {
    size_t idx = 0;
    for (void *it = json_object_iter((json_t *)inst); it;
         it = json_object_iter_next((json_t *)inst, it), idx++) {
      if (ev_get(mine, idx)) continue;
      const char *key = json_object_iter_key(it);
      size_t klen = json_object_iter_key_len(it);
      pseg seg = {path, key, klen};
      if (s->unevaluated_props->boolean == 0) {
        ok = fail_key(c, path, "unevaluatedProperties", "unevaluatedProperty",
                      "must NOT have unevaluated properties ('", key, klen, "')");
      } else if (!v_node(c, s->unevaluated_props, json_object_iter_value(it), &seg, NULL)) {
        ok = false;
      }
      if (!ok && FAST(c)) return false;
      ev_set(mine, idx);
    }
  } else {
    size_t n = json_array_size(inst);
    for (size_t i = 0; i < n; i++) {
      if (ev_get(mine, i)) continue;
      pseg seg = {path, NULL, i};
      if (s->unevaluated_items->boolean == 0) {
        ok = fail(c, &seg, "unevaluatedItems",
                  param1("unevaluatedItem", json_integer((json_int_t)i)),
                  "must NOT have unevaluated items");
      } else if (!v_node(c, s->unevaluated_items, json_array_get(inst, i), &seg, NULL)) {
        ok = false;
      }
      if (!ok && FAST(c)) return false;
      ev_set(mine, i);
    }
  }
  return ok;
}

static bool v_node(vctx *c, const api_schema *s, const json_t *inst, const pseg *path, evset *ev) {
  if (c->halt) return false;
  if (++c->steps > STEP_BUDGET) {
    unsigned silent = c->silent;
    c->silent = 0;
    fail(c, path, "$limit", NULL, "validation exceeded its step budget");
    c->silent = silent;
    c->halt = true;
    return false;
  }
  if (c->depth >= c->doc->max_depth) {
    unsigned silent = c->silent;
    c->silent = 0;
    fail(c, path, "$depth", json_pack("{sI}", "limit", (json_int_t)c->doc->max_depth),
         "maximum evaluation depth %u exceeded", c->doc->max_depth);
    c->silent = silent;
    c->halt = true;
    return false;
  }
  c->depth++;
  scope_frame frame;
  const scope_frame *saved = c->scope;
  if (!saved || saved->res != s->res) {
    frame.up = saved;
    frame.res = s->res;
    c->scope = &frame;
  }
  bool ok;
  bool track = (s->track_props && json_is_object(inst)) || (s->track_items && json_is_array(inst));
  if (!track) {
    ok = v_body(c, s, inst, path, ev);
  } else {
    evset mine;
    size_t n = json_is_object(inst) ? json_object_size(inst) : json_array_size(inst);
    if (!ev_init(c, &mine, n)) {
      ok = false;
    } else {
      ok = v_body(c, s, inst, path, &mine);
      if (ok || !FAST(c)) ok = v_unevaluated(c, s, inst, path, &mine) && ok;
      if (ok) ev_merge(ev, &mine);
      ev_free(&mine);
    }
  }
  c->scope = saved;
  c->depth--;
  return ok;
}

void api_schema_result_free(api_schema_result *res) {
  if (!res) return;
  result_reset(res);
  res_store *st = res->internal_;
  if (st) {
    for (size_t i = 0; i < st->n_spare; i++) json_decref(st->spare[i]);
    for (str_chunk *c = st->chunks, *next; c; c = next) {
      next = c->next;
      api__free(c);
    }
    api__free(st);
  }
  api__free(res->errors);
  res->errors = NULL;
  res->internal_ = NULL;
}

int api_schema_validate(const api_schema *schema, const json_t *instance, api_schema_result *res) {
  if (!schema || !instance) return api__fail(API_EINVAL, "api_schema_validate: NULL argument");
  vctx c = {.doc = schema->doc, .res = res, .silent = res ? 0 : 1};
  if (res) {
    if (res->size < sizeof(size_t))
      return api__fail(API_EINVAL, "api_schema_validate: result without size");
    result_reset(res);
    c.max_errors = res->max_errors ? res->max_errors : 100;
  }
  bool ok = v_node(&c, schema, instance, NULL, NULL);
  if (c.oom) return api__fail(API_ENOMEM, "schema validation: out of memory");
  if (ok) return 0;
  if (res && res->count == 0) /* e.g. a failure only seen by a silent branch: keep one error */
    fail(&c, NULL, "false", NULL, "invalid");
  return API_EVALIDATION;
}

/* A JSON string for text that should be UTF-8 but may not be (keys of objects built with the
 * _nocheck functions end up in paths and messages). */
static json_t *text_value(const char *s) {
  json_t *v = json_string(s);
  return v ? v : json_string("(invalid UTF-8)");
}

json_t *api_schema_result_details(const api_schema_result *res) {
  json_t *arr = json_array();
  if (!arr || !res) return arr;
  for (size_t i = 0; i < res->count; i++) {
    const api_schema_error *e = &res->errors[i];
    json_t *o = json_object();
    if (!o || json_array_append_new(arr, o) ||
        json_object_set_new_nocheck(o, "path", text_value(e->path)) ||
        json_object_set_new_nocheck(o, "keyword", json_string(e->keyword)) ||
        json_object_set_new_nocheck(o, "message", text_value(e->message)) ||
        json_object_set_nocheck(o, "params", e->params)) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

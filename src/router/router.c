/*
 * The route table: a radix tree over the raw request path.
 *
 * A static node matches a run of bytes (its prefix), which may span several segments. Below it
 * hang static children (distinct first bytes, found with one memchr), at most one parameter child
 * and at most one wildcard child; those two only hang below nodes whose path ends with '/'. A
 * parameter node consumes exactly one non-empty segment, so its static children all start with
 * '/' and there is at most one. Because every edge consumes a determined number of bytes, a lookup
 * reaches each node at most once: backtracking (static, then param, then wildcard) costs at most
 * one visit per node of the tree, never an exponential search.
 *
 * Each node holds its routes in an array indexed by an interned method id; parameter names live
 * in the route entry, not in the node, so routes may name the same position differently.
 */
#include "router/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/chars.h"
#include "libapi/common.h"
#include "util/alloc.h"

/* Interned method ids: the well-known ones are fixed, others get the next free id. */
enum { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_PATCH, M_OPTIONS, M_NSTD };
/* Method sets are uint64_t bit masks. */
#define MAX_METHODS 64
#define BIT(id) ((uint64_t)1 << (id))

/* Beyond this many distinct multi-route method unions, Allow falls back to the router's full
 * method list; only pathological tables (many custom methods, overlapping routes) get there. */
#define MAX_ALLOW_UNIONS 1024

static const char *const std_methods[M_NSTD] = {"GET",    "HEAD",  "POST",   "PUT",
                                                "DELETE", "PATCH", "OPTIONS"};

enum { N_STATIC, N_PARAM, N_WILD };

typedef struct route_ent {
  void *route;
  const char *pattern; /* stored after names[] in the same block */
  unsigned nparams;
  struct {
    const char *name; /* points into pattern */
    size_t len;
  } names[];
} route_ent;

typedef struct node {
  char *prefix; /* static nodes: the bytes this edge matches (len >= 1, except the root) */
  size_t len;
  uint64_t mask; /* methods that have a route ending here */
  uint64_t sub;  /* mask of this node and all below it, set at freeze: prunes lookups */
  struct node **kids;
  unsigned char *firsts; /* firsts[i] == kids[i]->prefix[0], scanned with memchr */
  struct node *param;
  struct node *wild;
  route_ent **slots; /* by method id; nslots long */
  unsigned short nkids;
  unsigned char nslots;
  unsigned char kind;
} node;

typedef struct allow_ent {
  uint64_t mask;
  const char *str;
} allow_ent;

struct api__router {
  node *root; /* static node with prefix "/": every pattern and every matching path starts so */
  const char *methods[MAX_METHODS]; /* ids >= M_NSTD are owned copies */
  size_t method_lens[MAX_METHODS];
  unsigned nmethods;
  bool frozen;
  allow_ent *allow; /* sorted by mask */
  size_t nallow;
  char *allow_buf; /* the strings of allow[] */
  const char *allow_all;
};

/* ---- methods ---- */

static int method_id(const api__router *r, const char *s, size_t n) {
  /* The common methods are recognised without touching the table. */
  switch (n) {
    case 3:
      if (memcmp(s, "GET", 3) == 0) return M_GET;
      if (memcmp(s, "PUT", 3) == 0) return M_PUT;
      break;
    case 4:
      if (memcmp(s, "POST", 4) == 0) return M_POST;
      if (memcmp(s, "HEAD", 4) == 0) return M_HEAD;
      break;
    case 5:
      if (memcmp(s, "PATCH", 5) == 0) return M_PATCH;
      break;
    case 6:
      if (memcmp(s, "DELETE", 6) == 0) return M_DELETE;
      break;
    case 7:
      if (memcmp(s, "OPTIONS", 7) == 0) return M_OPTIONS;
      break;
  }
  for (unsigned i = M_NSTD; i < r->nmethods; i++)
    if (r->method_lens[i] == n && memcmp(r->methods[i], s, n) == 0) return (int)i;
  return -1;
}

static uint64_t effective(uint64_t mask) {
  if (mask & BIT(M_GET)) mask |= BIT(M_HEAD);
  return mask | BIT(M_OPTIONS);
}

/* ---- nodes ---- */

static node *node_new(int kind, const char *prefix, size_t len) {
  node *n = api__calloc(1, sizeof(*n));
  if (!n) return NULL;
  n->kind = (unsigned char)kind;
  if (len) {
    n->prefix = api__malloc(len);
    if (!n->prefix) {
      api__free(n);
      return NULL;
    }
    memcpy(n->prefix, prefix, len);
    n->len = len;
  }
  return n;
}

static void node_free(node *n) {
  if (!n) return;
  for (unsigned i = 0; i < n->nkids; i++) node_free(n->kids[i]);
  node_free(n->param);
  node_free(n->wild);
  for (unsigned i = 0; i < n->nslots; i++) api__free(n->slots[i]);
  api__free(n->slots);
  api__free(n->kids);
  api__free(n->firsts);
  api__free(n->prefix);
  api__free(n);
}

static node *kid_by_first(const node *n, unsigned char c) {
  if (!n->nkids) return NULL;
  const unsigned char *f = memchr(n->firsts, c, n->nkids);
  return f ? n->kids[f - n->firsts] : NULL;
}

static int add_kid(node *n, node *kid) {
  node **kids = api__realloc(n->kids, (n->nkids + 1u) * sizeof(*kids));
  if (!kids) return API_ENOMEM;
  n->kids = kids;
  unsigned char *firsts = api__realloc(n->firsts, n->nkids + 1u);
  if (!firsts) return API_ENOMEM;
  n->firsts = firsts;
  kids[n->nkids] = kid;
  firsts[n->nkids] = (unsigned char)kid->prefix[0];
  n->nkids++;
  return 0;
}

/* Cut n's prefix after k bytes; the rest, with everything n held, moves to a new only child.
 * All allocations happen before anything changes, so a failure leaves n as it was. */
static int split(node *n, size_t k) {
  node *tail = node_new(N_STATIC, n->prefix + k, n->len - k);
  node **kids = api__malloc(sizeof(*kids));
  unsigned char *firsts = api__malloc(1);
  if (!tail || !kids || !firsts) {
    node_free(tail);
    api__free(kids);
    api__free(firsts);
    return API_ENOMEM;
  }
  char *tail_prefix = tail->prefix;
  *tail = *n;
  tail->prefix = tail_prefix;
  tail->len = n->len - k;
  kids[0] = tail;
  firsts[0] = (unsigned char)tail_prefix[0];
  /* n keeps its (now oversized) prefix buffer: no reallocation that could fail. */
  n->len = k;
  n->kids = kids;
  n->firsts = firsts;
  n->nkids = 1;
  n->param = n->wild = NULL;
  n->slots = NULL;
  n->nslots = 0;
  n->mask = 0;
  return 0;
}

/* The node where the static run s ends below n, or NULL if there is none. */
static node *find_run(node *n, const char *s, size_t len) {
  while (len) {
    node *kid = kid_by_first(n, (unsigned char)s[0]);
    if (!kid || kid->len > len || memcmp(kid->prefix, s, kid->len) != 0) return NULL;
    s += kid->len;
    len -= kid->len;
    n = kid;
  }
  return n;
}

/* Like find_run, creating and splitting nodes as needed. On failure the tree may have gained
 * splits and empty nodes, which match nothing: lookups and later adds stay correct. */
static int insert_run(node *n, const char *s, size_t len, node **out) {
  while (len) {
    node *kid = kid_by_first(n, (unsigned char)s[0]);
    if (!kid) {
      kid = node_new(N_STATIC, s, len);
      if (!kid) return API_ENOMEM;
      if (add_kid(n, kid)) {
        node_free(kid);
        return API_ENOMEM;
      }
      *out = kid;
      return 0;
    }
    size_t k = 0, lim = kid->len < len ? kid->len : len;
    while (k < lim && kid->prefix[k] == s[k]) k++;
    if (k < kid->len && split(kid, k)) return API_ENOMEM;
    s += k;
    len -= k;
    n = kid;
  }
  *out = n;
  return 0;
}

/* ---- patterns ---- */

typedef struct tok {
  int kind;   /* N_STATIC: a run of the pattern; N_PARAM / N_WILD: the name */
  size_t off; /* into the pattern */
  size_t len;
} tok;

typedef struct shape {
  tok t[2 * API__MAX_PARAMS + 1]; /* static runs alternate with params */
  unsigned n;
  unsigned nparams;
} shape;

static bool is_name_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 pchar, less '*' (reserved for wildcards) and '%' (checked with its two digits). */
static bool is_static_char(unsigned char c) {
  if (is_name_char(c)) return true;
  return c != 0 && strchr("-.~!$&'()+,;=:@", c) != NULL;
}

static const char *describe(char buf[16], unsigned char b) {
  if (b > 0x20 && b < 0x7f)
    snprintf(buf, 16, "character '%c'", b);
  else
    snprintf(buf, 16, "byte 0x%02x", b);
  return buf;
}

/* Split pattern into static runs and params. Returns 0, or -1 with why filled. */
static int parse(const char *pat, size_t plen, shape *sh, char *why, size_t whylen) {
  sh->n = sh->nparams = 0;
  if (plen == 0 || pat[0] != '/') {
    snprintf(why, whylen, "must start with '/'");
    return -1;
  }
  size_t run = 0; /* start of the static run being collected */
  for (size_t seg = 1;;) {
    size_t end = seg;
    while (end < plen && pat[end] != '/') end++;
    bool last = end == plen;
    if (end == seg) {
      if (last) break; /* the root "/" or a trailing slash */
      snprintf(why, whylen, "empty segment (\"//\")");
      return -1;
    }
    char c = pat[seg];
    if (c == ':' || c == '*') {
      const char *what = c == ':' ? "parameter" : "wildcard";
      size_t name = seg + 1, nlen = end - name;
      if (nlen == 0) {
        snprintf(why, whylen, "%s without a name (use '%cname')", what, c);
        return -1;
      }
      for (size_t i = name; i < end; i++) {
        if (!is_name_char((unsigned char)pat[i])) {
          char b[16];
          snprintf(why, whylen, "bad %s name: %s (letters, digits and '_' only)", what,
                   describe(b, (unsigned char)pat[i]));
          return -1;
        }
      }
      if (c == '*' && !last) {
        snprintf(why, whylen, "wildcard \"*%.*s\" must be the last segment",
                 (int)(nlen > 64 ? 64 : nlen), pat + name);
        return -1;
      }
      if (sh->nparams == API__MAX_PARAMS) {
        snprintf(why, whylen, "more than %d parameters", API__MAX_PARAMS);
        return -1;
      }
      for (unsigned i = 0; i < sh->n; i++) {
        const tok *t = &sh->t[i];
        if (t->kind != N_STATIC && t->len == nlen && memcmp(pat + t->off, pat + name, nlen) == 0) {
          snprintf(why, whylen, "parameter name \"%.*s\" used twice", (int)(nlen > 64 ? 64 : nlen),
                   pat + name);
          return -1;
        }
      }
      sh->t[sh->n++] = (tok){N_STATIC, run, seg - run};
      sh->t[sh->n++] = (tok){c == ':' ? N_PARAM : N_WILD, name, nlen};
      sh->nparams++;
      run = end;
    } else {
      for (size_t i = seg; i < end; i++) {
        unsigned char b = (unsigned char)pat[i];
        if (b == '%') {
          if (i + 2 >= end || !is_hex((unsigned char)pat[i + 1]) ||
              !is_hex((unsigned char)pat[i + 2])) {
            snprintf(why, whylen, "bad percent-encoding at offset %zu", i);
            return -1;
          }
          i += 2;
        } else if (b == '*') {
          snprintf(why, whylen, "'*' inside a segment (a wildcard is a whole segment '*name')");
          return -1;
        } else if (!is_static_char(b)) {
          char d[16];
          snprintf(why, whylen, "%s not allowed in a path", describe(d, b));
          return -1;
        }
      }
    }
    if (last) break;
    seg = end + 1;
  }
  if (run < plen) sh->t[sh->n++] = (tok){N_STATIC, run, plen - run};
  return 0;
}

/* The node a parsed pattern ends at, or NULL if the tree has no such shape yet. */
static node *find_shape(node *root, const char *pat, const shape *sh) {
  node *n = root;
  for (unsigned i = 0; i < sh->n && n; i++) {
    const tok *t = &sh->t[i];
    if (t->kind == N_PARAM)
      n = n->param;
    else if (t->kind == N_WILD)
      n = n->wild;
    else if (i == 0) /* the leading '/' is the root's prefix */
      n = find_run(n, pat + 1, t->len - 1);
    else
      n = find_run(n, pat + t->off, t->len);
  }
  return n;
}

static int insert_shape(node *root, const char *pat, const shape *sh, node **out) {
  node *n = root;
  for (unsigned i = 0; i < sh->n; i++) {
    const tok *t = &sh->t[i];
    int rc = 0;
    if (t->kind == N_STATIC) {
      rc =
          i == 0 ? insert_run(n, pat + 1, t->len - 1, &n) : insert_run(n, pat + t->off, t->len, &n);
    } else {
      node **slot = t->kind == N_PARAM ? &n->param : &n->wild;
      if (!*slot && !(*slot = node_new(t->kind, NULL, 0))) rc = API_ENOMEM;
      n = *slot;
    }
    if (rc) return rc;
  }
  *out = n;
  return 0;
}

static route_ent *ent_new(void *route, const char *pat, size_t plen, const shape *sh) {
  size_t head = sizeof(route_ent) + sh->nparams * sizeof(((route_ent *)0)->names[0]);
  route_ent *e = api__malloc(head + plen + 1);
  if (!e) return NULL;
  char *copy = (char *)e + head;
  memcpy(copy, pat, plen + 1);
  e->route = route;
  e->pattern = copy;
  e->nparams = 0;
  for (unsigned i = 0; i < sh->n; i++) {
    if (sh->t[i].kind == N_STATIC) continue;
    e->names[e->nparams].name = copy + sh->t[i].off;
    e->names[e->nparams].len = sh->t[i].len;
    e->nparams++;
  }
  return e;
}

/* ---- public: building ---- */

int api__router_new(api__router **out) {
  *out = NULL;
  api__router *r = api__calloc(1, sizeof(*r));
  if (!r) return API_ENOMEM;
  r->root = node_new(N_STATIC, "/", 1);
  if (!r->root) {
    api__free(r);
    return API_ENOMEM;
  }
  for (unsigned i = 0; i < M_NSTD; i++) {
    r->methods[i] = std_methods[i];
    r->method_lens[i] = strlen(std_methods[i]);
  }
  r->nmethods = M_NSTD;
  *out = r;
  return 0;
}

static void allow_clear(api__router *r) {
  api__free(r->allow);
  api__free(r->allow_buf);
  r->allow = NULL;
  r->allow_buf = NULL;
  r->nallow = 0;
  r->allow_all = NULL;
}

void api__router_free(api__router *r) {
  if (!r) return;
  node_free(r->root);
  for (unsigned i = M_NSTD; i < r->nmethods; i++) api__free((char *)r->methods[i]);
  allow_clear(r);
  api__free(r);
}

/* Messages quote at most this much of a pattern, so that two fit in a 256-byte buffer. */
#define QUOTE_MAX 80
#define QUOTE_BUF (QUOTE_MAX * 4 + 4)

/* s as it may appear in a message: shortened, with control and non-ASCII bytes escaped, so that
 * a bad route cannot put raw bytes into a log line. */
static const char *quote(char buf[QUOTE_BUF], const char *s) {
  size_t o = 0;
  for (size_t i = 0; s[i]; i++) {
    if (i == QUOTE_MAX) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f)
      buf[o++] = (char)c;
    else
      o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
  }
  buf[o] = '\0';
  return buf;
}

static int fail(int rc, char *err, size_t errlen, const char *method, const char *pattern,
                const char *why) {
  char qm[QUOTE_BUF], qp[QUOTE_BUF];
  if (err && errlen)
    snprintf(err, errlen, "route %s %s: %s", quote(qm, method), quote(qp, pattern), why);
  return rc;
}

int api__router_add(api__router *r, const char *method, const char *pattern, void *route, char *err,
                    size_t errlen) {
  char why[2 * QUOTE_BUF + 64];
  const char *m = method ? method : "(null)", *p = pattern ? pattern : "(null)";
  if (r->frozen)
    return fail(API_ESTATE, err, errlen, m, p, "routes cannot be added after the router is frozen");
  if (!method || !api__is_token(method, strlen(method)))
    return fail(API_EINVAL, err, errlen, m, p, "the method is not an HTTP token");
  if (!pattern) return fail(API_EINVAL, err, errlen, m, p, "no pattern");
  size_t plen = strlen(pattern), mlen = strlen(method);
  shape sh;
  if (parse(pattern, plen, &sh, why, sizeof(why))) return fail(API_EINVAL, err, errlen, m, p, why);

  int id = method_id(r, method, mlen);
  if (id < 0 && r->nmethods == MAX_METHODS) {
    snprintf(why, sizeof(why), "more than %d distinct methods", MAX_METHODS);
    return fail(API_EINVAL, err, errlen, m, p, why);
  }
  node *n = id < 0 ? NULL : find_shape(r->root, pattern, &sh);
  if (n && id < n->nslots && n->slots[id]) {
    char qm[QUOTE_BUF], qp[QUOTE_BUF];
    snprintf(why, sizeof(why), "conflicts with %s %s (same method and shape)", quote(qm, method),
             quote(qp, n->slots[id]->pattern));
    return fail(API_EEXIST, err, errlen, m, p, why);
  }

  route_ent *e = ent_new(route, pattern, plen, &sh);
  if (!e) return fail(API_ENOMEM, err, errlen, m, p, "out of memory");
  if (id < 0) {
    /* Interned before the tree changes; if a later step fails the unused id is harmless. */
    char *copy = api__malloc(mlen + 1);
    if (!copy) {
      api__free(e);
      return fail(API_ENOMEM, err, errlen, m, p, "out of memory");
    }
    memcpy(copy, method, mlen + 1);
    id = (int)r->nmethods++;
    r->methods[id] = copy;
    r->method_lens[id] = mlen;
  }
  if (insert_shape(r->root, pattern, &sh, &n)) {
    api__free(e);
    return fail(API_ENOMEM, err, errlen, m, p, "out of memory");
  }
  if (id >= n->nslots) {
    route_ent **slots = api__realloc(n->slots, ((size_t)id + 1) * sizeof(*slots));
    if (!slots) {
      api__free(e);
      return fail(API_ENOMEM, err, errlen, m, p, "out of memory");
    }
    memset(slots + n->nslots, 0, ((size_t)id + 1 - n->nslots) * sizeof(*slots));
    n->slots = slots;
    n->nslots = (unsigned char)(id + 1);
  }
  n->slots[id] = e;
  n->mask |= BIT(id);
  return 0;
}

/* ---- freezing: Allow strings ---- */

/* A set of method masks: insertion-ordered array plus an open-addressing index. Masks handed to
 * it always have the OPTIONS bit, so 0 marks a free hash slot. */
typedef struct maskset {
  uint64_t *v;
  size_t n, cap;
  uint64_t *h;
  size_t hmask;
} maskset;

static bool maskset_add(maskset *s, uint64_t m) {
  size_t i = (size_t)((m * 0x9E3779B97F4A7C15u) >> 32) & s->hmask;
  for (; s->h[i]; i = (i + 1) & s->hmask)
    if (s->h[i] == m) return true;
  if (s->n == s->cap) return false;
  s->h[i] = m;
  s->v[s->n++] = m;
  return true;
}

static size_t count_terminals(const node *n) {
  size_t c = n->mask ? 1 : 0;
  for (unsigned i = 0; i < n->nkids; i++) c += count_terminals(n->kids[i]);
  if (n->param) c += count_terminals(n->param);
  if (n->wild) c += count_terminals(n->wild);
  return c;
}

static uint64_t settle_node(node *n, maskset *s) {
  uint64_t sub = n->mask;
  if (n->mask) maskset_add(s, effective(n->mask));
  for (unsigned i = 0; i < n->nkids; i++) sub |= settle_node(n->kids[i], s);
  if (n->param) sub |= settle_node(n->param, s);
  if (n->wild) sub |= settle_node(n->wild, s);
  n->sub = sub;
  return sub;
}

static int cmp_allow(const void *a, const void *b) {
  uint64_t x = ((const allow_ent *)a)->mask, y = ((const allow_ent *)b)->mask;
  return x < y ? -1 : x > y;
}

static int build_allow(api__router *r, const uint64_t *masks, size_t n) {
  unsigned order[MAX_METHODS];
  for (unsigned i = 0; i < r->nmethods; i++) {
    unsigned j = i;
    for (; j > 0 && strcmp(r->methods[order[j - 1]], r->methods[i]) > 0; j--)
      order[j] = order[j - 1];
    order[j] = i;
  }
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    for (unsigned id = 0; id < r->nmethods; id++)
      if (masks[i] & BIT(id)) total += r->method_lens[id] + 2;
    total += 1;
  }
  r->allow = api__malloc(n * sizeof(*r->allow));
  r->allow_buf = api__malloc(total);
  if (!r->allow || !r->allow_buf) {
    allow_clear(r);
    return API_ENOMEM;
  }
  char *p = r->allow_buf;
  for (size_t i = 0; i < n; i++) {
    r->allow[i].mask = masks[i];
    r->allow[i].str = p;
    for (unsigned k = 0; k < r->nmethods; k++) {
      unsigned id = order[k];
      if (!(masks[i] & BIT(id))) continue;
      if (p != r->allow[i].str) {
        memcpy(p, ", ", 2);
        p += 2;
      }
      memcpy(p, r->methods[id], r->method_lens[id]);
      p += r->method_lens[id];
    }
    *p++ = '\0';
  }
  r->nallow = n;
  qsort(r->allow, n, sizeof(*r->allow), cmp_allow);
  return 0;
}

static const char *allow_for(const api__router *r, uint64_t mask) {
  size_t lo = 0, hi = r->nallow;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->allow[mid].mask == mask) return r->allow[mid].str;
    if (r->allow[mid].mask < mask)
      lo = mid + 1;
    else
      hi = mid;
  }
  return r->allow_all;
}

/*
 * A path can match several routes at once ("/users/:id" and "/users/new"), and its Allow list is
 * the union of their methods. Lookups must not allocate, so every union that can occur is built
 * here: the closure of the nodes' method sets under union, capped (see MAX_ALLOW_UNIONS).
 */
int api__router_freeze(api__router *r) {
  if (r->frozen) return 0;
  size_t nterm = count_terminals(r->root);
  maskset s = {0};
  s.cap = nterm + MAX_ALLOW_UNIONS + 1;
  size_t hsize = 1;
  while (hsize < 2 * s.cap) hsize <<= 1;
  s.hmask = hsize - 1;
  s.v = api__malloc(s.cap * sizeof(*s.v));
  s.h = api__calloc(hsize, sizeof(*s.h));
  if (!s.v || !s.h) {
    api__free(s.v);
    api__free(s.h);
    return API_ENOMEM;
  }
  uint64_t all = effective(settle_node(r->root, &s));
  size_t base = s.n;
  bool full = false;
  for (size_t i = 0; i < base && !full; i++) {
    for (size_t j = 0, cur = s.n; j < cur; j++) {
      if (s.n - base >= MAX_ALLOW_UNIONS) {
        full = true;
        break;
      }
      maskset_add(&s, s.v[j] | s.v[i]);
    }
  }
  maskset_add(&s, all); /* the cap leaves room for this one */
  int rc = build_allow(r, s.v, s.n);
  api__free(s.v);
  api__free(s.h);
  if (rc) return rc;
  r->allow_all = allow_for(r, all);
  r->frozen = true;
  return 0;
}

/* ---- lookups ---- */

typedef struct walk_ctx {
  const char *end;
  uint64_t want; /* methods that may answer: the request's, plus GET for HEAD */
  unsigned id;
  bool head;
  api__param *params;
} walk_ctx;

static const route_ent *route_at(const node *n, const walk_ctx *c) {
  if (c->id < n->nslots && n->slots[c->id]) return n->slots[c->id];
  /* HEAD is answered by the same node's GET route when it has no HEAD route of its own. */
  if (c->head && M_GET < n->nslots) return n->slots[M_GET];
  return NULL;
}

static const route_ent *walk(const node *n, const char *p, walk_ctx *c, unsigned depth) {
  size_t rem = (size_t)(c->end - p);
  if (rem < n->len || memcmp(p, n->prefix, n->len) != 0) return NULL;
  p += n->len;
  rem -= n->len;
  const route_ent *e;
  if (!rem) {
    if ((e = route_at(n, c))) return e;
  } else {
    const node *kid = kid_by_first(n, (unsigned char)*p);
    if (kid && (kid->sub & c->want) && (e = walk(kid, p, c, depth))) return e;
    const node *pn = n->param;
    if (pn && (pn->sub & c->want)) {
      const char *slash = memchr(p, '/', rem);
      const char *se = slash ? slash : c->end;
      if (se != p) {
        c->params[depth].value = p;
        c->params[depth].value_len = (size_t)(se - p);
        if (se == c->end) {
          if ((e = route_at(pn, c))) return e;
        } else if (pn->nkids && (pn->kids[0]->sub & c->want) &&
                   (e = walk(pn->kids[0], se, c, depth + 1))) {
          return e;
        }
      }
    }
  }
  if (n->wild && (e = route_at(n->wild, c))) {
    c->params[depth].value = p;
    c->params[depth].value_len = rem;
    return e;
  }
  return NULL;
}

/* The methods of every route that matches the path: the slow path behind 405 and OPTIONS. */
static uint64_t collect(const node *n, const char *p, const char *end) {
  size_t rem = (size_t)(end - p);
  if (!n->sub || rem < n->len || memcmp(p, n->prefix, n->len) != 0) return 0;
  p += n->len;
  rem -= n->len;
  uint64_t acc = 0;
  if (!rem) {
    acc |= n->mask;
  } else {
    const node *kid = kid_by_first(n, (unsigned char)*p);
    if (kid) acc |= collect(kid, p, end);
    const node *pn = n->param;
    if (pn) {
      const char *slash = memchr(p, '/', rem);
      const char *se = slash ? slash : end;
      if (se != p) {
        if (se == end)
          acc |= pn->mask;
        else if (pn->nkids)
          acc |= collect(pn->kids[0], se, end);
      }
    }
  }
  if (n->wild) acc |= n->wild->mask;
  return acc;
}

int api__router_find(const api__router *r, const char *method, size_t method_len, const char *path,
                     size_t path_len, api__match *m) {
  m->route = NULL;
  m->pattern = NULL;
  m->allow = NULL;
  m->nparams = 0;
  if (!r->frozen) return API_ESTATE;
  if (!path) {
    path = "";
    path_len = 0;
  }
  int id = method ? method_id(r, method, method_len) : -1;
  /* "OPTIONS *" asks about the server as a whole (RFC 9110 9.3.7): every method it routes. */
  if (id == M_OPTIONS && path_len == 1 && path[0] == '*') {
    m->allow = r->allow_all;
    return API__ROUTE_OPTIONS;
  }
  if (id >= 0) {
    walk_ctx c = {.end = path + path_len,
                  .want = BIT(id) | (id == M_HEAD ? BIT(M_GET) : 0),
                  .id = (unsigned)id,
                  .head = id == M_HEAD,
                  .params = m->params};
    const route_ent *e = (r->root->sub & c.want) ? walk(r->root, path, &c, 0) : NULL;
    if (e) {
      m->route = e->route;
      m->pattern = e->pattern;
      m->nparams = e->nparams;
      for (unsigned i = 0; i < e->nparams; i++) {
        m->params[i].name = e->names[i].name;
        m->params[i].name_len = e->names[i].len;
      }
      return 0;
    }
  }
  uint64_t mask = collect(r->root, path, path + path_len);
  if (!mask) return API_ENOTFOUND;
  m->allow = allow_for(r, effective(mask));
  return id == M_OPTIONS ? API__ROUTE_OPTIONS : API_EMETHOD;
}

/* RFC 3986 reference resolution, enough for $id and $ref: scheme, authority, path with dot
 * segments, query and fragment. */
#include <stdint.h>
#include <string.h>

#include "schema/uri.h"
#include "util/alloc.h"

typedef struct uri_parts {
  const char *scheme, *auth, *path, *query, *frag;
  size_t scheme_len, auth_len, path_len, query_len, frag_len;
  bool has_scheme, has_auth, has_query, has_frag;
} uri_parts;

static void uri_split(const char *s, uri_parts *u) {
  memset(u, 0, sizeof(*u));
  const char *p = s;
  /* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
  const char *q = p;
  if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')) {
    while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
           *q == '+' || *q == '-' || *q == '.')
      q++;
    if (*q == ':') {
      u->has_scheme = true;
      u->scheme = p;
      u->scheme_len = (size_t)(q - p);
      p = q + 1;
    }
  }
  if (p[0] == '/' && p[1] == '/') {
    p += 2;
    u->has_auth = true;
    u->auth = p;
    while (*p && *p != '/' && *p != '?' && *p != '#') p++;
    u->auth_len = (size_t)(p - u->auth);
  }
  u->path = p;
  while (*p && *p != '?' && *p != '#') p++;
  u->path_len = (size_t)(p - u->path);
  if (*p == '?') {
    u->has_query = true;
    u->query = ++p;
    while (*p && *p != '#') p++;
    u->query_len = (size_t)(p - u->query);
  }
  if (*p == '#') {
    u->has_frag = true;
    u->frag = p + 1;
    u->frag_len = strlen(p + 1);
  }
}

/* Remove "." and ".." segments from a path in place (RFC 3986 5.2.4); returns the new length. */
static size_t remove_dots(char *in, size_t len) {
  char *out = in;
  size_t o = 0, i = 0;
  while (i < len) {
    if (len - i >= 3 && !memcmp(in + i, "../", 3)) {
      i += 3;
    } else if (len - i >= 2 && !memcmp(in + i, "./", 2)) {
      i += 2;
    } else if (len - i >= 3 && !memcmp(in + i, "/./", 3)) {
      i += 2;
    } else if (len - i == 2 && !memcmp(in + i, "/.", 2)) {
      i += 1;
      in[i] = '/';
    } else if ((len - i >= 4 && !memcmp(in + i, "/../", 4)) ||
               (len - i == 3 && !memcmp(in + i, "/..", 3))) {
      if (len - i == 3) {
        i += 2;
        in[i] = '/';
      } else {
        i += 3;
      }
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
    } else if ((len - i == 1 && in[i] == '.') || (len - i == 2 && !memcmp(in + i, "..", 2))) {
      i = len;
    } else {
      size_t start = i;
      if (in[i] == '/') i++;
      while (i < len && in[i] != '/') i++;
      memmove(out + o, in + start, i - start);
      o += i - start;
    }
  }
  return o;
}

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (n >= SIZE_MAX / 2 - b->len) { /* cannot happen for real strings; keeps the sums in range */
    b->oom = true;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = api__realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

char *api__uri_resolve(const char *base, const char *ref) {
  uri_parts b, r;
  uri_split(base ? base : "", &b);
  uri_split(ref, &r);
  sbuf out = {0};
  const uri_parts *auth_src, *query_src;
  char *path = NULL;
  size_t path_len = 0;
  const char *scheme = r.has_scheme ? r.scheme : b.scheme;
  size_t scheme_len = r.has_scheme ? r.scheme_len : b.scheme_len;
  bool has_scheme = r.has_scheme || b.has_scheme;
  sbuf pb = {0};
  if (r.has_scheme || r.has_auth) {
    auth_src = &r;
    query_src = &r;
    sb_add(&pb, r.path, r.path_len);
  } else {
    auth_src = &b;
    if (r.path_len == 0) {
      sb_add(&pb, b.path, b.path_len);
      query_src = r.has_query ? &r : &b;
    } else {
      query_src = &r;
      if (r.path[0] == '/') {
        sb_add(&pb, r.path, r.path_len);
      } else {
        if (b.has_auth && b.path_len == 0) {
          sb_add(&pb, "/", 1);
        } else {
          size_t keep = b.path_len;
          while (keep > 0 && b.path[keep - 1] != '/') keep--;
          sb_add(&pb, b.path, keep);
        }
        sb_add(&pb, r.path, r.path_len);
      }
    }
  }
  sb_add(&pb, "", 0);
  if (pb.oom) {
    api__free(pb.p);
    return NULL;
  }
  path = pb.p;
  path_len = remove_dots(path, pb.len);
  if (has_scheme) {
    sb_add(&out, scheme, scheme_len);
    sb_add(&out, ":", 1);
  }
  if (auth_src->has_auth) {
    sb_add(&out, "//", 2);
    sb_add(&out, auth_src->auth, auth_src->auth_len);
  }
  sb_add(&out, path, path_len);
  if (query_src->has_query) {
    sb_add(&out, "?", 1);
    sb_add(&out, query_src->query, query_src->query_len);
  }
  if (r.has_frag) {
    sb_add(&out, "#", 1);
    sb_add(&out, r.frag, r.frag_len);
  }
  sb_add(&out, "", 0);
  api__free(path);
  if (out.oom) {
    api__free(out.p);
    return NULL;
  }
  return out.p;
}

/* Caching helpers (Cache-Control, Last-Modified, ETag, Vary), HTTP dates and entity-tag lists,
 * shared by the conditional-request and compression middleware. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/chars.h"
#include "http/codec.h"
#include "http/message.h"
#include "mw/cache_internal.h"

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_names_long[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* 253402300799 is 9999-12-31T23:59:59Z: later dates need five digits. */
#define MAX_HTTP_TIME 253402300799LL

bool api__http_date_format(time_t t, char buf[30]) {
  return t >= 0 && (long long)t <= MAX_HTTP_TIME && api__http_date(t, buf) == API__HTTP_DATE_LEN;
}

/* n decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

static int month_of(const char *s) {
  for (int i = 0; i < 12; i++)
    if (memcmp(s, month_names[i], 3) == 0) return i;
  return -1;
}

static bool day_name_ok(const char *s, size_t n, bool long_form) {
  for (int i = 0; i < 7; i++) {
    const char *d = long_form ? day_names_long[i] : day_names[i];
    if (strlen(d) == n && memcmp(s, d, n) == 0) return true;
  }
  return false;
}

/* "HH:MM:SS" */
static bool time_of_day(const char *s, struct tm *tm) {
  if (s[2] != ':' || s[5] != ':') return false;
  tm->tm_hour = digits(s, 2);
  tm->tm_min = digits(s + 3, 2);
  tm->tm_sec = digits(s + 6, 2);
  return tm->tm_hour >= 0 && tm->tm_hour <= 23 && tm->tm_min >= 0 && tm->tm_min <= 59 &&
         tm->tm_sec >= 0 && tm->tm_sec <= 59;
}

/* The fields make a real date (no 31 April), then the time. */
static bool finish(struct tm *tm, time_t *out) {
  if (tm->tm_mon < 0 || tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_year < 0) return false;
  struct tm want = *tm;
  time_t t = timegm(tm);
  struct tm got;
  if (t == (time_t)-1 || !gmtime_r(&t, &got) || got.tm_mday != want.tm_mday ||
      got.tm_mon != want.tm_mon || got.tm_year != want.tm_year)
    return false;
  *out = t;
  return true;
}

bool api__http_date_parse(const char *s, time_t *out) {
  if (!s) return false;
  size_t n = strlen(s);
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (n == 29 && s[3] == ',') { /* Sun, 06 Nov 1994 08:49:37 GMT */
    if (!day_name_ok(s, 3, false) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
      return false;
    tm.tm_mday = digits(s + 5, 2);
    tm.tm_mon = month_of(s + 8);
    int year = digits(s + 12, 4);
    if (year < 1900 || !time_of_day(s + 17, &tm)) return false;
    tm.tm_year = year - 1900;
    return finish(&tm, out);
  }
  if (n == 24 && s[3] == ' ') { /* Sun Nov  6 08:49:37 1994 */
    if (!day_name_ok(s, 3, false) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ') return false;
    tm.tm_mon = month_of(s + 4);
    tm.tm_mday = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
    int year = digits(s + 20, 4);
    if (year < 1900 || !time_of_day(s + 11, &tm)) return false;
    tm.tm_year = year - 1900;
    return finish(&tm, out);
  }
  const char *comma = memchr(s, ',', n < 10 ? n : 10);
  if (comma) { /* Sunday, 06-Nov-94 08:49:37 GMT */
    const char *p = comma + 1;
    if (!day_name_ok(s, (size_t)(comma - s), true) || strlen(p) != 23 || p[0] != ' ' ||
        p[3] != '-' || p[7] != '-' || p[10] != ' ' || p[19] != ' ' || memcmp(p + 20, "GMT", 3) != 0)
      return false;
    tm.tm_mday = digits(p + 1, 2);
    tm.tm_mon = month_of(p + 4);
    int yy = digits(p + 8, 2);
    if (yy < 0 || !time_of_day(p + 11, &tm)) return false;
    /* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is in the past century. */
    time_t now = time(NULL);
    struct tm nowtm;
    gmtime_r(&now, &nowtm);
    int year_now = nowtm.tm_year + 1900, year = year_now / 100 * 100 + yy;
    if (year > year_now + 50) year -= 100;
    tm.tm_year = year - 1900;
    return finish(&tm, out);
  }
  return false;
}

static bool etagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c != 0x7f); }

/* One tag at *pp (no leading whitespace); advances past it. */
static bool parse_one(const char **pp, api__etag *out) {
  const char *p = *pp;
  out->weak = false;
  if (p[0] == 'W' && p[1] == '/') {
    out->weak = true;
    p += 2;
  }
  if (*p != '"') return false;
  const char *o = ++p;
  while (*p && *p != '"') {
    if (!etagc((unsigned char)*p)) return false;
    p++;
  }
  if (*p != '"') return false;
  out->opaque = o;
  out->len = (size_t)(p - o);
  *pp = p + 1;
  return true;
}

bool api__etag_parse(const char *s, api__etag *out) {
  return s && parse_one(&s, out) && *s == '\0' && out->len <= API__ETAG_MAX;
}

static bool same_opaque(const api__etag *a, const char *o, size_t n) {
  return a->len == n && memcmp(a->opaque, o, n) == 0;
}

/* cur's opaque followed by one of the compression middleware's suffixes. */
static bool coded_form_of(const api__etag *listed, const api__etag *cur) {
  static const char *const suffixes[] = {"-gzip", "-deflate"};
  for (size_t i = 0; i < 2; i++) {
    size_t sl = strlen(suffixes[i]);
    if (listed->len == cur->len + sl && memcmp(listed->opaque, cur->opaque, cur->len) == 0 &&
        memcmp(listed->opaque + cur->len, suffixes[i], sl) == 0)
      return true;
  }
  return false;
}

int api__etag_list_match(const char *field, const api__etag *cur, bool exists, bool strong,
                         bool coding_suffix, api__etag *matched) {
  const char *p = field;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    api__etag t;
    const char *q = p;
    bool ok;
    if (*p == '*') {
      q = p + 1;
      ok = true;
      t = (api__etag){.opaque = NULL};
    } else {
      ok = parse_one(&q, &t);
    }
    if (ok) { /* the element must end here */
      while (*q == ' ' || *q == '\t') q++;
      ok = *q == ',' || *q == '\0';
    }
    if (!ok) { /* skip the malformed element */
      while (*q && *q != ',') q++;
      p = q;
      continue;
    }
    p = q;
    if (!t.opaque) {
      if (!exists) continue;
      if (matched) *matched = cur ? *cur : (api__etag){.opaque = NULL};
      return API__ETAG_MATCH;
    }
    if (!cur) continue;
    if (strong && (t.weak || cur->weak)) continue;
    if (same_opaque(&t, cur->opaque, cur->len) ||
        (coding_suffix && !t.weak && !cur->weak && coded_form_of(&t, cur))) {
      if (matched) *matched = t;
      return API__ETAG_MATCH;
    }
  }
  return API__ETAG_NO_MATCH;
}

bool api__method_is_get_or_head(const char *method) {
  return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

void api__res_not_modified(api_res *res) {
  api_res_status(res, 304);
  api_res_body_ref(res, NULL, NULL, 0);
  api_res_header_remove(res, "Content-Type");
  api_res_header_remove(res, "Content-Encoding");
}

/* ---- public helpers ---- */

int api_res_cache_control(api_res *res, const api_cache_options *o) {
  api_cache_options opts;
  if (!res || !API__COPY_OPTIONS(&opts, o)) return API_EINVAL;
  if ((opts.max_age < 0 && opts.max_age != API_CACHE_AGE_ZERO) ||
      (opts.s_maxage < 0 && opts.s_maxage != API_CACHE_AGE_ZERO) ||
      (unsigned)opts.scope > API_CACHE_PRIVATE)
    return API_EINVAL;
  if (opts.no_store && (opts.max_age || opts.s_maxage || opts.immutable)) return API_EINVAL;
  char buf[256];
  size_t n = 0;
#define ADD(...) n += (size_t)snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__)
  if (opts.scope == API_CACHE_PUBLIC) ADD(", public");
  if (opts.scope == API_CACHE_PRIVATE) ADD(", private");
  if (opts.no_store) ADD(", no-store");
  if (opts.no_cache) ADD(", no-cache");
  if (opts.max_age) ADD(", max-age=%lld", opts.max_age < 0 ? 0 : opts.max_age);
  if (opts.s_maxage) ADD(", s-maxage=%lld", opts.s_maxage < 0 ? 0 : opts.s_maxage);
  if (opts.must_revalidate) ADD(", must-revalidate");
  if (opts.immutable) ADD(", immutable");
  if (opts.no_transform) ADD(", no-transform");
#undef ADD
  if (n == 0) return api_res_header_remove(res, "Cache-Control");
  return api_res_header(res, "Cache-Control", buf + 2);
}

int api_res_last_modified(api_res *res, time_t t) {
  char buf[30];
  if (!res || !api__http_date_format(t, buf)) return API_EINVAL;
  return api_res_header(res, "Last-Modified", buf);
}

int api_res_etag(api_res *res, const char *tag, bool weak) {
  if (!res || !tag) return API_EINVAL;
  size_t n = strlen(tag);
  if (n > API__ETAG_MAX) return API_EINVAL;
  char buf[API__ETAG_MAX + 5], *p = buf;
  if (weak) {
    *p++ = 'W';
    *p++ = '/';
  }
  *p++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)tag[i];
    if (!etagc(c) || c >= 0x80) return API_EINVAL;
    *p++ = (char)c;
  }
  *p++ = '"';
  *p = '\0';
  return api_res_header(res, "ETag", buf);
}

int api_res_vary(api_res *res, const char *field) {
  size_t n = field ? strlen(field) : 0;
  if (!res || !api__is_token(field, n)) return API_EINVAL;
  /* Merge every Vary field into one list: "Vary: a" + "Vary: b" means "a, b". */
  size_t total = 0, fields = 0;
  for (const api__out_header *h = res->headers; h; h = h->next) {
    if (h->name_len != 4 || strncasecmp(h->name, "vary", 4) != 0) continue;
    if (api__header_has_token(h->value, "*") || api__header_has_token(h->value, field)) return 0;
    total += h->value_len + 2;
    fields++;
  }
  if (strcmp(field, "*") == 0) return api_res_header(res, "Vary", "*");
  if (fields == 0) return api_res_header(res, "Vary", field);
  api_req *req = (api_req *)((char *)res - offsetof(api_req, res));
  char *buf = api_req_alloc(req, total + n + 1), *p = buf;
  if (!buf) return API_ENOMEM;
  for (const api__out_header *h = res->headers; h; h = h->next) {
    if (h->name_len != 4 || strncasecmp(h->name, "vary", 4) != 0 || h->value_len == 0) continue;
    memcpy(p, h->value, h->value_len);
    p += h->value_len;
    *p++ = ',';
    *p++ = ' ';
  }
  memcpy(p, field, n + 1);
  return api_res_header(res, "Vary", buf);
}

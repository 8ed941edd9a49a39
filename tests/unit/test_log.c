/* Unit tests for the logger's lines: every field type, number formatting, escaping of hostile
 * strings, redaction, child loggers, levels and environment overrides, the pretty format and the
 * audit call. Lines are captured with a callback sink in synchronous mode and parsed back with
 * jansson, so a test fails on any line that is not one valid JSON object. */
#include <criterion/criterion.h>
#include <float.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/log.h"
#include "log/log_internal.h"

/* ---- capture ---- */

#define MAX_LINES 64

static char *lines[MAX_LINES];
static size_t nlines;

static void capture(api_log_level level, const char *line, size_t len, void *ud) {
  cr_assert_eq(strlen(line), len, "callback line is NUL-terminated at len");
  cr_assert(len > 0 && line[len - 1] == '\n', "line ends with a newline");
  cr_assert_eq(memchr(line, '\n', len), line + len - 1, "exactly one newline, at the end");
  if (nlines < MAX_LINES) lines[nlines++] = strdup(line);
  if (ud) *(int *)ud = (int)level;
}

static void teardown(void) {
  for (size_t i = 0; i < nlines; i++) free(lines[i]);
  nlines = 0;
  unsetenv("API_LOG_LEVEL");
  unsetenv("API_LOG_FORMAT");
}

TestSuite(log, .fini = teardown);

/* A synchronous JSON logger that captures its lines. */
static api_logger *capture_logger(api_log_level level) {
  api_logger *lg = NULL;
  int rc =
      api_logger_new(&lg, API_LOG_CONFIG(.level = level, .sink = API_LOG_SINK_CALLBACK,
                                         .callback = capture, .sync = true, .ignore_env = true));
  cr_assert_eq(rc, 0, "api_logger_new: %s", api_last_error());
  return lg;
}

/* The last captured line, parsed; fails unless it is a JSON object. */
static json_t *last_json(void) {
  cr_assert(nlines > 0, "a line was written");
  json_error_t err;
  json_t *j = json_loads(lines[nlines - 1], JSON_REJECT_DUPLICATES, &err);
  cr_assert_not_null(j, "valid JSON: %s in %s", err.text, lines[nlines - 1]);
  cr_assert(json_is_object(j));
  return j;
}

/* No raw control byte except the final newline: nothing in the line can start a new line or
 * talk to a terminal. */
static void assert_clean(const char *line) {
  size_t n = strlen(line);
  for (size_t i = 0; i + 1 < n; i++) {
    unsigned char c = (unsigned char)line[i];
    cr_assert(c >= 0x20 && c != 0x7f, "raw control byte 0x%02x at %zu in %s", c, i, line);
    if (c == 0xC2) cr_assert((unsigned char)line[i + 1] >= 0xA0, "raw C1 control at %zu", i);
  }
}

/* ---- fields ---- */

Test(log, every_field_type) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  json_t *obj = json_pack("{s:i,s:[s,b,n,f]}", "a", 1, "b", "x", 1, 2.5);
  const char view[] = "abcdef";
  api_log(lg, API_LOG_INFO, "hello", API_LOG_STR("s", "ada"), API_LOG_STRN("sn", view + 1, 3),
          API_LOG_INT("imin", LLONG_MIN), API_LOG_INT("imax", LLONG_MAX), API_LOG_INT("zero", 0),
          API_LOG_UINT("u", 42), API_LOG_DOUBLE("d", 0.412), API_LOG_DOUBLE("nan", NAN),
          API_LOG_DOUBLE("inf", -INFINITY), API_LOG_BOOL("t", true), API_LOG_BOOL("f", false),
          API_LOG_NULL("n"), API_LOG_JSON("j", obj), API_LOG_JSON("jnull", NULL),
          API_LOG_STR("snull", NULL), API_LOG_STR(NULL, "skipped"));
  cr_assert_eq(nlines, 1);
  json_t *j = last_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
  cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), "hello");
  cr_assert_str_eq(json_string_value(json_object_get(j, "s")), "ada");
  cr_assert_str_eq(json_string_value(json_object_get(j, "sn")), "bcd");
  cr_assert_eq(json_integer_value(json_object_get(j, "imin")), LLONG_MIN);
  cr_assert_eq(json_integer_value(json_object_get(j, "imax")), LLONG_MAX);
  cr_assert_eq(json_integer_value(json_object_get(j, "zero")), 0);
  cr_assert_eq(json_integer_value(json_object_get(j, "u")), 42);
  cr_assert(strstr(lines[0], "\"d\":0.412,"), "%s", lines[0]);
  cr_assert(json_is_null(json_object_get(j, "nan")));
  cr_assert(json_is_null(json_object_get(j, "inf")));
  cr_assert(json_is_true(json_object_get(j, "t")));
  cr_assert(json_is_false(json_object_get(j, "f")));
  cr_assert(json_is_null(json_object_get(j, "n")));
  cr_assert(json_equal(json_object_get(j, "j"), obj), "%s", lines[0]);
  cr_assert(json_is_null(json_object_get(j, "jnull")));
  cr_assert(json_is_null(json_object_get(j, "snull")));
  cr_assert_null(json_object_get(j, "skipped"));
  cr_assert_eq(json_object_size(j), 18, "time, level, msg and 15 fields: %s", lines[0]);
  /* The field order is the call's, after time, level and msg. */
  cr_assert(strncmp(lines[0], "{\"time\":\"", 9) == 0);
  cr_assert(strstr(lines[0], "\"level\":\"info\",\"msg\":\"hello\",\"s\":\"ada\",\"sn\":"));
  json_decref(j);
  json_decref(obj);
  api_logger_free(lg);
}

Test(log, no_fields_and_time_format) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  int64_t before = api__log_now_ms();
  api_log(lg, API_LOG_INFO, "plain");
  json_t *j = last_json();
  cr_assert_eq(json_object_size(j), 3);
  const char *t = json_string_value(json_object_get(j, "time"));
  cr_assert_not_null(t);
  cr_assert_eq(strlen(t), 24, "%s", t);
  int y, mo, d, h, mi, s, ms;
  cr_assert_eq(sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &y, &mo, &d, &h, &mi, &s, &ms), 7);
  struct tm tm = {
      .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
  int64_t at = (int64_t)timegm(&tm) * 1000 + ms;
  cr_assert(at >= before && at <= api__log_now_ms(), "time %s is now", t);
  json_decref(j);
  api_logger_free(lg);
}

static char *fmt_time(int64_t ms) {
  static char out[64];
  api__lbuf b = {.p = out, .cap = sizeof(out) - 1};
  api__log_time(&b, ms);
  out[b.len] = '\0';
  return out;
}

Test(log, time_cache_follows_seconds) {
  cr_assert_str_eq(fmt_time(0), "1970-01-01T00:00:00.000Z");
  cr_assert_str_eq(fmt_time(1795598520164LL), "2026-11-25T09:22:00.164Z");
  cr_assert_str_eq(fmt_time(1795598520999LL), "2026-11-25T09:22:00.999Z");
  cr_assert_str_eq(fmt_time(1795598521000LL), "2026-11-25T09:22:01.000Z");
  cr_assert_str_eq(fmt_time(951782400000LL + 86399999LL), "2000-02-29T23:59:59.999Z");
  cr_assert_str_eq(fmt_time(-1), "1969-12-31T23:59:59.999Z");
}

/* ---- numbers ---- */

static const char *fmt_double(double d) {
  static char out[64];
  api__lbuf b = {.p = out, .cap = sizeof(out) - 1};
  api__log_double(&b, d);
  cr_assert(!b.over);
  out[b.len] = '\0';
  return out;
}

Test(log, doubles_short_and_exact) {
  cr_assert_str_eq(fmt_double(0.412), "0.412");
  cr_assert_str_eq(fmt_double(12.5), "12.5");
  cr_assert_str_eq(fmt_double(200.0), "200");
  cr_assert_str_eq(fmt_double(-3.25), "-3.25");
  cr_assert_str_eq(fmt_double(0.0), "0");
  cr_assert_str_eq(fmt_double(-0.0), "-0");
  cr_assert_str_eq(fmt_double(0.1), "0.1");
  cr_assert_str_eq(fmt_double(0.1 + 0.2), "0.30000000000000004");
  cr_assert_str_eq(fmt_double(1e-7), "1e-07");
  cr_assert_str_eq(fmt_double(NAN), "null");
  cr_assert_str_eq(fmt_double(INFINITY), "null");
  double hard[] = {DBL_MAX, DBL_MIN, 5e-324, 1e21, 1e15 + 0.5, 123456789.123456789, 1.0 / 3};
  for (size_t i = 0; i < sizeof(hard) / sizeof(hard[0]); i++)
    cr_assert_eq(strtod(fmt_double(hard[i]), NULL), hard[i], "%s", fmt_double(hard[i]));
}

/* Significant digits of a number: without sign, exponent, point, leading or trailing zeros. */
static size_t sig_digits(const char *s) {
  char d[64];
  size_t n = 0;
  for (; *s && *s != 'e' && n < sizeof(d); s++)
    if (*s >= '0' && *s <= '9') d[n++] = *s;
  size_t a = 0;
  while (a < n && d[a] == '0') a++;
  while (n > a && d[n - 1] == '0') n--;
  return n - a;
}

/* Random bit patterns: every finite double reads back equal, in no more characters than the
 * shortest %.Ng that round-trips. */
Test(log, doubles_round_trip_random) {
  srand(12345);
  for (int i = 0; i < 200000; i++) {
    unsigned long long bits = 0;
    for (int k = 0; k < 4; k++) bits = (bits << 16) ^ (unsigned long long)(rand() & 0xffff);
    double d;
    if (i % 2) { /* short decimals, the common case in logs */
      static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
      d = (double)(rand() % 2000000) / p10[rand() % 10];
    } else {
      memcpy(&d, &bits, sizeof(d));
      if (!isfinite(d)) continue;
    }
    const char *s = fmt_double(d);
    cr_assert_eq(strtod(s, NULL), d, "%s for %.17g", s, d);
    char ref[40];
    for (int p = 1; p <= 17; p++) {
      snprintf(ref, sizeof(ref), "%.*g", p, d);
      if (strtod(ref, NULL) == d) break;
    }
    if (d != 0) cr_assert_leq(sig_digits(s), sig_digits(ref), "%s vs %s", s, ref);
  }
}

Test(log, integers) {
  long long vals[] = {0, 1, -1, 9, 10, 99, 100, -100, 1234567890123LL, LLONG_MAX, LLONG_MIN};
  for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
    char out[32], ref[32];
    api__lbuf b = {.p = out, .cap = sizeof(out) - 1};
    api__log_int(&b, vals[i]);
    out[b.len] = '\0';
    snprintf(ref, sizeof(ref), "%lld", vals[i]);
    cr_assert_str_eq(out, ref);
  }
  srand(7);
  for (int i = 0; i < 100000; i++) {
    unsigned long long u = ((unsigned long long)rand() << 33) ^ ((unsigned long long)rand() << 11) ^
                           (unsigned long long)rand();
    u >>= rand() % 64;
    char out[32], ref[32];
    api__lbuf b = {.p = out, .cap = sizeof(out) - 1};
    api__log_uint(&b, u);
    out[b.len] = '\0';
    snprintf(ref, sizeof(ref), "%llu", u);
    cr_assert_str_eq(out, ref);
  }
}

Test(log, bounded_buffer_never_overflows) {
  char out[16];
  memset(out, 'Z', sizeof(out));
  api__lbuf b = {.p = out, .cap = 8};
  api__log_json_str(&b, "0123456789\n\n\n", 13);
  api__log_double(&b, 0.1 + 0.2);
  cr_assert(b.over);
  cr_assert_leq(b.len, 8);
  for (int i = 8; i < 16; i++) cr_assert_eq(out[i], 'Z');
}

/* ---- escaping ---- */

static const char *esc(const char *s, size_t n) {
  static char out[512];
  api__lbuf b = {.p = out, .cap = sizeof(out) - 1};
  api__log_json_str(&b, s, n);
  out[b.len] = '\0';
  return out;
}

#define ESC(lit) esc((lit), sizeof(lit) - 1)

Test(log, escapes) {
  cr_assert_str_eq(ESC("a\"b\\c"), "\"a\\\"b\\\\c\"");
  cr_assert_str_eq(ESC("l1\nl2\r\t\b\f"), "\"l1\\nl2\\r\\t\\b\\f\"");
  cr_assert_str_eq(ESC("\x1b[31mred"), "\"\\u001b[31mred\"");
  cr_assert_str_eq(ESC("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
  cr_assert_str_eq(ESC("nul\0in"), "\"nul\\u0000in\"");
  cr_assert_str_eq(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  cr_assert_str_eq(ESC("\xc2\x9b"
                       "31m"),
                   "\"\\u009b31m\"", "C1 CSI");
  cr_assert_str_eq(ESC("\xc2\x85"), "\"\\u0085\"", "C1 NEL");
  cr_assert_str_eq(ESC("a\xe2\x80\xa8"
                       "b"),
                   "\"a\\u2028b\"");
  /* Invalid UTF-8: lone bytes, overlong forms, surrogates, beyond U+10FFFF, truncated. */
  cr_assert_str_eq(ESC("\xff"), "\"\xef\xbf\xbd\"");
  cr_assert_str_eq(ESC("\xc0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  cr_assert_str_eq(ESC("\xe0\x80\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  cr_assert_str_eq(ESC("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  cr_assert_str_eq(ESC("\xf4\x90\x80\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  cr_assert_str_eq(ESC("x\xe2\x82"), "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
  cr_assert_str_eq(ESC("\xf5\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  /* Long runs through the 8-byte fast path, with the special byte at every position. */
  for (size_t pos = 0; pos < 24; pos++) {
    char in[24], as[24], want[40];
    memset(in, 'a', sizeof(in));
    memset(as, 'a', sizeof(as));
    in[pos] = '\n';
    snprintf(want, sizeof(want), "\"%.*s\\n%.*s\"", (int)pos, as, (int)(23 - pos), as);
    cr_assert_str_eq(esc(in, sizeof(in)), want, "newline at %zu", pos);
  }
}

/* Whatever the bytes, the line is one JSON object whose strings hold the bytes (invalid UTF-8
 * replaced), and nothing raw a terminal would act on. */
Test(log, hostile_strings_in_every_place) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  const char *hostile = "x\"}\n{\"level\":\"error\",\"msg\":\"forged\"}\r\x1b]0;pwn\x07\x1b[2J\\";
  json_t *arr = json_pack("[s]", hostile);
  api_log(lg, API_LOG_INFO, hostile, API_LOG_STR("v", hostile), API_LOG_STR(hostile, "k"),
          API_LOG_JSON("j", arr), API_LOG_STRN("bin", "\xff\xfe\x80", 3));
  assert_clean(lines[0]);
  json_t *j = last_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), hostile);
  cr_assert_str_eq(json_string_value(json_object_get(j, "v")), hostile);
  cr_assert_str_eq(json_string_value(json_object_get(j, hostile)), "k");
  cr_assert(json_equal(json_object_get(j, "j"), arr));
  cr_assert_str_eq(json_string_value(json_object_get(j, "bin")),
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  json_decref(j);
  json_decref(arr);
  api_logger_free(lg);
}

Test(log, long_values) {
  size_t n = 100000;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
  big[n] = '\0';
  big[n / 2] = '\n';
  api_logger *lg = capture_logger(API_LOG_INFO);
  cr_assert_eq(api_log_fields(lg, API_LOG_INFO, "big", &API_LOG_STR("v", big), 1), 0);
  assert_clean(lines[0]);
  json_t *j = last_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "v")), big);
  json_decref(j);
  /* Larger than a line may be (half the 256 KiB buffer): dropped and counted, not cut. */
  char *huge = malloc(200001);
  memset(huge, 'h', 200000);
  huge[200000] = '\0';
  cr_assert_eq(api_log_fields(lg, API_LOG_INFO, "huge", &API_LOG_STR("v", huge), 1),
               API_EUNAVAILABLE);
  cr_assert_eq(api_logger_dropped(lg), 1);
  cr_assert_eq(nlines, 1);
  /* The next line says so. */
  api_log(lg, API_LOG_INFO, "after");
  cr_assert_eq(nlines, 3);
  json_t *rep = json_loads(lines[1], 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(rep, "msg")), "log lines dropped");
  cr_assert_str_eq(json_string_value(json_object_get(rep, "level")), "warn");
  cr_assert_eq(json_integer_value(json_object_get(rep, "dropped")), 1);
  json_decref(rep);
  free(big);
  free(huge);
  api_logger_free(lg);
}

/* ---- redaction ---- */

static bool redacted(json_t *obj, const char *key) {
  return json_is_string(json_object_get(obj, key)) &&
         strcmp(json_string_value(json_object_get(obj, key)), "[REDACTED]") == 0;
}

Test(log, redaction_default) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  api_log(lg, API_LOG_INFO, "r", API_LOG_STR("password", "hunter2"),
          API_LOG_STR("Authorization", "Bearer abc"), API_LOG_STR("COOKIE", "sid=1"),
          API_LOG_STR("set-cookie", "sid=2"), API_LOG_STR("user_Password", "p1"),
          API_LOG_STR("db_passwd", "p2"), API_LOG_STR("clientSecret", "s1"),
          API_LOG_STR("access_token", "t1"), API_LOG_STR("X-API-KEY", "k1"),
          API_LOG_STR("apikey", "k2"), API_LOG_STR("my_api_key", "k3"),
          API_LOG_INT("token_count", 5), API_LOG_STR("user", "ada"),
          API_LOG_STR("cookies_enabled", "yes"), API_LOG_STR("author", "bob"));
  json_t *j = last_json();
  const char *secret_keys[] = {"password",      "Authorization", "COOKIE",       "set-cookie",
                               "user_Password", "db_passwd",     "clientSecret", "access_token",
                               "X-API-KEY",     "apikey",        "my_api_key",   "token_count"};
  for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
    cr_assert(redacted(j, secret_keys[i]), "%s in %s", secret_keys[i], lines[0]);
  cr_assert_str_eq(json_string_value(json_object_get(j, "user")), "ada");
  cr_assert_str_eq(json_string_value(json_object_get(j, "cookies_enabled")), "yes");
  cr_assert_str_eq(json_string_value(json_object_get(j, "author")), "bob");
  const char *values[] = {"hunter2", "Bearer", "sid=", "p1", "p2", "s1", "t1", "k1", "k2", "k3"};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
    cr_assert_null(strstr(lines[0], values[i]), "%s leaked: %s", values[i], lines[0]);
  json_decref(j);
  api_logger_free(lg);
}

Test(log, redaction_nested_json) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  json_t *body =
      json_pack("{s:s,s:{s:s,s:[{s:s,s:i}]},s:{s:{s:s}}}", "name", "ada", "auth", "Password", "pw1",
                "sessions", "Refresh_Token", "rt1", "id", 3, "headers", "Cookie", "x", "sid=9");
  api_log(lg, API_LOG_INFO, "body", API_LOG_JSON("body", body));
  json_t *j = last_json();
  json_t *b = json_object_get(j, "body");
  cr_assert_str_eq(json_string_value(json_object_get(b, "name")), "ada");
  cr_assert(redacted(json_object_get(b, "auth"), "Password"), "%s", lines[0]);
  json_t *s0 = json_array_get(json_object_get(json_object_get(b, "auth"), "sessions"), 0);
  cr_assert(redacted(s0, "Refresh_Token"), "%s", lines[0]);
  cr_assert_eq(json_integer_value(json_object_get(s0, "id")), 3);
  cr_assert(redacted(json_object_get(b, "headers"), "Cookie"), "%s", lines[0]);
  cr_assert_null(strstr(lines[0], "pw1"));
  cr_assert_null(strstr(lines[0], "rt1"));
  cr_assert_null(strstr(lines[0], "sid=9"));
  /* The caller's value is untouched. */
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "auth"), "Password")),
                   "pw1");
  json_decref(j);
  json_decref(body);
  api_logger_free(lg);
}

Test(log, redaction_configurable) {
  const char *extra[] = {"SSN", "*card"};
  api_log_redact modes[] = {API_LOG_REDACT_DEFAULT, API_LOG_REDACT_CUSTOM, API_LOG_REDACT_NONE};
  for (int m = 0; m < 3; m++) {
    api_logger *lg;
    cr_assert_eq(
        api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .callback = capture,
                                           .sync = true, .ignore_env = true, .redact_keys = extra,
                                           .redact_count = 2, .redact = modes[m])),
        0);
    api_log(lg, API_LOG_INFO, "r", API_LOG_STR("ssn", "123"), API_LOG_STR("Credit_CARD_no", "4111"),
            API_LOG_STR("password", "pw"), API_LOG_STR("ssn2", "keep"));
    json_t *j = last_json();
    cr_assert_eq(redacted(j, "ssn"), m != 2, "mode %d: %s", m, lines[nlines - 1]);
    cr_assert_eq(redacted(j, "Credit_CARD_no"), m != 2, "mode %d", m);
    cr_assert_eq(redacted(j, "password"), m == 0, "mode %d", m);
    cr_assert_str_eq(json_string_value(json_object_get(j, "ssn2")), "keep");
    json_decref(j);
    api_logger_free(lg);
  }
  api_logger *lg;
  const char *bad[] = {"a", NULL};
  cr_assert_eq(api_logger_new(
                   &lg, API_LOG_CONFIG(.redact_keys = bad, .redact_count = 2, .ignore_env = true)),
               API_EINVAL);
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.redact_count = 2, .ignore_env = true)),
               API_EINVAL);
}

/* ---- child loggers ---- */

Test(log, child_loggers) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  char user[8] = "ada";
  api_logger *child, *grandchild;
  api_log_field f[] = {API_LOG_STR("svc", "users"), API_LOG_STR("user", user),
                       API_LOG_STR("token", "t0ps3cret")};
  cr_assert_eq(api_logger_child(&child, lg, f, 3), 0);
  strcpy(user, "eve"); /* copied at creation: the child keeps "ada" */
  cr_assert_eq(api_logger_child(&grandchild, child, &API_LOG_INT("req", 7), 1), 0);
  api_log(grandchild, API_LOG_INFO, "deep", API_LOG_BOOL("ok", true));
  cr_assert(strstr(lines[0],
                   "\"msg\":\"deep\",\"svc\":\"users\",\"user\":\"ada\","
                   "\"token\":\"[REDACTED]\",\"req\":7,\"ok\":true}"),
            "%s", lines[0]);
  api_log(child, API_LOG_INFO, "mid");
  json_t *j = last_json();
  cr_assert_null(json_object_get(j, "req"));
  cr_assert_str_eq(json_string_value(json_object_get(j, "user")), "ada");
  json_decref(j);
  api_log(lg, API_LOG_INFO, "root");
  j = last_json();
  cr_assert_eq(json_object_size(j), 3);
  json_decref(j);
  /* Children share the root's level. */
  api_logger_set_level(lg, API_LOG_ERROR);
  cr_assert(!api_log_enabled(grandchild, API_LOG_WARN));
  cr_assert_eq(api_logger_level(child), API_LOG_ERROR);
  cr_assert_eq(api_logger_child(NULL, lg, NULL, 0), API_EINVAL);
  cr_assert_eq(api_logger_child(&child, NULL, NULL, 0), API_EINVAL);
  cr_assert_null(child);
  cr_assert_eq(api_logger_child(&child, lg, NULL, 1), API_EINVAL);
  api_logger_free(grandchild);
  api_logger_free(NULL);
  api_logger_free(lg);
}

Test(log, borrowed_child_in_caller_storage) {
  api_logger *lg = capture_logger(API_LOG_INFO);
  api_logger *svc;
  cr_assert_eq(api_logger_child(&svc, lg, &API_LOG_STR("svc", "api"), 1), 0);
  char rid[16] = "r-1";
  api_log_field f[] = {API_LOG_STR("request_id", rid), API_LOG_STRN("path", "/a/b?x", 4)};
  api__logger_child_storage st, st2;
  api_logger *req = api__logger_child_init(&st, svc, f, 2);
  api_log(req, API_LOG_INFO, "one");
  cr_assert(strstr(lines[0], "\"svc\":\"api\",\"request_id\":\"r-1\",\"path\":\"/a/b\"}"), "%s",
            lines[0]);
  strcpy(rid, "r-2"); /* borrowed: read at each call */
  api_logger *sub = api__logger_child_init(&st2, req, &API_LOG_INT("attempt", 2), 1);
  api_log(sub, API_LOG_INFO, "two");
  cr_assert(strstr(lines[1], "\"request_id\":\"r-2\",\"path\":\"/a/b\",\"attempt\":2}"), "%s",
            lines[1]);
  /* An owned child of a borrowed one copies what it binds. */
  api_logger *owned;
  cr_assert_eq(api_logger_child(&owned, sub, NULL, 0), 0);
  strcpy(rid, "r-3");
  api_log(owned, API_LOG_INFO, "three");
  cr_assert(strstr(lines[2], "\"request_id\":\"r-2\""), "%s", lines[2]);
  api_logger_free(req); /* not owned: a no-op */
  api_logger_free(owned);
  api_logger_free(svc);
  api_logger_free(lg);
}

/* ---- levels and the environment ---- */

static int evaluated;
static const char *count_eval(void) {
  evaluated++;
  return "v";
}

Test(log, level_filtering) {
  api_logger *lg = capture_logger(API_LOG_WARN);
  int level = 0;
  api_logger_free(lg);
  cr_assert_eq(
      api_logger_new(&lg, API_LOG_CONFIG(.level = API_LOG_WARN, .sink = API_LOG_SINK_CALLBACK,
                                         .callback = capture, .user_data = &level, .sync = true,
                                         .ignore_env = true)),
      0);
  api_log(lg, API_LOG_TRACE, "t", API_LOG_STR("k", count_eval()));
  api_log(lg, API_LOG_DEBUG, "d", API_LOG_STR("k", count_eval()));
  api_log(lg, API_LOG_INFO, "i", API_LOG_STR("k", count_eval()));
  cr_assert_eq(nlines, 0);
  cr_assert_eq(evaluated, 0, "fields of a disabled level are not evaluated");
  api_log(lg, API_LOG_WARN, "w", API_LOG_STR("k", count_eval()));
  cr_assert_eq(level, API_LOG_WARN);
  api_log(lg, API_LOG_ERROR, "e");
  cr_assert_eq(level, API_LOG_ERROR);
  api_log(lg, API_LOG_FATAL, "f");
  cr_assert_eq(level, API_LOG_FATAL);
  cr_assert_eq(nlines, 3);
  cr_assert_eq(evaluated, 1);
  const char *names[] = {"warn", "error", "fatal"};
  for (int i = 0; i < 3; i++) cr_assert(strstr(lines[i], names[i]), "%s", lines[i]);
  api_logger_set_level(lg, API_LOG_TRACE);
  api_log(lg, API_LOG_TRACE, "t");
  cr_assert_eq(nlines, 4);
  api_logger_set_level(lg, API_LOG_OFF);
  for (int l = API_LOG_TRACE; l <= API_LOG_FATAL; l++) {
    cr_assert(!api_log_enabled(lg, (api_log_level)l));
    api_log(lg, (api_log_level)l, "x");
  }
  cr_assert_eq(nlines, 4);
  api_logger_set_level(lg, API_LOG_TRACE);
  cr_assert(!api_log_enabled(lg, API_LOG_OFF));
  cr_assert(!api_log_enabled(lg, (api_log_level)0));
  cr_assert(!api_log_enabled(lg, (api_log_level)99));
  cr_assert(!api_log_enabled(NULL, API_LOG_FATAL));
  cr_assert_eq(api_log_fields(lg, (api_log_level)99, "x", NULL, 0), 0);
  cr_assert_eq(api_log_fields(lg, API_LOG_INFO, NULL, NULL, 0), API_EINVAL);
  cr_assert_eq(api_log_fields(NULL, API_LOG_INFO, "x", NULL, 0), API_EINVAL);
  cr_assert_eq(api_log_fields(lg, API_LOG_INFO, "x", NULL, 2), API_EINVAL);
  cr_assert_eq(nlines, 4);
  cr_assert_str_eq(api_log_level_name(API_LOG_WARN), "warn");
  cr_assert_str_eq(api_log_level_name(API_LOG_OFF), "off");
  cr_assert_str_eq(api_log_level_name((api_log_level)42), "unknown");
  api_logger_free(lg);
}

Test(log, environment_overrides) {
  api_logger *lg;
  setenv("API_LOG_LEVEL", "DEBUG", 1);
  setenv("API_LOG_FORMAT", "pretty", 1);
  cr_assert_eq(
      api_logger_new(
          &lg, API_LOG_CONFIG(.level = API_LOG_ERROR, .format = API_LOG_FORMAT_JSON,
                              .sink = API_LOG_SINK_CALLBACK, .callback = capture, .sync = true)),
      0);
  cr_assert_eq(api_logger_level(lg), API_LOG_DEBUG);
  api_log(lg, API_LOG_DEBUG, "dbg", API_LOG_INT("n", 1));
  cr_assert_eq(nlines, 1);
  cr_assert(strstr(lines[0], " DEBUG dbg n=1\n"), "pretty: %s", lines[0]);
  api_logger_free(lg);
  /* ignore_env keeps the code's settings. */
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.level = API_LOG_ERROR, .ignore_env = true)), 0);
  cr_assert_eq(api_logger_level(lg), API_LOG_ERROR);
  api_logger_free(lg);
  setenv("API_LOG_LEVEL", "off", 1);
  setenv("API_LOG_FORMAT", "JSON", 1);
  cr_assert_eq(api_logger_new(&lg, NULL), 0);
  cr_assert_eq(api_logger_level(lg), API_LOG_OFF);
  api_logger_free(lg);
  setenv("API_LOG_LEVEL", "verbose", 1);
  lg = (api_logger *)1;
  cr_assert_eq(api_logger_new(&lg, NULL), API_EINVAL);
  cr_assert_null(lg);
  cr_assert(strstr(api_last_error(), "API_LOG_LEVEL"), "%s", api_last_error());
  setenv("API_LOG_LEVEL", "", 1);
  setenv("API_LOG_FORMAT", "xml", 1);
  cr_assert_eq(api_logger_new(&lg, NULL), API_EINVAL);
  cr_assert(strstr(api_last_error(), "API_LOG_FORMAT"), "%s", api_last_error());
}

Test(log, bad_configs) {
  api_logger *lg;
  cr_assert_eq(api_logger_new(NULL, NULL), API_EINVAL);
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.level = (api_log_level)9, .ignore_env = true)),
               API_EINVAL);
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.format = (api_log_format)9, .ignore_env = true)),
               API_EINVAL);
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.sink = (api_log_sink)9, .ignore_env = true)),
               API_EINVAL);
  cr_assert_eq(api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE, .ignore_env = true)),
               API_EINVAL);
  cr_assert_eq(
      api_logger_new(&lg, API_LOG_CONFIG(.sink = API_LOG_SINK_CALLBACK, .ignore_env = true)),
      API_EINVAL);
  cr_assert_eq(api_logger_new(
                   &lg, API_LOG_CONFIG(.sink = API_LOG_SINK_FILE,
                                       .file_path = "/nonexistent-dir/x.log", .ignore_env = true)),
               API_ESYS);
  cr_assert(strstr(api_last_error(), "/nonexistent-dir/x.log"));
  api_log_config c = {.size = sizeof(c) + 1};
  cr_assert_eq(api_logger_new(&lg, &c), API_EINVAL);
  c.size = 0;
  cr_assert_eq(api_logger_new(&lg, &c), API_EINVAL);
}

/* ---- pretty ---- */

static api_logger *pretty_logger(api_log_color color) {
  api_logger *lg;
  cr_assert_eq(
      api_logger_new(&lg, API_LOG_CONFIG(.format = API_LOG_FORMAT_PRETTY, .color = color,
                                         .sink = API_LOG_SINK_CALLBACK, .callback = capture,
                                         .sync = true, .ignore_env = true)),
      0);
  return lg;
}

static size_t count_esc(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\x1b';
  return n;
}

Test(log, pretty_format) {
  api_logger *lg = pretty_logger(API_LOG_COLOR_OFF);
  json_t *j = json_pack("{s:i}", "a", 1);
  api_log(lg, API_LOG_WARN, "disk low", API_LOG_STR("path", "/var"), API_LOG_INT("pct", 93),
          API_LOG_DOUBLE("r", 0.5), API_LOG_BOOL("b", false), API_LOG_NULL("z"),
          API_LOG_STR("sp", "two words"), API_LOG_STR("empty", ""), API_LOG_STR("eq", "a=b"),
          API_LOG_JSON("j", j), API_LOG_STR("password", "pw"));
  const char *want =
      " WARN  disk low path=/var pct=93 r=0.5 b=false z=null sp=\"two words\" empty=\"\" "
      "eq=\"a=b\" j={\"a\":1} password=\"[REDACTED]\"\n";
  cr_assert_eq(lines[0][24], ' ', "%s", lines[0]);
  cr_assert_str_eq(lines[0] + 24, want);
  cr_assert_eq(count_esc(lines[0]), 0);
  /* Hostile message and values cannot start a line or send escape sequences. */
  api_log(lg, API_LOG_INFO, "a\nFAKE\x1b[31m", API_LOG_STR("v", "x\r\n\x1b[2J\xc2\x9b"),
          API_LOG_STR("k\x1b", "v"));
  assert_clean(lines[1]);
  cr_assert(strstr(lines[1],
                   "INFO  a\\nFAKE\\u001b[31m v=\"x\\r\\n\\u001b[2J\\u009b\" "
                   "k\\u001b=v\n"),
            "%s", lines[1]);
  api_logger_free(lg);
  lg = pretty_logger(API_LOG_COLOR_ON);
  api_log(lg, API_LOG_ERROR, "m", API_LOG_STR("k", "v"));
  size_t own = count_esc(lines[2]);
  cr_assert_gt(own, 0);
  cr_assert(strstr(lines[2], "\x1b[31mERROR"), "%s", lines[2]);
  api_log(lg, API_LOG_ERROR, "m\x1b[5m", API_LOG_STR("k", "v\x1b]0;t\x07"));
  cr_assert_eq(count_esc(lines[3]), own, "only the logger's own colour codes: %s", lines[3]);
  /* auto: a callback is not a terminal */
  api_logger_free(lg);
  lg = pretty_logger(API_LOG_COLOR_AUTO);
  api_log(lg, API_LOG_ERROR, "m");
  cr_assert_eq(count_esc(lines[4]), 0);
  json_decref(j);
  api_logger_free(lg);
}

/* ---- audit ---- */

Test(log, audit_events) {
  api_logger *lg = capture_logger(API_LOG_ERROR); /* audit lines ignore the level */
  int64_t when = 1795598520164LL;
  cr_assert_eq(
      api_audit(lg, API_AUDIT_EVENT(.actor = "ada", .action = "user.delete", .target = "user:42",
                                    .client = "10.0.0.7", .result = API_AUDIT_FAILURE,
                                    .reason = "forbidden", .time_ms = when, .request_id = "r-9",
                                    .fields = &API_LOG_STR("api_key", "k"), .nfields = 1)),
      0);
  json_t *j = last_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "time")), "2026-11-25T09:22:00.164Z");
  cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
  cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), "audit");
  cr_assert(json_is_true(json_object_get(j, "audit")));
  cr_assert_str_eq(json_string_value(json_object_get(j, "actor")), "ada");
  cr_assert_str_eq(json_string_value(json_object_get(j, "action")), "user.delete");
  cr_assert_str_eq(json_string_value(json_object_get(j, "target")), "user:42");
  cr_assert_str_eq(json_string_value(json_object_get(j, "client")), "10.0.0.7");
  cr_assert_str_eq(json_string_value(json_object_get(j, "result")), "failure");
  cr_assert_str_eq(json_string_value(json_object_get(j, "reason")), "forbidden");
  cr_assert_str_eq(json_string_value(json_object_get(j, "request_id")), "r-9");
  cr_assert(redacted(j, "api_key"));
  json_decref(j);
  cr_assert_eq(api_audit(lg, API_AUDIT_EVENT(.action = "login", .result = API_AUDIT_SUCCESS)), 0);
  j = last_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "result")), "success");
  cr_assert_null(json_object_get(j, "actor"));
  cr_assert_eq(json_object_size(j), 6, "%s", lines[nlines - 1]);
  json_decref(j);
  size_t before = nlines;
  cr_assert_eq(api_audit(lg, API_AUDIT_EVENT(.action = "x")), API_EINVAL);
  cr_assert_eq(api_audit(lg, API_AUDIT_EVENT(.result = API_AUDIT_SUCCESS)), API_EINVAL);
  cr_assert_eq(api_audit(lg, NULL), API_EINVAL);
  cr_assert_eq(api_audit(NULL, API_AUDIT_EVENT(.action = "x", .result = API_AUDIT_SUCCESS)),
               API_EINVAL);
  api_logger_set_level(lg, API_LOG_OFF);
  cr_assert_eq(api_audit(lg, API_AUDIT_EVENT(.action = "x", .result = API_AUDIT_SUCCESS)), 0);
  cr_assert_eq(nlines, before);
  api_logger_free(lg);
}

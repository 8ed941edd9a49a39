/* "pattern" and "patternProperties": ECMA-262 regular expressions run by PCRE2.
 *
 * The pattern is translated where PCRE2 and ECMA-262 disagree: \s and \S use ECMA's whitespace set
 * (which includes U+00A0, U+FEFF and the Unicode space separators) and "[^]" matches any
 * character. PCRE2 is not in UCP mode, so \d, \w and \b stay ASCII, as in ECMA-262. "$" only
 * matches at the very end (PCRE2_DOLLAR_ENDONLY) and \u{hhhh}/\uhhhh escapes are understood
 * (PCRE2_ALT_BSUX, PCRE2_EXTRA_ALT_BSUX). Matching is an unanchored search, JIT-compiled when
 * possible, under the schema's match limit. The match data is per thread, since compiled schemas
 * are shared. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema_internal.h"
#include "util/alloc.h"

#define ECMA_SPACES \
  "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"

/* ECMA-262 long General_Category names that PCRE2 10.42 only knows by their short names. */
static const char *const GC_NAMES[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

static bool buf_add(char **b, size_t *len, size_t *cap, const char *s, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    while (c < *len + n + 1) c *= 2;
    char *p = api__realloc(*b, c);
    if (!p) return false;
    *b = p;
    *cap = c;
  }
  memcpy(*b + *len, s, n);
  *len += n;
  (*b)[*len] = 0;
  return true;
}

/* Rewrite src into PCRE2 syntax; NULL when out of memory. */
static char *translate(const char *src, size_t len) {
  char *b = NULL;
  size_t n = 0, cap = 0;
  bool in_class = false, ok = buf_add(&b, &n, &cap, "", 0);
  for (size_t i = 0; i < len && ok; i++) {
    char ch = src[i];
    if (ch == '\\' && i + 1 < len) {
      char e = src[i + 1];
      if (e == 's' || e == 'S') {
        if (in_class && e == 's')
          ok = buf_add(&b, &n, &cap, ECMA_SPACES, strlen(ECMA_SPACES));
        else if (!in_class)
          ok = buf_add(&b, &n, &cap, e == 's' ? "[" ECMA_SPACES "]" : "[^" ECMA_SPACES "]",
                       strlen(ECMA_SPACES) + (e == 's' ? 2 : 3));
        else
          ok = buf_add(&b, &n, &cap, src + i, 2);
      } else if ((e == 'p' || e == 'P') && i + 2 < len && src[i + 2] == '{') {
        /* \p{Name}, \p{gc=Name}, \p{Script=Name}: PCRE2 wants \p{Name} with short GC names */
        const char *close = memchr(src + i + 3, '}', len - i - 3);
        if (!close) {
          ok = buf_add(&b, &n, &cap, src + i, 2);
          i++;
          continue;
        }
        const char *name = src + i + 3;
        size_t nlen = (size_t)(close - name);
        const char *eq = memchr(name, '=', nlen);
        if (eq) {
          nlen -= (size_t)(eq + 1 - name);
          name = eq + 1;
        }
        for (size_t k = 0; k < sizeof GC_NAMES / sizeof GC_NAMES[0]; k++)
          if (strlen(GC_NAMES[k][0]) == nlen && !memcmp(GC_NAMES[k][0], name, nlen)) {
            name = GC_NAMES[k][1];
            nlen = strlen(name);
            break;
          }
        ok = buf_add(&b, &n, &cap, src + i, 3) && buf_add(&b, &n, &cap, name, nlen) &&
             buf_add(&b, &n, &cap, "}", 1);
        i = (size_t)(close - src);
        continue;
      } else {
        ok = buf_add(&b, &n, &cap, src + i, 2);
      }
      i++;
      continue;
    }
    if (!in_class && ch == '[') {
      if (i + 2 < len && src[i + 1] == '^' && src[i + 2] == ']') {
        ok = buf_add(&b, &n, &cap, "[\\s\\S]", 6);
        i += 2;
        continue;
      }
      if (i + 1 < len && src[i + 1] == ']') {
        ok = buf_add(&b, &n, &cap, "(?!)", 4);
        i += 1;
        continue;
      }
      in_class = true;
      ok = buf_add(&b, &n, &cap, "[", 1);
      /* A ']' right after '[' or '[^' closes the class in ECMA-262 but not in PCRE2: handled
       * above for the empty classes; otherwise copy '^' as is. */
      continue;
    }
    if (in_class && ch == ']') in_class = false;
    ok = buf_add(&b, &n, &cap, &ch, 1);
  }
  if (!ok) {
    api__free(b);
    return NULL;
  }
  return b;
}

int api__regex_compile(sch_regex *re, const char *src, size_t len, char *err, size_t errlen) {
  memset(re, 0, sizeof(*re));
  char *pat = translate(src, len);
  if (!pat) return API_ENOMEM;
  pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
  if (!cc) {
    api__free(pat);
    return API_ENOMEM;
  }
  pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
  int ec;
  PCRE2_SIZE off;
  re->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &ec, &off, cc);
  pcre2_compile_context_free(cc);
  api__free(pat);
  if (!re->code) {
    char msg[120];
    pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof msg);
    snprintf(err, errlen, "invalid regular expression: %s", msg);
    return API_EINVAL;
  }
  pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
  re->source = api__malloc(len + 1);
  if (!re->source) {
    pcre2_code_free(re->code);
    re->code = NULL;
    return API_ENOMEM;
  }
  memcpy(re->source, src, len);
  re->source[len] = 0;
  return 0;
}

void api__regex_free(sch_regex *re) {
  if (re->code) pcre2_code_free(re->code);
  api__free(re->source);
  re->code = NULL;
  re->source = NULL;
}

static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static _Thread_local pcre2_match_data *tl_md __attribute__((tls_model("initial-exec")));

static void md_destroy(void *p) { pcre2_match_data_free(p); }
static void md_init(void) { pthread_key_create(&md_key, md_destroy); }

int api__regex_search(const sch_regex *re, const pcre2_match_context *mctx, const char *s,
                      size_t len) {
  if (!tl_md) {
    pthread_once(&md_once, md_init);
    tl_md = pcre2_match_data_create(1, NULL);
    if (!tl_md) return -2;
    pthread_setspecific(md_key, tl_md);
  }
  /* No PCRE2_NO_UTF_CHECK: strings made with json_stringn_nocheck() may be invalid UTF-8. */
  int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, tl_md, (pcre2_match_context *)mctx);
  if (rc >= 0) return 1;
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
      rc == PCRE2_ERROR_JIT_STACKLIMIT)
    return -1;
  if (rc == PCRE2_ERROR_NOMEMORY) return -2;
  if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) return -3;
  return -1;
}

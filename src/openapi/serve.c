/* Serving the document and the /docs page: both are built once, when the app freezes, and
 * answered from memory. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "libapi/middleware.h"
#include "libapi/response.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"
#include "util/buf.h"

static void openapi_state_free(api__openapi *o) {
  if (!o) return;
  api__free(o->title);
  api__free(o->version);
  api__free(o->description);
  api__free(o->path);
  api__free(o->docs_path);
  for (size_t i = 0; o->servers && o->servers[i]; i++) api__free(o->servers[i]);
  api__free(o->servers);
  api__free(o->json);
  api__free(o->html);
  api__free(o->csp);
  api__free(o);
}

void api__openapi_free(api_app *app) {
  openapi_state_free(app->openapi);
  app->openapi = NULL;
  for (api__scheme *s = app->schemes, *next; s; s = next) {
    next = s->next;
    api__free(s->name);
    json_decref(s->scheme);
    api__free(s);
  }
  app->schemes = NULL;
}

static int serve_json(api_req *req, api_res *res, void *user_data) {
  const api__openapi *o = user_data;
  char tag[40];
  snprintf(tag, sizeof(tag), "\"%s\"", o->etag);
  int rc = api_res_etag(res, o->etag, false);
  if (!rc) rc = api_res_cache_control(res, API_CACHE_OPTIONS(.no_cache = true));
  if (rc) return rc;
  rc = api_req_preconditions(req, res, tag, 0);
  if (rc == API_DONE) return API_NEXT;
  if (rc) return rc;
  return api_res_body_ref(res, "application/json", o->json, o->json_len);
}

static int serve_docs(api_req *req, api_res *res, void *user_data) {
  (void)req;
  const api__openapi *o = user_data;
  int rc = api_res_header(res, "Content-Security-Policy", o->csp);
  if (!rc) rc = api_res_header(res, "X-Content-Type-Options", "nosniff");
  if (!rc) rc = api_res_header(res, "Referrer-Policy", "no-referrer");
  if (!rc) rc = api_res_cache_control(res, API_CACHE_OPTIONS(.no_cache = true));
  if (rc) return rc;
  return api_res_body_ref(res, "text/html; charset=utf-8", o->html, o->html_len);
}

/* A served path: '/' then pchars, no parameter or wildcard segment. */
static bool plain_path(const char *p) {
  if (!p || p[0] != '/' || strlen(p) > 1024) return false;
  return !strstr(p, "/:") && !strstr(p, "/*");
}

static bool dup_opt(char **dst, const char *s) {
  *dst = s ? api__strdup(s) : NULL;
  return !s || *dst;
}

int api_app_openapi(api_app *app, const api_openapi_options *opts) {
  if (!app) return api__fail(API_EINVAL, "api_app_openapi: NULL app");
  if (app->frozen)
    return api__fail(API_ESTATE, "api_app_openapi: not allowed once a server has started");
  api_openapi_options o = {.size = sizeof(o)};
  if (opts) {
    if (opts->size == 0 || opts->size > sizeof(o))
      return api__fail(API_EINVAL, "api_app_openapi: options not built with API_OPENAPI_OPTIONS");
    memcpy(&o, opts, opts->size);
  }
  if (app->openapi) return api__fail(API_EINVAL, "api_app_openapi: already called for this app");
  const char *path = o.path ? o.path : "/openapi.json";
  const char *docs = o.docs_path ? o.docs_path : "/docs";
  if (!plain_path(path) || (*docs && !plain_path(docs)) || strcmp(path, docs) == 0)
    return api__fail(
        API_EINVAL,
        "api_app_openapi: path \"%.100s\" / docs_path \"%.100s\": each must start with "
        "'/', have no parameter or wildcard segment, and differ",
        path, docs);
  if ((o.title && !*o.title) || (o.version && !*o.version))
    return api__fail(API_EINVAL, "api_app_openapi: title and version may not be empty");
  for (size_t i = 0; o.servers && o.servers[i]; i++)
    if (!*o.servers[i]) return api__fail(API_EINVAL, "api_app_openapi: servers[%zu] is empty", i);
  api__openapi *st = api__calloc(1, sizeof(*st));
  if (!st) return API_ENOMEM;
  size_t ns = 0;
  while (o.servers && o.servers[ns]) ns++;
  bool ok = dup_opt(&st->title, o.title ? o.title : "API") &&
            dup_opt(&st->version, o.version ? o.version : "0.0.0") &&
            dup_opt(&st->description, o.description) && dup_opt(&st->path, path) &&
            dup_opt(&st->docs_path, *docs ? docs : NULL) &&
            (!ns || (st->servers = api__calloc(ns + 1, sizeof(char *))));
  for (size_t i = 0; ok && i < ns; i++) ok = dup_opt(&st->servers[i], o.servers[i]);
  if (!ok) {
    openapi_state_free(st);
    return API_ENOMEM;
  }
  int rc = api_app_route(app, API_ROUTE(.method = "GET", .path = st->path, .handler = serve_json,
                                        .user_data = st, .hidden = 1));
  if (!rc && st->docs_path)
    rc = api_app_route(app, API_ROUTE(.method = "GET", .path = st->docs_path, .handler = serve_docs,
                                      .user_data = st, .hidden = 1));
  /* The routes point at st: it belongs to the app from now on, even when one failed (the
   * failure is the app's configuration error, so no server starts with a half-set-up page). */
  app->openapi = st;
  return rc;
}

/* base64 of SHA-256(text), for a CSP source expression. */
static bool csp_hash(const char *text, char out[45]) {
  unsigned char md[32];
  unsigned mdlen = 0;
  if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return false;
  EVP_EncodeBlock((unsigned char *)out, md, 32);
  return true;
}

/* Append s with &, <, >, " and ' escaped for HTML text and attribute values. */
static bool append_escaped(api__buf *b, const char *s) {
  bool ok = true;
  for (; *s && ok; s++) {
    switch (*s) {
      case '&':
        ok = api__buf_append(b, "&amp;", 5);
        break;
      case '<':
        ok = api__buf_append(b, "&lt;", 4);
        break;
      case '>':
        ok = api__buf_append(b, "&gt;", 4);
        break;
      case '"':
        ok = api__buf_append(b, "&quot;", 6);
        break;
      case '\'':
        ok = api__buf_append(b, "&#39;", 5);
        break;
      default:
        ok = api__buf_append(b, s, 1);
    }
  }
  return ok;
}

static bool append_str(api__buf *b, const char *s) { return api__buf_append(b, s, strlen(s)); }

static int build_page(api__openapi *o) {
  char sh[45], ch[45];
  if (!csp_hash(api__docs_script, sh) || !csp_hash(api__docs_style, ch)) return API_ENOMEM;
  char csp[400];
  snprintf(csp, sizeof(csp),
           "default-src 'none'; script-src 'sha256-%s'; style-src 'sha256-%s'; connect-src "
           "'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
           "frame-ancestors 'none'",
           sh, ch);
  api__buf b = {0};
  bool ok = append_str(&b,
                       "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>") &&
            append_escaped(&b, o->title) && append_str(&b, "</title>\n<style>") &&
            append_str(&b, api__docs_style) &&
            append_str(&b, "</style>\n</head>\n<body data-openapi=\"") &&
            append_escaped(&b, o->path) &&
            append_str(&b,
                       "\">\n<main id=\"app\"><p class=\"note\">Loading the API "
                       "description&hellip;</p></main>\n<noscript>This page needs JavaScript; the "
                       "document itself is at <a href=\"") &&
            append_escaped(&b, o->path) && append_str(&b, "\">") && append_escaped(&b, o->path) &&
            append_str(&b, "</a>.</noscript>\n<script>") && append_str(&b, api__docs_script) &&
            append_str(&b, "</script>\n</body>\n</html>\n");
  char *csp_copy = ok ? api__strdup(csp) : NULL;
  if (!csp_copy) {
    api__buf_free(&b);
    return API_ENOMEM;
  }
  api__free(o->html);
  api__free(o->csp);
  o->html_len = b.len;
  o->html = b.data;
  o->csp = csp_copy;
  return 0;
}

int api__openapi_freeze(api_app *app) {
  api__openapi *o = app->openapi;
  if (!o) return 0;
  json_t *doc;
  int rc = api__openapi_build(app, &doc);
  if (rc) return rc;
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (!text) return API_ENOMEM;
  size_t len = strlen(text);
  char *copy = api__malloc(len + 1);
  if (copy) memcpy(copy, text, len + 1);
  free(text);
  if (!copy) return API_ENOMEM;
  unsigned char md[32];
  unsigned mdlen = 0;
  if (!EVP_Digest(copy, len, md, &mdlen, EVP_sha256(), NULL) ||
      (o->docs_path && (rc = build_page(o)) != 0)) {
    api__free(copy);
    return rc ? rc : API_ENOMEM;
  }
  for (int i = 0; i < 16; i++) snprintf(o->etag + 2 * i, 3, "%02x", md[i]);
  api__free(o->json);
  o->json = copy;
  o->json_len = len;
  return 0;
}

int api_app_openapi_json(api_app *app, char **out) {
  if (!out) return api__fail(API_EINVAL, "api_app_openapi_json: NULL out");
  *out = NULL;
  if (!app) return api__fail(API_EINVAL, "api_app_openapi_json: NULL app");
  json_t *doc;
  int rc = api__openapi_build(app, &doc);
  if (rc) return rc;
  *out = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return *out ? 0 : API_ENOMEM;
}

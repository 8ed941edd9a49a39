/* The OpenAPI module as the rest of the library sees it. */
#ifndef API_OPENAPI_INTERNAL_H
#define API_OPENAPI_INTERNAL_H

#include <jansson.h>

#include "libapi/openapi.h"
#include "libapi/router.h"

struct api__route;

/* A registered security scheme (components.securitySchemes), newest first. */
typedef struct api__scheme {
  char *name;
  json_t *scheme;
  struct api__scheme *next;
} api__scheme;

/* What api_app_openapi() set up: the options (copied) and, once frozen, the served bodies. */
typedef struct api__openapi {
  char *title, *version, *description, *path, *docs_path;
  char **servers; /* NULL-terminated, or NULL */
  char *json;     /* the document, built by api__openapi_freeze */
  size_t json_len;
  char etag[33]; /* the document's tag: 128 bits of its SHA-256, hex */
  char *html;    /* the /docs page (NULL without one) */
  size_t html_len;
  char *csp; /* its Content-Security-Policy */
} api__openapi;

/* Copy the documentation members of r->desc (description, operation_id, tags, responses) so that
 * they point into r's own memory. Returns 0, API_EINVAL (a response status outside 100..599, with
 * msg), API_ENOMEM. api__route_doc_free() frees them (also after a failure). */
int api__route_doc_copy(struct api__route *r, char *msg, size_t cap);
void api__route_doc_free(struct api__route *r);

/* Register scheme (stolen; NULL is taken for a failed constructor) under base, or base2, base3...
 * when base is taken by a different scheme. Returns the name, owned by the app, or NULL (out of
 * memory). For the authentication built-ins, which set it as their api_middleware.security. */
const char *api__security_scheme_auto(api_app *app, const char *base, json_t *scheme);

/* Free the app's OpenAPI state and schemes. */
void api__openapi_free(api_app *app);

/* At freeze: generate and serialize the document if api_app_openapi() was called. Returns 0,
 * API_EINVAL (with api_last_error()), API_ENOMEM. */
int api__openapi_freeze(api_app *app);

/* Build the document as JSON. Returns 0, API_EINVAL, API_ENOMEM. */
int api__openapi_build(api_app *app, json_t **out);

/* The /docs page's inline script and style (docs_page.c). */
extern const char api__docs_script[];
extern const char api__docs_style[];

#endif

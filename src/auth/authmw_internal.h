/* Shared by the authentication middleware: the principal's request local and the
 * WWW-Authenticate challenges, which have to be put back in on_send because the error path
 * rebuilds the response and drops the headers set before it. */
#ifndef API_AUTH_AUTHMW_INTERNAL_H
#define API_AUTH_AUTHMW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "libapi/auth.h"
#include "libapi/request.h"
#include "libapi/response.h"

#define API__AUTH_MAX_CHALLENGES 4

/* Per request, in request memory. */
typedef struct api__auth_ctx {
  const char *challenges[API__AUTH_MAX_CHALLENGES]; /* for any 401; owned by middleware state */
  size_t n;
  const char *bearer_realm;    /* set by api_mw_jwt: for the guards' insufficient_scope */
  const char *error_challenge; /* replaces them when the status is error_status */
  int error_status;
} api__auth_ctx;

/* The request's context, created on first use; NULL when out of memory. */
api__auth_ctx *api__auth_ctx_get(api_req *req);
/* Offer challenge (e.g. "Bearer realm=\"api\"", not copied) on 401 answers. 0 or API_ENOMEM. */
int api__auth_offer(api_req *req, const char *challenge);
/* Remember the challenge (copied) for an answer with err's status; returns err (or
 * API_ENOMEM). */
int api__auth_refuse(api_req *req, int err, const char *challenge);
/* The on_send hook of every auth middleware: puts the challenges on the response. */
int api__auth_on_send(api_req *req, api_res *res, void *user_data);

/* A realm or a name safe inside a quoted-string without escapes: printable ASCII, no '"', '\\'. */
bool api__auth_quotable(const char *s);

/* A NULL-terminated copy of list in malloc'd memory (one block): NULL list gives an empty list.
 * NULL when out of memory. Free with api__free. */
char **api__auth_strv_dup(const char *const *list);

/* Hex of n bytes into out (2n + 1). */
void api__auth_hex(char *out, const unsigned char *p, size_t n);

#endif

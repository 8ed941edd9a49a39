/*
 * Middleware registration, and the per-route hook chains built from it when the app freezes:
 * the app's middleware, then each enclosing group's from the outermost in, then the route's own.
 * Flattening once means a request walks one array per phase, with no list or group lookups.
 */
#include <string.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "openapi/openapi_internal.h"
#include "util/alloc.h"

static bool has_hook(const api_middleware *m) {
  return m->on_request || m->pre_handler || m->on_error || m->on_send || m->on_response;
}

/* Append a copy of mw to a registration list. */
int api__mw_append(api__mw ***tail, const api_middleware *mw) {
  api__mw *m = api__calloc(1, sizeof(*m));
  if (!m) return API_ENOMEM;
  m->desc.size = sizeof(m->desc);
  memcpy(&m->desc, mw, mw->size < sizeof(m->desc) ? mw->size : sizeof(m->desc));
  m->desc.size = sizeof(m->desc);
  **tail = m;
  *tail = &m->next;
  return 0;
}

void api__mw_free_list(api__mw *m) {
  for (api__mw *next; m; m = next) {
    next = m->next;
    api__free(m);
  }
}

static int check_use(api_app *app, const api_middleware *mw) {
  if (app->frozen)
    return api__fail(API_ESTATE, "middleware cannot be added once a server has started");
  if (!mw || mw->size == 0 || !has_hook(mw))
    return api__fail(API_EINVAL, "middleware %s has no hook", mw && mw->name ? mw->name : "");
  return 0;
}

int api_app_use(api_app *app, const api_middleware *mw) {
  int rc = check_use(app, mw);
  return rc ? rc : api__mw_append(&app->mws_tail, mw);
}

int api_group_use(api_group *group, const api_middleware *mw) {
  int rc = check_use(group->app, mw);
  return rc ? rc : api__mw_append(&group->mws_tail, mw);
}

int api_app_on_free(api_app *app, api_free_fn fn, void *user_data) {
  api__on_free *f = api__malloc(sizeof(*f));
  if (!f) {
    fn(user_data);
    return API_ENOMEM;
  }
  *f = (api__on_free){.fn = fn, .user_data = user_data, .next = app->on_free};
  app->on_free = f;
  return 0;
}

static api_hook_fn hook_of(const api_middleware *m, int phase) {
  switch (phase) {
    case API__H_ON_REQUEST:
      return m->on_request;
    case API__H_PRE_HANDLER:
      return m->pre_handler;
    case API__H_ON_ERROR:
      return m->on_error;
    case API__H_ON_SEND:
      return m->on_send;
    default:
      return m->on_response;
  }
}

enum { MAX_DEPTH = 64 }; /* group nesting that chains are built for */

/* Fill chain from the lists (in order). One allocation holds every phase's array. */
static int build_chain(api__chain *chain, api__mw *const *lists, int nlists) {
  memset(chain, 0, sizeof(*chain));
  size_t total = 0;
  for (int i = 0; i < nlists; i++)
    for (const api__mw *m = lists[i]; m; m = m->next)
      for (int p = 0; p < API__H_COUNT; p++)
        if (hook_of(&m->desc, p)) {
          chain->n[p]++;
          total++;
        }
  if (!total) return 0;
  api__hook *all = api__calloc(total, sizeof(*all));
  if (!all) return API_ENOMEM;
  for (int p = 0; p < API__H_COUNT; p++) {
    chain->hooks[p] = all;
    unsigned k = 0;
    for (int i = 0; i < nlists; i++)
      for (const api__mw *m = lists[i]; m; m = m->next)
        if (hook_of(&m->desc, p))
          all[k++] = (api__hook){.fn = hook_of(&m->desc, p), .user_data = m->desc.user_data};
    all += k;
  }
  return 0;
}

void api__chain_free(api__chain *chain) {
  for (int p = 0; p < API__H_COUNT; p++) {
    if (chain->n[p]) {
      api__free(chain->hooks[p]); /* the first non-empty array is the start of the allocation */
      break;
    }
  }
  memset(chain, 0, sizeof(*chain));
}

int api__app_freeze(api_app *app) {
  if (app->frozen) return 0;
  int orc = api__openapi_freeze(app);
  if (orc) return orc;
  api__mw *lists[MAX_DEPTH + 2];
  lists[0] = app->mws;
  int rc = build_chain(&app->chain, lists, 1);
  for (api__route *r = app->routes; r && !rc; r = r->next) {
    int n = 0;
    for (api_group *g = r->group; g && n < MAX_DEPTH; g = g->parent) n++;
    lists[0] = app->mws;
    int i = n;
    for (api_group *g = r->group; g && i > 0; g = g->parent) lists[i--] = g->mws;
    lists[n + 1] = r->mws;
    rc = build_chain(&r->chain, lists, n + 2);
  }
  if (!rc) rc = api__router_freeze(app->router);
  if (rc) {
    api__chain_free(&app->chain);
    for (api__route *r = app->routes; r; r = r->next) api__chain_free(&r->chain);
    return rc;
  }
  app->frozen = true;
  return 0;
}

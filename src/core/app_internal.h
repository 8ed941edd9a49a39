/* The app as the rest of the library sees it. Frozen (read-only) once its server starts. */
#ifndef API_CORE_APP_INTERNAL_H
#define API_CORE_APP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "libapi/app.h"
#include "libapi/router.h"
#include "router/router.h"

/* A registered route: the copied descriptor and its full pattern (group prefix included). */
typedef struct api__route {
  api_route desc; /* strings point into this struct's own copies */
  char *pattern;
  char *method;
  char *summary;
  struct api__route *next;
} api__route;

struct api_group {
  api_app *app;
  char *prefix;
  struct api_group *next;
};

struct api_app {
  api_config cfg;
  char *host;
  api__router *router;
  api__route *routes; /* newest first, for freeing (and later the OpenAPI document) */
  api_group *groups;
  int config_err; /* first registration error, refused by api_server_start */
  char config_msg[256];
  atomic_bool running;
  bool frozen; /* a server has started for it: routes are read-only from then on */
};

/* Apply defaults and the API_* environment to cfg (a full-size struct). */
int api__config_resolve(api_config *cfg);

#endif
